"""Scoring: properties of the profile, readiness, determinism, rubric loading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.checks import CHECKS, Comparables
from raidt.core.events import Event, EventType, Role
from raidt.core.rubric import Readiness, load_rubric
from raidt.core.scoring import ScoreProfile, score_run
from raidt.core.yamldoc import YamlDocumentError
from raidt.services.scoring import default_rubric_text
from tests.core._runs import ACTORS, ALL, POLICY, build_run, seal

RUBRIC = load_rubric(default_rubric_text(), "raidt-default-2.yaml")
LEVELS = [lv.value for lv in Readiness]


def score(events: list[Event], **kw: object) -> ScoreProfile:
    args: dict[str, object] = {"policy": POLICY, "rubric": RUBRIC, "actors": ACTORS}
    args.update(kw)
    return score_run(events, **args)  # type: ignore[arg-type]


def test_default_rubric_shape() -> None:
    assert RUBRIC.id == "raidt-default" and RUBRIC.version == "2"
    for pillar, items in RUBRIC.pillars.items():
        assert 4 <= len(items) <= 7, pillar
        for c in items:
            assert c.check in CHECKS
            assert any(o.startswith("R") and o[1:].isdigit() for o in c.obligations), c.id
            assert any(not o.startswith("R") for o in c.obligations), c.id


def test_profile_shape_matches_design() -> None:
    p = score(build_run("r-shape")).to_json()
    assert set(p) >= {
        "run_id",
        "readiness",
        "pillars",
        "criteria",
        "rubric",
        "policy",
        "inputs",
        "readiness_reasons",
        "human",
    }
    assert list(p["pillars"]) == [
        "responsibility",
        "auditability",
        "interpretability",
        "dependability",
        "traceability",
    ]
    assert all(isinstance(v, int) and 0 <= v <= 100 for v in p["pillars"].values())
    for c in p["criteria"]:
        assert {"id", "pillar", "result", "rationale", "evidence"} <= set(c)
        assert c["result"] in ("met", "partial", "unmet", "not_applicable")
    assert p["rubric"] == {"id": "raidt-default", "version": "2", "sha256": RUBRIC.content_hash}
    assert p["policy"]["sha256"] == POLICY.content_hash


def test_well_run_is_audit_ready_and_cites_events() -> None:
    events = build_run("r-good")
    p = score(events)
    assert p.readiness == "audit_ready"
    ids = {e.id for e in events}
    for c in p.criteria:
        assert set(c.evidence) <= ids
        if c.result == "met":
            assert c.evidence, c.id


@settings(max_examples=60, deadline=None)
@given(base=st.sets(st.sampled_from(sorted(ALL))), piece=st.sampled_from(sorted(ALL)))
def test_adding_required_evidence_never_lowers_the_score(base: set[str], piece: str) -> None:
    before = score(build_run("r-p", base - {piece}))
    after = score(build_run("r-p", base | {piece}))
    for pillar, value in before.pillars.items():
        assert after.pillars[pillar] >= value, (piece, pillar, before.to_json())
    assert LEVELS.index(after.readiness) >= LEVELS.index(before.readiness)


@settings(max_examples=30, deadline=None)
@given(base=st.sets(st.sampled_from(sorted(ALL))))
def test_removing_the_reviewer_lowers_responsibility(base: set[str]) -> None:
    pieces = base | {"assign", "approve"}
    with_reviewer = score(build_run("r-rev", pieces))
    events = [
        e
        for e in build_run("r-rev", pieces)
        if e.actor.id != "u-r1" and e.type is not EventType.REVIEW_ASSIGNED
    ]
    without = score(seal(_unseal(events)))
    assert without.pillars["responsibility"] < with_reviewer.pillars["responsibility"]
    assert without.result_of("resp.reviewer-distinct") == "unmet"


def _unseal(events: list[Event]) -> list[object]:
    from raidt.core.events import EventIn

    return [
        EventIn(run_id=e.run_id, type=e.type, at=e.at, actor=e.actor, payload=e.payload, id=e.id)
        for e in events
    ]


@settings(max_examples=20, deadline=None)
@given(base=st.sets(st.sampled_from(sorted(ALL))), which=st.integers(min_value=1))
def test_a_broken_chain_is_not_governable(base: set[str], which: int) -> None:
    events = build_run("r-chain", base)
    assert score(events, chain_ok=False).readiness == "not_governable"
    if len(events) > 2:  # drop one event from the middle: the chain no longer links
        i = 1 + which % (len(events) - 2)
        gapped = events[:i] + events[i + 1 :]
        p = score(gapped)
        assert p.readiness == "not_governable"
        assert any("broken" in r for r in p.readiness_reasons)
    tampered = list(events)
    tampered[0] = events[0].model_copy(update={"prev_hash": "0" * 64})
    assert score(tampered).readiness == "not_governable"


@settings(max_examples=20, deadline=None)
@given(base=st.sets(st.sampled_from(sorted(ALL))))
def test_scoring_is_deterministic(base: set[str]) -> None:
    events = build_run("r-det", base)
    comp = Comparables(
        use_case="briefing-test",
        policy_version="1",
        runs=7,
        model={"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
        template={"id": "briefing", "version": "2"},
    )
    a = score(events, comparables=comp, as_of=datetime(2026, 4, 1, tzinfo=UTC))
    b = score(list(reversed(events)), comparables=comp, as_of="2026-04-01T00:00:00Z")
    assert a.canonical() == b.canonical()
    assert ScoreProfile.from_json(a.to_json()).canonical() == a.canonical()


def test_unknown_policy_is_said_and_caps_readiness() -> None:
    p = score(build_run("r-nopol"), policy=None)
    assert p.policy is None
    assert "unknown" in next(c for c in p.criteria if c.id == "interp.approved-template").rationale
    assert p.readiness in ("not_governable", "basic")


def test_open_run_past_sla_is_unmet_only_with_a_judging_time() -> None:
    events = build_run("r-open", ALL - {"close", "downstream"})
    assert score(events).result_of("dep.closed-within-sla") == "not_applicable"
    late = score(events, as_of=datetime(2026, 3, 10, tzinfo=UTC))
    assert late.result_of("dep.closed-within-sla") == "unmet"
    assert late.inputs["as_of"] == "2026-03-10T00:00:00Z"


def test_config_drift_against_comparables() -> None:
    comp = Comparables(
        use_case="briefing-test",
        policy_version="1",
        runs=10,
        model={"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
        template={"id": "briefing", "version": "2"},
    )
    same = score(build_run("r-c1"), comparables=comp)
    drift = score(build_run("r-c2", temperature=0.4), comparables=comp)
    assert same.result_of("dep.consistent-with-comparables") == "met"
    assert drift.result_of("dep.consistent-with-comparables") == "partial"
    assert drift.inputs["comparables"]["runs"] == 10


def test_human_assessments_and_challenges_sit_beside_the_automated_result() -> None:
    extra = [
        (
            1200,
            EventType.ASSESSMENT_RECORDED,
            "u-p1",
            Role.ASSESSOR,
            {
                "criterion": "interp.substantive-review",
                "result": "unmet",
                "rationale": "the edit was cosmetic",
            },
        ),
        (
            1300,
            EventType.CHALLENGE_RAISED,
            "u-b2",
            Role.AFFECTED,
            {"subject": "run", "reason": "wrong figures"},
        ),
        (
            1400,
            EventType.CHALLENGE_RESOLVED,
            "u-p1",
            Role.ASSESSOR,
            {"subject": "run", "resolution": "figures corrected in v2"},
        ),
    ]
    p = score(build_run("r-human", extra=extra))
    assert p.result_of("interp.substantive-review") == "met"  # not replaced
    [a] = p.human["assessments"]
    assert a["result"] == "unmet" and a["automated_result"] == "met"
    [c] = p.human["challenges"]
    assert c["status"] == "resolved" and c["resolution"] == "figures corrected in v2"


def test_bad_rubric_is_refused_with_line_and_field() -> None:
    text = default_rubric_text().replace("check: approved_model", "check: no_such_check")
    with pytest.raises(YamlDocumentError) as exc:
        load_rubric(text, "bad.yaml")
    assert "bad.yaml:" in exc.value.diagnostic() and "no_such_check" in exc.value.diagnostic()
    text = default_rubric_text().replace(
        "weight: 2\n      critical: true\n      obligations: [R2",
        "weight: -1\n      critical: true\n      obligations: [R2",
    )
    with pytest.raises(YamlDocumentError) as exc2:
        load_rubric(text, "neg.yaml")
    assert exc2.value.field and "weight" in exc2.value.field
    assert exc2.value.line is not None and exc2.value.line > 1


def test_profile_records_the_directory_entries_it_was_judged_against() -> None:
    from raidt.core.actors import Actor, ActorDirectory

    events = build_run("r-actors")
    digest = score(events).inputs["actors"]["sha256"]
    entries = dict(ACTORS.actors)
    # what does not change the entries of the run's actors keeps the digest ...
    outsider = Actor(id="u-zz", roles=["reviewer"], team="team-z")
    renamed = entries["u-r1"].model_copy(update={"display_name": "Dr R. One"})
    for same in (
        ActorDirectory(actors={**entries, "u-zz": outsider}),
        ActorDirectory(actors={**entries, "u-r1": renamed}),  # display names are withheld
    ):
        assert score(events, actors=same).inputs["actors"]["sha256"] == digest
    # ... a changed entry of one of them changes it, even where no verdict moves
    moved = entries["u-r1"].model_copy(update={"team": "team-b"})
    other = score(events, actors=ActorDirectory(actors={**entries, "u-r1": moved}))
    assert other.inputs["actors"]["sha256"] != digest
    assert [c.result for c in other.criteria] == [c.result for c in score(events).criteria]
