"""Event hashing and RFC 6962 leaf bytes.

``hash`` = SHA-256 of the canonical JSON of the event body (everything but ``hash`` and
``seq``), hex. The ledger leaf is the canonical JSON of the stored event without its ledger
field ``seq`` (so it includes ``hash``); its leaf hash is ``SHA-256(0x00 || leaf)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from raidt.core.canonical import canonical_json

__all__ = [
    "event_hash",
    "leaf_bytes",
    "leaf_hash",
    "rows_chain_ok",
    "seal",
    "seal_digest",
    "sha256_hex",
]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_hash(body: dict[str, Any]) -> str:
    """Hash of an event body (see module docstring)."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def leaf_bytes(body: dict[str, Any], hash_hex: str) -> bytes:
    return canonical_json({**body, "hash": hash_hex})


def leaf_hash(body: dict[str, Any], hash_hex: str) -> bytes:
    """RFC 6962 leaf hash of the stored event."""
    return hashlib.sha256(b"".join([b"\x00", leaf_bytes(body, hash_hex)])).digest()


def _s(text: str) -> bytes:
    return orjson.dumps(text)


def seal(
    *,
    event_id: str,
    run_id: str,
    event_type: str,
    at: str,
    actor_id: str,
    actor_role: str,
    payload_json: bytes,
    prev_hash: str | None,
) -> tuple[str, bytes]:
    """Hash an event and compute its leaf hash from already-canonical payload bytes.

    Equivalent to :func:`event_hash` and :func:`leaf_hash` on the body dict (a test checks
    byte equality), but canonicalises the payload once instead of three times: this is the
    ingest hot path. The top-level keys are fixed and ASCII, so their canonical order is
    known: actor, at, (hash), id, payload, prev_hash, run_id, type.
    """
    # joined, never chained with +: mypyc's compiled bytes concatenation leaked the
    # intermediate results (about 4 KB an event at ingest; tests/core/test_no_leaks.py)
    head = b"".join(
        [b'{"actor":{"id":', _s(actor_id), b',"role":', _s(actor_role), b'},"at":', _s(at)]
    )
    tail = b"".join(
        [
            b'"id":',
            _s(event_id),
            b',"payload":',
            payload_json,
            b',"prev_hash":',
            _s(prev_hash) if prev_hash is not None else b"null",
            b',"run_id":',
            _s(run_id),
            b',"type":',
            _s(event_type),
            b"}",
        ]
    )
    digest = hashlib.sha256(b"".join([head, b",", tail])).hexdigest()
    leaf = hashlib.sha256(
        b"".join([b"\x00", head, b',"hash":"', digest.encode(), b'",', tail])
    ).digest()
    return digest, leaf


_SORTED = orjson.OPT_SORT_KEYS
_Fragment = orjson.Fragment
#: copied for each digest: constructing hashlib.sha256() looks the algorithm up in OpenSSL
#: every time, which cost about a third of re-hashing a stored event
_SHA256 = hashlib.sha256()


def seal_digest(
    event_id: str,
    run_id: str,
    event_type: str,
    at: str,
    actor_id: str,
    actor_role: str,
    payload_json: str | bytes,
    prev_hash: str | None,
) -> str:
    """The ``hash`` that :func:`seal` returns, without its leaf hash.

    For re-verifying stored chains (a bulk rescore hashes every stored event and has no use
    for the leaf). The body is encoded in one call: its keys are fixed ASCII, so sorting them
    gives the canonical order, and ``payload_json`` (already canonical) is spliced in as is.
    """
    body = {
        "actor": {"id": actor_id, "role": actor_role},
        "at": at,
        "id": event_id,
        "payload": _Fragment(payload_json),
        "prev_hash": prev_hash,
        "run_id": run_id,
        "type": event_type,
    }
    h = _SHA256.copy()
    h.update(orjson.dumps(body, option=_SORTED))
    return h.hexdigest()


def rows_chain_ok(rows: Sequence[tuple[Any, ...]]) -> bool:
    """True when a run's stored ``events`` rows link and hash.

    ``rows`` are raw rows ``(seq, id, run_id, type, at, actor_id, actor_role, payload,
    prev_hash, hash)`` in ledger order, the payload as its stored canonical JSON text (the
    bulk path of scoring reads them so). Hashes that text with :func:`seal_digest` instead
    of parsing and re-canonicalising it. False means "not shown here": the caller then
    checks the chain on parsed events, so a verdict never rests on this shortcut alone.
    """
    prev: str | None = None
    for _seq, eid, rid, etype, at, actor_id, role, payload, prev_hash, digest in rows:
        if (
            prev_hash != prev
            or seal_digest(eid, rid, etype, at, actor_id, role, payload, prev_hash) != digest
        ):
            return False
        prev = digest
    return True
