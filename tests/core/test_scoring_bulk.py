"""The bulk-scoring shortcuts equal the plain definitions they stand in for."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.aggregate import RollupAccumulator, merge, rollup_rows
from raidt.core.canonical import canonical_json
from raidt.core.checks import EvidenceEvent, RunEvidence
from raidt.core.hashing import event_hash, seal, seal_digest
from raidt.core.rubric import load_rubric
from raidt.core.scoring import STORED_FORMAT, compact_profile, evaluate, expand_stored
from raidt.core.weakpoints import (
    cross_run_keys,
    detect,
    run_facts,
    summarise_counts,
    timeline_of,
    weak_keys,
)
from raidt.services.scoring import default_rubric_text
from tests.core._runs import ALL, POLICY, T0, build_run
from tests.core.test_scoring import ACTORS, RUBRIC, score

OPTIONAL = sorted(ALL)
#: what a check can read of an evidence event (``at`` is parsed on first use)
#: (spelled out: a class compiled by mypyc has no ``__slots__`` to read them from)
_FIELDS = ["actor", "at", "at_text", "hash", "id", "payload", "prev_hash", "run_id", "seq", "type"]


def _runs(spec: list[tuple[frozenset[str], int, int, bool]]) -> list[list[EvidenceEvent]]:
    out = []
    for i, (pieces, team, day, self_review) in enumerate(spec):
        evs = build_run(
            f"r-{i:03d}",
            pieces,
            team=f"team-{team}",
            reviewer="u-a1" if self_review else f"u-r{team % 2 + 1}",
            t0=T0 + timedelta(days=day),
        )
        out.append([EvidenceEvent.of(e) for e in evs])
    return out


run_specs = st.lists(
    st.tuples(
        st.frozensets(st.sampled_from(OPTIONAL)),
        st.integers(0, 2),
        st.integers(0, 70),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(run_specs)
def test_rollup_accumulator_equals_merged_rows(
    spec: list[tuple[frozenset[str], int, int, bool]],
) -> None:
    acc = RollupAccumulator(max_vectors=3)  # small, so folding is exercised too
    rows = []
    for evs in _runs(spec):
        p = score(evs)  # type: ignore[arg-type]
        f = run_facts(evs, policy=POLICY)
        acc.add(
            p.run,
            p.readiness,
            p.pillars,
            tuple(c.id for c in p.criteria),
            tuple(c.result for c in p.criteria),
            [c.obligations for c in p.criteria],
            f.reviewers,
        )
        rows += rollup_rows(p.to_json(), f.reviewers)
    want = {k: (r.runs, r.sums) for k, r in merge(rows).items()}
    got = {k: (r.runs, r.sums) for k, r in merge(acc.rows()).items()}
    assert got == want


@settings(max_examples=40, deadline=None)
@given(run_specs)
def test_weakpoint_summary_equals_detect(spec: list[tuple[frozenset[str], int, int, bool]]) -> None:
    facts = [run_facts(evs, policy=POLICY, actors=ACTORS) for evs in _runs(spec)]
    counts: Counter[tuple[str, str, str]] = Counter()
    for f in facts:
        counts.update(weak_keys(f))
    counts.update(key for key, _, _ in cross_run_keys([timeline_of(f) for f in facts]))
    summary = summarise_counts(counts)
    full = detect(facts)
    assert [(w["kind"], w["scope"], w["runs"]) for w in summary] == [
        (w["kind"], w["scope"], len(w["run_ids"])) for w in full
    ]
    assert [w["detail"] for w in summary] == [w["detail"] for w in full]


def test_evidence_event_from_row_equals_converted_event() -> None:
    for e in build_run("r-row"):
        row = EvidenceEvent.from_row(
            e.seq,
            e.id,
            e.run_id,
            e.type.value,
            e.at_text,
            e.actor.id,
            e.actor.role.value,
            e.payload,
            e.prev_hash,
            e.hash,
        )
        want = EvidenceEvent.of(e)
        assert {k: getattr(row, k) for k in _FIELDS} == {k: getattr(want, k) for k in _FIELDS}
    ev = RunEvidence(build_run("r-mixed"))
    assert all(isinstance(e, EvidenceEvent) for e in ev.events)


_text = st.text(max_size=12)


@given(
    fields=st.tuples(_text, _text, _text, _text, _text, _text),
    payload=st.dictionaries(
        _text, st.one_of(_text, st.integers(-(2**53) + 1, 2**53 - 1), st.none()), max_size=3
    ),
    prev=st.one_of(st.none(), _text),
)
@settings(max_examples=200, deadline=None)
def test_seal_digest_equals_seal_and_event_hash(
    fields: tuple[str, str, str, str, str, str], payload: dict[str, object], prev: str | None
) -> None:
    eid, rid, etype, at, actor_id, role = fields
    canonical = canonical_json(payload)
    digest, _leaf = seal(
        event_id=eid,
        run_id=rid,
        event_type=etype,
        at=at,
        actor_id=actor_id,
        actor_role=role,
        payload_json=canonical,
        prev_hash=prev,
    )
    body = {
        "id": eid,
        "run_id": rid,
        "type": etype,
        "at": at,
        "actor": {"id": actor_id, "role": role},
        "payload": payload,
        "prev_hash": prev,
    }
    assert digest == event_hash(body)
    for given_payload in (canonical, canonical.decode()):
        assert seal_digest(eid, rid, etype, at, actor_id, role, given_payload, prev) == digest


@settings(max_examples=40, deadline=None)
@given(run_specs)
def test_stored_form_expands_to_the_full_profile(
    spec: list[tuple[frozenset[str], int, int, bool]],
) -> None:
    for evs in _runs(spec):
        scored = evaluate(evs, policy=POLICY, rubric=RUBRIC, actors=ACTORS)
        full = scored.profile().to_json()
        # through JSON, as the store keeps it
        stored = orjson.loads(orjson.dumps(scored.stored()))
        assert stored["format"] == STORED_FORMAT
        assert expand_stored(stored, RUBRIC) == full
        assert canonical_json(expand_stored(stored, RUBRIC)) == scored.profile().canonical()
        assert expand_stored(orjson.loads(orjson.dumps(compact_profile(full))), RUBRIC) == full
        assert orjson.loads(orjson.dumps(compact_profile(full))) == stored
        assert len(orjson.dumps(stored)) < 0.6 * len(orjson.dumps(full))
        # each cited event id is written once
        assert len(stored["cited"]) == len(set(stored["cited"]))
        assert set(stored["cited"]) == {e for c in full["criteria"] for e in c["evidence"]}


def test_stored_form_refuses_another_rubric_and_passes_full_profiles_through() -> None:
    evs = _runs([(frozenset(OPTIONAL), 0, 0, False)])[0]
    scored = evaluate(evs, policy=POLICY, rubric=RUBRIC, actors=ACTORS)
    other = load_rubric(
        default_rubric_text().replace('version: "2"', 'version: "3"', 1), "other.yaml"
    )
    with pytest.raises(ValueError, match=r"scored with rubric raidt-default@2, not .*@3"):
        expand_stored(orjson.loads(orjson.dumps(scored.stored())), other)
    short = orjson.loads(orjson.dumps(scored.stored()))
    short["criteria"].pop()
    n = len(RUBRIC.criteria)
    with pytest.raises(ValueError, match=f"has {n - 1} criteria; rubric raidt-default@2 has {n}"):
        expand_stored(short, RUBRIC)
    full = scored.profile().to_json()
    assert expand_stored(full, other) is full  # written before the compact form existed
    for bad in (-1, len(scored.stored()["cited"]), "0"):
        forged = orjson.loads(orjson.dumps(scored.stored()))
        forged["criteria"][0][2] = [bad]
        with pytest.raises(ValueError, match="cites evidence outside its list"):
            expand_stored(forged, RUBRIC)


def test_format_2_rows_written_before_the_cited_list_still_expand() -> None:
    """Stores scored before format 3 keep their rows until the next rescore."""
    evs = _runs([(frozenset(OPTIONAL), 0, 0, False)])[0]
    scored = evaluate(evs, policy=POLICY, rubric=RUBRIC, actors=ACTORS)
    full = scored.profile().to_json()
    old = {k: v for k, v in full.items()}
    old["format"] = 2
    old["criteria"] = [[c["result"], c["rationale"], c["evidence"]] for c in full["criteria"]]
    assert expand_stored(orjson.loads(orjson.dumps(old)), RUBRIC) == full
