"""Deterministic zip writing and bounded, streamed zip reading for evidence packs.

Two builds of the same pack must be byte-identical (so a pack's own SHA-256 is meaningful
and builds can be compared), hence fixed timestamps, permissions and member order.

Reading is defensive because a pack comes from outside, and a zip is a compression bomb
waiting to happen. :class:`ZipReader`:

- opens only a regular file (never a device or a FIFO handed over as a pack);
- reads the end-of-central-directory record itself and refuses a directory larger than
  :attr:`ZipLimits.directory_bytes` or with more than :attr:`ZipLimits.members` entries,
  before :mod:`zipfile` parses it (the directory is read whole);
- refuses names a pack never holds, encrypted members and any method but stored and
  deflated (bzip2 and LZMA decompressors in :mod:`zipfile` take no output bound);
- inflates a member in chunks of :data:`CHUNK` bytes and counts the bytes it actually got:
  a member's *declared* size bounds nothing, the per-member and total caps do;
- keeps duplicated members visible (the file-set check refuses them), and turns a damaged
  member (bad CRC, truncated data) into a :class:`~raidt.errors.PackError`.

Every refusal is one line naming the member.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from raidt.errors import PackError

__all__ = [
    "CHUNK",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "PACK_LIMITS",
    "ZipContents",
    "ZipLimits",
    "ZipReader",
    "open_regular",
    "plain_name",
    "read_capped",
    "read_zip",
    "write_member",
    "zip_bytes",
]

#: 1980-01-01, the earliest instant a zip can hold: no build time leaks into the bytes
_EPOCH = (1980, 1, 1, 0, 0, 0)
#: bytes inflated (or read from disk) per step: what one step may cost in memory
CHUNK = 1 << 16
_MiB = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what reading one zip may cost; every one is checked on real bytes."""

    #: entries in the central directory
    members: int
    #: inflated bytes of one member
    member_bytes: int
    #: inflated bytes of every member read, together
    total_bytes: int
    #: bytes of the central directory (zipfile reads it whole)
    directory_bytes: int


#: a run's pack: eleven small files and an events file (caps far above any real run)
PACK_LIMITS = ZipLimits(
    members=64, member_bytes=256 * _MiB, total_bytes=512 * _MiB, directory_bytes=_MiB
)
MAX_MEMBERS = PACK_LIMITS.members
MAX_MEMBER_BYTES = PACK_LIMITS.member_bytes

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64_LOCATOR_SIZE = 20
_EOCD64 = b"PK\x06\x06"
_EOCD64_SIZE = 56
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: general-purpose flags a pack never sets: encryption (bits 0 and 6), patched data (bit 5)
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40
#: what zipfile and zlib raise on data that lies about itself
_DAMAGED = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    OverflowError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    zlib.error,
)


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the permission bits below mean what they say
    info.external_attr = 0o100644 << 16
    return info


def write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Add one member with the fixed metadata."""
    zf.writestr(_info(name), data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)


def zip_bytes(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of ``files`` in the given order, byte-identical for identical input."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            write_member(zf, name, data)
    return buf.getvalue()


def plain_name(name: str) -> str | None:
    """Why ``name`` is not a member name a run's pack holds (None when it is one)."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
        return "not a plain file name (directories and paths are not part of a pack)"
    return None


