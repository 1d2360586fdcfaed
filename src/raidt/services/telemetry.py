"""OTLP records on their way into the store: staging, joining, sealing.

Content often arrives apart from its span (the official OpenAI instrumentation sends the
prompt and reply as log records, on their own schedule), so records wait in the
``capture_pending`` table — durably: an exporter that got a 200 must not lose what it
sent if the server dies — until their partner arrives or the join window passes.
:meth:`TelemetryService.commit` seals events, consumes the staged rows they used and
stages new ones in one write transaction. Telemetry is retried by exporters: an event
whose id is already stored is skipped (the first copy wins), and ``run.started`` is
appended only for a run that has no events yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from raidt.core.events import EventIn, EventType
from raidt.core.timefmt import format_ts, utcnow
from raidt.services.app import App
from raidt.services.capture import CaptureService
from raidt.store import capture as store

__all__ = ["Staged", "TelemetryService"]


@dataclass(frozen=True)
class Staged:
    """One staged record: a span (with its trace's run context) or a log record."""

    row: int
    kind: str
    trace_id: str
    span_id: str
    received_at: str
    body: dict[str, Any]


def _staged(rows: Iterable[store.PendingRow]) -> list[Staged]:
    return [
        Staged(r.row, r.kind, r.trace_id, r.span_id, r.received_at, orjson.loads(r.body))
        for r in rows
    ]


class TelemetryService:
    """Staging and sealing of OTLP records for one store."""

    def __init__(self, app: App, capture: CaptureService) -> None:
        self.app = app
        self.capture = capture

    def pending(self, keys: Iterable[tuple[str, str]]) -> list[Staged]:
        """Staged records of the given (trace id, span id) pairs."""
        wanted = list(keys)
        if not wanted:
            return []
        with self.app.db.read() as conn:
            return _staged(store.pending_for(conn, wanted))

    def stale(self, before: datetime, limit: int = 2000) -> list[Staged]:
        """Staged records received before ``before``, oldest first."""
        with self.app.db.read() as conn:
            return _staged(store.pending_older_than(conn, format_ts(before), limit))

    def sealed_runs(self, event_ids: Iterable[str]) -> dict[str, str]:
        """Event id -> run id of those of ``event_ids`` already stored."""
        with self.app.db.read() as conn:
            return store.event_runs(conn, event_ids)

    def commit(
        self,
        events: Sequence[EventIn],
        consume: Iterable[int] = (),
        stage: Sequence[tuple[str, str, str, dict[str, Any]]] = (),
    ) -> int:
        """Seal ``events`` (skipping stored ids and ``run.started`` of existing runs),
        delete the consumed staged rows and stage ``(kind, trace, span, body)`` records,
        all in one transaction. Returns how many events were stored."""
        now = format_ts(utcnow())
        with self.app.db.write() as conn:
            ids = [e.id for e in events if e.id]
            stored = set(store.event_runs(conn, ids)) if ids else set()
            starts = {e.run_id for e in events if e.type is EventType.RUN_STARTED}
            running = store.existing_runs(conn, starts) if starts else set()
            fresh: list[EventIn] = []
            seen: set[str] = set()
            for e in events:
                if e.id in stored or (e.id is not None and e.id in seen):
                    continue
                if e.type is EventType.RUN_STARTED:
                    if e.run_id in running:
                        continue
                    running.add(e.run_id)
                if e.id is not None:
                    seen.add(e.id)
                fresh.append(e)
            self.app.events.append_in(conn, fresh)
            store.delete_pending(conn, consume)
            store.add_pending(
                conn,
                [
                    {
                        "kind": kind,
                        "trace_id": trace,
                        "span_id": span,
                        "received_at": now,
                        "body": orjson.dumps(body).decode(),
                    }
                    for kind, trace, span, body in stage
                ],
            )
        if fresh:
            self.capture.mark_dirty()
        return len(fresh)
