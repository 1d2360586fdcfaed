"""Canonical JSON (RFC 8785, JCS) for hashing and signing.

Hashes must not depend on who serialised an event, so every byte that is hashed goes
through here. The reference encoder is the ``rfc8785`` package; it is pure Python and
slow (about 90 µs for a model event), and canonicalisation sits on the ingest hot path. For
the common case (ASCII keys, integers inside the I-JSON range, at most :data:`FAST_DEPTH`
levels of nesting) we take orjson's sorted compact output, with floats pre-rendered the way
ECMAScript prints numbers (JCS section 3.2.2.3) and spliced in as ``orjson.Fragment``.
Everything else takes :func:`_reference`, which walks the value with an explicit stack (so
no nesting depth can exhaust Python's stack or orjson's 254-level limit) and renders each
scalar with ``rfc8785`` itself. Hypothesis tests (``tests/core/test_canonical.py``) check
both paths byte for byte against ``rfc8785``.

Depth counts containers: ``{}`` and ``[]`` are one level, ``{"a": [1]}`` two.

Integers: JSON numbers are IEEE doubles in RFC 8785, and a float with an integral value
from 2**53 up to 1e21 is written as plain digits (``1e17`` as ``100000000000000000``, 2**60
as ``1152921504606847000``), which any parser reads back as an *integer*. So an integer
outside ``rfc8785``'s safe range is accepted exactly when its digits are already what
ECMAScript prints for the double it denotes, and refused otherwise (``2**53 + 1`` would
silently become ``9007199254740992``). Without this, an accepted float such as ``1e17``
could not be re-encoded once parsed back from the store, and the event would no longer
verify.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

__all__ = [
    "FAST_DEPTH",
    "TooDeepError",
    "canonical_json",
    "es_number",
    "from_json",
    "nesting_depth",
]

_MAX_SAFE_INT = 2**53 - 1

#: deepest value the orjson path takes (orjson itself stops at 254 levels, and the
#: preparing walk recurses once per level); deeper values take the iterative encoder
FAST_DEPTH = 128


class TooDeepError(ValueError):
    """The value nests more levels than the ``max_depth`` it was encoded with."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested deeper than {max_depth} levels")
        self.max_depth = max_depth


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


def _prepare(value: Any, room: int) -> Any:
    """Copy of ``value`` with floats as Fragments; raises _Slow for what orjson can't match.

    ``room`` is how many more levels of containers the fast path may enter. Dispatches on
    ``type(...) is`` rather than isinstance chains: this walk runs for every payload on the
    ingest path. Subclasses (bool is an int; str/dict subclasses) take the reference
    encoder, which is always correct.
    """
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if t is int:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return value
        return orjson.Fragment(_big_int(value))
    if t is float:
        return orjson.Fragment(es_number(value))
    if t is dict:
        if room <= 0:
            raise _Slow
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                raise _Slow
            tv = type(v)
            out[k] = v if tv is str or v is None or tv is bool else _prepare(v, room - 1)
        return out
    if t is list or t is tuple:
        if room <= 0:
            raise _Slow
        return [v if type(v) is str else _prepare(v, room - 1) for v in value]
    raise _Slow


