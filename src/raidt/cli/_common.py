"""Helpers every CLI module shares: opening the store, printing, failing cleanly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from raidt.errors import RaidtError
from raidt.services.app import App

__all__ = ["console", "err_console", "fail", "open_app", "print_json", "progress", "run_cli"]

console = Console()
err_console = Console(stderr=True)


def open_app() -> App:
    """The store named by RAIDT_HOME / RAIDT_DATABASE_URL."""
    return App.open()


def fail(err: RaidtError | str, code: int = 1) -> NoReturn:
    """Print a one-line reason to stderr and exit non-zero."""
    msg = err.diagnostic() if isinstance(err, RaidtError) else err
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    """Write JSON data to stdout (no Rich markup, so it pipes cleanly)."""
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    sys.stdout.flush()


@contextmanager
def progress(transient: bool = True) -> Iterator[Progress]:
    """A Rich progress bar on stderr (so ``--json`` output on stdout stays clean)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    ) as p:
        yield p


@contextmanager
def run_cli() -> Iterator[None]:
    """Turn RaidtError into a one-line message and exit code 1."""
    try:
        yield
    except RaidtError as exc:
        fail(exc)
