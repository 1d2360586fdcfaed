"""``raidt record``: document one run by hand (the manual implementation level).

An interactive form walks a person through the run-level record, insisting on the fields
the use case's policy makes mandatory; every question has a flag, so the same command is
scriptable, and ``--no-input`` never prompts (missing mandatory fields are then an error
that lists them, and nothing is recorded). The record becomes the same events a CSV row
would (:mod:`raidt.services.csv_records`): what happened is recorded as it happened.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.prompt import Confirm, Prompt

from raidt.cli._common import console, err_console, fail, open_app, print_json, run_cli
from raidt.cli._text import safe
from raidt.core.ids import new_id
from raidt.core.policy import Policy
from raidt.core.timefmt import format_ts, utcnow
from raidt.services.csv_records import csv_template, record_to_events

__all__ = ["record", "record_app"]

record_app = typer.Typer()

#: Bounds on the numbers a person types: a year of review, and edits one person could make.
MAX_REVIEW_SECONDS = 366 * 24 * 3600
MAX_EDITS = 10_000

#: policy mandatory field -> the record column that holds it
_FIELD_COLUMN = {
    "purpose": "purpose", "risk_level": "risk_level", "reviewer": "reviewer",
    "disposition": "disposition", "team": "team", "initiator": "initiator",
    "template": "template_id", "model": "model", "data_context": "data_context",
    "signoff": "signoff_by", "approver": "signoff_by", "use_case": "use_case",
}  # fmt: skip

#: (column, question, choices) in the order the form asks them
_QUESTIONS: list[tuple[str, str, list[str] | None]] = [
    ("team", "Team", None),
    ("purpose", "Purpose of the run", None),
    ("risk_level", "Risk level", ["low", "medium", "high"]),
    ("initiator", "Initiator (actor id)", None),
    ("data_context", "Data context references (separate with ;)", None),
    ("template_id", "Prompt template id", None),
    ("template_version", "Template version", None),
    ("provider", "Model provider", None),
    ("model", "Model", None),
    ("reviewer", "Reviewer (actor id)", None),
    ("review_seconds", "Review time in seconds", None),
    ("decision", "Review decision", ["approved", "rejected"]),
    ("edits", "Number of edits made to the output", None),
    ("override_reason", "Override reason", None),
    ("signoff_by", "Signed off by (actor id)", None),
    ("disposition", "Disposition", ["accepted", "accepted_with_edits", "rejected", "withdrawn"]),
    ("downstream", "Downstream destination", None),
]


@contextmanager
def _input_closed_is_an_error() -> Iterator[None]:
    """A prompt that meets the end of input (stdin closed, a pipe ran dry) fails cleanly."""
    try:
        yield
    except EOFError:
        fail("input ended before the form was complete; nothing recorded (use --no-input)")


def _required_columns(policy: Policy) -> list[str]:
    cols = ["team", "risk_level", "initiator"]
    for name in policy.mandatory_fields:
        col = _FIELD_COLUMN.get(name, name)
        if col not in cols:
            cols.append(col)
    return cols


def _ask(
    column: str, question: str, choices: list[str] | None, required: bool, default: str | None
) -> str:
    label = question if required else f"{question} [dim](optional, Enter to skip)[/]"
    while True:
        if choices and required:
            answer = Prompt.ask(label, choices=choices, default=default)
        else:
            answer = Prompt.ask(label, default=default or "", show_default=bool(default))
            if answer and choices and answer not in choices:
                console.print(f"[red]choose one of: {safe(', '.join(choices))}[/]")
                continue
        answer = (answer or "").strip()
        if answer or not required:
            return answer
        console.print(f"[red]{safe(column)} is required by the policy[/]")


@record_app.command("record")
def record(
    use_case: Annotated[str | None, typer.Option("--use-case")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    purpose: Annotated[str | None, typer.Option()] = None,
    risk_level: Annotated[str | None, typer.Option("--risk-level")] = None,
    initiator: Annotated[str | None, typer.Option()] = None,
    started_at: Annotated[str | None, typer.Option("--started-at", help="RFC 3339")] = None,
    data_context: Annotated[list[str], typer.Option("--data-context")] = [],  # noqa: B006
    template: Annotated[str | None, typer.Option(help="ID@VERSION")] = None,
    provider: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    reviewer: Annotated[str | None, typer.Option()] = None,
    reviewed_at: Annotated[str | None, typer.Option("--reviewed-at")] = None,
    review_seconds: Annotated[
        float | None, typer.Option("--review-seconds", min=0, max=MAX_REVIEW_SECONDS)
    ] = None,
    decision: Annotated[str | None, typer.Option(help="approved | rejected")] = None,
    edits: Annotated[int | None, typer.Option(min=0, max=MAX_EDITS)] = None,
    override_reason: Annotated[str | None, typer.Option("--override-reason")] = None,
    escalation_reason: Annotated[str | None, typer.Option("--escalation-reason")] = None,
    escalation_owner: Annotated[str | None, typer.Option("--escalation-owner")] = None,
    escalation_resolution: Annotated[str | None, typer.Option("--escalation-resolution")] = None,
    signoff_by: Annotated[str | None, typer.Option("--signoff-by")] = None,
    signoff_role: Annotated[str | None, typer.Option("--signoff-role")] = None,
    disposition: Annotated[str | None, typer.Option()] = None,
    closed_at: Annotated[str | None, typer.Option("--closed-at")] = None,
    downstream: Annotated[str | None, typer.Option()] = None,
    field: Annotated[list[str], typer.Option("--field", help="NAME=VALUE (repeat)")] = [],  # noqa: B006
    no_input: Annotated[bool, typer.Option("--no-input", help="never prompt")] = False,
    csv_header: Annotated[
        bool, typer.Option("--csv-template", help="print a CSV header to start from")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Document a run by hand: an interactive form, or flags with --no-input."""
    if csv_header:
        sys.stdout.write(csv_template())
        return
    cells: dict[str, str] = {}
    for pair in field:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--field takes NAME=VALUE, not {pair!r}")
        cells[key.strip()] = value.strip()
    tid, _, tver = (template or "").partition("@")
    given = {
        "team": team, "purpose": purpose, "risk_level": risk_level, "initiator": initiator,
        "started_at": started_at, "data_context": ";".join(data_context) or None,
        "template_id": tid or None, "template_version": tver or None, "provider": provider,
        "model": model, "reviewer": reviewer, "reviewed_at": reviewed_at,
        "review_seconds": None if review_seconds is None else f"{review_seconds:g}",
        "decision": decision, "edits": None if edits is None else str(edits),
        "override_reason": override_reason, "escalation_reason": escalation_reason,
        "escalation_owner": escalation_owner, "escalation_resolution": escalation_resolution,
        "signoff_by": signoff_by, "signoff_role": signoff_role, "disposition": disposition,
        "closed_at": closed_at, "downstream": downstream,
    }  # fmt: skip
    cells.update({k: v for k, v in given.items() if v})
    interactive = not no_input
    with run_cli(), _input_closed_is_an_error(), open_app() as a:
        from raidt.services.policies import PolicyService

        ps = PolicyService(a)
        if not use_case:
            if not interactive:
                fail("missing mandatory field(s): use_case; nothing recorded")
            ids = [p.id for p in ps.list_policies()]
            use_case = Prompt.ask("Use case", choices=ids or None)
        policy = ps.get(use_case)
        required = _required_columns(policy)
        if interactive:
            console.print(
                f"[bold]Recording a run of {safe(policy.id)}@{safe(policy.version)}[/] "
                f"({safe(policy.title)}); mandatory: {safe(', '.join(required))}",
                highlight=False,
            )
            default_template = policy.approved_templates[0] if policy.approved_templates else None
            for column, question, choices in _QUESTIONS:
                if column in cells:
                    continue
                if column == "template_version" and not cells.get("template_id"):
                    continue
                default = None
                if default_template is not None and column == "template_id":
                    default = default_template.id
                if default_template is not None and column == "template_version":
                    default = default_template.version
                answer = _ask(column, question, choices, column in required, default)
                if answer:
                    cells[column] = answer
            if "escalation_reason" not in cells and Confirm.ask(
                "Was the run escalated?", default=False
            ):
                cells["escalation_reason"] = _ask(
                    "escalation_reason", "Escalation reason", None, True, None
                )
                cells["escalation_owner"] = _ask(
                    "escalation_owner", "Escalation owner", None, True, None
                )
                resolution = _ask("escalation_resolution", "Resolution", None, False, None)
                if resolution:
                    cells["escalation_resolution"] = resolution
            for column in required:
                if column not in cells:
                    cells[column] = _ask(
                        column, column.replace("_", " ").capitalize(), None, True, None
                    )
        missing = [c for c in required if not cells.get(c)]
        if missing:
            fail(
                f"missing mandatory field(s) for policy {policy.id}: {', '.join(missing)}; "
                f"nothing recorded"
            )
        rid = run_id or new_id()
        cells.update(
            run_id=rid, use_case=use_case, started_at=cells.get("started_at") or format_ts(utcnow())
        )
        events = record_to_events(cells, None, "raidt record")
        from raidt.services.runs import RunService

        RunService(a).record(events)  # one transaction, signed like every write
        for w in a.warnings:
            err_console.print(f"[bold yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if as_json:
        print_json({"run_id": rid, "events": len(events)})
        return
    console.print(
        f"[green]✓[/] recorded run [bold]{safe(rid)}[/] ({len(events)} events, policy "
        f"{safe(policy.id)}@{safe(policy.version)})",
        highlight=False,
    )
