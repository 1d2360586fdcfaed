"""The bytes RAIDT hashes for an event, and the chain they form: the one owner of both.

A stored event is its *body* plus two ledger fields, ``hash`` and ``seq``:

* the body is :func:`event_body`: ``id``, ``run_id``, ``type``, ``at``, ``actor``
  ``{id, role}``, ``payload`` and ``prev_hash`` (the ``hash`` of the previous event of the
  same run, or null for the first);
* ``hash`` = SHA-256 of the RFC 8785 canonical JSON of the body, hex (:func:`event_hash`);
* the ledger leaf is the canonical JSON of the stored event without ``seq`` (the body with
  ``hash``), and its RFC 6962 leaf hash is ``SHA-256(0x00 || leaf)`` (:func:`leaf_hash`).

:func:`seal` and :func:`seal_digest` produce the same bytes from columns whose payload is
already canonical JSON text, without re-encoding it (the ingest and rescore hot paths; a
hypothesis test checks byte equality with the reference functions).

A run's *chain* holds when, in ledger order, every event's hash recomputes from its body,
its ``prev_hash`` names the previous event of its run, and (where a stored leaf hash is at
hand) its leaf hash recomputes. :func:`chain_break` says where and why that fails, for
sealed events or for raw ``events`` rows; :class:`ChainCheck` does the same one event at a
time for a whole store streamed in ledger order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson

from raidt.core.canonical import canonical_json

__all__ = [
    "ALTERED",
    "LEAF",
    "ORDER",
    "UNLINKED",
    "UNREADABLE",
    "ChainBreak",
    "ChainCheck",
    "SealedEvent",
    "body_of",
    "chain_break",
    "event_body",
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


# --- the body and its hashes --------------------------------------------------------------


def event_body(
    event_id: str,
    run_id: str,
    event_type: str,
    at: str,
    actor_id: str,
    actor_role: str,
    payload: Any,
    prev_hash: str | None,
) -> dict[str, Any]:
    """The hashed content of an event: the stored event without ``hash`` and ``seq``.

    ``at`` is the stored text of the instant (what ``format_ts`` renders); ``payload`` is
    the parsed payload object.
    """
    return {
        "id": event_id,
        "run_id": run_id,
        "type": event_type,
        "at": at,
        "actor": {"id": actor_id, "role": actor_role},
        "payload": payload,
        "prev_hash": prev_hash,
    }


class _Named(Protocol):
    @property
    def value(self) -> str: ...


class _Actor(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def role(self) -> _Named: ...


class SealedEvent(Protocol):
    """What the chain check reads from a sealed event (``Event``, or the scoring core's
    ``EvidenceEvent``)."""

    @property
    def id(self) -> str: ...

    @property
    def run_id(self) -> str: ...

    @property
    def type(self) -> _Named: ...

    @property
    def at_text(self) -> str: ...

    @property
    def actor(self) -> _Actor: ...

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def prev_hash(self) -> str | None: ...

    @property
    def hash(self) -> str: ...

    @property
    def seq(self) -> int: ...


def body_of(event: SealedEvent) -> dict[str, Any]:
    """:func:`event_body` of a sealed event."""
    return event_body(
        event.id,
        event.run_id,
        event.type.value,
        event.at_text,
        event.actor.id,
        event.actor.role.value,
        event.payload,
        event.prev_hash,
    )


def event_hash(body: dict[str, Any]) -> str:
    """Hash of an event body (see module docstring)."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def leaf_bytes(body: dict[str, Any], hash_hex: str) -> bytes:
    """The ledger leaf of a stored event: canonical JSON of its body with ``hash``."""
    return canonical_json({**body, "hash": hash_hex})


def leaf_hash(body: dict[str, Any], hash_hex: str) -> bytes:
    """RFC 6962 leaf hash of the stored event."""
    return hashlib.sha256(b"".join([b"\x00", leaf_bytes(body, hash_hex)])).digest()


# --- the same bytes from stored columns (hot paths) ---------------------------------------

