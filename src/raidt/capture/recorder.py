"""The gateway's recorder: calls are queued on the request path and sealed in batches.

The request path only puts a :class:`~raidt.capture.gateway_map.GatewayCall` on a bounded
queue; one background thread takes everything queued within ``linger`` seconds of the
first call (one durable transaction per call would cost more than the call), maps it to
events and appends them in one transaction
(:meth:`raidt.services.capture.CaptureService.append_fresh`), then signs a checkpoint when
one is due. A batch that cannot be stored is retried a few times; after that its calls
are counted as lost and logged (never silently), and the recorder is *unhealthy* until a
later batch is stored, which is what the gateway's fail-closed mode reads before it
forwards a call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from raidt.capture.gateway_map import GatewayCall, call_events
from raidt.core.events import EventIn
from raidt.services.capture import CaptureService

__all__ = ["Recorder"]

log = logging.getLogger("raidt.gateway")

_STOP = object()


class Recorder:
    """A bounded queue of calls and the thread that seals them."""

    def __init__(
        self,
        capture: CaptureService,
        *,
        max_queue: int = 20_000,
        max_batch: int = 1000,
        linger: float = 0.05,
        retries: int = 3,
        retry_wait: float = 0.2,
    ) -> None:
        self.capture = capture
        self.max_batch = max_batch
        self.linger = linger
        self.retries = retries
        self.retry_wait = retry_wait
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = 0
        self.recorded = 0
        self.lost = 0
        self.healthy = True
        self.sealing = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="raidt-recorder", daemon=True)
        self._thread.start()

    def submit(self, call: GatewayCall) -> bool:
        """Queue a call; False when the queue is full (the caller decides what that means)."""
        try:
            with self._idle:
                self._busy += 1
            self._q.put_nowait(call)
            return True
        except queue.Full:
            with self._idle:
                self._busy -= 1
            return False

    def full(self) -> bool:
        return self._q.full()

    def count_lost(self, n: int, why: str) -> None:
        self.lost += n
        log.error("gateway: %d call(s) not recorded: %s (lost so far: %d)", n, why, self.lost)

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every queued call is sealed or counted lost; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def stop(self) -> None:
        if self._thread is not None:
            self.flush()
            self._q.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def health(self) -> dict[str, object]:
        return {
            "recording": self.healthy,
            "queued": self._q.qsize(),
            "sealing": self.sealing,
            "recorded_calls": self.recorded,
            "lost_calls": self.lost,
        }

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is _STOP:
                return
            batch: list[GatewayCall] = [first]
            # wait a little for more: one transaction per call would cost more than the call
            until = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                left = until - time.monotonic()
                try:
                    item = self._q.get(timeout=left) if left > 0 else self._q.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._q.put(_STOP)
                    break
                batch.append(item)
            self.sealing = len(batch)
            try:
                self._seal(batch)
            finally:
                self.sealing = 0
                with self._idle:
                    self._busy -= len(batch)
                    self._idle.notify_all()

    def _seal(self, batch: list[GatewayCall]) -> None:
        events: list[EventIn] = []
        for call in batch:
            try:
                events.extend(call_events(call))
            except Exception as exc:  # a call that cannot be mapped must not sink the batch
                self.count_lost(1, f"run {call.run_id}: {type(exc).__name__}")
        for attempt in range(self.retries + 1):
            try:
                self.capture.append_fresh(events)
                self.recorded += len(batch)
                self.healthy = True
                self.last_error = None
                break
            except Exception as exc:
                # the type and first line only: a driver message can quote parameters
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                self.healthy = False
                if attempt == self.retries:
                    self.count_lost(len(batch), f"the store cannot record ({self.last_error})")
                    return
                time.sleep(self.retry_wait * (attempt + 1))
        try:
            self.capture.checkpoint_if_due(1.0)
        except Exception as exc:
            log.error("gateway: checkpoint failed: %s", type(exc).__name__)
