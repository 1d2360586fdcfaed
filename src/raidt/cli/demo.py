"""``raidt demo``: the whole chain on a fresh embedded store, in one command.

configured use -> run-level evidence -> signed ledger -> verification -> score profiles
-> weak points -> an evidence pack verified offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from rich.rule import Rule
from rich.table import Table

from raidt.cli._common import console, progress
from raidt.cli._text import safe
from raidt.cli._weak import print_weakpoints
from raidt.core.policy import Policy
from raidt.errors import ConfigurationError
from raidt.services.app import App
from raidt.services.packs import PackService, verify_pack_file
from raidt.services.policies import PolicyService
from raidt.services.scoring import ScoringService

__all__ = ["run_demo"]

#: File the demo writes inside its home: the only proof that the folder is a demo store.
_MARKER = ".raidt-demo-store"
_MARKER_HEAD = "created by raidt demo; its files are listed below and may be deleted\n"
#: The marker older demos wrote (same name as their default folder, hence the bug that let
#: ``RAIDT_DEMO_HOME=DIR`` wipe a DIR holding a ``.raidt-demo`` *folder*): a regular file
#: with exactly this text is still accepted.
_OLD_MARKER = ".raidt-demo"
_OLD_MARKER_TEXT = "created by raidt demo; safe to delete\n"
#: What the demo itself writes into its home (SQLite, key, checkpoint, generated events).
_DEMO_FILES = (
    "raidt.db",
    "raidt.db-wal",
    "raidt.db-shm",
    "raidt.db-journal",
    "signing.key",
    "origin",
    "checkpoint.latest",
    "checkpoint.latest.lock",
    "demo-events.jsonl",
)


def _demo_home() -> Path:
    """RAIDT_DEMO_HOME, else RAIDT_HOME (DESIGN 6), else ``./.raidt-demo``.

    The default stays apart from ``./.raidt`` so that trying the demo in a project folder
    never touches the store the other commands use there.
    """
    chosen = os.environ.get("RAIDT_DEMO_HOME") or os.environ.get("RAIDT_HOME")
    return Path(chosen or ".raidt-demo")


def _is_marker(path: Path, text: str | None = None) -> bool:
    """A regular file (not a folder, not a link) the demo wrote."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        body = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return body == text if text is not None else body.startswith(_MARKER_HEAD)


def _listed(marker: Path) -> list[str]:
    """Plain file names listed in a marker (never a path: nothing outside the home)."""
    names = marker.read_text(encoding="utf-8").splitlines()[1:]
    return [n for n in names if n and "/" not in n and "\\" not in n and n not in (".", "..")]


def _record(home: Path, name: str) -> None:
    """Add a file the demo wrote to its marker, so a later run may remove it."""
    with (home / _MARKER).open("a", encoding="utf-8") as fh:
        fh.write(name + "\n")


def _fresh_home() -> Path:
    """The demo's home, emptied of what an earlier demo wrote there and nothing else.

    The folder must be new, empty, or hold the demo's marker file. Only the files the demo
    writes (and the ones its marker lists) are removed; the folder itself and anything
    else in it are left alone.
    """
    home = _demo_home()
    if home.exists() and not home.is_dir():
        raise ConfigurationError(f"{home} is not a folder; set RAIDT_DEMO_HOME to another one")
    marker, old = home / _MARKER, home / _OLD_MARKER
    if home.is_dir() and any(home.iterdir()):
        if _is_marker(marker):
            names = {*_DEMO_FILES, *_listed(marker), _MARKER}
        elif _is_marker(old, _OLD_MARKER_TEXT):
            names = {*_DEMO_FILES, _OLD_MARKER, *(p.name for p in home.glob("run-*.zip"))}
        else:
            raise ConfigurationError(
                f"{home} exists and is not a demo store; the demo writes only into a new or "
                "empty folder, or one an earlier demo made: set RAIDT_DEMO_HOME to another "
                "folder"
            )
        for name in sorted(names):
            path = home / name
            if path.is_symlink() or path.is_file():
                path.unlink()
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text(_MARKER_HEAD, encoding="utf-8")
    return home


