"""A real ``raidt serve`` app on 127.0.0.1, on a free port, in a thread of the test process.

Same app factory and uvicorn stack as ``raidt serve`` (uvloop, httptools); the test talks
to it over TCP with real clients.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from raidt.api.app import create_app
from raidt.settings import Settings

__all__ = ["free_port", "running_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """Serve ``settings``' store; yields the base URL ``http://127.0.0.1:PORT``."""
    with running_asgi(create_app(settings)) as base:
        yield base


@contextmanager
def running_asgi(asgi: Any) -> Iterator[str]:
    """Serve any ASGI app on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        asgi,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def settings_for(home: Path, db_url: str | None = None, **extra: object) -> Settings:
    s = Settings(home=home)
    update: dict[str, object] = dict(extra)
    if db_url is not None:
        update["database_url_override"] = db_url
    return s.model_copy(update=update)
