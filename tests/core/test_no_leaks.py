"""The scoring and hashing hot paths give back every byte they allocate.

These functions run millions of times per bulk pass or import, and the build that compiles
them (``make test-compiled``) once leaked: mypyc's compiled ``bytes + bytes`` kept each
intermediate result alive, about 4 KB per sealed event, which ran a million-run import out
of memory. tracemalloc sees allocations made from compiled code too, so each test repeats a
call a few thousand times and allows at most a few bytes per call of growth (memo tables
are warmed first: the same inputs are used on every round).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import orjson

from raidt.core.checks import RunEvidence
from raidt.core.hashing import leaf_hash, rows_chain_ok, seal, seal_digest
from raidt.core.scoring import compact_profile, evaluate, expand_stored
from raidt.core.weakpoints import run_facts, weak_keys
from tests.core._runs import POLICY, build_run
from tests.core.test_scoring import ACTORS, RUBRIC

ROUNDS = 3000
#: allowed growth for ROUNDS calls (a leak of even 40 bytes a call shows)
LIMIT = 120_000

EVENTS = build_run("leak-1")
ROWS = [
    (
        e.seq,
        e.id,
        e.run_id,
        e.type.value,
        e.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        e.actor.id,
        e.actor.role.value,
        orjson.dumps(e.payload, option=orjson.OPT_SORT_KEYS).decode(),
        e.prev_hash,
        e.hash,
    )
    for e in EVENTS
]


def growth(fn: Callable[[], object]) -> int:
    """Bytes still allocated after ROUNDS more calls of ``fn`` than before them."""
    fn()
    fn()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(ROUNDS):
            fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_sealing_an_event_keeps_nothing() -> None:
    def one() -> object:
        return seal(
            event_id="e" * 36,
            run_id="r" * 36,
            event_type="run.started",
            at="2025-06-01T10:00:00Z",
            actor_id="u-a1",
            actor_role="initiator",
            payload_json=b'{"purpose":"' + b"x" * 300 + b'"}',
            prev_hash="p" * 64,
        )

    assert growth(one) < LIMIT


def test_rehashing_stored_rows_keeps_nothing() -> None:
    assert rows_chain_ok(ROWS)  # the rows are the real sealed run
    assert growth(lambda: rows_chain_ok(ROWS)) < LIMIT
    r = ROWS[0]
    assert growth(lambda: seal_digest(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])) < LIMIT
    assert growth(lambda: leaf_hash({"a": 1}, "h" * 64)) < LIMIT


def test_scoring_a_run_keeps_nothing() -> None:
    def one() -> object:
        ev = RunEvidence.from_rows(ROWS)
        scored = evaluate(ev, policy=POLICY, rubric=RUBRIC, actors=ACTORS)
        facts = run_facts(ev, policy=POLICY)
        stored = orjson.loads(orjson.dumps(scored.stored()))
        full = expand_stored(stored, RUBRIC)
        return compact_profile(full), weak_keys(facts), facts.to_json()

    assert growth(one) < LIMIT
