"""The local spool: what the SDK has acknowledged, before it is sealed into the store.

A finished run is one *frame* appended to a segment file with one ``write()``::

    b"RSP1" | length (u32 LE) | CRC-32 of the body (u32 LE) | body (JSON, ``length`` bytes)

Once ``write()`` has returned, the bytes are in the kernel's page cache and survive a
``kill -9`` of the process (not a power cut; ``fsync=True`` pays for that). A write that
was cut short (the process killed inside ``write()``, or a full disk) leaves a *torn tail*:
the length runs past the end of the file, or the checksum does not match. Readers stop
there and never misread it as a run; a writer that sees its own write fail cuts the file
back to where the frame began, so the next frame starts clean.

Each recorder writes its own segment and holds an exclusive ``flock`` on it while it does.
A drainer that can take that lock knows the writer has closed the segment or died, so the
whole segment can be sealed and removed; a segment still locked is *live* and is read only
up to its last complete frame. Stdlib and orjson only: this module runs in the caller's
process on every run.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
import time
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from raidt.errors import CaptureError, SpoolFullError

__all__ = [
    "MAGIC",
    "Frame",
    "SegmentScan",
    "SpoolWriter",
    "encode_frame",
    "scan_segment",
    "segment_paths",
]

MAGIC = b"RSP1"
_HEADER = struct.Struct("<4sII")
HEADER_SIZE = _HEADER.size
#: a frame longer than this is treated as damage, not as a run (a run is a few KB)
MAX_FRAME = 256 * 1024 * 1024
SUFFIX = ".spool"


_writers: weakref.WeakSet[SpoolWriter] = weakref.WeakSet()


def _forked() -> None:
    for writer in list(_writers):
        writer._after_fork()


#: a forked child must not write into (or unlock) its parent's segment; registering here
#: spares the hot path an ``os.getpid()`` system call per run
os.register_at_fork(after_in_child=_forked)


def encode_frame(body: bytes) -> bytes:
    """One framed record: magic, length, CRC-32, body."""
    return _HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body


@dataclass(frozen=True)
class Frame:
    """A complete, checksummed record read back from a segment."""

    offset: int
    end: int
    body: bytes

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(self.body)
        return out


@dataclass(frozen=True)
class SegmentScan:
    """What a segment held from ``start``: its good frames and how it ended.

    ``end`` is where the next read resumes (just past the last good frame); ``tail`` is the
    number of bytes after it that were not read as frames; ``damaged`` is True when the
    first of them is a complete frame with a wrong magic or checksum, which no crash
    produces (the bytes were altered), so the segment is kept for inspection.
    """

    frames: list[Frame]
    end: int
    tail: int
    damaged: bool


def _frame_at(data: bytes, pos: int) -> Frame | bool:
    """The frame at ``pos``; False when it is incomplete (runs past the end: a torn or
    unfinished write), True when it is complete but wrong (bad magic or checksum)."""
    if len(data) - pos < HEADER_SIZE:
        return False
    magic, length, crc = _HEADER.unpack_from(data, pos)
    if magic != MAGIC or length > MAX_FRAME:
        return True
    start = pos + HEADER_SIZE
    if start + length > len(data):
        return False
    body = data[start : start + length]
    if zlib.crc32(body) != crc:
        return True
    return Frame(pos, start + length, body)


def scan_segment(path: Path, start: int = 0) -> SegmentScan:
    """Read the complete frames of a segment from byte ``start``.

    Reading stops at the first frame that is not whole and right. Nothing after it is
    read: searching the rest for the next frame would let text inside a run's prompt that
    looks like a frame be taken for one. An incomplete last frame is a torn tail (a write
    that never finished, so was never acknowledged); a complete frame with a bad checksum
    means the bytes were altered (``damaged``).
    """
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read()
    frames: list[Frame] = []
    pos = 0
    damaged = False
    while pos < len(data):
        frame = _frame_at(data, pos)
        if not isinstance(frame, Frame):
            damaged = frame
            break
        frames.append(Frame(start + frame.offset, start + frame.end, frame.body))
        pos = frame.end
    end = frames[-1].end if frames else start
    return SegmentScan(frames, end, start + len(data) - end, damaged)


def segment_paths(spool_dir: Path) -> list[Path]:
    """The segment files of a spool folder, oldest first (names start with a timestamp)."""
    try:
        return sorted(p for p in spool_dir.iterdir() if p.name.endswith(SUFFIX))
    except FileNotFoundError:
        return []


def try_lock(fd: int, *, block: bool = False) -> bool:
    """Take the exclusive lock on a segment (False: someone holds it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if block else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class SpoolWriter:
    """Appends frames to this process's live segment, one ``write()`` each.

    Thread-safe. ``max_bytes`` bounds the evidence this writer has spooled and that no
    drainer has sealed yet: past it, ``on_full="block"`` waits (up to ``block_timeout``
    seconds) for a drainer, ``on_full="fail"`` raises :class:`SpoolFullError` at once. A
    failed write (a full disk) raises :class:`CaptureError`; the run was not recorded.
    """

    def __init__(
        self,
        spool_dir: Path,
        *,
        max_bytes: int,
        segment_bytes: int,
        on_full: str,
        block_timeout: float,
        fsync: bool = False,
    ) -> None:
        if on_full not in ("block", "fail"):
            raise ValueError("on_full must be 'block' or 'fail'")
        self.dir = spool_dir
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd = -1
        self._path: Path | None = None
        self._size = 0
        #: closed segments of this writer not yet seen removed, with their sizes
        self._closed: dict[Path, int] = {}
        self._pending = 0  # bytes in the live segment plus the closed ones above
        _writers.add(self)

    # --- writing ------------------------------------------------------------------------

    def append(self, body: bytes) -> None:
        """Make one record durable (against a crash of this process), or raise."""
        frame = _HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body
        with self._lock:
            if self._pending + len(frame) > self.max_bytes:
                self._make_room(len(frame))
            if self._fd < 0 or self._size >= self.segment_bytes:
                self._open_segment()
            fd = self._fd
            try:
                written = os.write(fd, frame)
                if written != len(frame):
                    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (short write)")
                if self.fsync:
                    os.fsync(fd)
            except OSError as exc:
                self._cut_back(fd)
                raise CaptureError(
                    f"the run was not recorded: spool write to {self._path} failed "
                    f"({exc.strerror or exc})",
                    errno=exc.errno,
                ) from exc
            self._size += len(frame)
            self._pending += len(frame)

    def _cut_back(self, fd: int) -> None:
        """Remove a partial frame so the segment ends on a frame boundary again."""
        try:
            os.ftruncate(fd, self._size)
        except OSError:
            # cannot cut it: retire the segment; readers treat its tail as torn
            self._close_live()

    def _open_segment(self) -> None:
        self._close_live()
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}{SUFFIX}"
        path = self.dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if not try_lock(fd):  # a fresh, uniquely named file: nobody else can hold it
            os.close(fd)
            raise CaptureError(f"cannot lock new spool segment {path}")
        self._fd, self._path, self._size = fd, path, 0

    def _close_live(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock: drainers may now take the segment whole
            if self._path is not None:
                if self._size:
                    self._closed[self._path] = self._size
                else:
                    self._path.unlink(missing_ok=True)
        self._fd, self._path, self._size = -1, None, 0

    def _after_fork(self) -> None:
        # the child shares the parent's open file description (and so its flock): drop it
        # without closing anything the parent still uses, and start a segment of its own
        self._lock = threading.Lock()
        self._fd, self._path, self._size = -1, None, 0
        self._closed = {}
        self._pending = 0

    def rotate(self) -> list[Path]:
        """Close the live segment (new records go to a new one); returns this writer's closed
        segments that still exist, which a drain must seal."""
        with self._lock:
            self._close_live()
            self._refresh()
            return list(self._closed)

    def _refresh(self) -> None:
        for path in [p for p in self._closed if not p.exists()]:
            del self._closed[path]
        self._pending = self._size + sum(self._closed.values())

    def _make_room(self, need: int) -> None:
        """Wait for drainers (block) or refuse (fail) while the spool is over its limit."""
        deadline = time.monotonic() + self.block_timeout
        self._close_live()  # a closed segment can be sealed whole and removed
        self._refresh()
        while self._pending + need > self.max_bytes:
            if self.on_full == "fail" or time.monotonic() >= deadline:
                raise SpoolFullError(
                    f"the run was not recorded: the spool at {self.dir} holds "
                    f"{self._pending} bytes not yet sealed (limit {self.max_bytes}); "
                    "run `raidt agent` or call flush()",
                    pending=self._pending,
                    limit=self.max_bytes,
                )
            time.sleep(0.01)
            self._refresh()

    def close(self) -> None:
        with self._lock:
            self._close_live()

    @property
    def live_segment(self) -> Path | None:
        return self._path


def iter_records(scan: SegmentScan) -> Iterator[dict[str, Any]]:
    for frame in scan.frames:
        yield frame.record()
