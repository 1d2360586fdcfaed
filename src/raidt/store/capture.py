"""Store helpers of the capture paths: which event ids are stored, and the OTLP staging.

Capture is retried by its senders (an SDK resending a batch after a timeout, an OTLP
exporter's retry), so the capture service asks :func:`stored_events` which of a batch's
event ids the store already holds and skips those. ``capture_pending`` holds OTLP
records that wait for their partner span or log records; it is not evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from raidt.store.schema import capture_pending as t_pending
from raidt.store.schema import events as t_events

__all__ = [
    "PendingRow",
    "add_pending",
    "delete_pending",
    "event_runs",
    "existing_runs",
    "pending_for",
    "pending_older_than",
    "stored_events",
]

_CHUNK = 500


def stored_events(conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
    """The stored rows (id, run_id, type, at, actor_id, actor_role, payload) of those of
    ``ids`` that are already in the store, keyed by event id."""
    out: dict[str, Any] = {}
    cols = (
        t_events.c.id,
        t_events.c.run_id,
        t_events.c.type,
        t_events.c.at,
        t_events.c.actor_id,
        t_events.c.actor_role,
        t_events.c.payload,
    )
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        for row in conn.execute(select(*cols).where(t_events.c.id.in_(chunk))):
            out[row.id] = row
    return out


class PendingRow:
    """One staged OTLP record."""

    __slots__ = ("body", "kind", "received_at", "row", "span_id", "trace_id")

    def __init__(
        self, row: int, kind: str, trace_id: str, span_id: str, received_at: str, body: str
    ) -> None:
        self.row = row
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.received_at = received_at
        self.body = body


def _rows(result: Iterable[Any]) -> list[PendingRow]:
    return [
        PendingRow(int(r.row), r.kind, r.trace_id, r.span_id, r.received_at, r.body) for r in result
    ]


def add_pending(conn: Connection, rows: Sequence[dict[str, str]]) -> None:
    """Stage records: each a dict with kind, trace_id, span_id, received_at, body."""
    if rows:
        conn.execute(t_pending.insert(), list(rows))


def pending_for(conn: Connection, keys: Iterable[tuple[str, str]]) -> list[PendingRow]:
    """Every staged record of the given (trace id, span id) pairs, oldest first."""
    out: list[PendingRow] = []
    for trace_id, span_id in sorted(set(keys)):
        q = (
            select(t_pending)
            .where(t_pending.c.trace_id == trace_id, t_pending.c.span_id == span_id)
            .order_by(t_pending.c.row)
        )
        out.extend(_rows(conn.execute(q)))
    return out


def pending_older_than(
    conn: Connection, received_before: str, limit: int = 2000
) -> list[PendingRow]:
    """Staged records received before ``received_before`` (canonical UTC text)."""
    q = (
        select(t_pending)
        .where(t_pending.c.received_at < received_before)
        .order_by(t_pending.c.row)
        .limit(limit)
    )
    return _rows(conn.execute(q))


def delete_pending(conn: Connection, rows: Iterable[int]) -> None:
    ids = list(rows)
    for i in range(0, len(ids), _CHUNK):
        conn.execute(delete(t_pending).where(t_pending.c.row.in_(ids[i : i + _CHUNK])))


def existing_runs(conn: Connection, run_ids: Iterable[str]) -> set[str]:
    """Which of ``run_ids`` have events in the store."""
    from raidt.store.schema import runs as t_runs

    ids = list(run_ids)
    out: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        out.update(
            conn.execute(select(t_runs.c.run_id).where(t_runs.c.run_id.in_(chunk))).scalars()
        )
    return out


def event_runs(conn: Connection, event_ids: Iterable[str]) -> dict[str, str]:
    """Event id -> run id, for those of ``event_ids`` that are stored."""
    ids = list(event_ids)
    out: dict[str, str] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        q = select(t_events.c.id, t_events.c.run_id).where(t_events.c.id.in_(chunk))
        out.update({r.id: r.run_id for r in conn.execute(q)})
    return out
