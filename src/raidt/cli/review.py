"""``raidt review``: the semi-automated level, for reviewers who live in the terminal.

Every command acts as ``--as ACTOR_ID`` through :class:`~raidt.services.workflow.
WorkflowService`, so the policy is enforced exactly as in the web UI and the API; a refusal
is one line on stderr with exit code 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from raidt.cli._common import console, fail, open_app, print_json, read_text, run_cli
from raidt.cli._text import cell, safe
from raidt.services.workflow import WorkflowService

__all__ = ["review_app"]

review_app = typer.Typer(
    help="Act on runs under their workflow policy: queue, approve, sign off...",
    no_args_is_help=True,
)

As = Annotated[str, typer.Option("--as", help="the actor id you act as")]
RunId = Annotated[str, typer.Argument(help="the run id")]


def _done(message: str) -> None:
    console.print(f"[green]✓[/] {safe(message)}", highlight=False)


@review_app.command("queue")
def queue(
    reviewer: Annotated[
        str | None, typer.Option(help="only runs assigned to this reviewer")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open runs waiting on a person (unassigned, in review, escalated, approved)."""
    with run_cli(), open_app() as a:
        runs = WorkflowService(a).review_queue(reviewer)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    table = Table("run", "use case", "team", "risk", "status", "reviewers", "started")
    for r in runs:
        table.add_row(
            cell(r.run_id),
            cell(r.use_case),
            cell(r.team),
            cell(r.risk_level),
            cell(r.status),
            cell(", ".join(r.reviewers) or "-"),
            cell(r.started_at),
        )
    console.print(table if runs else "[dim]nothing waiting[/]")


