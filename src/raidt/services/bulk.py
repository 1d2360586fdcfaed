"""Helpers for long bulk passes over a store (a full rescore of a million runs).

Two things a bulk pass does differently from serving one request:

* where the process may use more than one CPU, it writes each batch on a background
  thread, so the time the database spends writing and waiting for the disk (commits,
  write-ahead-log checkpoints) overlaps the scoring of the next batch instead of adding to
  it (SQLite and libpq run outside the GIL). Pinned to one CPU there is nothing to overlap
  with, and the two threads handing the GIL back and forth made a 100,000-run rescore
  about 15 % slower than writing on the scoring thread, so :func:`batch_writer` writes
  inline there;
* it asks the garbage collector to look at young objects less often. A rescore allocates
  tens of millions of short-lived dicts and tuples and builds no reference cycles, so the
  default thresholds make the collector rescan the surviving objects over and over.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["BackgroundWriter", "InlineWriter", "batch_writer", "relaxed_gc", "usable_cpus"]

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


class InlineWriter(Generic[T]):
    """The :class:`BackgroundWriter` interface, writing each batch on the caller's thread
    as it is handed over (a write error is raised by that :meth:`put`)."""

    def __init__(self, write: Callable[[T], None]) -> None:
        self._write = write

    def put(self, batch: T) -> None:
        self._write(batch)

    def close(self) -> None:
        """Nothing waits: every batch was written by its :meth:`put`."""

    def __enter__(self) -> InlineWriter[T]:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask, not the machine's count:
    ``taskset -c 0`` means one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def batch_writer(
    write: Callable[[T], None], *, cpus: int | None = None
) -> BackgroundWriter[T] | InlineWriter[T]:
    """A background writer when the process may use more than one CPU (``cpus``, by
    default :func:`usable_cpus`), an inline one otherwise (see the module docstring)."""
    n = usable_cpus() if cpus is None else cpus
    return BackgroundWriter(write) if n > 1 else InlineWriter(write)
