"""Canonical JSON (RFC 8785, JCS) for hashing and signing.

Hashes must not depend on who serialised an event, so every byte that is hashed goes
through here. The reference encoder is the ``rfc8785`` package; it is pure Python and
slow (about 90 µs for a model event), and canonicalisation sits on the ingest hot path. For
the common case (ASCII keys, integers inside the I-JSON range) we take orjson's sorted
compact output, with floats pre-rendered the way ECMAScript prints numbers (JCS section
3.2.2.3) and spliced in as ``orjson.Fragment``. Everything else takes the reference encoder.
A hypothesis test (``tests/core/test_canonical.py``) checks byte equality with ``rfc8785``.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

__all__ = ["canonical_json", "es_number", "from_json"]

_MAX_SAFE_INT = 2**53 - 1


class _Slow(Exception):
    """The value needs the reference encoder."""


def es_number(x: float) -> str:
    """Render a finite float as ECMAScript's Number.prototype.toString does."""
    if x != x or x in (float("inf"), float("-inf")):
        raise _Slow
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e16:
        # Python's repr and ECMAScript both print the shortest round-tripping digits, in
        # fixed notation throughout this range; only the integral ".0" differs
        text = repr(x)
        return text[:-2] if text.endswith(".0") else text
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0)  # decimal point position in whole+frac
    point -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{head}e{'+' if e >= 0 else '-'}{abs(e)}"


def _prepare(value: Any) -> Any:
    """Copy of ``value`` with floats as Fragments; raises _Slow for what orjson can't match.

    Dispatches on ``type(...) is`` rather than isinstance chains: this walk runs for every
    payload on the ingest path. Subclasses (bool is an int; str/dict subclasses) take the
    reference encoder, which is always correct.
    """
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if t is int:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return value
        raise _Slow
    if t is float:
        return orjson.Fragment(es_number(value))
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                raise _Slow
            tv = type(v)
            out[k] = v if tv is str or v is None or tv is bool else _prepare(v)
        return out
    if t is list or t is tuple:
        return [v if type(v) is str else _prepare(v) for v in value]
    raise _Slow


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON bytes."""
    try:
        return orjson.dumps(_prepare(value), option=orjson.OPT_SORT_KEYS)
    except _Slow:
        pass
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"value cannot be canonicalised as JSON: {exc}") from exc


def from_json(data: bytes | str) -> Any:
    """Parse JSON (the inverse of :func:`canonical_json` for stored bytes)."""
    return orjson.loads(data)
