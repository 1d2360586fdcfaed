"""``raidt pack build|verify`` and ``raidt report``: evidence packs and readable reports.

``pack verify`` opens no store and reads no RAIDT_HOME: an auditor runs it on their own
machine with nothing but the zip (and the organisation's public key, ideally).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from raidt.cli._common import (
    console,
    err_console,
    fail,
    open_app,
    print_json,
    progress,
    run_cli,
    writable,
)
from raidt.cli._text import safe

__all__ = ["EXIT_UNTRUSTED", "pack_app", "report"]

pack_app = typer.Typer(
    name="pack",
    no_args_is_help=True,
    help="Build and verify signed evidence packs (offline-verifiable zips).",
)


def _when(text: str | None, option: str) -> str | None:
    """A date or UTC timestamp in RAIDT's canonical text form (compared as text)."""
    from raidt.core.timefmt import format_ts, parse_ts

    if text is None:
        return None
    try:
        return format_ts(parse_ts(text if "T" in text else text + "T00:00:00Z"))
    except ValueError:
        fail(f"{option}: not a date or UTC timestamp: {text!r}")


@pack_app.command("build")
def build(
    run_id: Annotated[str | None, typer.Argument(help="the run to pack")] = None,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="FILE.zip, or DIR_OR_ZIP for a period")
    ] = Path("pack.zip"),
    use_case: Annotated[
        str | None, typer.Option("--use-case", help="audit period: use case")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="period start (inclusive)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="period end (exclusive)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build the evidence pack of one run, or audit packs for a use case over a period."""
    from raidt.services.packs import PackService

    period = use_case is not None or since is not None or until is not None
    if period and run_id is not None:
        fail("give either RUN_ID or --use-case/--since/--until, not both")
    if not period and run_id is None:
        fail("give RUN_ID, or --use-case with --since and --until for an audit period")
    if period:
        if use_case is None or since is None or until is None:
            fail("an audit period needs --use-case, --since and --until")
        lo, hi = _when(since, "--since"), _when(until, "--until")
        assert lo is not None and hi is not None
        with run_cli(), open_app() as a, progress(transient=False) as bar:
            task = bar.add_task(f"packing {use_case}", total=None)
            result = PackService(a).build_period(
                use_case,
                lo,
                hi,
                out,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if as_json:
            print_json(
                {
                    "out": str(result.out),
                    "runs": result.runs,
                    "readiness": result.readiness,
                    "pillars": result.pillars,
                    "checkpoint_tree_size": result.checkpoint_size,
                }
            )
            return
        console.print(
            f"[green]✓[/] {result.runs} run packs, index, period report and "
            f"consistency proof written to [bold]{safe(result.out)}[/]"
        )
        return
    assert run_id is not None
    with run_cli(), open_app() as a:
        path = PackService(a).build(run_id, out)
    if as_json:
        print_json({"out": str(path), "run_id": run_id, "bytes": path.stat().st_size})
        return
    console.print(
        f"[green]✓[/] evidence pack of run {safe(run_id)} written to [bold]{safe(path)}[/] "
        f"({path.stat().st_size:,} bytes)"
    )


#: exit status of ``pack verify`` when every check passed but no key was pinned
EXIT_UNTRUSTED = 3


@pack_app.command(
    "verify",
    epilog="Exit status: 0 intact and signed by the pinned key; 1 a check failed or the "
    f"pack is unreadable; {EXIT_UNTRUSTED} intact, but signed by a key nobody pinned "
    "(no --key).",
)
def verify(
    file: Annotated[Path, typer.Argument(help="a pack zip, or an audit period (dir or zip)")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="the signer's public key (PEM), obtained from the organisation apart from "
            "the pack; without it a pack can be intact but never trusted",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify a pack offline: digests, signature, event chain, inclusion proofs, score.

    Integrity (the files are what their signer signed) is reported apart from trust (the
    signer is the key you pinned with --key): an unpinned pack that is intact exits
    with status 3, "integrity ok, signer not trusted".
    """
    from raidt.services.packs import check_pack, read_key_file
    from raidt.services.period_verify import check_period, is_period

    if not file.exists():
        fail(f"{file}: no such file or directory")
    with run_cli():
        pinned = read_key_file(key) if key is not None else None
        if is_period(file):
            with progress() as bar:
                task = bar.add_task("verifying packs", total=None)
                verdict = check_period(
                    file, pinned, progress=lambda d, t: bar.update(task, completed=d, total=t)
                )
        else:
            verdict = check_pack(file, pinned)
    if as_json:
        print_json({"file": str(file), **verdict.to_json()})
    else:
        for r in verdict.checks:
            mark = "[dim]–[/]" if r.skipped else "[green]✓[/]" if r.ok else "[red]✗[/]"
            console.print(
                f"{mark} [bold]{safe(f'{r.name:<16}')}[/] {safe(r.detail)}",
                highlight=False,
                soft_wrap=True,
            )
    if verdict.status == "failed":
        fail(f"pack {verdict.summary()}")
    if verdict.status == "untrusted":
        err_console.print(
            f"[yellow]![/] {safe(verdict.summary())}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_UNTRUSTED)
    if not as_json:
        console.print(f"[green]✓[/] {safe(verdict.summary())}", highlight=False, soft_wrap=True)


def report(
    run_id: Annotated[str | None, typer.Argument(help="the run to report on")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="write a PDF here")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="write HTML here")] = None,
    use_case: Annotated[
        str | None, typer.Option("--use-case", help="period report: use case")
    ] = None,
    since: Annotated[str | None, typer.Option("--since")] = None,
    until: Annotated[str | None, typer.Option("--until")] = None,
) -> None:
    """Write a run's (or an audit period's) report as a self-contained HTML page or PDF."""
    from raidt.services.packs import PackService
    from raidt.services.periodpacks import period_report_html
    from raidt.services.reports import html_to_pdf

    if pdf is None and html is None:
        fail("give --pdf FILE and/or --html FILE")
    for out in (pdf, html):
        if out is not None:
            writable(out)
    period = use_case is not None
    if period == (run_id is not None):
        fail("give RUN_ID, or --use-case with --since and --until")
    with run_cli(), open_app() as a:
        svc = PackService(a)
        if period:
            lo, hi = _when(since, "--since"), _when(until, "--until")
            if lo is None or hi is None:
                fail("a period report needs --since and --until")
            assert use_case is not None
            with progress() as bar:
                task = bar.add_task(f"scoring {use_case}", total=None)
                page = period_report_html(
                    svc,
                    use_case,
                    lo,
                    hi,
                    progress=lambda d, t: bar.update(task, completed=d, total=t),
                )
        else:
            assert run_id is not None
            page = svc.report_html(run_id)
    if html is not None:
        with run_cli():
            html.write_text(page, encoding="utf-8")
        console.print(f"[green]✓[/] HTML report written to [bold]{safe(html)}[/]")
    if pdf is not None:
        with run_cli():
            html_to_pdf(page, pdf)
        console.print(f"[green]✓[/] PDF report written to [bold]{safe(pdf)}[/]")
