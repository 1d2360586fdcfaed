"""Importing recorded history (JSONL events, CSV run records).

History is recorded as it happened, even where it broke a policy: the breach is evidence
and gets scored. What is refused is malformed input: the whole file is validated before
anything is stored, and then stored in one transaction, so a bad line leaves the store
exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
from pydantic import ValidationError as PydanticValidationError

from raidt.core.canonical import canonical_json
from raidt.core.events import EventIn
from raidt.core.strict_json import InputJSONError, loads_strict
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
    with app.db.write() as conn:
        batch: list[EventIn] = []
        for _, item in parse_jsonl(path):
            done += 1
            if isinstance(item, ImportFileError):
                if not skip_bad:
                    raise item  # rolls back everything appended so far
                skipped.append(item)
                continue
            batch.append(item)
            runs.add(item.run_id)
            if len(batch) >= _BATCH:
                app.events.append_in(conn, batch)
                count += len(batch)
                batch = []
                if progress:
                    progress(done, total)
        if batch:
            app.events.append_in(conn, batch)
            count += len(batch)
    if progress:
        progress(total, total)
    if count:
        app.checkpoint()
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


def _import_csv(
    app: App, path: Path, *, skip_bad: bool, progress: Callable[[int, int], None] | None
) -> ImportResult:
    from raidt.services.csv_records import csv_to_events

    text = path.read_text(encoding="utf-8-sig")
    events, errors = csv_to_events(text, path.name, skip_bad)
    if progress:
        progress(0, len(events))
    if events:
        app.events.append(events)
        app.checkpoint()
    if progress:
        progress(len(events), len(events))
    runs = {e.run_id for e in events}
    return ImportResult(len(events), len(runs), list(errors))
