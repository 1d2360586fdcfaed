"""One textual form for instants, because instants are hashed.

``2026-03-01T09:14:05Z`` and ``2026-03-01T10:14:05+01:00`` are the same instant and
must hash the same, so every timestamp is normalised to UTC with a ``Z`` suffix and
microseconds only when they are not zero.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_ts", "parse_ts", "utcnow"]


def format_ts(value: datetime) -> str:
    """Render an aware datetime in RAIDT's canonical UTC form."""
    if value.tzinfo is UTC:  # the hot path: isoformat is several times faster than strftime
        return value.replace(tzinfo=None).isoformat() + "Z"
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone; give UTC ('Z') or an offset")
    try:
        v = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {value.isoformat()} is outside years 1..9999 in UTC") from None
    base = v.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{v.microsecond:06d}Z" if v.microsecond else f"{base}Z"


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries a zone; naive times are refused.

    Every refusal is a ``ValueError`` naming the text, including the ones Python raises
    otherwise: an offset of a day or more (``+99:00``) and an instant that falls outside
    years 1..9999 once moved to UTC (``9999-12-31T23:00:00-05:00``), which is an
    ``OverflowError`` in :meth:`datetime.astimezone`.
    """
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {shown!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"timestamp {shown!r} has no time zone; give UTC ('Z') or an offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {shown!r} is outside years 1..9999 in UTC") from None


def utcnow() -> datetime:
    return datetime.now(UTC)
