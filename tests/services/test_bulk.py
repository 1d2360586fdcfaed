"""The bulk-pass helpers: the background writer keeps order and never swallows an error."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from raidt.services.bulk import (
    BackgroundWriter,
    InlineWriter,
    batch_writer,
    relaxed_gc,
    usable_cpus,
)


def test_batches_are_written_in_order_on_another_thread() -> None:
    written: list[int] = []
    threads: set[str] = set()

    def write(batch: list[int]) -> None:
        time.sleep(0.001)
        threads.add(threading.current_thread().name)
        written.extend(batch)

    with BackgroundWriter(write, depth=2) as w:
        for i in range(50):
            w.put([2 * i, 2 * i + 1])
    assert written == list(range(100))
    assert threads == {"raidt-writer"}


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    written: list[int] = []

    def write(batch: int) -> None:
        if batch == 3:
            raise OSError("disk full")
        written.append(batch)

    with pytest.raises(OSError, match="disk full"), BackgroundWriter(write) as w:
        for i in range(10):
            w.put(i)
    assert written == [0, 1, 2]


def test_a_failing_caller_stops_the_writer_and_keeps_its_own_error() -> None:
    written: list[int] = []
    with pytest.raises(KeyError), BackgroundWriter(written.append) as w:
        w.put(1)
        raise KeyError("caller")
    assert written == [1]  # what was queued before the failure is still written


def test_relaxed_gc_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    with relaxed_gc():
        assert gc.get_threshold()[0] > before[0]
    assert gc.get_threshold() == before
    with pytest.raises(ValueError), relaxed_gc():
        raise ValueError
    assert gc.get_threshold() == before


def test_the_inline_writer_writes_each_batch_as_it_is_put() -> None:
    written: list[int] = []
    with InlineWriter(written.append) as w:
        w.put(1)
        assert written == [1]  # already written, on this thread
        w.put(2)
    assert written == [1, 2]

    def write(batch: int) -> None:
        if batch == 2:
            raise OSError("disk full")
        written.append(batch)

    w2 = InlineWriter(write)
    w2.put(3)
    with pytest.raises(OSError, match="disk full"):
        w2.put(2)
    assert written == [1, 2, 3]


def test_batch_writer_uses_a_thread_only_when_a_second_cpu_is_there() -> None:
    assert isinstance(batch_writer(print, cpus=1), InlineWriter)
    two = batch_writer(print, cpus=2)
    assert isinstance(two, BackgroundWriter)
    two.close()
    assert usable_cpus() >= 1
