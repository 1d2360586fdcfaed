"""JSON as it enters RAIDT: parsed strictly, so what is stored is what was sent.

A JSON object may legally repeat a key, and every parser then keeps one of the values
(orjson and Python keep the last). Evidence that says ``"team": "a", "team": "b"`` would
be stored as ``b`` with nothing to show that ``a`` was ever there, and another reader of
the same file might keep ``a``. So input with a repeated key is refused, naming the key.
NUL characters are refused too: PostgreSQL text cannot hold them, and refusing them at
input gives the same answer on both engines.

The check costs little on the hot path. Where every key's closing quote touches its colon
and no quote is written as ``\\u0022``, each ``":`` in the text is a key or an escaped
quote followed by a colon inside a string, and orjson's re-serialisation of what it
parsed writes both the same way; so the two counts of ``":`` are equal exactly when no
key was dropped. Otherwise (or when they differ) Python's parser, with a hook that sees
every key, decides and names the repeated key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["InputJSONError", "loads_strict"]

#: a key whose closing quote is separated from its colon (rare: the slow path handles it)
_SPACED_KEY = re.compile(rb'"\s+:')
#: a quote written as an escape: it would end up as ``\"`` after re-serialisation
_QUOTE_ESCAPE = b"\\u0022"
_NUL_ESCAPE = b"\\u0000"


class InputJSONError(ValueError):
    """Input JSON that parses but is refused (a repeated key, a NUL character)."""


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InputJSONError(f"key {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def _nul_path(value: Any) -> str | None:
    """Where a NUL character sits in ``value`` (a key or a string), walked without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return where or "the value"
        elif isinstance(v, dict):
            for k, item in v.items():
                path = f"{where}.{k}" if where else str(k)
                if "\x00" in k:
                    return f"a key in {where or 'the object'}"
                stack.append((path, item))
        elif isinstance(v, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(v))
    return None


def loads_strict(data: bytes | str) -> Any:
    """Parse one JSON document; refuse repeated keys and NUL characters.

    Raises:
        orjson.JSONDecodeError: the text is not JSON (a ``ValueError``).
        InputJSONError: the JSON repeats a key in one object or holds a NUL character.
    """
    value = orjson.loads(data)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if b":" in raw and (
        _SPACED_KEY.search(raw) is not None
        or _QUOTE_ESCAPE in raw
        or raw.count(b'":') != orjson.dumps(value).count(b'":')
    ):
        try:
            json.loads(raw, object_pairs_hook=_refuse_repeats)  # exact, and names the key
        except RecursionError:
            raise InputJSONError("nested too deeply to check its keys") from None
    if _NUL_ESCAPE in raw:
        where = _nul_path(value)
        if where is not None:
            raise InputJSONError(f"{where} holds a NUL character (\\u0000), which is refused")
    return value
