"""The cases of issue 12: oversight is judged on substance, impossible records are caught,
policy obligations are scored, and real four-eyes review is not punished."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.actors import Actor, ActorDirectory
from raidt.core.events import EventType, Role
from raidt.core.policy import load_policy
from raidt.core.weakpoints import detect, run_facts
from tests.core._runs import ACTORS, ALL, POLICY_YAML, T0, build_events_in, build_run, seal
from tests.core.test_scoring import score

RANK = ["not_governable", "basic", "managed", "audit_ready"]


def _level(evs: list, **kw: object) -> str:
    return score(evs, **kw).readiness


def test_the_well_run_history_is_audit_ready() -> None:
    assert _level(build_run("ok")) == "audit_ready"


def test_a_click_to_approve_caps_at_basic_and_is_a_rubber_stamp() -> None:
    # approved 6 s after assignment with the checklist ticked in the same seconds
    evs = build_run(
        "fast",
        ALL - {"checklist", "edit"},
        approve_after=6,
        extra=[
            (
                65,
                EventType.CHECKLIST_COMPLETED,
                "u-r1",
                Role.REVIEWER,
                {"items": {"sources_checked": True, "claims_verified": True}},
            )
        ],
    )
    p = score(evs)
    assert RANK.index(p.readiness) <= RANK.index("basic")
    crit = next(c for c in p.criteria if c.id == "interp.substantive-review")
    assert crit.result == "unmet" and "6 s after" in crit.rationale
    assert any("interp.substantive-review" in r for r in p.readiness_reasons)
    facts = run_facts(evs, policy=score.__globals__["POLICY"], actors=ACTORS)
    assert facts.rubber_stamp
    assert any(w["kind"] == "rubber_stamp" for w in detect([facts]))


def test_no_assignment_system_reviewer_and_unassigned_approver_are_not_oversight() -> None:
    no_assign = build_run("na", ALL - {"assign"})
    assert RANK.index(_level(no_assign)) <= RANK.index("basic")
    robot = ActorDirectory.of([*ACTORS.actors.values(), Actor(id="u-r1", kind="system")])
    assert RANK.index(_level(build_run("sys"), actors=robot)) <= RANK.index("basic")
    # assigned u-r1; u-r2 approves instead
    evs = build_events_in("swap", ALL)
    for e in evs:
        if e.type is EventType.REVIEW_APPROVED:
            object.__setattr__(e, "actor", e.actor.model_copy(update={"id": "u-r2"}))
    assert RANK.index(_level(seal(evs))) <= RANK.index("basic")


def test_impossible_chronologies_cap_at_basic() -> None:
    # a close 48 h before the start
    evs = build_events_in("early", ALL)
    for e in evs:
        if e.type is EventType.RUN_CLOSED:
            object.__setattr__(e, "at", T0 - timedelta(hours=48))
    p = score(seal(evs))
    assert RANK.index(p.readiness) <= RANK.index("basic")
    sla = next(c for c in p.criteria if c.id == "dep.closed-within-sla")
    assert sla.result == "unmet" and "-48" not in sla.rationale
    # an approval dated before the output it decides on
    evs = build_events_in("before", ALL)
    for e in evs:
        if e.type is EventType.MODEL_RESPONDED:
            object.__setattr__(e, "at", T0 + timedelta(seconds=800))
    assert RANK.index(_level(seal(evs))) <= RANK.index("basic")
    # events dated after they were sealed
    future = score(build_run("fut"), recorded_by=T0 - timedelta(hours=1))
    assert next(c for c in future.criteria if c.id == "audit.chronology").result == "unmet"


def test_escalation_triggers_are_scored() -> None:
    policy = load_policy(
        POLICY_YAML + "escalation: {triggers: ['risk_level:high'], owner_role: escalation_owner}\n",
        "p.yaml",
    )
    without = score(build_run("esc"), policy=policy)
    crit = next(c for c in without.criteria if c.id == "resp.escalations")
    assert crit.result == "unmet" and RANK.index(without.readiness) <= RANK.index("basic")
    with_esc = build_run(
        "esc2",
        extra=[
            (
                600,
                EventType.ESCALATION_RAISED,
                "u-r1",
                Role.REVIEWER,
                {"reason": "high risk", "owner": {"id": "u-p1", "role": "escalation_owner"}},
            ),
            (
                650,
                EventType.ESCALATION_RESOLVED,
                "u-p1",
                Role.ESCALATION_OWNER,
                {"resolution": "checked"},
            ),
        ],
    )
    done = score(with_esc, policy=policy)
    assert next(c for c in done.criteria if c.id == "resp.escalations").result == "met"


def test_four_eyes_sign_off_in_the_roles_acted_is_not_a_duties_clash() -> None:
    evs = build_run(
        "four",
        extra=[
            (850, EventType.SIGNOFF_RECORDED, "u-r1", Role.REVIEWER, {"role": "reviewer"}),
        ],
    )
    p = score(evs)
    sod = next(c for c in p.criteria if c.id == "resp.reviewer-distinct")
    assert sod.result == "met", sod.rationale
    assert p.readiness == "audit_ready"


def test_a_draft_withdrawn_before_use_needs_no_reviewer() -> None:
    evs = build_events_in(
        "wd", {"prompt", "invoke", "respond", "purpose", "data_context", "template_on_start"}
    )
    evs += build_events_in("wd", {"close"})[1:]
    for e in evs:
        if e.type is EventType.RUN_CLOSED:
            object.__setattr__(e, "payload", {"disposition": "withdrawn", "reason": "not needed"})
            object.__setattr__(e, "actor", e.actor.model_copy(update={"id": "u-a1"}))
    sealed = seal(evs)
    p = score(sealed)
    assert p.readiness != "not_governable", p.readiness_reasons
    facts = run_facts(sealed, policy=score.__globals__["POLICY"], actors=ACTORS)
    assert not facts.missing_reviewer


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=119), st.sampled_from(["assign", "none"]))
def test_no_nominal_review_reaches_managed(seconds: int, assignment: str) -> None:
    pieces = ALL - {"checklist", "edit", "guidance"} if assignment == "none" else ALL
    if assignment == "none":
        pieces = pieces - {"assign"}
    evs = build_run("prop", pieces, approve_after=seconds)
    assert RANK.index(_level(evs)) < RANK.index("managed")


@pytest.mark.parametrize("piece", ["assign", "checklist", "edit", "guidance", "signoff"])
def test_truthful_oversight_evidence_never_lowers_readiness(piece: str) -> None:
    base = build_run("b", ALL - {piece})
    more = build_run("b", ALL)
    assert RANK.index(_level(more)) >= RANK.index(_level(base))
