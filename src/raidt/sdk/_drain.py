"""Draining the spool: spooled runs sealed into the store in batches.

Three callers drain: :meth:`Recorder.flush` (in the caller's process, only when called),
``raidt agent`` (a separate process that drains a spool folder continuously, so sealing
never holds the caller's GIL), and ``raidt serve``. A *closed* segment (its writer closed it
or died: the drainer can take its lock) is sealed whole and then removed; a *live* one (its
writer still holds the lock) is sealed up to its last complete frame, and the rest waits.

Replays are harmless: every event id is assigned when the run is recorded, and the sink
skips a run whose first event is already stored (runs are sealed atomically, so the first
event stands for all of them). A crash between sealing and removing a segment therefore
seals nothing twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from raidt.sdk._spool import SegmentScan, scan_segment, segment_paths, try_lock

if TYPE_CHECKING:
    from raidt.core.policy import Policy

__all__ = ["Drainer", "Sink"]

log = logging.getLogger("raidt.sdk")

#: events per sealing transaction
BATCH_EVENTS = 3000


class Sink(Protocol):
    """Where spooled runs are sealed: the local store or a remote ``raidt serve``."""

    def policy_in_force(self, use_case: str) -> Policy: ...
    def template_hash(self, template_id: str, version: str) -> str | None: ...
    def seal(self, records: Sequence[dict[str, Any]]) -> int: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...


class Drainer:
    """Seals the segments of one spool folder through a sink.

    Keeps, for live segments, how far it has sealed (in memory: after a restart it reads
    them from the start again and the sink skips what is stored).
    """

    def __init__(self, sink: Sink, spool_dir: Path, batch_events: int = BATCH_EVENTS) -> None:
        self.sink = sink
        self.dir = spool_dir
        self.batch_events = batch_events
        self._live_offsets: dict[Path, int] = {}

    def drain(self, *, wait_for: Sequence[Path] = (), live: bool = False) -> int:
        """Seal every closed segment (waiting for those in ``wait_for`` if another drainer
        holds them), and with ``live`` the complete frames of live ones; returns the events
        sealed. Signs a checkpoint when anything was sealed."""
        sealed = 0
        waiting = set(wait_for)
        for path in segment_paths(self.dir):
            sealed += self._segment(path, block=path in waiting, live=live)
        for path in waiting:  # ours, and not listed: already sealed and removed
            if path.exists():
                sealed += self._segment(path, block=True, live=live)
        if sealed:
            self.sink.checkpoint()
        return sealed

    def _segment(self, path: Path, *, block: bool, live: bool) -> int:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            if try_lock(fd, block=block):
                if os.fstat(fd).st_nlink == 0:  # sealed and removed while we waited
                    return 0
                return self._whole(path)
            if live:
                return self._live(path)
            return 0
        finally:
            os.close(fd)

    def _whole(self, path: Path) -> int:
        """A closed segment: seal all its frames, then remove it (kept when damaged)."""
        start = self._live_offsets.pop(path, 0)
        scan = scan_segment(path, start)
        sealed = self._seal(scan)
        if scan.tail:
            log.warning(
                "spool %s: ignored a torn tail of %d bytes (a write that never completed, "
                "so never acknowledged)",
                path.name,
                scan.tail,
            )
        if scan.damaged:
            keep = path.with_suffix(".damaged")
            path.rename(keep)
            log.error(
                "spool %s: a frame with a wrong checksum (altered bytes); kept as %s",
                path.name,
                keep,
            )
        else:
            path.unlink()
        return sealed

    def _live(self, path: Path) -> int:
        scan = scan_segment(path, self._live_offsets.get(path, 0))
        sealed = self._seal(scan)
        self._live_offsets[path] = scan.end
        return sealed

    def _seal(self, scan: SegmentScan) -> int:
        sealed = 0
        batch: list[dict[str, Any]] = []
        size = 0
        for frame in scan.frames:
            record = frame.record()
            batch.append(record)
            size += len(record["events"])
            if size >= self.batch_events:
                sealed += self.sink.seal(batch)
                batch, size = [], 0
        if batch:
            sealed += self.sink.seal(batch)
        return sealed

    def forget_missing(self) -> None:
        """Drop offsets of live segments that are gone (the agent calls this now and then)."""
        for path in [p for p in self._live_offsets if not p.exists()]:
            with contextlib.suppress(KeyError):
                del self._live_offsets[path]
