"""OTLP ingest: decoded spans and log records joined, mapped and sealed.

A GenAI inference span that carries no content waits (staged) for its prompt and reply
log records, and log records wait for their span, whichever arrives first; as soon as
both are there the span is sealed with its content. A span whose logs never come is
sealed alone after ``RAIDT_OTLP_JOIN_SECONDS``; log records whose span is already sealed,
or never comes, are kept as events of the run too. Nothing received is dropped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from raidt.capture.otlp_map import (
    RunContext,
    has_completion,
    has_content,
    is_inference,
    log_events,
    run_started,
    span_events,
    trace_context,
)
from raidt.core.events import EventIn
from raidt.core.policy import Policy
from raidt.core.timefmt import format_ts
from raidt.errors import NotFoundError
from raidt.services.capture import CaptureService
from raidt.services.telemetry import Staged, TelemetryService
from raidt.settings import Settings

__all__ = ["OtlpIngest"]

log = logging.getLogger("raidt.otlp")

#: log records without their span are sealed alone after this long (or at shutdown)
_ORPHAN_SECONDS = 60.0


def _start(span: dict[str, Any]) -> datetime:
    ns = int(span.get("start_ns") or 0)
    return datetime.fromtimestamp(ns / 1e9, tz=UTC) if ns else datetime.now(UTC)


class OtlpIngest:
    """Joins and seals OTLP records of one server process."""

    def __init__(
        self, telemetry: TelemetryService, capture: CaptureService, settings: Settings
    ) -> None:
        self.telemetry = telemetry
        self.capture = capture
        self.default_use_case = settings.capture_use_case
        self.join_seconds = settings.otlp_join_seconds

    def _policy(self, use_case: str) -> Policy | None:
        try:
            return self.capture.policy_in_force(use_case)
        except NotFoundError:
            return None

    def _ctx(self, raw: dict[str, str]) -> RunContext:
        return RunContext(
            run_id=raw["run_id"],
            use_case=raw["use_case"],
            team=raw["team"],
            risk_level=raw["risk_level"],
            initiator=raw["initiator"],
            policy=self._policy(raw["use_case"]),
        )

    def _default_ctx(self, run_id: str, team: str = "unknown") -> RunContext:
        return self._ctx(
            {
                "run_id": run_id,
                "use_case": self.default_use_case,
                "team": team,
                "risk_level": "medium",
                "initiator": "otel-unidentified",
            }
        )

    def _seal_span(
        self, span: dict[str, Any], logs: list[dict[str, Any]], raw_ctx: dict[str, str]
    ) -> list[EventIn]:
        ctx = self._ctx(raw_ctx)
        return [run_started(ctx, _start(span)), *span_events(span, logs, ctx)]

    def traces(self, spans: list[dict[str, Any]]) -> int:
        """Ingest the spans of one export request; returns how many were sealed now."""
        ctxs = trace_context(spans, self.default_use_case)
        staged = defaultdict(list)
        for rec in self.telemetry.pending((s["trace_id"], s["span_id"]) for s in spans):
            staged[(rec.trace_id, rec.span_id)].append(rec)
        events: list[EventIn] = []
        consume: list[int] = []
        stage: list[tuple[str, str, str, dict[str, Any]]] = []
        sealed = 0
        for span in spans:
            key = (span["trace_id"], span["span_id"])
            logs = [r for r in staged[key] if r.kind == "log"]
            bodies = [r.body for r in logs]
            ctx = ctxs[span["trace_id"]]
            waits = is_inference(span) and not has_content(span) and not has_completion(bodies)
            if waits and self.join_seconds > 0:
                stage.append(("span", key[0], key[1], {"span": span, "ctx": ctx}))
                continue
            events.extend(self._seal_span(span, bodies, ctx))
            consume.extend(r.row for r in logs)
            sealed += 1
        self.telemetry.commit(events, consume, stage)
        return sealed

    def logs(self, records: list[dict[str, Any]]) -> None:
        """Ingest the log records of one export request."""
        linked = [r for r in records if r["trace_id"] and r["span_id"]]
        events: list[EventIn] = []
        for r in records:
            if not (r["trace_id"] and r["span_id"]):
                run_id = f"otel-{r['trace_id']}" if r["trace_id"] else "otel-unlinked-logs"
                team = str((r.get("resource") or {}).get("service.name") or "unknown")
                ctx = self._default_ctx(run_id, team)
                events.append(run_started(ctx, datetime.now(UTC)))
                events.extend(log_events("unlinked", [r], ctx))
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in linked:
            groups[(r["trace_id"], r["span_id"])].append(r)
        staged = defaultdict(list)
        for rec in self.telemetry.pending(groups):
            staged[(rec.trace_id, rec.span_id)].append(rec)
        sealed_runs = self.telemetry.sealed_runs(f"otel-{k[1]}-invoked" for k in groups)
        consume: list[int] = []
        stage: list[tuple[str, str, str, dict[str, Any]]] = []
        for key, new in groups.items():
            spans = [r for r in staged[key] if r.kind == "span"]
            old = [r for r in staged[key] if r.kind == "log"]
            if spans:
                all_logs = [r.body for r in old] + new
                if has_completion(all_logs):
                    body = spans[0].body
                    events.extend(self._seal_span(body["span"], all_logs, body["ctx"]))
                    consume.extend(r.row for r in (*spans, *old))
                    continue
            sealed_in = sealed_runs.get(f"otel-{key[1]}-invoked")
            if sealed_in is not None and not spans:
                ctx = self._default_ctx(sealed_in)
                events.extend(log_events(f"{key[0]}-{key[1]}", new, ctx))
                continue
            stage.extend(("log", key[0], key[1], r) for r in new)
        self.telemetry.commit(events, consume, stage)

    def sweep(self, *, final: bool = False) -> int:
        """Seal staged records whose partner did not come in time; returns events stored."""
        now = datetime.now(UTC)
        before = now + timedelta(seconds=1) if final else now - timedelta(seconds=self.join_seconds)
        stale = self.telemetry.stale(before)
        if not stale:
            return 0
        groups: dict[tuple[str, str], list[Staged]] = defaultdict(list)
        for rec in stale:
            groups[(rec.trace_id, rec.span_id)].append(rec)
        # the partners staged more recently count too
        fresh_rows = {r.row for r in stale}
        for rec in self.telemetry.pending(groups):
            if rec.row not in fresh_rows:
                groups[(rec.trace_id, rec.span_id)].append(rec)
        orphan_before = format_ts(now - timedelta(seconds=_ORPHAN_SECONDS))
        events: list[EventIn] = []
        consume: list[int] = []
        for key, recs in groups.items():
            spans = [r for r in recs if r.kind == "span"]
            logs = [r for r in recs if r.kind == "log"]
            if spans:
                body = spans[0].body
                events.extend(self._seal_span(body["span"], [r.body for r in logs], body["ctx"]))
                consume.extend(r.row for r in recs)
            elif final or min(r.received_at for r in logs) < orphan_before:
                ctx = self._default_ctx(f"otel-{key[0]}")
                events.append(run_started(ctx, now))
                events.extend(log_events(f"{key[0]}-{key[1]}", [r.body for r in logs], ctx))
                consume.extend(r.row for r in logs)
        if not events and not consume:
            return 0
        stored = self.telemetry.commit(events, consume)
        log.debug("otlp: swept %d staged records, stored %d events", len(consume), stored)
        return stored
