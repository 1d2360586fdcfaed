"""The ASGI app of ``raidt serve``, built by :func:`create_app`.

One app serves the capture routes (``/api/events``, OTLP ingest at ``/v1/traces`` and
``/v1/logs``, the OpenAI-compatible gateway under ``/openai/v1/``) and ``/healthz``; the
REST API and the web UI join the same app. Each worker process opens its own store in
the lifespan. The gateway is dispatched before FastAPI's router (a plain ASGI
middleware), because it sits on the path of every model call and routing through the
framework would cost more than the rest of the gateway's own work.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from raidt import __version__
from raidt.api.routes import events, health, otlp
from raidt.api.state import ServerState
from raidt.services.app import App
from raidt.settings import Settings

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger("raidt.server")

GATEWAY_PREFIX = "/openai/v1"


class _GatewayDispatch:
    """Send ``/openai/v1/...`` straight to the gateway; everything else to FastAPI."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GATEWAY_PREFIX):
            state: ServerState = self.api.state.raidt
            if state.gateway is not None:
                await state.gateway.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server app for ``settings`` (default: read from the RAIDT_* environment)."""
    cfg = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        store = App.from_settings(cfg)
        _ = store.signing_key  # created (if new) now, before any background thread signs
        state = ServerState(cfg, store)
        from raidt.capture.gateway import Gateway
        from raidt.capture.otlp_ingest import OtlpIngest
        from raidt.services.telemetry import TelemetryService

        state.gateway = Gateway(cfg, state.tokens, state.capture)
        state.otlp = OtlpIngest(TelemetryService(store, state.capture), state.capture, cfg)
        api.state.raidt = state
        await state.gateway.start()
        state.start()
        try:
            yield
        finally:
            await state.gateway.stop()
            await state.stop()
            store.close()

    api = FastAPI(
        title="RAIDT",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api.include_router(health.router)
    api.include_router(events.router)
    api.include_router(otlp.router)
    api.add_middleware(_GatewayDispatch, api=api)
    return api


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker reads the RAIDT_* environment)."""
    return create_app()
