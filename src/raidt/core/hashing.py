"""Event hashing and RFC 6962 leaf bytes.

``hash`` = SHA-256 of the canonical JSON of the event body (everything but ``hash`` and
``seq``), hex. The ledger leaf is the canonical JSON of the stored event without its ledger
field ``seq`` (so it includes ``hash``); its leaf hash is ``SHA-256(0x00 || leaf)``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from raidt.core.canonical import canonical_json

__all__ = ["event_hash", "leaf_bytes", "leaf_hash", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_hash(body: dict[str, Any]) -> str:
    """Hash of an event body (see module docstring)."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def leaf_bytes(body: dict[str, Any], hash_hex: str) -> bytes:
    return canonical_json({**body, "hash": hash_hex})


def leaf_hash(body: dict[str, Any], hash_hex: str) -> bytes:
    """RFC 6962 leaf hash of the stored event."""
    return hashlib.sha256(b"\x00" + leaf_bytes(body, hash_hex)).digest()
