"""The hashed bytes and the chain check, against a store written before they had one owner.

``data/legacy_rows.jsonl`` holds the raw ``events`` rows (leaf hashes in hex) that the
event store wrote for a fixed set of inputs at commit 3602a3b, before the hashed bytes and
the chain check were gathered into ``raidt.core.hashing``: floats in every ECMAScript form,
non-ASCII and astral-plane keys (the reference encoder's path), control characters, demo
runs, and payloads nested 201, 253 and 401 levels deep that the old import accepted (the
last two crashed the old ``raidt verify``). Every hash and leaf must still recompute.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.canonical import canonical_json
from raidt.core.events import Event
from raidt.core.hashing import (
    ALTERED,
    LEAF,
    ORDER,
    UNLINKED,
    UNREADABLE,
    ChainCheck,
    body_of,
    chain_break,
    event_body,
    event_hash,
    leaf_hash,
    rows_chain_ok,
    seal,
    seal_digest,
)
from raidt.store.events import row_to_event

COLUMNS = (
    "seq", "id", "run_id", "type", "at", "actor_id", "actor_role", "payload", "prev_hash",
    "hash", "leaf_hash",
)  # fmt: skip

LEGACY = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "legacy_rows.jsonl").read_text().splitlines()
]


def legacy_rows() -> list[tuple[Any, ...]]:
    """The legacy rows as the driver returns them (leaf hash as bytes)."""
    return [
        tuple(bytes.fromhex(r[c]) if c == "leaf_hash" else r[c] for c in COLUMNS) for r in LEGACY
    ]


def legacy_events() -> list[Event]:
    return [
        row_to_event(SimpleNamespace(**dict(zip(COLUMNS, r, strict=True)))) for r in legacy_rows()
    ]


def test_the_legacy_store_is_varied_enough_to_mean_something() -> None:
    assert len(LEGACY) >= 30 and len({r["run_id"] for r in LEGACY}) >= 6
    payloads = "".join(r["payload"] for r in LEGACY)
    assert "1e+21" in payloads and "5e-324" in payloads and "\U0001f600" in payloads
    assert max(payloads.count("[") for payloads in (r["payload"] for r in LEGACY)) >= 200


@pytest.mark.parametrize("row", LEGACY, ids=[r["id"] for r in LEGACY])
def test_every_legacy_hash_and_leaf_recomputes(row: dict[str, Any]) -> None:
    body = event_body(
        row["id"],
        row["run_id"],
        row["type"],
        row["at"],
        row["actor_id"],
        row["actor_role"],
        orjson.loads(row["payload"]),
        row["prev_hash"],
    )
    assert event_hash(body) == row["hash"]
    assert leaf_hash(body, row["hash"]).hex() == row["leaf_hash"]
    assert canonical_json(body["payload"]).decode() == row["payload"]
    digest, leaf = seal(
        event_id=row["id"],
        run_id=row["run_id"],
        event_type=row["type"],
        at=row["at"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        payload_json=row["payload"].encode(),
        prev_hash=row["prev_hash"],
    )
    assert (digest, leaf.hex()) == (row["hash"], row["leaf_hash"])


def test_the_legacy_chain_holds_as_rows_and_as_events() -> None:
    rows = legacy_rows()
    assert chain_break(rows) is None  # with the stored leaf hashes
    assert chain_break([r[:10] for r in rows]) is None  # the scoring read: no leaf column
    assert rows_chain_ok([r[:10] for r in rows])
    events = legacy_events()
    assert chain_break(events) is None
    for e in events:
        assert e.body() == body_of(e) and event_hash(e.body()) == e.hash


def _broken(rows: list[tuple[Any, ...]], i: int, column: str, value: Any) -> list[tuple[Any, ...]]:
    k = COLUMNS.index(column)
    out = list(rows)
    out[i] = (*rows[i][:k], value, *rows[i][k + 1 :])
    return out


def test_each_kind_of_break_is_named_with_its_place() -> None:
    rows = legacy_rows()
    i = next(n for n, r in enumerate(rows) if r[8] is not None)  # an event with a predecessor
    eid, seq = rows[i][1], rows[i][0]

    altered = chain_break(_broken(rows, i, "payload", rows[i][7].replace("}", ',"x":1}', 1)))
    assert altered is not None and (altered.event_id, altered.index) == (eid, i)
    assert altered.reason == ALTERED and altered.seq == seq and "altered" in str(altered)

    garbage = chain_break(_broken(rows, i, "payload", "{not json"))
    assert garbage is not None and garbage.reason == UNREADABLE and garbage.event_id == eid

    leaf = chain_break(_broken(rows, i, "leaf_hash", b"\x01" * 32))
    assert leaf is not None and leaf.reason == LEAF and leaf.event_id == eid

    relinked = chain_break(_broken(rows, i, "prev_hash", "0" * 64))
    assert relinked is not None and relinked.event_id == eid
    assert relinked.reason == ALTERED  # the link is hashed: a changed prev_hash is content

    dropped = [r for r in rows if r[9] != rows[i][8]]  # its run's previous event removed
    gap = chain_break(dropped)
    assert gap is not None and gap.reason == UNLINKED and "prev_hash" in str(gap)
    assert gap.event_id == eid

    swapped = list(rows)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    order = chain_break(swapped)
    assert order is not None and order.reason == ORDER and order.index == i + 1


def test_the_events_path_and_the_rows_path_agree_on_a_break() -> None:
    events = legacy_events()
    i = 4
    changed = events[i].model_copy(update={"payload": {**events[i].payload, "x": 1}})
    found = chain_break([*events[:i], changed, *events[i + 1 :]])
    assert found is not None and (found.event_id, found.reason) == (events[i].id, ALTERED)
    rows = legacy_rows()
    payload = canonical_json(changed.payload).decode()
    from_rows = chain_break(_broken(rows, i, "payload", payload))
    assert from_rows is not None and replace(from_rows, detail="") == replace(found, detail="")


def test_links_only_skips_hashing_but_not_links() -> None:
    events = legacy_events()
    changed = events[3].model_copy(update={"payload": {"x": 1}})
    assert chain_break([*events[:3], changed, *events[4:]], links_only=True) is None
    later = next(e for e in events if e.prev_hash is not None)
    without = [e for e in events if e.hash != later.prev_hash]
    found = chain_break(without, links_only=True)
    assert found is not None and (found.reason, found.event_id) == (UNLINKED, later.id)


def test_a_non_canonical_but_equal_stored_payload_still_verifies() -> None:
    """The stored text is hashed as is first; only a mismatch re-encodes the parsed payload."""
    rows = legacy_rows()
    spaced = [
        (*r[:7], json.dumps(orjson.loads(r[7]), indent=1, ensure_ascii=True), *r[8:]) for r in rows
    ]
    assert spaced[0][7] != rows[0][7]
    assert chain_break(spaced) is None


def test_one_altered_event_is_reported_once_and_the_check_goes_on() -> None:
    rows = legacy_rows()
    bad = _broken(rows, 3, "payload", rows[3][7].replace("}", ',"x":1}', 1))
    check = ChainCheck()
    found = [b for b in (check.row(r) for r in bad) if b is not None]
    assert [(b.index, b.reason) for b in found] == [(3, ALTERED)]
    assert check.runs == len({r[2] for r in rows})


_payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    payload=st.dictionaries(st.text(max_size=6), _payloads, max_size=4),
    prev=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    ident=st.text(min_size=1, max_size=12),
)
def test_the_fast_paths_give_the_reference_bytes(
    payload: dict[str, Any], prev: str | None, ident: str
) -> None:
    at = "2026-03-01T09:00:00.5Z"
    body = event_body(ident, "r-" + ident, "tool.called", at, ident, "initiator", payload, prev)
    canon = canonical_json(payload)
    digest, leaf = seal(
        event_id=ident,
        run_id="r-" + ident,
        event_type="tool.called",
        at=at,
        actor_id=ident,
        actor_role="initiator",
        payload_json=canon,
        prev_hash=prev,
    )
    assert digest == event_hash(body)
    assert leaf == leaf_hash(body, digest)
    assert seal_digest(ident, "r-" + ident, "tool.called", at, ident, "initiator", canon, prev) == (
        digest
    )
    row = (0, ident, "r-" + ident, "tool.called", at, ident, "initiator", canon.decode(), prev)
    check = ChainCheck()
    if prev is not None:  # a first event of its run has no predecessor
        check._last["r-" + ident] = prev  # the run's previous event, as if checked before
    assert check.row((*row, digest, leaf)) is None