_SORTED = orjson.OPT_SORT_KEYS
_Fragment = orjson.Fragment
#: copied for each digest: constructing hashlib.sha256() looks the algorithm up in OpenSSL
#: every time, which cost about a third of re-hashing a stored event
_SHA256 = hashlib.sha256()


def _spliced(
    event_id: str,
    run_id: str,
    event_type: str,
    at: str,
    actor_id: str,
    actor_role: str,
    payload_json: str | bytes,
    prev_hash: str | None,
) -> dict[str, Any]:
    """:func:`event_body` with the payload as its canonical JSON text, spliced in as is.

    orjson with sorted keys then gives the canonical bytes: the top-level keys are fixed
    and ASCII, and every other value is a string or null, which orjson and RFC 8785 encode
    alike. Splicing is unambiguous: a JSON object ends where its braces balance, and every
    field around it is a self-delimiting string literal.
    """
    return {
        "actor": {"id": actor_id, "role": actor_role},
        "at": at,
        "id": event_id,
        "payload": _Fragment(payload_json),
        "prev_hash": prev_hash,
        "run_id": run_id,
        "type": event_type,
    }


def _digest(spliced: dict[str, Any]) -> str:
    h = _SHA256.copy()
    h.update(orjson.dumps(spliced, option=_SORTED))
    return h.hexdigest()


def _leaf(spliced: dict[str, Any], hash_hex: str) -> bytes:
    h = _SHA256.copy()
    h.update(b"\x00")
    h.update(orjson.dumps({**spliced, "hash": hash_hex}, option=_SORTED))
    return h.digest()


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
    """``(hash, leaf hash)`` of an event whose payload is already canonical JSON bytes.

    Equal to :func:`event_hash` and :func:`leaf_hash` on the body dict (a hypothesis test
    checks it), but never re-encodes the payload: this is the ingest hot path.
    """
    body = _spliced(event_id, run_id, event_type, at, actor_id, actor_role, payload_json, prev_hash)
    digest = _digest(body)
    return digest, _leaf(body, digest)


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
    """The ``hash`` that :func:`seal` returns, without its leaf hash (re-verifying stored
    chains: a bulk rescore hashes every stored event and has no use for the leaf)."""
    return _digest(
        _spliced(event_id, run_id, event_type, at, actor_id, actor_role, payload_json, prev_hash)
    )


# --- the chain ------------------------------------------------------------------------------

