"""``raidt score``, ``raidt weakpoints`` and ``raidt rubric``: the scoring commands.

Registered in ``cli/main.py`` with ``app.add_typer(score_app)`` (no name: the commands join
the root). Human output is Rich tables with a small bar per pillar; ``--json`` prints the
data exactly as DESIGN.md 6.2 describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from raidt.buildinfo import describe
from raidt.cli._common import console, fail, open_app, print_json, progress, read_text, run_cli
from raidt.cli._text import cell, plain, safe
from raidt.cli._weak import print_weakpoints
from raidt.core.aggregate import DIMENSIONS
from raidt.core.rubric import PILLARS, load_rubric

__all__ = ["score_app"]

score_app = typer.Typer()
rubric_app = typer.Typer(
    help="List, show and add scoring rubrics (append-only).", no_args_is_help=True
)
score_app.add_typer(rubric_app, name="rubric")

#: More scoring processes than this is a typo, not a machine.
MAX_WORKERS = 256

_COLOURS = {
    "met": "green",
    "partial": "yellow",
    "unmet": "red",
    "not_applicable": "dim",
    "audit_ready": "bold green",
    "managed": "green",
    "basic": "yellow",
    "not_governable": "bold red",
}


def _bar(value: float, width: int = 20) -> str:
    filled = round(value / 100 * width)
    colour = "green" if value >= 80 else "yellow" if value >= 55 else "red"
    return f"[{colour}]{'█' * filled}[/][dim]{'░' * (width - filled)}[/]"


def _inputs_line(inputs: dict[str, Any]) -> str:
    """What the profile was judged on, in one line (the recorded inputs, abridged)."""
    events = inputs.get("events") or {}
    parts = [f"{events.get('count', '?')} events up to seq {events.get('last_seq', '?')}"]
    parts.append("chain verified" if inputs.get("chain_ok", True) else "chain NOT verified")
    comparables = inputs.get("comparables")
    if comparables:
        parts.append(f"{comparables.get('runs', 0)} comparable runs")
    actors = inputs.get("actors")
    if actors:
        parts.append(f"actor entries sha256 {str(actors.get('sha256'))[:12]}…")
    as_of = inputs.get("as_of")
    parts.append(f"open run, judged at {as_of}" if as_of else "closed run")
    return "judged on: " + " · ".join(parts)


def _show_profile(p: dict[str, Any]) -> None:
    level = p["readiness"]
    console.print(
        f"run [bold]{safe(p['run_id'])}[/]  readiness [{_COLOURS[level]}]{level}[/]  "
        f"rubric {safe(p['rubric']['id'])}@{safe(p['rubric']['version'])}  policy "
        + (
            f"{safe(p['policy']['id'])}@{safe(p['policy']['version'])}"
            if p.get("policy")
            else "[red]unknown[/]"
        ),
        highlight=False,
    )
    console.print(f"  [dim]{safe(_inputs_line(p.get('inputs') or {}))}[/]", highlight=False)
    pillars = Table(show_header=True, box=None)
    pillars.add_column("pillar")
    pillars.add_column("score", justify="right")
    pillars.add_column("")
    for name, value in p["pillars"].items():
        pillars.add_row(cell(name), str(value), _bar(value))
    console.print(pillars)
    crit = Table(show_header=True, show_lines=False)
    for col in ("criterion", "result", "rationale", "evidence"):
        crit.add_column(col, overflow="fold")
    for c in p["criteria"]:
        mark = " [bold](critical)[/]" if c.get("critical") else ""
        crit.add_row(
            safe(c["id"]) + mark,
            f"[{_COLOURS[c['result']]}]{c['result']}[/]",
            cell(c["rationale"]),
            cell(", ".join(c["evidence"][:4]) + (" …" if len(c["evidence"]) > 4 else "")),
        )
    console.print(crit)
    for reason in p.get("readiness_reasons", []):
        console.print(f"  • {safe(reason)}", highlight=False)
    human = p.get("human") or {}
    for a in human.get("assessments", []):
        console.print(
            plain(
                f"  human assessment {a['event']} by {a['by']}: {a['criterion']} = "
                f"{a['result']} (automated: {a['automated_result']}) — {a['rationale']}"
            ),
            highlight=False,
            markup=False,
        )
    for c in human.get("challenges", []):
        console.print(
            plain(
                f"  challenge {c['event']} on {c['subject']} ({c['status']}): "
                f"{c['reason']}" + (f" → {c['resolution']}" if c.get("resolution") else "")
            ),
            highlight=False,
            markup=False,
        )


def _show_aggregate(agg: dict[str, Any]) -> None:
    by = agg["by"]
    t = Table(title=f"scores by {by}")
    t.add_column(by)
    if by == "obligation":
        for col in ("met", "partial", "unmet", "n/a", "share met"):
            t.add_column(col, justify="right")
        for g in agg["groups"]:
            r = g["results"]
            share = g["share_met"]
            t.add_row(
                cell(g["key"]),
                str(r["met"]),
                str(r["partial"]),
                str(r["unmet"]),
                str(r["not_applicable"]),
                "—" if share is None else f"{share:.0%}",
            )
    else:
        t.add_column("runs", justify="right")
        for lv in ("not_governable", "basic", "managed", "audit_ready"):
            t.add_column(lv.replace("_", " "), justify="right")
        for p in PILLARS:
            t.add_column(p.value[:6], justify="right")
        t.add_column("mean")
        for g in agg["groups"]:
            t.add_row(
                cell(g["key"]),
                str(g["runs"]),
                *(
                    str(g["readiness"][lv])
                    for lv in ("not_governable", "basic", "managed", "audit_ready")
                ),
                *(f"{g['pillars'][p.value]:.0f}" for p in PILLARS),
                f"{g['mean']:.0f} " + _bar(g["mean"], 10),
            )
    console.print(t)


@score_app.command("score")
def score(
    run_id: Annotated[str | None, typer.Argument(help="the run to score")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="rescore every run")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="aggregate by " + "|".join(DIMENSIONS))
    ] = None,
    rubric: Annotated[
        str | None,
        typer.Option("--rubric", help="rubric ID or ID@VERSION (default raidt-default, latest)"),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="with --all: score in this many processes (one core each; same result)",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score one run, or every run (--all) with an aggregate (--by)."""
    from raidt.services.scoring import ScoringService

    if not 1 <= workers <= MAX_WORKERS:
        fail(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    if workers != 1 and not all_runs:
        fail("--workers goes with --all")
    if by is not None and by not in DIMENSIONS:
        fail(f"--by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    if (run_id is None) == (not all_runs):
        fail("give a RUN_ID or --all (not both)")
    with run_cli(), open_app() as a:
        rid, _, ver = (rubric or "raidt-default").partition("@")
        svc = ScoringService(a, rid, ver or None)
        if run_id is not None:
            profile = svc.score(run_id).to_json()
            if by:
                fail("--by goes with --all")
            if as_json:
                print_json(profile)
            else:
                _show_profile(profile)
            return
        with progress() as bar:
            task = bar.add_task(f"scoring runs ({describe()})", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = svc.score_all(tick, by=by, workers=workers)
    if as_json:
        print_json(summary)
        return
    counts = ", ".join(f"{k} {v}" for k, v in summary["readiness"].items())
    console.print(f"[green]✓[/] scored {summary['runs']} runs: {safe(counts)}", highlight=False)
    if by:
        _show_aggregate(summary["aggregate"])


@score_app.command("weakpoints")
def weakpoints(
    since: Annotated[str | None, typer.Option("--since", help="runs started on/after DATE")] = None,
    until: Annotated[str | None, typer.Option("--until", help="runs started before DATE")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="run counts per weak point instead of every run id (fast on large stores)",
        ),
    ] = False,
) -> None:
    """Weak points across scored runs (self-review, rubber stamps, drift, ...)."""
    from raidt.services.scoring import ScoringService

    with run_cli(), open_app() as a:
        svc = ScoringService(a)
        found = svc.weakpoint_summary(since, until) if summary else svc.weakpoints(since, until)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print(
            "no weak points among scored runs (run 'raidt score --all' first "
            "if runs were added since)"
        )
        return
    print_weakpoints(console, found)


@rubric_app.command("list")
def rubric_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every stored rubric version."""
    from raidt.services.scoring import ScoringService

    with run_cli(), open_app() as a:
        docs = ScoringService(a).list_rubrics()
    rows = [
        {
            "id": d.id,
            "version": d.version,
            "sha256": d.content_hash,
            "added_at": d.added_at.isoformat(),
        }
        for d in docs
    ]
    if as_json:
        print_json(rows)
        return
    t = Table(title="rubrics")
    for col in ("id", "version", "sha256", "added"):
        t.add_column(col)
    for r in rows:
        t.add_row(cell(r["id"]), cell(r["version"]), r["sha256"][:16] + "…", r["added_at"])
    console.print(t)


@rubric_app.command("show")
def rubric_show(
    rubric_id: Annotated[str, typer.Argument(help="ID or ID@VERSION")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A rubric's criteria (or its verbatim YAML with --json's 'text')."""
    from raidt.services.scoring import ScoringService

    rid, _, ver = rubric_id.partition("@")
    with run_cli(), open_app() as a:
        doc = ScoringService(a).rubric_doc(rid, ver or None)
        r = load_rubric(doc.body, f"rubric {doc.id}@{doc.version}")
    if as_json:
        print_json({**r.model_dump(mode="json"), "sha256": doc.content_hash, "text": doc.body})
        return
    console.print(
        f"[bold]{safe(r.id)}@{safe(r.version)}[/] {safe(r.title)}  sha256 {doc.content_hash}",
        highlight=False,
    )
    t = Table()
    for col in ("pillar", "criterion", "check", "weight", "critical", "obligations"):
        t.add_column(col, overflow="fold")
    for c in r.criteria:
        t.add_row(
            c.pillar.value,
            f"{safe(c.id)}\n[dim]{safe(c.title)}[/]",
            cell(c.check),
            f"{c.weight:g}",
            "yes" if c.critical else "",
            cell(", ".join(c.obligations)),
        )
    console.print(t)


@rubric_app.command("add")
def rubric_add(file: Annotated[Path, typer.Argument(help="rubric YAML")]) -> None:
    """Validate and add a rubric version (a changed rubric needs a new version)."""
    from raidt.services.scoring import ScoringService

    with run_cli(), open_app() as a:
        text = read_text(file)
        new = ScoringService(a).add_rubric(text, str(file))
    console.print(f"[green]✓[/] {'added' if new else 'already stored, unchanged'}: {safe(file)}")
