"""Strict JSON input: a repeated key or a NUL character is refused, everything else parses
exactly as orjson parses it. Python's parser with a hook that sees every key is the oracle."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.strict_json import InputJSONError, loads_strict

_keys = st.text(alphabet=st.sampled_from('ab"\\:é \u2028'), min_size=1, max_size=4)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _keys)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(st.tuples(_keys, inner), max_size=4),  # pairs: keys may repeat
    ),
    max_leaves=12,
)


def _write(v: Any, spaced: bool) -> str:
    """JSON text with pairs written as given (so keys can repeat), spacing chosen."""
    if isinstance(v, tuple | list) and v and all(isinstance(p, tuple) for p in v):
        colon = " : " if spaced else ":"
        return "{" + ",".join(json.dumps(k) + colon + _write(x, spaced) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_write(x, spaced) for x in v) + "]"
    return json.dumps(v, ensure_ascii=spaced)


def _oracle_repeats(text: str) -> bool:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise KeyError("repeat")
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=hook)
    except KeyError:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans())
def test_refuses_exactly_the_repeated_keys(value: Any, spaced: bool) -> None:
    text = _write(value, spaced)
    if _oracle_repeats(text):
        with pytest.raises(InputJSONError, match="appears twice"):
            loads_strict(text.encode())
    else:
        assert loads_strict(text.encode()) == orjson.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"team": "a", "team": "b"}', "key 'team' appears twice"),
        (b'{"p": {"x": 1, "y": {"x": 2, "x": 3}}}', "key 'x' appears twice"),
        (b'{"caf\xc3\xa9": 1, "caf\\u00e9": 2}', "appears twice"),
        (b'{"a": "x\\u0022:", "a": 1}', "key 'a' appears twice"),
        (b'{"payload": {"team": "a\\u0000b"}}', "payload.team holds a NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
    ],
)
def test_refusals_name_what(text: bytes, message: str) -> None:
    with pytest.raises(InputJSONError, match=message):
        loads_strict(text)


@pytest.mark.parametrize(
    "text",
    [b'{"a": "x\\":", "b": ":"}', b'{"a": "\\\\u0000"}', b'[{"x": 1}, {"x": 2}]', b'"\\\\"'],
)
def test_lookalikes_pass(text: bytes) -> None:
    assert loads_strict(text) == orjson.loads(text)


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads_strict(b'{"a": ')
