"""Deterministic zip writing and defensive zip reading for evidence packs.

Two builds of the same pack must be byte-identical (so a pack's own SHA-256 is meaningful
and builds can be compared), hence fixed timestamps, permissions and member order. Reading
is defensive because a pack comes from outside: duplicated members are kept visible (the
file-set check refuses them), paths are plain names, sizes are bounded before inflating,
and a damaged member (bad CRC, truncated data) is a :class:`~raidt.errors.PackError`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from raidt.errors import PackError

__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "ZipContents",
    "read_zip",
    "write_member",
    "zip_bytes",
]

#: 1980-01-01, the earliest instant a zip can hold: no build time leaks into the bytes
_EPOCH = (1980, 1, 1, 0, 0, 0)
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 512 * 1024 * 1024


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


@dataclass(frozen=True)
class ZipContents:
    """Member names in container order (duplicates kept) and the bytes of each name."""

    names: tuple[str, ...]
    files: dict[str, bytes]


def read_zip(source: Path | bytes | IO[bytes], *, label: str | None = None) -> ZipContents:
    """Read every member of a pack zip into memory, refusing what a pack never holds.

    Raises:
        PackError: not a zip, too many or too large members, a directory or path member,
            or a member whose data is damaged.
    """
    where = label or (source.name if isinstance(source, Path) else "pack")
    handle: Path | IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        zf = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackError(f"{where}: not a readable zip file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PackError(f"{where}: {len(infos)} members; a pack holds at most {MAX_MEMBERS}")
        names: list[str] = []
        files: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            if info.is_dir() or "/" in name or "\\" in name or name in ("", ".", ".."):
                raise PackError(
                    f"{name}: not a plain file name (directories and paths are not part of a pack)",
                    file=name,
                )
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackError(
                    f"{name}: {info.file_size} bytes is more than a pack file may hold", file=name
                )
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise PackError(f"{name}: damaged in the zip ({exc})", file=name) from exc
            names.append(name)
            files.setdefault(name, data)
    return ZipContents(tuple(names), files)
