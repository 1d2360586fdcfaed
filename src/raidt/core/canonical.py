"""Canonical JSON (RFC 8785, JCS) for hashing and signing.

Hashes must not depend on who serialised an event, so every byte that is hashed goes
through here. The reference encoder is the ``rfc8785`` package; it is pure Python and
slow, so for the common case (no floats, ASCII keys, integers inside the I-JSON range)
we take orjson's sorted compact output, which is byte-identical to JCS for exactly that
subset (a hypothesis test in ``tests/core/test_canonical.py`` checks this).
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

__all__ = ["canonical_json", "from_json"]

_MAX_SAFE_INT = 2**53 - 1


def _fast_path_ok(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str) or not key.isascii():
                    return False
                stack.append(sub)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        elif isinstance(item, int):
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        else:  # floats and anything exotic take the reference encoder
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON bytes."""
    if _fast_path_ok(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"value cannot be canonicalised as JSON: {exc}") from exc


def from_json(data: bytes | str) -> Any:
    """Parse JSON (the inverse of :func:`canonical_json` for stored bytes)."""
    return orjson.loads(data)
