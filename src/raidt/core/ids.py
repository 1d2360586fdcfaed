"""Time-ordered identifiers (UUIDv7, RFC 9562).

Python 3.11 has no ``uuid.uuid7``; the layout is 48 bits of Unix milliseconds, version,
74 random bits and the variant, so ids sort by creation time, which keeps indexes local.
"""

from __future__ import annotations

import hashlib
import os
import time

__all__ = ["content_id", "new_id"]


def new_id(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 string."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def content_id(content: bytes) -> str:
    """A UUIDv8 (RFC 9562, section 5.8) derived from SHA-256 of ``content``.

    For events imported without an id: the same event in the same place of the same file
    gets the same id every time, so importing a file twice is refused instead of storing
    every event twice.
    """
    value = int.from_bytes(hashlib.sha256(content).digest()[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
