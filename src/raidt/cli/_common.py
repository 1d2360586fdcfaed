"""Helpers every CLI module shares: opening the store, printing, failing cleanly."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
import typer.core
from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer._click.core import Context as ClickContext  # Typer's own Click

from raidt.cli._text import json_text, safe, undecodable
from raidt.errors import RaidtError
from raidt.services.app import App

__all__ = [
    "RaidtGroup",
    "console",
    "err_console",
    "fail",
    "open_app",
    "print_json",
    "progress",
    "read_text",
    "run_cli",
    "writable",
]

#: Width used when output is not a terminal and COLUMNS is unset: wide enough that no
#: table cuts an id (``raidt demo | tee``, CI logs), since tables take only what they need.
OFF_TERMINAL_WIDTH = 1000


class _Console(Console):
    """A Rich console that, off a terminal, lays tables out at full width, not 80 columns.

    Emoji codes (``:smile:``) are off: text such as ``team :x:`` is data, not an icon.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, emoji=False)

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self.is_terminal or os.environ.get("COLUMNS"):
            return dims
        return ConsoleDimensions(OFF_TERMINAL_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console: Console = _Console()
err_console: Console = _Console(stderr=True)


class RaidtGroup(typer.core.TyperGroup):
    r"""The root command group: refuses an undecodable argument before any command runs.

    Bytes that are not UTF-8 reach Python as lone surrogates (``\udcff``), which no
    database, JSON encoder or terminal accepts; refusing them here is one check for every
    command, present and future.
    """

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        bad = undecodable(args)
        if bad is not None:
            fail(f"argument '{bad}' is not valid UTF-8 text")
        return super().parse_args(ctx, args)


def open_app() -> App:
    """The store named by RAIDT_HOME / RAIDT_DATABASE_URL."""
    return App.open()


def fail(err: RaidtError | str, code: int = 1) -> NoReturn:
    """Print a one-line reason to stderr and exit non-zero."""
    msg = err.diagnostic() if isinstance(err, RaidtError) else err
    err_console.print(f"[bold red]error:[/] {safe(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def read_text(path: Path) -> str:
    """A UTF-8 text file's content, or a one-line reason it cannot be read (exit 1)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, not a file")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)")
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")


def writable(path: Path) -> Path:
    """``path`` when a file can be created there, else a one-line reason (exit 1).

    Checked before slow work (a PDF takes seconds) so that a typo fails at once.
    """
    if path.is_dir():
        fail(f"{path}: is a directory; give a file name")
    if not path.parent.is_dir():
        fail(f"{path}: the folder {path.parent} does not exist")
    return path


def print_json(obj: Any) -> None:
    """Write JSON data to stdout (no Rich markup, so it pipes cleanly)."""
    text = orjson.dumps(obj, option=orjson.OPT_INDENT_2, default=str).decode()
    sys.stdout.write(json_text(text) + "\n")
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
    """Turn RaidtError, and a file that cannot be read or written, into one line, exit 1."""
    try:
        yield
    except RaidtError as exc:
        fail(exc)
    except OSError as exc:  # a path the user gave: missing folder, a directory, no permission
        where = f"{exc.filename}: " if exc.filename is not None else ""
        fail(f"{where}{exc.strerror or exc}")
