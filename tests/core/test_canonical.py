"""The fast canonical-JSON path is byte-identical to the reference RFC 8785 encoder."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.canonical import (
    FAST_DEPTH,
    TooDeepError,
    _reference,
    canonical_json,
    es_number,
    nesting_depth,
)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(_json)
def test_matches_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_es_number_round_trips(x: float) -> None:
    assert float(es_number(x)) == x or (x == 0 and es_number(x) == "0")


def test_known_es_forms() -> None:
    assert es_number(1e21) == "1e+21"
    assert es_number(1e-7) == "1e-7"
    assert es_number(100.0) == "100"
    assert es_number(0.000001) == "0.000001"
    assert not math.isnan(float(es_number(5e-324)))


def test_big_integers_that_are_doubles_encode_as_the_double_does() -> None:
    """A float of 1e17 is stored as digits and parses back as an int: it must re-encode."""
    for x in (2.0**53, 1e17, -(2.0**60), 1e19, 2.0**64, 1e20, 1e21, 1e300):
        parsed = orjson.loads(canonical_json({"n": x}))["n"]
        assert float(parsed) == x
        assert canonical_json({"n": parsed}) == canonical_json({"n": x})
        assert canonical_json({"ü": parsed}) == canonical_json({"ü": x})  # reference path
    assert canonical_json({"n": 10**17}) == b'{"n":100000000000000000}'
    for n in (2**53 + 1, 2**60, -(2**60) - 1, 10**21, 10**400):  # digits that would change
        with pytest.raises(ValueError, match="RFC 8785 keeps exactly"):
            canonical_json({"n": n})
        with pytest.raises(ValueError, match="RFC 8785 keeps exactly"):
            canonical_json({"ü": n})


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_survives_a_round_trip_through_its_canonical_form(x: float) -> None:
    once = canonical_json([x])
    assert canonical_json(orjson.loads(once)) == once
    assert canonical_json({"ü": orjson.loads(once)}) == canonical_json({"ü": [x]})


# --- the reference path: any depth, no recursion ------------------------------------------

_any_keys = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(alphabet=st.characters(codec="utf-8"), max_size=4), children)
    ),
    max_leaves=24,
)


@settings(max_examples=400)
@given(_any_keys)
def test_reference_path_matches_rfc8785(value: Any) -> None:
    """The iterative encoder (non-ASCII keys, deep values) is byte-identical to rfc8785."""
    assert _reference(value, None) == rfc8785.dumps(value)
    assert canonical_json(value) == rfc8785.dumps(value)


def _nest(depth: int, key: str = "k") -> Any:
    """A value of exactly ``depth`` levels, alternating objects and arrays."""
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {key: value}
    return value


@pytest.mark.parametrize("key", ["k", "ü"])  # the fast path, and the one for non-ASCII keys
def test_any_depth_encodes_without_recursion(key: str) -> None:
    for depth in (FAST_DEPTH - 1, FAST_DEPTH, FAST_DEPTH + 1, 254, 255, 5000):
        value = _nest(depth, key)
        assert nesting_depth(value) == depth
        out = canonical_json(value)
        assert out.count(b"[") + out.count(b"{") == depth
        if depth < 500:  # rfc8785 recurses: only shallow enough values can be compared
            assert out == rfc8785.dumps(value)


@pytest.mark.parametrize("key", ["k", "ü"])
def test_max_depth_refuses_exactly_past_the_limit(key: str) -> None:
    assert canonical_json(_nest(10, key), max_depth=10) == rfc8785.dumps(_nest(10, key))
    with pytest.raises(TooDeepError) as exc:
        canonical_json(_nest(11, key), max_depth=10)
    assert exc.value.max_depth == 10 and "deeper than 10" in str(exc.value)
    with pytest.raises(TooDeepError):
        canonical_json(_nest(3000, key), max_depth=200)


@pytest.mark.parametrize(
    "value",
    [
        {"s": "\ud800"},
        {"\ud800": 1},
        {"n": float("nan")},
        {"n": 2**53 + 1},
        {1: 2},
        {"x": object()},
    ],
)
def test_what_has_no_json_form_is_a_value_error(value: Any) -> None:
    """Never a TypeError from deep inside orjson: callers catch ValueError."""
    with pytest.raises(ValueError, match="canonical"):
        canonical_json(value)


@settings(max_examples=600)
@given(
    st.floats(min_value=1e-5, max_value=1e17)
    | st.floats(min_value=-1e17, max_value=-1e-5)
    | st.sampled_from([1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 0.2, 1.0, -3.5])
)
def test_fixed_notation_floats_match_rfc8785(x: float) -> None:
    """The repr fast path of es_number, across and just outside its range."""
    assert es_number(x).encode() == rfc8785.dumps(x)
