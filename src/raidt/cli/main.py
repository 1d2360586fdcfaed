"""The ``raidt`` command: store, import, inspect and verify run-level evidence.

Each command is thin: parse options, call a service, print. Sub-command groups live in
their own modules and are registered at the bottom of this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from raidt.cli._common import (
    RaidtGroup,
    console,
    err_console,
    fail,
    open_app,
    print_json,
    progress,
    run_cli,
    writable,
)
from raidt.cli._text import cell, plain, safe
from raidt.core.timefmt import format_ts
from raidt.services.app import App

#: The largest ``--limit``: beyond any store, and inside every engine's integer range.
MAX_LIMIT = 1_000_000_000
#: The largest demo: the demo is a tour, not a load generator (bench/ is for that).
MAX_DEMO_RUNS = 100_000

app = typer.Typer(
    name="raidt",
    cls=RaidtGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Run-level evidence, tamper-evident ledger and governance readiness for GenAI use.",
)


@app.command()
def init() -> None:
    """Create RAIDT_HOME, the database, the signing key, sector presets and the rubric."""
    with run_cli(), open_app() as a:
        _ = a.signing_key
        installed = _install_defaults(a)
        note = a.checkpoint()
        _warn(a)
        console.print(
            f"[green]✓[/] store ready at [bold]{safe(a.settings.home)}[/] ({a.db.dialect}); "
            f"{installed}"
        )
        console.print(f"  checkpoint: tree size {safe(note.splitlines()[1])}")


def _warn(a: App) -> None:
    """Show what went wrong after a write had committed (e.g. the outside checkpoint copy)."""
    for w in a.warnings:
        err_console.print(f"[bold yellow]warning:[/] {safe(w)}", highlight=False, soft_wrap=True)


def _install_defaults(a: App) -> str:
    """Install the six sector presets and the default rubric (idempotent)."""
    from raidt.services.policies import install_presets
    from raidt.services.scoring import install_default_rubric

    added = install_presets(a)
    install_default_rubric(a)
    return f"{added} new sector policies, default rubric"


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL events (DESIGN 6.1) or CSV run records")],
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="import good lines, list bad")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import recorded history; a bad line is named and nothing is stored."""
    from raidt.services.importing import import_file

    with run_cli(), open_app() as a, progress() as bar:
        task = bar.add_task(f"importing {safe(file.name)}", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = import_file(a, file, skip_bad=skip_bad, progress=tick)
    _warn(a)
    if as_json:
        print_json(
            {
                "events": result.events,
                "runs": result.runs,
                "skipped": [e.diagnostic() for e in result.skipped],
            }
        )
        return
    for e in result.skipped:
        console.print(f"[yellow]skipped[/] {safe(e.diagnostic())}", highlight=False)
    console.print(f"[green]✓[/] imported {result.events} events of {result.runs} runs")


@app.command()
def runs(
    use_case: Annotated[str | None, typer.Option("--use-case")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    since: Annotated[str | None, typer.Option("--since", help="started at or after (UTC)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="started before (UTC)")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=MAX_LIMIT, help="at most this many")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List runs (newest first)."""
    from raidt.services.runs import RunService

    with run_cli(), open_app() as a:
        svc = RunService(a)
        states = svc.list_runs(
            use_case=use_case,
            team=team,
            status=status,
            since=_ts(since),
            until=_ts(until),
            limit=limit if (limit or as_json) else limit or 50,
        )
        readiness = svc.readiness_of([s.run_id for s in states])
    if as_json:
        print_json(
            [
                {
                    "id": s.run_id,
                    "use_case": s.use_case,
                    "team": s.team,
                    "status": s.status,
                    "risk_level": s.risk_level,
                    "initiator": s.initiator,
                    "reviewers": list(s.reviewers),
                    "disposition": s.disposition,
                    "started_at": s.started_at,
                    "closed_at": s.closed_at,
                    "events": s.event_count,
                    "readiness": readiness.get(s.run_id),
                }
                for s in states
            ]
        )
        return
    table = Table(title=f"{len(states)} runs", header_style="bold")
    for col in (
        "run",
        "use case",
        "team",
        "status",
        "risk",
        "initiator",
        "reviewer",
        "disposition",
        "started",
        "readiness",
    ):
        table.add_column(col)
    for s in states:
        table.add_row(
            cell(s.run_id),
            cell(s.use_case),
            cell(s.team),
            cell(s.status),
            cell(s.risk_level),
            cell(s.initiator),
            cell(",".join(s.reviewers)),
            cell(s.disposition),
            cell((s.started_at or "")[:19]),
            cell(readiness.get(s.run_id)),
        )
    console.print(table)


def _ts(text: str | None) -> str | None:
    if text is None:
        return None
    from raidt.core.timefmt import parse_ts

    try:
        return format_ts(parse_ts(text if "T" in text else text + "T00:00:00Z"))
    except ValueError:
        fail(f"not a date or UTC timestamp: {text!r}")


@app.command()
def show(
    run_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A run's timeline, step by step."""
    from raidt.core.projection import project
    from raidt.services.runs import RunService

    with run_cli(), open_app() as a:
        events = RunService(a).run_events(run_id)
    state = project(run_id, events)
    if as_json:
        print_json({"run": state.to_dict(), "events": [e.to_json_dict() for e in events]})
        return
    console.print(
        f"[bold]run {safe(run_id)}[/] · {safe(state.use_case)} · team {safe(state.team)} · "
        f"risk {safe(state.risk_level)} · status [bold]{safe(state.status)}[/]"
        + (f" · disposition {safe(state.disposition)}" if state.disposition else ""),
        highlight=False,
    )
    if state.purpose:
        console.print(f"purpose: {safe(state.purpose)}", highlight=False)
    table = Table(header_style="bold")
    for col in ("#", "when (UTC)", "event", "who", "role", "details"):
        table.add_column(col, overflow="fold")
    for i, e in enumerate(events, 1):
        table.add_row(
            str(i),
            format_ts(e.at),
            e.type.value,
            cell(e.actor.id),
            e.actor.role.value,
            cell(_summary(e.payload)),
        )
    console.print(table)


def _summary(payload: dict[str, object], width: int = 90) -> str:
    parts = []
    for k, v in payload.items():
        text = v if isinstance(v, str) else str(v)
        parts.append(f"{k}={text}")
    out = "; ".join(parts).replace("\n", " ")
    return out if len(out) <= width else out[: width - 1] + "…"


@app.command()
def checkpoint(
    export: Annotated[
        Path | None, typer.Option("--export", help="write the signed note here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sign the current tree head (C2SP tlog-checkpoint) and print or export it."""
    from raidt.services.runs import RunService

    if export is not None:
        writable(export)
    with run_cli(), open_app() as a:
        note = a.checkpoint()
        _warn(a)
        pem = RunService(a).public_key_pem().decode()
    if export:
        try:
            export.write_text(note)
            export.with_suffix(".pub.pem").write_text(pem)
        except OSError as exc:
            fail(f"--export {export}: {exc.strerror}")
    if as_json:
        lines = note.splitlines()
        print_json(
            {"origin": lines[0], "tree_size": int(lines[1]), "root_hash": lines[2], "note": note}
        )
        return
    console.print(plain(note), highlight=False, markup=False, end="")
    if export:
        console.print(
            f"[green]✓[/] written to {safe(export)} "
            f"(public key {safe(export.with_suffix('.pub.pem'))})"
        )


@app.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    all_problems: Annotated[bool, typer.Option("--all", help="keep going after the first")] = False,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="a signed checkpoint a witness kept: the store must extend it",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Verify the whole store: events, run chains, governance documents, ledger, checkpoints."""
    from raidt.services.verification import verify_store

    witness = None
    if checkpoint_file is not None:
        try:
            witness = checkpoint_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the checkpoint {checkpoint_file}: {getattr(exc, 'strerror', exc)}")
    with run_cli(), open_app() as a, progress() as bar:
        task = bar.add_task("verifying", total=None)
        report = verify_store(
            a,
            lambda d, t: bar.update(task, completed=d, total=t),
            stop_at_first=not all_problems,
            witness=witness,
        )
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "events": report.events,
                "runs": report.runs,
                "documents": report.documents,
                "documents_sealed_at_migration": report.sealed_at_migration,
                "tree_size": report.tree_size,
                "checkpoints": report.checkpoints,
                "latest_tree_size": report.latest_tree_size,
                "witness_tree_size": report.witness_size,
                "first_bad_event": report.first_bad_event,
                "problems": report.problems,
                "warnings": report.warnings,
            }
        )
    else:
        for w in report.warnings:
            err_console.print(
                f"[bold yellow]warning:[/] {safe(w)}", highlight=False, soft_wrap=True
            )
    if report.ok and not as_json:
        witnessed = (
            f"; consistent with the witness checkpoint at tree size {report.witness_size}"
            if report.witness_size is not None
            else ""
        )
        console.print(
            f"[green]✓ intact[/]: {report.events} events in {report.runs} runs and "
            f"{report.documents} governance documents; chains, documents, ledger and "
            f"{report.checkpoints} signed checkpoints verified{witnessed}"
        )
    if not report.ok:
        if not as_json:
            for p in report.problems[1:]:
                console.print(f"[red]✗[/] {safe(p)}", highlight=False)
        fail(f"verification failed: {report.problems[0]}")


@app.command()
def demo(
    runs_count: Annotated[
        int, typer.Option("--runs", min=1, max=MAX_DEMO_RUNS, help="runs to generate")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1)] = 7,
) -> None:
    """Create a store, record realistic runs, verify, score and pack one."""
    from raidt.cli.demo import run_demo

    with run_cli():
        run_demo(runs_count, seed)


def main() -> None:
    """The ``raidt`` entry point: the app, with a last line of defence against tracebacks.

    Every expected failure is a :class:`~raidt.errors.RaidtError` turned into one line by
    the command itself. What is left is the machine giving out (``MemoryError``) or a bug;
    either way the user gets one line and exit code 1, and ``RAIDT_DEBUG=1`` shows the
    traceback for a bug report.
    """
    import os
    import sys

    try:
        app()
    except MemoryError:
        sys.stderr.write("error: out of memory; nothing more was written\n")
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("RAIDT_DEBUG"):
            raise
        reason = plain(str(exc).splitlines()[0] if str(exc) else "")[:300]
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {reason} (set RAIDT_DEBUG=1 to see where)\n"
        )
        sys.exit(1)


# --- sub-command groups (each module owns its commands) ---
from raidt.cli.score import score_app  # noqa: E402

app.add_typer(score_app)
from raidt.cli.policy import actors_app, policy_app, template_app  # noqa: E402

app.add_typer(policy_app, name="policy")
app.add_typer(template_app, name="template")
app.add_typer(actors_app, name="actors")
from raidt.cli.pack import pack_app, report  # noqa: E402

app.add_typer(pack_app, name="pack")
app.command("report")(report)
from raidt.cli.review import review_app  # noqa: E402

app.add_typer(review_app, name="review")
from raidt.cli.record import record_app  # noqa: E402

app.add_typer(record_app)
from raidt.cli.agent import agent  # noqa: E402

app.command("agent")(agent)
from raidt.cli.serve import serve  # noqa: E402
from raidt.cli.token import token_app  # noqa: E402

app.command("serve")(serve)
app.add_typer(token_app, name="token")
