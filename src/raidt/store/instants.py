"""Time-range filters on stored instants that compare instants, not text.

Instants are stored in RAIDT's canonical text (:func:`raidt.core.timefmt.format_ts`):
``2026-03-02T00:00:00Z``, with ``.ffffff`` before the ``Z`` only when the microseconds are
not zero. That text does not sort as the instants do: ``…00:00:00.5Z`` sorts *before*
``…00:00:00Z`` because ``.`` comes before ``Z``. The canonical form is hashed, so it
cannot change; instead the bound is rewritten so that a plain (index-friendly) text
comparison selects exactly the right instants. Both engines compare these ASCII strings
byte by byte (SQLite always; PostgreSQL under the C collation the test cluster and the
documented setup use).

A bound that is not canonical text is compared as given, which is right for a bare date
(``2026-03-02`` sorts before every instant of that day).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["at_or_after", "before"]

_CANONICAL = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{6})?Z$")


def at_or_after(column: Any, bound: str) -> ColumnElement[bool]:
    """``column`` holds an instant at or after ``bound`` (canonical text or a date)."""
    m = _CANONICAL.match(bound)
    if m is None:
        return column >= bound  # type: ignore[no-any-return]
    second, fraction = m.group(1), m.group(2)
    if fraction is None:
        return column >= second  # type: ignore[no-any-return]
    # same second with a larger fraction, or any later second; not the whole second itself
    return and_(column >= second + fraction, column != second + "Z")


def before(column: Any, bound: str) -> ColumnElement[bool]:
    """``column`` holds an instant strictly before ``bound`` (canonical text or a date)."""
    m = _CANONICAL.match(bound)
    if m is None:
        return column < bound  # type: ignore[no-any-return]
    second, fraction = m.group(1), m.group(2)
    if fraction is None:
        return column < second  # type: ignore[no-any-return]
    return or_(column < second + fraction, column == second + "Z")
