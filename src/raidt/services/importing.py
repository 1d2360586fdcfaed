"""Importing recorded history (JSONL events, CSV run records).

History is recorded as it happened, even where it broke a policy: the breach is evidence
and gets scored. What is refused is malformed input: the whole file is validated before
anything is stored, and then stored in one transaction, so a bad line leaves the store
exactly as it was.

Importing the same events twice never stores them twice. An event without an ``id`` gets
one derived from its content and its place among the events of its run in the file (a
UUIDv8, :func:`raidt.core.ids.content_id`), so a file imported again carries the same ids,
and an event whose id is already stored is refused by line (with ``--skip-bad`` it is
skipped and listed, so a grown file can be imported again for its new events only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection

from raidt.core.canonical import canonical_json
from raidt.core.events import EventIn
from raidt.core.ids import content_id
from raidt.core.strict_json import InputJSONError, loads_strict
from raidt.core.timefmt import format_ts
from raidt.errors import ImportFileError
from raidt.services.app import App

__all__ = [
    "ImportResult",
    "append_runs",
    "import_file",
    "parse_jsonl",
    "parse_line",
    "parse_object",
]

#: fields an exported stored event carries that the importing store assigns afresh
_SEALED_FIELDS = ("seq", "prev_hash", "hash")
_BATCH = 5000


class ImportResult:
    def __init__(self, events: int, runs: int, skipped: list[ImportFileError]) -> None:
        self.events = events
        self.runs = runs
        self.skipped = skipped


def _field_of(exc: PydanticValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == "payload" and "where" in ctx:  # a payload field, named in full
        return f"{loc}.{ctx['where']}" if ctx["where"] else loc, str(ctx["msg"])
    return loc, str(err["msg"])


class _ContentIds:
    """Ids for events that come without one: a hash of the event and its place in its run.

    Two identical events of one run in one file differ by their place, so both are kept;
    the same file imported again gives every event the id it had the first time.
    """

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def assign(self, ev: EventIn) -> EventIn:
        if ev.id:
            return ev
        n = self._count.get(ev.run_id, 0)
        self._count[ev.run_id] = n + 1
        body = {
            "run_id": ev.run_id,
            "type": ev.type.value,
            "at": format_ts(ev.at),
            "actor": {"id": ev.actor.id, "role": ev.actor.role.value},
            "payload": ev.payload,
            "place": n,
        }
        return ev.model_copy(update={"id": content_id(canonical_json(body))})


def _already_stored(eid: str, line: int | None, source: str) -> ImportFileError:
    return ImportFileError(
        f"event {eid} is already stored: these events were imported before (an event "
        "without an id gets one derived from its content); nothing from the file was "
        "stored (--skip-bad imports only the new ones)",
        line=line,
        source=source,
    )


def parse_line(line: bytes, lineno: int, source: str) -> EventIn:
    """One JSONL line -> EventIn, or ImportFileError naming line and field."""
    try:
        obj = loads_strict(line)
    except InputJSONError as exc:
        raise ImportFileError(str(exc), line=lineno, source=source) from None
    except orjson.JSONDecodeError as exc:
        raise ImportFileError(f"not valid JSON ({exc})", line=lineno, source=source) from None
    return parse_object(obj, lineno, source)


def parse_object(obj: object, lineno: int, source: str) -> EventIn:
    """One decoded JSON value -> EventIn, or ImportFileError naming item and field (the
    API's JSON list bodies come through here, so they are validated exactly as import)."""
    if not isinstance(obj, dict):
        raise ImportFileError("expected a JSON object per line", line=lineno, source=source)
    for k in _SEALED_FIELDS:
        obj.pop(k, None)
    try:
        event = EventIn.model_validate(obj)
    except PydanticValidationError as exc:
        field, msg = _field_of(exc)
        raise ImportFileError(msg, line=lineno, field=field or None, source=source) from None
    try:
        canonical_json(event.payload)  # refuse in the validating pass, not mid-store
    except ValueError as exc:
        raise ImportFileError(str(exc), line=lineno, field="payload", source=source) from None
    return event


def parse_jsonl(path: Path) -> Iterator[tuple[int, EventIn | ImportFileError]]:
    """Stream (line number, event or error) over a JSONL file; blank lines are skipped."""
    source = path.name
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                yield lineno, parse_line(line, lineno, source)
            except ImportFileError as exc:
                yield lineno, exc


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def import_file(
    app: App,
    path: Path,
    *,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Store a whole file atomically, or nothing of it.

    One pass, inside one write transaction: lines are validated and appended in batches,
    and the first bad line (unless ``skip_bad``) raises, which rolls the transaction back,
    so the store is exactly as it was. ``progress(done, total)`` counts lines.
    """
    if not path.exists():
        raise ImportFileError("file not found", source=str(path))
    if not path.is_file():
        raise ImportFileError("not a file (give a .jsonl or .csv file)", source=str(path))
    if path.suffix.lower() == ".csv":
        return _import_csv(app, path, skip_bad=skip_bad, progress=progress)
    total = _count_lines(path)
    done = 0
    skipped: list[ImportFileError] = []
    runs: set[str] = set()
    count = 0
    ids = _ContentIds()
    with app.db.write() as conn:  # the store signs its checkpoint in this transaction
        batch: list[tuple[int | None, EventIn]] = []
        for lineno, item in parse_jsonl(path):
            done += 1
            if isinstance(item, ImportFileError):
                if not skip_bad:
                    raise item  # rolls back everything appended so far
                skipped.append(item)
                continue
            batch.append((lineno, ids.assign(item)))
            if len(batch) >= _BATCH:
                count += _append(app, conn, batch, path.name, skip_bad, skipped, runs)
                batch = []
                if progress:
                    progress(done, total)
        if batch:
            count += _append(app, conn, batch, path.name, skip_bad, skipped, runs)
    if progress:
        progress(total, total)
    return ImportResult(count, len(runs), skipped)


def append_runs(app: App, runs: Sequence[Sequence[EventIn]]) -> int:
    """Append recorded runs (each a list of events with ids) in one transaction, skipping
    every run whose first event is already stored; returns the events appended.

    For capture paths that may deliver the same run twice (a spool replayed after a
    crash): each run was appended whole, in one transaction, so its first event id
    stands for all of it, and a replay appends nothing twice.
    """
    firsts = [r[0].id for r in runs if r and r[0].id is not None]
    with app.db.write() as conn:
        stored = app.events.stored_ids(conn, firsts)
        fresh = [e for r in runs if r and r[0].id not in stored for e in r]
        app.events.append_in(conn, fresh, returning=False)
    return len(fresh)


def _append(
    app: App,
    conn: Connection,
    batch: list[tuple[int | None, EventIn]],
    source: str,
    skip_bad: bool,
    skipped: list[ImportFileError],
    runs: set[str],
) -> int:
    """Append a batch, refusing (or with ``skip_bad`` skipping) events already stored."""
    stored = app.events.stored_ids(conn, [str(e.id) for _, e in batch])
    if stored:
        fresh = []
        for line, e in batch:
            if e.id in stored:
                if not skip_bad:
                    raise _already_stored(str(e.id), line, source)
                skipped.append(_already_stored(str(e.id), line, source))
            else:
                fresh.append((line, e))
        batch = fresh
    app.events.append_in(conn, [e for _, e in batch])
    runs.update(e.run_id for _, e in batch)
    return len(batch)


def _import_csv(
    app: App, path: Path, *, skip_bad: bool, progress: Callable[[int, int], None] | None
) -> ImportResult:
    from raidt.services.csv_records import csv_to_events

    text = path.read_text(encoding="utf-8-sig")
    events, errors = csv_to_events(text, path.name, skip_bad)
    if progress:
        progress(0, len(events))
    ids = _ContentIds()
    skipped = list(errors)
    runs: set[str] = set()
    count = 0
    if events:
        with app.db.write() as conn:
            batch: list[tuple[int | None, EventIn]] = [(None, ids.assign(e)) for e in events]
            count = _append(app, conn, batch, path.name, skip_bad, skipped, runs)
    if progress:
        progress(len(events), len(events))
    return ImportResult(count, len(runs), skipped)
