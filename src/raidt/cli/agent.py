"""``raidt agent``: drain an SDK spool folder into the store, continuously.

The SDK appends finished runs to a spool and returns; this process seals them (hash, chain,
ledger, checkpoint) in batches, so the recording application never spends its own CPU or
GIL on sealing. Stop it with SIGTERM or Ctrl-C; it finishes the batch in hand first.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from raidt.cli._common import console, open_app, run_cli
from raidt.cli._text import safe

__all__ = ["agent"]


def agent(
    spool: Annotated[
        Path | None, typer.Option("--spool", help="spool folder (default: RAIDT_HOME/spool)")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", help="seconds between looks when idle", min=0.01)
    ] = 0.2,
    once: Annotated[bool, typer.Option("--once", help="drain what is there, then exit")] = False,
) -> None:
    """Seal what SDK recorders spooled into the store, continuously (until SIGTERM)."""
    from raidt.sdk._drain import Drainer
    from raidt.sdk._local import LocalSink

    stop = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with run_cli(), open_app() as a:
        folder = spool or a.home / "spool"
        drainer = Drainer(LocalSink(a.home, app=a), folder)
        total = 0
        if not once:
            console.print(f"draining {safe(folder)} into {a.db.dialect} (SIGTERM to stop)")
        while True:
            sealed = drainer.drain(live=not once)
            total += sealed
            if once or stop:
                break
            if not sealed:
                drainer.forget_missing()
                time.sleep(interval)
        console.print(f"[green]✓[/] sealed {total} events from {safe(folder)}")
