"""Helpers for long bulk passes over a store (a full rescore of a million runs).

Two things a bulk pass does differently from serving one request:

* it writes each batch on a background thread, so the time the database spends waiting
  for the disk (commits, write-ahead-log checkpoints) overlaps the scoring of the next
  batch instead of adding to it. SQLite and libpq run outside the GIL, so where a core is
  free their share of the writing runs beside the scoring too; pinned to one core (as the
  benchmark's one-core figures are), only the waits overlap;
* it asks the garbage collector to look at young objects less often. A rescore allocates
  tens of millions of short-lived dicts and tuples and builds no reference cycles, so the
  default thresholds make the collector rescan the surviving objects over and over.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["BackgroundWriter", "relaxed_gc"]

T = TypeVar("T")

#: collector thresholds while a bulk pass runs (the default is 700, 10, 10)
_BULK_GC_THRESHOLD = (50_000, 20, 20)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Raise the garbage collector's thresholds for the duration of a bulk pass."""
    old = gc.get_threshold()
    gc.set_threshold(*_BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)


_STOP = object()


class BackgroundWriter(Generic[T]):
    """Hands batches to ``write`` on one background thread, in order, at most ``depth``
    batches ahead of it (memory stays bounded).

    A failed write is not lost: the next :meth:`put` or :meth:`close` raises it, and
    nothing after it is written. Use as a context manager; leaving the block waits for
    every batch to be written (or, when the block raised, for the thread to stop).
    """

    def __init__(self, write: Callable[[T], None], *, depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="raidt-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is None:
                try:
                    self._write(item)  # type: ignore[arg-type]
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def put(self, batch: T) -> None:
        """Queue ``batch`` (blocks while ``depth`` batches wait)."""
        self._raise()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait until every queued batch is written; raise the first write error."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter[T]:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
            return
        # the block failed: stop after what is queued, and let its exception through
        self._queue.put(_STOP)
        self._thread.join()
