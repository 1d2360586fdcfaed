"""What one server process holds: the store, its services and the background work.

Built in the app's lifespan, so each uvicorn worker process opens its own store
connections (a forked worker must not share its parent's database connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from raidt.services.app import App
from raidt.services.capture import CaptureService
from raidt.services.tokens import TokenService
from raidt.settings import Settings

if TYPE_CHECKING:
    from raidt.capture.gateway import Gateway
    from raidt.capture.otlp_ingest import OtlpIngest

__all__ = ["ServerState"]

log = logging.getLogger("raidt.server")

#: how often the background ticker looks for a due checkpoint and stale OTLP records
_TICK_SECONDS = 0.5


class ServerState:
    """The store and the services every route uses."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings = settings
        self.app = app
        self.tokens = TokenService(app, cache_seconds=settings.token_cache_seconds)
        self.capture = CaptureService(app)
        self.gateway: Gateway | None = None
        self.otlp: OtlpIngest | None = None
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await asyncio.to_thread(self._background_once, True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            try:
                await asyncio.to_thread(self._background_once, False)
            except Exception:  # the server stays up; the next tick tries again
                log.exception("background capture work failed")

    def _background_once(self, final: bool) -> None:
        if self.otlp is not None:
            self.otlp.sweep(final=final)
        self.capture.checkpoint_if_due(0.0 if final else 1.0)