def open_regular(path: Path, where: str) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file.

    ``O_NONBLOCK`` keeps a FIFO from blocking the open; the type check then refuses it,
    and a device such as ``/dev/zero`` alike, before a byte is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise PackError(f"{where}: cannot open ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PackError(f"{where}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(stream: IO[bytes], limit: int, where: str, what: str) -> bytes:
    """Read ``stream`` to its end in chunks, refusing it once it passes ``limit`` bytes."""
    parts: list[bytes] = []
    got = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return b"".join(parts)
        got += len(chunk)
        if got > limit:
            raise PackError(f"{where}: more than {limit:,} bytes {what}", file=where)
        parts.append(chunk)


def _directory_size(f: IO[bytes], where: str) -> tuple[int, int]:
    """Entries and bytes of the central directory, from the end record (zip64 too).

    Finds the record as :mod:`zipfile` does (the last 22 bytes, else the last signature
    within the 64 KiB a comment may take), so both read the same numbers.
    """
    size = f.seek(0, os.SEEK_END)
    tail_len = min(size, _EOCD_SIZE + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    if tail[-_EOCD_SIZE:-18] == _EOCD and tail[-2:] == b"\0\0":
        pos = len(tail) - _EOCD_SIZE
    else:
        pos = tail.rfind(_EOCD)
    if pos < 0 or len(tail) - pos < _EOCD_SIZE:
        raise PackError(f"{where}: not a readable zip file (no end of central directory)")
    entries, cd_bytes = struct.unpack("<10xHL6x", tail[pos : pos + _EOCD_SIZE])
    at = size - tail_len + pos - _EOCD64_LOCATOR_SIZE
    if at >= _EOCD64_SIZE:
        f.seek(at)
        if f.read(4) == _EOCD64_LOCATOR:
            f.seek(at - _EOCD64_SIZE)
            record = f.read(_EOCD64_SIZE)
            if record[:4] == _EOCD64:
                e64, c64 = struct.unpack("<32xQQ8x", record)
                entries, cd_bytes = max(entries, e64), max(cd_bytes, c64)
    return entries, cd_bytes


@dataclass(frozen=True)
class ZipContents:
    """Member names in container order (duplicates kept) and the bytes of each name."""

    names: tuple[str, ...]
    files: dict[str, bytes]


class ZipReader:
    """One zip opened for bounded reading; use as a context manager.

    Opening reads only the central directory (after checking its size); members are
    inflated one at a time by :meth:`read`, each counted against the per-member cap and
    the running total.

    Raises:
        PackError: from the constructor and every method, one line each.
    """

    def __init__(
        self,
        source: Path | bytes,
        *,
        limits: ZipLimits = PACK_LIMITS,
        label: str | None = None,
        name_problem: Callable[[str], str | None] = plain_name,
    ) -> None:
        self.where = label or (source.name if isinstance(source, Path) else "pack")
        self.limits = limits
        self.inflated = 0
        self._file: IO[bytes] = (
            io.BytesIO(source) if isinstance(source, bytes) else open_regular(source, self.where)
        )
        try:
            self._zip = self._open(name_problem)
        except BaseException:
            self._file.close()
            raise
        self._first: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            self._first.setdefault(info.filename, info)
        #: member names in container order, duplicates kept
        self.names: tuple[str, ...] = tuple(i.filename for i in self._zip.infolist())

    def _open(self, name_problem: Callable[[str], str | None]) -> zipfile.ZipFile:
        where, lim = self.where, self.limits
        try:
            entries, cd_bytes = _directory_size(self._file, where)
        except OSError as exc:
            raise PackError(f"{where}: not a readable zip file ({exc.strerror})") from None
        if entries > lim.members:
            raise PackError(f"{where}: {entries} members; at most {lim.members} are read")
        if cd_bytes > lim.directory_bytes:
            raise PackError(
                f"{where}: central directory of {cd_bytes:,} bytes; "
                f"at most {lim.directory_bytes:,} are read"
            )
        try:
            self._file.seek(0)
            zf = zipfile.ZipFile(self._file)
        except _DAMAGED as exc:
            raise PackError(f"{where}: not a readable zip file ({exc})") from None
        infos = zf.infolist()
        if len(infos) > lim.members:
            zf.close()
            raise PackError(f"{where}: {len(infos)} members; at most {lim.members} are read")
        declared = 0
        for info in infos:
            problem = self._member_problem(info, name_problem)
            if problem is not None:
                zf.close()
                raise PackError(f"{info.filename!r}: {problem}", file=info.filename)
            declared += info.file_size
        if declared > lim.total_bytes:
            zf.close()
            raise PackError(
                f"{where}: members declare {declared:,} bytes in all; "
                f"at most {lim.total_bytes:,} are read"
            )
        return zf

    def _member_problem(
        self, info: zipfile.ZipInfo, name_problem: Callable[[str], str | None]
    ) -> str | None:
        problem = name_problem(info.filename)
        if problem is not None:
            return problem
        if info.flag_bits & _REFUSED_FLAGS:
            return (
                f"flags {info.flag_bits:#06x}: encrypted or patched data (a pack is never either)"
            )
        if info.compress_type not in _METHODS:
            return f"compression method {info.compress_type} (only stored and deflated are read)"
        if info.file_size > self.limits.member_bytes:
            return (
                f"declares {info.file_size:,} bytes; a member may hold at most "
                f"{self.limits.member_bytes:,}"
            )
        return None

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def size_of(self, name: str) -> int | None:
        """The declared (uncompressed) size of member ``name``, or None if absent."""
        info = self._first.get(name)
        return None if info is None else info.file_size

    def read(self, name: str, cap: int | None = None) -> bytes:
        """The bytes of the first member called ``name``, inflated in chunks.

        ``cap`` lowers the per-member limit for members known to be small.

        Raises:
            PackError: absent, larger than a cap once inflated, or damaged.
        """
        info = self._first.get(name)
        if info is None:
            raise PackError(f"{name}: missing from the {self.where}", file=name)
        limit = min(
            self.limits.member_bytes if cap is None else cap,
            self.limits.total_bytes - self.inflated,
        )
        try:
            with self._zip.open(info) as stream:
                data = read_capped(stream, limit, name, "once inflated")
        except PackError:
            raise
        except _DAMAGED as exc:
            raise PackError(f"{name}: damaged in the zip ({exc})", file=name) from None
        if len(data) != info.file_size:
            raise PackError(
                f"{name}: inflates to {len(data):,} bytes, the zip declares {info.file_size:,}",
                file=name,
            )
        self.inflated += len(data)
        return data

    def read_all(self) -> ZipContents:
        """Every distinct member (the first of each name), names in container order."""
        return ZipContents(self.names, {n: self.read(n) for n in dict.fromkeys(self.names)})


def read_zip(
    source: Path | bytes, *, label: str | None = None, limits: ZipLimits = PACK_LIMITS
) -> ZipContents:
    """Read every member of a pack zip into memory, within ``limits``.

    Raises:
        PackError: not a zip, too many or too large members (declared or inflated), a
            directory or path member, an encrypted or oddly compressed member, or a member
            whose data is damaged.
    """
    with ZipReader(source, limits=limits, label=label) as reader:
        return reader.read_all()
