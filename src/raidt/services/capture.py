"""Evidence arriving over the network: batches of events, appended idempotently.

``POST /api/events`` (the SDK's remote path), the gateway and OTLP ingest all end here,
in :meth:`CaptureService.append`, which appends through the store's one append path
(:meth:`raidt.store.events.EventStore.append_in`: same sealing, same event encoding as
``raidt import``). Senders retry — an SDK resends a batch whose answer it did not get, an
OTLP exporter retries on a timeout — so an event whose id is already stored with the same
content is skipped instead of refused, and a retried batch never duplicates evidence. An
id stored with *different* content is a conflict and refuses the whole batch.

Signing a checkpoint after every small batch would cost more than the batch, so appends
only mark the log dirty and the server signs at most once per interval
(:meth:`CaptureService.checkpoint_if_due`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from raidt.core.canonical import canonical_json
from raidt.core.events import EventIn
from raidt.core.policy import Policy
from raidt.core.timefmt import format_ts, utcnow
from raidt.errors import ImportFileError, ValidationError
from raidt.services.app import App
from raidt.services.importing import parse_line, parse_object
from raidt.store.capture import stored_events

__all__ = ["JSON_TYPES", "NDJSON_TYPES", "AppendResult", "CaptureService", "parse_events_body"]

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/json-lines", "application/ndjson"}
)


@dataclass
class AppendResult:
    """What a batch did: ``accepted`` events are in the store now (``stored`` of them by
    this call, ``duplicates`` already were), in the runs ``run_ids`` (first-seen order)."""

    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    run_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "run_ids": self.run_ids,
        }


def parse_events_body(body: bytes, content_type: str, source: str = "body") -> list[EventIn]:
    """A request body of DESIGN 6.1 events -> validated events, or ImportFileError.

    ``application/json``: a JSON list of event objects (items numbered from 1);
    ``application/x-ndjson``: one event per line, blank lines skipped. Each event is
    validated exactly as ``raidt import`` validates a line.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ImportFileError(f"not valid JSON ({exc})", source=source) from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ImportFileError("expected a JSON list of event objects", source=source)
        return [parse_object(obj, i, source) for i, obj in enumerate(data, start=1)]
    if media in NDJSON_TYPES:
        out: list[EventIn] = []
        for lineno, raw in enumerate(body.split(b"\n"), start=1):
            line = raw.strip()
            if line:
                out.append(parse_line(line, lineno, source))
        return out
    raise ValidationError(
        f"Content-Type {media or '(none)'!r} is not accepted: send application/json "
        "(a list of events) or application/x-ndjson (one event per line)"
    )


def _same(row: object, ev: EventIn) -> bool:
    return bool(
        row.run_id == ev.run_id  # type: ignore[attr-defined]
        and row.type == ev.type.value  # type: ignore[attr-defined]
        and row.at == format_ts(ev.at)  # type: ignore[attr-defined]
        and row.actor_id == ev.actor.id  # type: ignore[attr-defined]
        and row.actor_role == ev.actor.role.value  # type: ignore[attr-defined]
        and row.payload == canonical_json(ev.payload).decode()  # type: ignore[attr-defined]
    )


class CaptureService:
    """Idempotent appends for the capture paths, and the deferred checkpoint."""

    def __init__(self, app: App, *, policy_cache_seconds: float = 5.0) -> None:
        self.app = app
        self._dirty = False
        self._last_checkpoint = 0.0
        self._lock = threading.Lock()
        self.policy_cache_seconds = policy_cache_seconds
        self._policies: dict[str, tuple[float, Policy]] = {}
        self._run_policies: dict[str, tuple[float, Policy]] = {}
        self._refs: dict[tuple[str, str], dict[str, str]] = {}

    # --- policies of live capture (read on the request path, so remembered briefly) -----

    def policy_in_force(self, use_case: str) -> Policy:
        """The policy in force now for ``use_case`` (NotFoundError when there is none);
        remembered for ``policy_cache_seconds``, so a new version applies within that."""
        now = time.monotonic()
        hit = self._policies.get(use_case)
        if hit is not None and now - hit[0] < self.policy_cache_seconds:
            return hit[1]
        from raidt.services.policies import PolicyService

        policy = PolicyService(self.app).policy_in_force(use_case, utcnow())
        if len(self._policies) > 1000:
            self._policies.clear()
        self._policies[use_case] = (now, policy)
        return policy

    def policy_of_run(self, run_id: str) -> Policy:
        """The policy an existing run started under (NotFoundError for an unknown run)."""
        now = time.monotonic()
        hit = self._run_policies.get(run_id)
        if hit is not None and now - hit[0] < self.policy_cache_seconds:
            return hit[1]
        from raidt.services.workflow import WorkflowService

        policy = WorkflowService(self.app).view(run_id).policy
        if len(self._run_policies) > 10_000:
            self._run_policies.clear()
        self._run_policies[run_id] = (now, policy)
        return policy

    def policy_ref(self, policy: Policy) -> dict[str, str]:
        """``{id, version, sha256}`` of a policy, as ``run.started`` cites it; the content
        hash (a canonicalisation of the whole policy) is worked out once per version."""
        key = (policy.id, policy.version)
        ref = self._refs.get(key)
        if ref is None:
            ref = {"id": policy.id, "version": policy.version, "sha256": policy.content_hash}
            self._refs[key] = ref
        return ref

    def append_fresh(self, events: Sequence[EventIn]) -> int:
        """Append events the caller built with new ids (the gateway's batches): no lookup
        of stored ids, one transaction. Returns how many were stored."""
        if not events:
            return 0
        self.app.events.append(events)
        self._dirty = True
        return len(events)

    def append(self, events: Sequence[EventIn]) -> AppendResult:
        """Store ``events`` in one transaction, skipping those already stored (by id)."""
        result = AppendResult()
        seen: dict[str, None] = {}
        for ev in events:
            seen.setdefault(ev.run_id, None)
        result.run_ids = list(seen)
        if not events:
            return result
        with self.app.db.write() as conn:
            ids = [ev.id for ev in events if ev.id]
            existing = stored_events(conn, ids) if ids else {}
            fresh: list[EventIn] = []
            for ev in events:
                row = existing.get(ev.id) if ev.id else None
                if row is None:
                    fresh.append(ev)
                elif _same(row, ev):
                    result.duplicates += 1
                else:
                    raise ValidationError(
                        f"event id {ev.id!r} is already stored with different content; "
                        "nothing from the batch was stored"
                    )
            self.app.events.append_in(conn, fresh)
        result.stored = len(fresh)
        result.accepted = len(events)
        if fresh:
            self._dirty = True
        return result

    def mark_dirty(self) -> None:
        """Note that events were appended by a path that does not go through ``append``."""
        self._dirty = True

    def checkpoint_if_due(self, min_interval: float = 1.0) -> str | None:
        """Sign a checkpoint when events were appended and ``min_interval`` seconds passed
        since the last one; returns the note, or None when none was due."""
        with self._lock:
            now = time.monotonic()
            if not self._dirty or now - self._last_checkpoint < min_interval:
                return None
            self._dirty = False
            self._last_checkpoint = now
        return self.app.checkpoint()
