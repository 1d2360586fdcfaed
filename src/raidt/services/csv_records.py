"""Run-level records as CSV (one row per run) and as hand-filled forms.

The manual implementation level: people who documented runs in a spreadsheet, or who fill
in ``raidt record`` by hand, give one record per run with the usual fields (who started it,
which template and model, who reviewed it and for how long, the decision, edits,
overrides, escalation, sign-off, disposition, downstream use). A record becomes the same
events the live workflow would have written, so it is scored like any other run.

This is history, not a live action: a record that broke the policy (a self-approval, a
missing disposition) is recorded as it happened and its breach becomes evidence. What is
refused is malformed input, named by line and column; unless ``skip_bad`` is given nothing
from a file with a bad row is imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.timefmt import parse_ts
from raidt.errors import ImportFileError

__all__ = [
    "CSV_COLUMNS",
    "REQUIRED_COLUMNS",
    "csv_template",
    "csv_to_events",
    "record_to_events",
]

#: Every column a run record may have, in the order of the template.
CSV_COLUMNS: tuple[str, ...] = (
    "run_id", "use_case", "team", "purpose", "risk_level", "initiator", "started_at",
    "data_context",
    "template_id", "template_version", "provider", "model", "parameters",
    "reviewer", "reviewed_at", "review_seconds", "decision", "decision_reason",
    "edits", "edit_reason", "override_what", "override_reason",
    "escalation_reason", "escalation_owner", "escalation_resolution",
    "signoff_by", "signoff_role", "disposition", "closed_at", "closed_by",
    "downstream", "downstream_reference",
)  # fmt: skip

#: Columns the header must have and every row must fill.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "run_id", "use_case", "team", "risk_level", "initiator", "started_at",
)  # fmt: skip

_RISK = ("low", "medium", "high")
_DECISIONS = ("approved", "rejected")
_DISPOSITIONS = ("accepted", "accepted_with_edits", "rejected", "withdrawn")
_E = EventType


def csv_template() -> str:
    """The header line of a run-record CSV, for people starting a spreadsheet."""
    return ",".join(CSV_COLUMNS) + "\n"


class _Row:
    """Typed access to one record's cells; every problem names its column."""

    def __init__(self, cells: Mapping[str, str | None], line: int | None, source: str) -> None:
        self.cells = {k: (v or "").strip() for k, v in cells.items() if k is not None}
        self.line = line
        self.source = source

    def bad(self, column: str, message: str) -> ImportFileError:
        return ImportFileError(message, line=self.line, field=column, source=self.source)

    def text(self, column: str, required: bool = False) -> str | None:
        value = self.cells.get(column) or None
        if required and value is None:
            raise self.bad(column, "is required and empty")
        return value

    def choice(self, column: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(column)
        if value is not None and value not in allowed:
            raise self.bad(column, f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    def time(self, column: str, required: bool = False) -> datetime | None:
        value = self.text(column, required)
        if value is None:
            return None
        try:
            return parse_ts(value)
        except ValueError as exc:
            raise self.bad(column, f"not an RFC 3339 timestamp with a zone ({exc})") from None

    def number(self, column: str, integer: bool = False) -> float | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            n = float(int(value)) if integer else float(value)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise self.bad(column, f"{value!r} is not {kind}") from None
        if n < 0 or n != n or n in (float("inf"), float("-inf")):
            raise self.bad(column, f"{value!r} must be zero or more")
        return n

    def json_object(self, column: str) -> dict[str, Any]:
        value = self.text(column)
        if value is None:
            return {}
        try:
            obj = json.loads(value)
        except ValueError:
            raise self.bad(column, "is not valid JSON") from None
        if not isinstance(obj, dict):
            raise self.bad(column, 'must be a JSON object such as {"temperature": 0.2}')
        return obj

    def together(self, *columns: str) -> None:
        given = [c for c in columns if self.text(c)]
        if given and len(given) != len(columns):
            lacking = next(c for c in columns if c not in given)
            raise self.bad(lacking, f"is required when {given[0]} is given")


def record_to_events(
    cells: Mapping[str, str | None], line: int | None = None, source: str = "record"
) -> list[EventIn]:
    """One run record -> the events it stands for, or :class:`ImportFileError`.

    Columns outside :data:`CSV_COLUMNS` are kept as fields of the ``run.started`` payload
    (so a policy's own mandatory fields, such as a loan reference, can be recorded).
    """
    r = _Row(cells, line, source)
    run_id = str(r.text("run_id", True))
    initiator = str(r.text("initiator", True))
    started = r.time("started_at", True)
    if started is None:  # pragma: no cover - r.time raises for a required empty cell
        raise r.bad("started_at", "is required and empty")
    risk = r.choice("risk_level", _RISK)
    if risk is None:
        raise r.bad("risk_level", "is required and empty")
    r.together("template_id", "template_version")
    r.together("provider", "model")
    r.together("escalation_reason", "escalation_owner")
    reviewer = r.text("reviewer")
    decision = r.choice("decision", _DECISIONS)
    if decision and not reviewer:
        raise r.bad("reviewer", f"is required when decision is {decision}")
    for col in ("reviewed_at", "review_seconds", "edits"):
        if r.text(col) and not reviewer:
            raise r.bad("reviewer", f"is required when {col} is given")
    if r.text("escalation_resolution") and not r.text("escalation_reason"):
        raise r.bad("escalation_reason", "is required when escalation_resolution is given")
    disposition = r.choice("disposition", _DISPOSITIONS)
    for col in ("closed_at", "closed_by"):
        if r.text(col) and not disposition:
            raise r.bad("disposition", f"is required when {col} is given")
    params = r.json_object("parameters")
    review_seconds = r.number("review_seconds")
    edits = int(r.number("edits", integer=True) or 0)
    reviewed = r.time("reviewed_at") or (
        started + timedelta(seconds=review_seconds or 0) if reviewer else None
    )
    if reviewed is not None and reviewed < started:
        raise r.bad("reviewed_at", "is before started_at")
    closed = r.time("closed_at") or (reviewed or started if disposition else None)
    if closed is not None and closed < (reviewed or started):
        raise r.bad("closed_at", "is before " + ("reviewed_at" if reviewed else "started_at"))

    def ev(
        type_: EventType, at: datetime, actor: str, role: Role, payload: dict[str, Any]
    ) -> EventIn:
        try:
            return EventIn(
                run_id=run_id,
                type=type_,
                at=at,
                actor=ActorRef(id=actor, role=role),
                payload=payload,
            )
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise r.bad(where or type_.value, str(err["msg"])) from None

    start_payload: dict[str, Any] = {
        "use_case": r.text("use_case", True),
        "team": r.text("team", True),
        "purpose": r.text("purpose"),
        "risk_level": risk,
        "recorded_from": {"source": source, **({"line": line} if line is not None else {})},
    }
    refs = [x.strip() for x in (r.text("data_context") or "").split(";") if x.strip()]
    if refs:
        start_payload["data_context"] = [{"ref": x} for x in refs]
    if r.text("template_id"):
        start_payload["template"] = {
            "id": r.text("template_id"),
            "version": r.text("template_version"),
        }
    for col, value in r.cells.items():
        if col not in CSV_COLUMNS and value:
            start_payload[col] = value
    out = [ev(_E.RUN_STARTED, started, initiator, Role.INITIATOR, start_payload)]
    if r.text("provider"):
        out.append(
            ev(
                _E.MODEL_INVOKED,
                started,
                initiator,
                Role.INITIATOR,
                {"provider": r.text("provider"), "model": r.text("model"), "parameters": params},
            )
        )
    actor = reviewer or initiator
    actor_role = Role.REVIEWER if reviewer else Role.INITIATOR
    at = reviewed or started
    if reviewer:
        assigned = at - timedelta(seconds=review_seconds) if review_seconds else started
        out.append(
            ev(
                _E.REVIEW_ASSIGNED,
                max(assigned, started),
                initiator,
                Role.INITIATOR,
                {"reviewer": {"id": reviewer, "role": "reviewer"}},
            )
        )
    for _ in range(edits):
        payload: dict[str, Any] = {"diff": "", "diff_recorded": False}
        if r.text("edit_reason"):
            payload["reason"] = r.text("edit_reason")
        out.append(ev(_E.OUTPUT_EDITED, at, actor, actor_role, payload))
    if r.text("override_reason"):
        out.append(
            ev(
                _E.OVERRIDE_RECORDED,
                at,
                actor,
                actor_role,
                {"what": r.text("override_what") or "policy", "reason": r.text("override_reason")},
            )
        )
    if r.text("escalation_reason"):
        owner = str(r.text("escalation_owner"))
        out.append(
            ev(
                _E.ESCALATION_RAISED,
                at,
                actor,
                actor_role,
                {
                    "reason": r.text("escalation_reason"),
                    "owner": {"id": owner, "role": "escalation_owner"},
                },
            )
        )
        if r.text("escalation_resolution"):
            out.append(
                ev(
                    _E.ESCALATION_RESOLVED,
                    at,
                    owner,
                    Role.ESCALATION_OWNER,
                    {"resolution": r.text("escalation_resolution")},
                )
            )
    if decision and reviewer:
        kind = _E.REVIEW_APPROVED if decision == "approved" else _E.REVIEW_REJECTED
        reason = r.text("decision_reason")
        out.append(ev(kind, at, reviewer, Role.REVIEWER, {"reason": reason} if reason else {}))
    if r.text("signoff_by"):
        role = r.text("signoff_role") or "approver"
        act_role = Role(role) if role in Role.__members__.values() else Role.APPROVER
        out.append(ev(_E.SIGNOFF_RECORDED, at, str(r.text("signoff_by")), act_role, {"role": role}))
    end = closed or at
    if disposition:
        out.append(
            ev(
                _E.RUN_CLOSED,
                end,
                r.text("closed_by") or initiator,
                Role.INITIATOR if not r.text("closed_by") else Role.ADMIN,
                {"disposition": disposition},
            )
        )
    if r.text("downstream"):
        payload = {"destination": r.text("downstream")}
        if r.text("downstream_reference"):
            payload["reference"] = r.text("downstream_reference")
        out.append(ev(_E.DOWNSTREAM_USED, end, initiator, Role.INITIATOR, payload))
    return out


def csv_to_events(
    text: str, source: str, skip_bad: bool
) -> tuple[list[EventIn], list[ImportFileError]]:
    """Parse a run-record CSV into events, naming every bad row by line and column.

    Line numbers are those of the file (the header is line 1; a row with a quoted line
    break is named by the line it starts on). Without ``skip_bad`` the first bad row is
    raised and nothing is returned; with it, good rows come back with the list of bad ones.
    A bad header is always raised: no row can be read without it.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(f"not readable as CSV ({exc})", line=1, source=source) from None
    if not header or not any(h.strip() for h in header):
        raise ImportFileError("the file is empty; expected a header line", line=1, source=source)
    names = [h.strip() for h in header]
    for col in REQUIRED_COLUMNS:
        if col not in names:
            raise ImportFileError(
                "column missing from the header", line=1, field=col, source=source
            )
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        raise ImportFileError(
            "column appears twice in the header", line=1, field=dupes[0], source=source
        )
    events: list[EventIn] = []
    errors: list[ImportFileError] = []
    seen: dict[str, int] = {}
    prev_end = reader.line_num
    while True:
        start = prev_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            err = ImportFileError(f"not readable as CSV ({exc})", line=start, source=source)
            if not skip_bad:
                raise err from None
            errors.append(err)
            break
        prev_end = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        try:
            if len(cells) > len(names):
                raise ImportFileError(
                    "the row has more cells than the header has columns", line=start, source=source
                )
            row = {n: c for n, c in zip(names, cells, strict=False) if n}
            rid = (row.get("run_id") or "").strip()
            if rid in seen:
                raise ImportFileError(
                    f"run {rid!r} already appears on line {seen[rid]}",
                    line=start,
                    field="run_id",
                    source=source,
                )
            run_events = record_to_events(row, start, source)
            seen[rid] = start
        except ImportFileError as err:
            if not skip_bad:
                raise
            errors.append(err)
            continue
        events.extend(run_events)
    return events, errors