def canonical_json(value: Any, *, max_depth: int | None = None) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON bytes.

    Any nesting depth is encoded unless ``max_depth`` is given, in which case a deeper
    value raises :class:`TooDeepError` (the input limits use this; stored evidence is
    always re-encoded without a limit, so verifying never depends on one).

    Raises:
        TooDeepError: ``value`` nests deeper than ``max_depth``.
        ValueError: ``value`` has no canonical JSON form (a NaN or infinity, an integer
            beyond 2**53 that no double equals, a lone surrogate, a non-string key, a type
            JSON does not have).
    """
    room = FAST_DEPTH if max_depth is None else min(max_depth, FAST_DEPTH)
    try:
        return orjson.dumps(_prepare(value, room), option=orjson.OPT_SORT_KEYS)
    except (_Slow, orjson.JSONEncodeError):
        pass
    return _reference(value, max_depth)


_OPEN_OBJECT, _OPEN_ARRAY = b"{", b"["


class _Close:
    """Marks the end of a container on the work stack of :func:`_reference`."""

    __slots__ = ("mark",)

    def __init__(self, mark: bytes) -> None:
        self.mark = mark


_CLOSE_OBJECT, _CLOSE_ARRAY = _Close(b"}"), _Close(b"]")


class _Text:
    """Bytes to write as they are (a member's key with its separators, or a comma)."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text


def _big_int(n: int) -> str:
    """An integer beyond 2**53 - 1, if its digits are the canonical form of a double
    (see the module docstring)."""
    digits = str(n) if n.bit_length() < 80 else ""  # beyond 1e24: exponent form, never digits
    try:
        if digits and es_number(float(n)) == digits:
            return digits
    except (OverflowError, _Slow):
        pass
    shown = digits or f"of {len(str(abs(n)))} digits"
    raise ValueError(
        f"value cannot be canonicalised as JSON: the integer {shown} is not a number "
        "RFC 8785 keeps exactly (JSON numbers are IEEE doubles; above 2**53 most integers "
        "are not)"
    )


def _scalar(value: Any) -> bytes:
    big = isinstance(value, int) and not isinstance(value, bool)
    if big and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return _big_int(int(value)).encode()
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"value cannot be canonicalised as JSON: {exc}") from exc


def _members(obj: dict[Any, Any]) -> list[tuple[str, Any]]:
    """The members of ``obj`` in JCS order (keys compared as UTF-16 code units)."""
    for k in obj:
        if not isinstance(k, str):
            raise ValueError("value cannot be canonicalised as JSON: object keys must be strings")
    try:
        return sorted(obj.items(), key=lambda kv: kv[0].encode("utf-16-be"))
    except UnicodeEncodeError as exc:
        raise ValueError(f"value cannot be canonicalised as JSON: {exc}") from exc


def _reference(value: Any, max_depth: int | None) -> bytes:
    """RFC 8785 with an explicit work stack instead of recursion (any depth).

    Containers are walked here; every scalar (string, number, literal) is rendered by
    ``rfc8785`` itself, so only the structure is ours (and integers beyond 2**53, which
    ``rfc8785`` refuses: see the module docstring).
    """
    out = bytearray()
    depth = 0
    work: list[Any] = [value]
    while work:
        item = work.pop()
        if isinstance(item, _Close):
            out += item.mark
            depth -= 1
        elif isinstance(item, _Text):
            out += item.text
        elif isinstance(item, dict):
            depth += 1
            if max_depth is not None and depth > max_depth:
                raise TooDeepError(max_depth)
            out += _OPEN_OBJECT
            work.append(_CLOSE_OBJECT)
            members = _members(item)
            for i in range(len(members) - 1, -1, -1):
                key, child = members[i]
                work.append(child)
                work.append(_Text((b"," if i else b"") + _scalar(key) + b":"))
        elif isinstance(item, list | tuple):
            depth += 1
            if max_depth is not None and depth > max_depth:
                raise TooDeepError(max_depth)
            out += _OPEN_ARRAY
            work.append(_CLOSE_ARRAY)
            for i in range(len(item) - 1, -1, -1):
                work.append(item[i])
                if i:
                    work.append(_Text(b","))
        else:
            out += _scalar(item)
    return bytes(out)


def nesting_depth(value: Any) -> int:
    """How many levels of containers ``value`` nests (0 for a scalar), without recursion."""
    deepest = 0
    work: list[tuple[Any, int]] = [(value, 0)]
    while work:
        item, above = work.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        level = above + 1
        deepest = max(deepest, level)
        work.extend((child, level) for child in children)
    return deepest


def from_json(data: bytes | str) -> Any:
    """Parse JSON (the inverse of :func:`canonical_json` for stored bytes)."""
    return orjson.loads(data)