def run_demo(n_runs: int, seed: int) -> None:
    home = _fresh_home()
    console.print(Rule("[bold]RAIDT demo"))
    console.print(f"store: [bold]{safe(home)}[/] (embedded SQLite)")
    with App.open(home=home, database_url=f"sqlite:///{home.resolve() / 'raidt.db'}") as app:
        from raidt.cli.main import _install_defaults

        console.print(f"[green]✓[/] initialised: {_install_defaults(app)}")
        policies = _policies(app)
        _actors(app)
        directory = PolicyService(app).actor_directory()

        from raidt.services.demo_data import DemoGenerator

        path = home / "demo-events.jsonl"
        with path.open("wb") as fh:
            for run in DemoGenerator(policies, seed=seed, actors=directory).runs(n_runs):
                for ev in run:
                    fh.write(orjson.dumps(ev.model_dump(mode="json", exclude_none=True)) + b"\n")

        from raidt.services.importing import import_file

        with progress() as bar:
            task = bar.add_task("importing runs", total=None)
            result = import_file(
                app, path, progress=lambda d, t: bar.update(task, completed=d, total=t)
            )
        console.print(
            f"[green]✓[/] recorded {result.events} events of {result.runs} runs "
            f"(from {path.name}, the JSONL import format)"
        )

        from raidt.services.verification import verify_store

        report = verify_store(app)
        status = "[green]✓ intact[/]" if report.ok else f"[red]✗ {report.problems[0]}[/]"
        console.print(
            f"{status}: {report.events} events, {report.runs} run chains, "
            f"{report.checkpoints} signed checkpoint(s)"
        )

        table = Table(title="a few runs", header_style="bold")
        for col in ("run", "use case", "team", "status", "initiator", "reviewer", "disposition"):
            table.add_column(col)
        for s in app.events.list_runs(limit=8):
            table.add_row(
                s.run_id,
                s.use_case or "",
                s.team or "",
                s.status,
                s.initiator or "",
                ",".join(s.reviewers),
                s.disposition or "",
            )
        console.print(table)
        _scores_and_pack(app, home)
    console.print(Rule())
    console.print(
        f"Next: [bold]export RAIDT_HOME={safe(home)}[/], then [bold]raidt runs[/], "
        "[bold]raidt show run-000001[/], [bold]raidt score run-000001[/], "
        "[bold]raidt weakpoints[/], [bold]raidt verify[/], [bold]raidt pack verify FILE.zip[/]"
    )


def _policies(app: App) -> dict[str, Policy]:
    svc = PolicyService(app)
    return {p.id: svc.get(p.id) for p in svc.list_policies()}


def _actors(app: App) -> None:
    from importlib.resources import files

    text = files("raidt.policies").joinpath("actors-example.yaml").read_text(encoding="utf-8")
    n = PolicyService(app).import_actors(text, "actors-example.yaml")
    console.print(f"[green]✓[/] actor directory: {n} people with roles and dated qualifications")


def _scores_and_pack(app: App, home: Path) -> None:
    scoring = ScoringService(app)
    with progress() as bar:
        task = bar.add_task("scoring runs", total=None)
        summary = scoring.score_all(lambda d, t: bar.update(task, completed=d, total=t))
    levels = ", ".join(f"{k}: {v}" for k, v in summary["readiness"].items())
    console.print(f"[green]✓[/] scored {summary['runs']} runs on five pillars → {levels}")

    table = Table(title="mean pillar scores by use case", header_style="bold")
    agg = scoring.aggregate("use_case")
    groups = agg.get("groups", [])
    table.add_column("use case")
    for pillar in ("R", "A", "I", "D", "T"):
        table.add_column(pillar, justify="right")
    table.add_column("audit-ready", justify="right")
    for g in groups:
        means = g.get("pillars", {})
        table.add_row(
            str(g.get("key")),
            *(
                f"{means.get(p, 0):.0f}"
                for p in (
                    "responsibility",
                    "auditability",
                    "interpretability",
                    "dependability",
                    "traceability",
                )
            ),
            str(g.get("readiness", {}).get("audit_ready", 0)),
        )
    console.print(table)

    print_weakpoints(console, scoring.weakpoint_summary())

    closed = app.events.list_runs(status="closed")
    level = app.events.readiness_of([c.run_id for c in closed])
    rank = {"audit_ready": 3, "managed": 2, "basic": 1}
    best = max(
        closed,
        default=None,
        key=lambda s: (rank.get(level.get(s.run_id, ""), 0), len(s.signoffs), s.edits, s.run_id),
    )
    if best is None:
        return
    out = home / f"{best.run_id}.zip"
    _record(home, out.name)
    PackService(app).build(best.run_id, out)
    results = verify_pack_file(out)
    ok = all(r.ok for r in results)
    mark = "[green]✓[/]" if ok else "[red]✗[/]"
    console.print(
        f"{mark} evidence pack {safe(out)} ({level.get(best.run_id)}) built and verified offline "
        f"({sum(r.ok for r in results)}/{len(results)} checks); read it as a person would: "
        f"raidt report {best.run_id} --html report.html"
    )