@review_app.command("show")
def show(run_id: RunId, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The run, its policy's guidance and checklist, what is allowed next and still missing."""
    with run_cli(), open_app() as a:
        view = WorkflowService(a).view(run_id).to_dict()
    if as_json:
        print_json(view)
        return
    run = view["run"]
    console.print(
        f"[bold]run {safe(run['run_id'])}[/]  {safe(run['use_case'])} / {safe(run['team'])}  "
        f"risk {safe(run['risk_level'])}  status [bold]{safe(run['status'])}[/]  "
        f"policy {safe(view['policy']['id'])}@{safe(view['policy']['version'])}",
        highlight=False,
    )
    if view["guidance"]:
        g = view["guidance"]
        console.print(
            f"[bold]guidance[/] {safe(g['id'])}@{safe(g['version'])}: {safe(g['text'])}",
            highlight=False,
        )
    for item, done in view["checklist"].items():
        console.print(
            f"  [{'green' if done else 'red'}]{'✓' if done else '·'}[/] {safe(item)}",
            highlight=False,
        )
    table = Table("at", "type", "actor", "payload")
    for e in view["events"]:
        payload = {k: v for k, v in e["payload"].items() if k not in ("diff", "prompt", "output")}
        table.add_row(
            cell(e["at"]),
            cell(e["type"]),
            cell(f"{e['actor']['id']} ({e['actor']['role']})"),
            cell(str(payload)[:80]),
        )
    console.print(table)
    console.print(
        "[bold]allowed next:[/] " + safe(", ".join(view["allowed_next"])), highlight=False
    )
    missing = view["missing_for_close"]
    console.print(
        "[bold]missing for close:[/] " + safe("; ".join(missing) or "nothing"), highlight=False
    )


@review_app.command("start")
def start(
    actor: As,
    use_case: Annotated[str, typer.Option("--use-case")],
    team: Annotated[str, typer.Option()],
    risk_level: Annotated[str, typer.Option("--risk-level")],
    purpose: Annotated[str | None, typer.Option()] = None,
    template: Annotated[str | None, typer.Option(help="ID@VERSION")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id")] = None,
    deviation_reason: Annotated[str | None, typer.Option("--deviation-reason")] = None,
) -> None:
    """Start a live run under the policy in force (templates are checked)."""
    tref: dict[str, Any] | None = None
    if template:
        tid, _, version = template.partition("@")
        if not version:
            fail("--template takes ID@VERSION")
        tref = {"id": tid, "version": version}
    with run_cli(), open_app() as a:
        rid = WorkflowService(a).start_run(
            use_case,
            actor,
            team,
            purpose,
            risk_level,
            template=tref,
            run_id=run_id,
            deviation_reason=deviation_reason,
        )
    _done(f"started run {rid}")


@review_app.command("assign")
def assign(run_id: RunId, reviewer: Annotated[str, typer.Argument()], actor: As) -> None:
    """Assign a reviewer (not the initiator; qualified on the run date if required)."""
    with run_cli(), open_app() as a:
        WorkflowService(a).assign_reviewer(run_id, reviewer, by=actor)
    _done(f"assigned {reviewer} to review run {run_id}")


@review_app.command("ack")
def ack(run_id: RunId, actor: As) -> None:
    """Acknowledge the policy's reviewer guidance."""
    with run_cli(), open_app() as a:
        ev = WorkflowService(a).acknowledge_guidance(run_id, actor)
    g = ev.payload["guidance"]
    _done(f"acknowledged guidance {g['id']}@{g['version']} on run {run_id}")


@review_app.command("checklist")
def checklist(
    run_id: RunId,
    actor: As,
    done: Annotated[list[str], typer.Option("--done", help="an item checked (repeat)")] = [],  # noqa: B006
    failed: Annotated[list[str], typer.Option("--failed", help="an item that failed")] = [],  # noqa: B006
) -> None:
    """Record checklist items as done or failed."""
    items = {**dict.fromkeys(done, True), **dict.fromkeys(failed, False)}
    with run_cli(), open_app() as a:
        WorkflowService(a).complete_checklist(run_id, actor, items)
    _done(f"recorded {len(items)} checklist item(s) on run {run_id}")


@review_app.command("edit")
def edit(
    run_id: RunId,
    actor: As,
    before: Annotated[Path | None, typer.Option(help="file with the text before")] = None,
    after: Annotated[Path | None, typer.Option(help="file with the text after")] = None,
    diff: Annotated[Path | None, typer.Option(help="a unified diff file instead")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record an edit of the output as a unified diff attributed to you."""
    if diff is None and (before is None or after is None):
        fail("give --before and --after files, or --diff")
    b = read_text(before) if before else None
    af = read_text(after) if after else None
    d = read_text(diff) if diff else None
    with run_cli(), open_app() as a:
        WorkflowService(a).edit_output(run_id, actor, b, af, reason, diff=d)
    _done(f"recorded edit on run {run_id}")


@review_app.command("approve")
def approve(run_id: RunId, actor: As, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Approve after the minimum review (time, checklist, guidance)."""
    with run_cli(), open_app() as a:
        WorkflowService(a).approve(run_id, actor, reason)
    _done(f"approved run {run_id}")


@review_app.command("reject")
def reject(run_id: RunId, actor: As, reason: Annotated[str, typer.Option()]) -> None:
    """Reject the output, with a reason."""
    with run_cli(), open_app() as a:
        WorkflowService(a).reject(run_id, actor, reason)
    _done(f"rejected run {run_id}")


@review_app.command("override")
def override(
    run_id: RunId,
    actor: As,
    what: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()],
) -> None:
    """Record an override and its reason."""
    with run_cli(), open_app() as a:
        WorkflowService(a).override(run_id, actor, what, reason)
    _done(f"recorded override of {what} on run {run_id}")


@review_app.command("escalate")
def escalate(
    run_id: RunId,
    actor: As,
    reason: Annotated[str, typer.Option()],
    owner: Annotated[str, typer.Option(help="actor id of the escalation owner")],
) -> None:
    """Escalate to the policy's escalation owner."""
    with run_cli(), open_app() as a:
        WorkflowService(a).escalate(run_id, actor, reason, owner)
    _done(f"escalated run {run_id} to {owner}")


@review_app.command("resolve")
def resolve(run_id: RunId, actor: As, resolution: Annotated[str, typer.Option()]) -> None:
    """Resolve an open escalation you own."""
    with run_cli(), open_app() as a:
        WorkflowService(a).resolve_escalation(run_id, actor, resolution)
    _done(f"resolved escalation on run {run_id}")


@review_app.command("signoff")
def signoff(
    run_id: RunId,
    actor: As,
    role: Annotated[str, typer.Option(help="the role you sign off in")] = "approver",
    statement: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Sign off in the role the policy asks for at the run's risk level."""
    with run_cli(), open_app() as a:
        WorkflowService(a).signoff(run_id, actor, role, statement)
    _done(f"signed off run {run_id} as {role}")


def _fields(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--field takes NAME=VALUE, not {pair!r}")
        out[key.strip()] = value.strip()
    return out


@review_app.command("close")
def close(
    run_id: RunId,
    actor: As,
    disposition: Annotated[
        str, typer.Option(help="accepted | accepted_with_edits | rejected | withdrawn")
    ],
    field: Annotated[list[str], typer.Option("--field", help="NAME=VALUE (repeat)")] = [],  # noqa: B006
) -> None:
    """Close the run; refused with the list of what the policy still asks for."""
    with run_cli(), open_app() as a:
        WorkflowService(a).close(run_id, actor, disposition, _fields(field))
    _done(f"closed run {run_id} as {disposition}")


@review_app.command("downstream")
def downstream(
    run_id: RunId,
    actor: As,
    destination: Annotated[str, typer.Option()],
    reference: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record where the approved output went (only destinations the policy allows)."""
    with run_cli(), open_app() as a:
        WorkflowService(a).record_downstream(run_id, actor, destination, reference)
    _done(f"recorded use of run {run_id} in {destination}")


@review_app.command("challenge")
def challenge(
    run_id: RunId,
    actor: As,
    reason: Annotated[str, typer.Option()],
    owner: Annotated[str, typer.Option(help="actor id who must answer")],
    subject: Annotated[str, typer.Option(help="'run' or a criterion id")] = "run",
) -> None:
    """Contest a run or one criterion of its score."""
    with run_cli(), open_app() as a:
        WorkflowService(a).raise_challenge(run_id, actor, subject, reason, owner)
    _done(f"raised challenge on {subject} of run {run_id}; {owner} must answer it")


@review_app.command("resolve-challenge")
def resolve_challenge(
    run_id: RunId,
    actor: As,
    resolution: Annotated[str, typer.Option()],
    subject: Annotated[str, typer.Option(help="'run' or a criterion id")] = "run",
) -> None:
    """Answer a challenge you own."""
    with run_cli(), open_app() as a:
        WorkflowService(a).resolve_challenge(run_id, actor, subject, resolution)
    _done(f"resolved challenge on {subject} of run {run_id}")


@review_app.command("assess")
def assess(
    run_id: RunId,
    actor: As,
    criterion: Annotated[str, typer.Option()],
    result: Annotated[str, typer.Option(help="met | partial | unmet | not_applicable")],
    rationale: Annotated[str, typer.Option()],
) -> None:
    """Record a human assessor's judgement on one criterion."""
    with run_cli(), open_app() as a:
        WorkflowService(a).record_assessment(run_id, actor, criterion, result, rationale)
    _done(f"recorded assessment of {criterion} on run {run_id}")
