"""``raidt serve``: run the HTTP server (gateway, OTLP ingest, capture API) on uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from raidt.cli._common import console, fail, run_cli

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="worker processes (PostgreSQL only)")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="log each request line")
    ] = False,
) -> None:
    """Serve /healthz, /api/events, OTLP at /v1/traces and /v1/logs, the gateway at /openai/v1."""
    import uvicorn

    from raidt.settings import Settings

    with run_cli():
        settings = Settings()
        url = settings.database_url
        if workers > 1 and url.startswith("sqlite"):
            fail(
                "an SQLite store has one writer process: use --workers 1, or set "
                "RAIDT_DATABASE_URL to a PostgreSQL database for several workers"
            )
        # open (and migrate) once before the workers start, so a bad store is reported here
        from raidt.services.app import App

        App.from_settings(settings).close()
    console.print(
        f"[green]✓[/] raidt serve on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}; gateway /openai/v1, OTLP /v1/traces)",
        highlight=False,
    )
    os.environ.setdefault("RAIDT_HOME", str(settings.home))
    uvicorn.run(
        "raidt.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="warning",
        server_header=False,
    )