#: why a chain breaks (:attr:`ChainBreak.reason`)
ORDER: Final = "order"
UNREADABLE: Final = "unreadable"
ALTERED: Final = "altered"
UNLINKED: Final = "unlinked"
LEAF: Final = "leaf"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain breaks and why.

    Attributes:
        event_id: the first event that does not verify.
        run_id: its run.
        seq: its ledger index.
        index: its 0-based position in what was checked (a pack names line ``index + 1``).
        reason: :data:`ORDER`, :data:`UNREADABLE`, :data:`ALTERED`, :data:`UNLINKED` or
            :data:`LEAF`.
        detail: what is wrong, in words.
    """

    event_id: str
    run_id: str
    seq: int
    index: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"event {self.event_id} (seq {self.seq}): {self.detail}"


class ChainCheck:
    """Checks sealed events or raw rows one at a time, in ledger order, across runs.

    Remembers the last hash of every run it has seen (memory grows with runs, not events)
    and the last ledger index. After a break it carries on from the stored values, so one
    altered event is reported once and does not make every later link look broken.

    ``links_only`` skips re-hashing: only the ledger order and the ``prev_hash`` links are
    checked (for callers whose hashes were verified already).
    """

    __slots__ = ("_index", "_last", "_seq", "links_only")

    def __init__(self, *, links_only: bool = False) -> None:
        self.links_only = links_only
        self._last: dict[str, str] = {}
        self._seq = -1
        self._index = 0

    @property
    def runs(self) -> int:
        """How many runs the events checked so far belong to."""
        return len(self._last)

    def event(self, event: SealedEvent) -> ChainBreak | None:
        """Check the next sealed event (its payload parsed, as in ``Event``)."""
        hash_ok = True
        problem = ""
        if not self.links_only:
            try:
                hash_ok = event_hash(body_of(event)) == event.hash
            except ValueError as exc:
                problem = f"content cannot be canonicalised ({exc})"
        return self._verdict(
            event.id, event.run_id, event.seq, event.prev_hash, event.hash, problem, hash_ok, True
        )

    def row(self, row: Sequence[Any]) -> ChainBreak | None:
        """Check the next raw ``events`` row.

        ``row`` is ``(seq, id, run_id, type, at, actor_id, actor_role, payload, prev_hash,
        hash)``, optionally followed by ``leaf_hash`` (then the leaf is checked too), with
        the payload as its stored canonical JSON text. That text is hashed as it is; only
        when that does not match is it parsed and re-encoded, so a stored payload that is
        valid but not canonical JSON of the same content still verifies.
        """
        seq = int(row[0])
        eid, rid, etype, at = row[1], row[2], row[3], row[4]
        actor_id, role, payload, prev_hash, digest = row[5], row[6], row[7], row[8], row[9]
        stored_leaf = bytes(row[10]) if len(row) > 10 else None
        hash_ok = leaf_ok = True
        problem = ""
        if not self.links_only:
            spliced = _spliced(eid, rid, etype, at, actor_id, role, payload, prev_hash)
            fresh = _digest(spliced)
            if fresh == digest and stored_leaf is not None:
                leaf_ok = _leaf(spliced, digest) == stored_leaf
            if fresh != digest or not leaf_ok:
                # not the stored bytes: re-encode the parsed payload before judging
                try:
                    parsed = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    problem = "payload is not valid JSON"
                else:
                    full = event_body(eid, rid, etype, at, actor_id, role, parsed, prev_hash)
                    try:
                        hash_ok = event_hash(full) == digest
                        if stored_leaf is not None:
                            leaf_ok = leaf_hash(full, digest) == stored_leaf
                    except ValueError as exc:
                        problem = f"content cannot be canonicalised ({exc})"
        return self._verdict(eid, rid, seq, prev_hash, digest, problem, hash_ok, leaf_ok)

    def _verdict(
        self,
        eid: str,
        rid: str,
        seq: int,
        prev_hash: str | None,
        digest: str,
        problem: str,
        hash_ok: bool,
        leaf_ok: bool,
    ) -> ChainBreak | None:
        index = self._index
        last_seq = self._seq
        expected_prev = self._last.get(rid)
        self._index = index + 1
        self._seq = seq
        self._last[rid] = digest
        if seq <= last_seq:
            reason, detail = ORDER, f"ledger index {seq} does not follow {last_seq} (out of order)"
        elif problem:
            reason, detail = UNREADABLE, problem
        elif not hash_ok:
            reason, detail = ALTERED, "content does not match its hash (altered)"
        elif prev_hash != expected_prev:
            reason = UNLINKED
            detail = (
                f"prev_hash does not link to the previous event of run {rid} "
                "(events of the run were removed, added or reordered)"
            )
        elif not leaf_ok:
            reason, detail = LEAF, "stored leaf hash does not match the event"
        else:
            return None
        return ChainBreak(eid, rid, seq, index, reason, detail)


def chain_break(
    items: Iterable[SealedEvent] | Iterable[Sequence[Any]], *, links_only: bool = False
) -> ChainBreak | None:
    """Where and why the chain of ``items`` breaks, or None when it holds.

    ``items`` are one run's sealed events, or raw ``events`` rows (see
    :meth:`ChainCheck.row`), in ledger order (events of several runs may be mixed: each
    links to the previous event of its own run). The first problem is returned.
    ``links_only`` checks order and links without re-hashing.
    """
    check = ChainCheck(links_only=links_only)
    for item in items:
        row = type(item) is tuple or isinstance(item, Sequence)
        found = check.row(item) if row else check.event(item)  # type: ignore[arg-type]
        if found is not None:
            return found
    return None


def rows_chain_ok(rows: Sequence[tuple[Any, ...]]) -> bool:
    """True when a run's stored ``events`` rows link and hash (``chain_break(rows) is None``).

    Kept for the scoring service until it calls :func:`chain_break` directly.
    """
    return chain_break(rows) is None
