"""Hand-made zips for hostile-input tests: members whose headers say what we choose.

:mod:`zipfile` writes honest headers; an attacker does not. :func:`craft` writes local
headers, data and a central directory from :class:`Member` values as given (declared
size, CRC, method, flags), and :func:`zeros_bomb` makes a real deflate stream that
inflates to gigabytes from a few kilobytes a gigabyte, in milliseconds (one compressed
megabyte of zeros, ended by a full flush so it stands alone, repeated).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["Member", "craft", "deflated", "zeros_bomb"]

_MiB = 1 << 20


@dataclass(frozen=True)
class Member:
    """One member as the headers will describe it."""

    name: str
    data: bytes  # the bytes stored (already compressed when method is 8)
    size: int  # the uncompressed size the headers declare
    crc: int = 0
    method: int = 8
    flags: int = 0


def deflated(name: str, content: bytes) -> Member:
    """An honest deflated member."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Member(name, c.compress(content) + c.flush(), len(content), zlib.crc32(content))


def zeros_bomb(inflated: int) -> bytes:
    """A raw deflate stream of ``inflated`` zero bytes (a multiple of 1 MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * _MiB) + c.flush(zlib.Z_FULL_FLUSH)
    return block * (inflated // _MiB) + b"\x03\x00"  # an empty final block ends it


def craft(
    members: list[Member], *, entries: int | None = None, cd_size: int | None = None
) -> bytes:
    """A zip of ``members``; ``entries`` and ``cd_size`` override the end record."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m.name.encode("utf-8")
        offset = len(out)
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            20,
            m.flags,
            m.method,
            0,
            0x21,
            m.crc,
            len(m.data),
            m.size & 0xFFFFFFFF,
            len(name),
            0,
        )
        out += name + m.data
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            m.flags,
            m.method,
            0,
            0x21,
            m.crc,
            len(m.data),
            m.size & 0xFFFFFFFF,
            len(name),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            offset,
        )
        central += name
    start = len(out)
    out += central
    n = len(members) if entries is None else entries
    size = len(central) if cd_size is None else cd_size
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n & 0xFFFF, n & 0xFFFF, size, start, 0)
    return bytes(out)
