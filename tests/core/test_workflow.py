"""The pure workflow rules: state machine, separation of duties, review, sign-off, close."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from raidt.core.actors import Actor, Qualification
from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.policy import (
    ApprovedModel,
    ApprovedTemplate,
    EscalationRule,
    Guidance,
    ParamBound,
    Policy,
    ReviewRule,
    RoleRule,
)
from raidt.core.projection import RunState
from raidt.core.workflow import (
    allowed_next,
    check_approve,
    check_assessor,
    check_challenge_resolver,
    check_downstream,
    check_escalation_owner,
    check_escalation_resolver,
    check_model,
    check_qualified,
    check_reviewer_acting,
    check_separation,
    check_signoff,
    check_template,
    check_transition,
    escalation_required,
    missing_for_approval,
    missing_for_close,
    run_facts,
)
from raidt.errors import PolicyViolation, WorkflowError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
E = EventType

POLICY = Policy(
    id="credit-memo",
    version="3",
    title="Credit memo drafting",
    approved_templates=[ApprovedTemplate(id="memo", version="2")],
    approved_models=[
        ApprovedModel(
            provider="openai",
            model="gpt-4o",
            parameters={"temperature": ParamBound(min=0, max=0.5)},
        )
    ],
    roles=RoleRule(
        separation_of_duties=[("initiator", "reviewer"), ("reviewer", "approver")],
        qualifications={"reviewer": "credit-review"},
    ),
    review=ReviewRule(
        min_seconds=120,
        checklist=["figures checked", "sources cited"],
        guidance=Guidance(id="g-memo", version="1", text="Check every figure."),
    ),
    mandatory_fields=["purpose", "risk_level", "reviewer", "disposition", "loan_ref"],
    escalation=EscalationRule(triggers=["override", "risk_level:high"]),
    signoff={"high": ["approver"], "medium": ["approver"]},
    downstream_allowed=["loan-file"],
)


def ev(type_: EventType, actor: str, as_: str, secs: float = 0, **payload: Any) -> EventIn:
    return EventIn(
        run_id="r1",
        type=type_,
        at=T0 + timedelta(seconds=secs),
        actor=ActorRef(id=actor, role=Role(as_)),
        payload=payload,
    )


def started(risk: str = "medium", **extra: Any) -> list[EventIn]:
    return [
        ev(
            E.RUN_STARTED,
            "u-init",
            "initiator",
            0,
            use_case="credit-memo",
            team="sme",
            purpose="memo",
            risk_level=risk,
            template={"id": "memo", "version": "2"},
            **extra,
        )
    ]


def assigned(risk: str = "medium", at: float = 10) -> list[EventIn]:
    return [
        *started(risk),
        ev(
            E.REVIEW_ASSIGNED,
            "u-init",
            "initiator",
            at,
            reviewer={"id": "u-rev", "role": "reviewer"},
        ),
    ]


def reviewed(risk: str = "medium") -> list[EventIn]:
    return [
        *assigned(risk),
        ev(
            E.GUIDANCE_ACKNOWLEDGED,
            "u-rev",
            "reviewer",
            20,
            guidance={"id": "g-memo", "version": "1"},
        ),
        ev(
            E.CHECKLIST_COMPLETED,
            "u-rev",
            "reviewer",
            100,
            items={"figures checked": True, "sources cited": True},
        ),
    ]


def approved(risk: str = "medium") -> list[EventIn]:
    return [*reviewed(risk), ev(E.REVIEW_APPROVED, "u-rev", "reviewer", 200)]


def qualified(
    actor_id: str,
    name: str = "credit-review",
    until: date | None = None,
    roles: list[str] | None = None,
) -> Actor:
    return Actor(
        id=actor_id,
        roles=roles or ["reviewer"],
        qualifications=[Qualification(name=name, valid_from=date(2025, 1, 1), valid_until=until)],
    )


# --- state machine -----------------------------------------------------------------------


def test_a_run_must_start_before_anything_else() -> None:
    state = RunState(run_id="r9")
    assert allowed_next(state) == [E.RUN_STARTED]
    with pytest.raises(WorkflowError, match="r9 has not been started; start it first"):
        check_transition(state, E.REVIEW_APPROVED)


def test_approving_before_assignment_says_what_is_allowed_next() -> None:
    f = run_facts(started())
    assert f.state.status == "started"
    with pytest.raises(WorkflowError) as exc:
        check_transition(f.state, E.REVIEW_APPROVED)
    msg = exc.value.diagnostic()
    assert "run r1 is started: cannot approve" in msg
    assert "allowed next:" in msg and "assign reviewer" in msg
    assert "review.assigned" in exc.value.details["allowed"]


def test_escalated_run_cannot_be_approved_until_resolved() -> None:
    events = [
        *assigned(),
        ev(
            E.ESCALATION_RAISED,
            "u-rev",
            "reviewer",
            30,
            reason="x",
            owner={"id": "u-boss", "role": "escalation_owner"},
        ),
    ]
    f = run_facts(events)
    with pytest.raises(
        WorkflowError,
        match=r"escalated \(1 open escalation\(s\) must be "
        r"resolved first\): cannot approve",
    ):
        check_transition(f.state, E.REVIEW_APPROVED)
    assert E.ESCALATION_RESOLVED in allowed_next(f.state)


def test_closed_run_only_takes_downstream_challenges_and_assessments() -> None:
    events = [*approved(), ev(E.RUN_CLOSED, "u-init", "initiator", 300, disposition="accepted")]
    state = run_facts(events).state
    assert set(allowed_next(state)) == {
        E.DOWNSTREAM_USED,
        E.CHALLENGE_RAISED,
        E.ASSESSMENT_RECORDED,
    }
    with pytest.raises(WorkflowError, match="is closed: cannot edit output"):
        check_transition(state, E.OUTPUT_EDITED)


def test_challenge_resolution_is_allowed_only_while_one_is_open() -> None:
    events = [
        *started(),
        ev(
            E.CHALLENGE_RAISED,
            "p-1",
            "affected",
            5,
            subject="run",
            reason="wrong figures",
            owner={"id": "u-boss", "role": "escalation_owner"},
        ),
    ]
    assert E.CHALLENGE_RESOLVED not in allowed_next(run_facts(started()).state)
    assert E.CHALLENGE_RESOLVED in allowed_next(run_facts(events).state)


# --- who may act -------------------------------------------------------------------------


def test_initiator_cannot_review_approve_or_sign_off_own_run() -> None:
    f = run_facts(started())
    for role in ("reviewer", "approver", "signoff"):
        with pytest.raises(
            PolicyViolation, match=f"u-init started run r1 and cannot act as its {role}"
        ):
            check_separation(f, POLICY, "u-init", role)


def test_policy_pairs_keep_reviewer_and_approver_apart() -> None:
    f = run_facts(approved())
    with pytest.raises(
        PolicyViolation,
        match="u-rev already acted as reviewer on run r1; "
        "policy credit-memo@3 forbids also acting as "
        "approver",
    ):
        check_separation(f, POLICY, "u-rev", "approver")
    check_separation(f, POLICY, "u-boss", "approver")  # someone else may


def test_reviewer_qualification_must_be_valid_on_the_run_date() -> None:
    on = T0
    check_qualified(POLICY, "reviewer", "u-rev", qualified("u-rev"), on)
    with pytest.raises(PolicyViolation, match="not in the actor directory"):
        check_qualified(POLICY, "reviewer", "u-x", None, on)
    expired = qualified("u-old", until=date(2026, 2, 28))
    with pytest.raises(
        PolicyViolation,
        match=r"does not hold qualification 'credit-review' "
        r"valid on 2026-03-01; theirs is valid "
        r"2025-01-01\.\.2026-02-28",
    ):
        check_qualified(POLICY, "reviewer", "u-old", expired, on)
    with pytest.raises(PolicyViolation, match="does not hold qualification"):
        check_qualified(POLICY, "reviewer", "u-z", qualified("u-z", name="other"), on)
    check_qualified(POLICY, "initiator", "u-x", None, on)  # no qualification asked


def test_only_assigned_reviewers_act_as_reviewers() -> None:
    f = run_facts(assigned())
    check_reviewer_acting(f, "u-rev", "approve")
    with pytest.raises(
        PolicyViolation,
        match=r"u-other is not an assigned reviewer of run r1 "
        r"and cannot approve \(assigned: u-rev\)",
    ):
        check_reviewer_acting(f, "u-other", "approve")


def test_minimum_review_time_checklist_and_guidance_before_approve() -> None:
    f = run_facts(assigned())
    missing = missing_for_approval(f, POLICY, "u-rev", T0 + timedelta(seconds=40))
    assert missing == [
        "minimum review time: 30 s since assignment, policy asks at least 120 s (90 s more)",
        "checklist item 'figures checked'",
        "checklist item 'sources cited'",
        "acknowledgement of reviewer guidance g-memo@1",
    ]
    with pytest.raises(PolicyViolation, match="cannot approve run r1 yet; missing: minimum"):
        check_approve(f, POLICY, "u-rev", T0 + timedelta(seconds=40))
    done = run_facts(reviewed())
    check_approve(done, POLICY, "u-rev", T0 + timedelta(seconds=130))
    assert missing_for_approval(done, POLICY, "u-rev", T0 + timedelta(seconds=129)) == [
        "minimum review time: 119 s since assignment, policy asks at least 120 s (1 s more)"
    ]


def test_a_checklist_item_marked_false_is_not_done() -> None:
    events = [
        *assigned(),
        ev(
            E.CHECKLIST_COMPLETED,
            "u-rev",
            "reviewer",
            20,
            items={"figures checked": False, "sources cited": True},
        ),
    ]
    missing = missing_for_approval(run_facts(events), POLICY, "u-rev", T0 + timedelta(hours=1))
    assert "checklist item 'figures checked'" in missing
    assert "checklist item 'sources cited'" not in missing


def test_signoff_by_the_role_the_risk_level_asks_for() -> None:
    f = run_facts(approved("medium"))
    boss = Actor(id="u-boss", roles=["approver"])
    check_signoff(f, POLICY, "u-boss", "approver", boss)
    with pytest.raises(
        PolicyViolation,
        match="asks sign-off at risk level medium from: approver; not from role escalation_owner",
    ):
        check_signoff(f, POLICY, "u-boss", "escalation_owner", boss)
    with pytest.raises(PolicyViolation, match="u-clerk does not hold role approver"):
        check_signoff(f, POLICY, "u-clerk", "approver", Actor(id="u-clerk", roles=["reviewer"]))
    with pytest.raises(PolicyViolation, match="u-init started run r1"):
        check_signoff(f, POLICY, "u-init", "approver", None)
    with pytest.raises(PolicyViolation, match="u-rev already acted as reviewer"):
        check_signoff(f, POLICY, "u-rev", "approver", None)
    low = run_facts(approved("low"))
    with pytest.raises(PolicyViolation, match="at risk level low from: no sign-off at all"):
        check_signoff(low, POLICY, "u-boss", "approver", boss)
    twice = run_facts(
        [*approved(), ev(E.SIGNOFF_RECORDED, "u-boss", "approver", 250, role="approver")]
    )
    with pytest.raises(PolicyViolation, match="already has the approver sign-off"):
        check_signoff(twice, POLICY, "u-boss2", "approver", None)


def test_escalation_owner_and_resolver() -> None:
    f = run_facts(assigned())
    with pytest.raises(PolicyViolation, match="u-init started run r1 and cannot own"):
        check_escalation_owner(f, POLICY, "u-init", None)
    with pytest.raises(PolicyViolation, match="does not hold role escalation_owner"):
        check_escalation_owner(f, POLICY, "u-x", Actor(id="u-x", roles=["reviewer"]))
    check_escalation_owner(f, POLICY, "u-boss", Actor(id="u-boss", roles=["escalation_owner"]))
    with pytest.raises(WorkflowError, match="has no open escalation to resolve"):
        check_escalation_resolver(f, "u-boss")
    esc = run_facts(
        [
            *assigned(),
            ev(
                E.ESCALATION_RAISED,
                "u-rev",
                "reviewer",
                30,
                reason="?",
                owner={"id": "u-boss", "role": "escalation_owner"},
            ),
        ]
    )
    with pytest.raises(
        PolicyViolation,
        match=r"u-rev does not own an open escalation of run "
        r"r1 \(owner: u-boss\)",
    ):
        check_escalation_resolver(esc, "u-rev")
    assert check_escalation_resolver(esc, "u-boss")["reason"] == "?"


def test_challenge_resolver_and_assessor() -> None:
    raised = [
        *approved(),
        ev(
            E.CHALLENGE_RAISED,
            "p-1",
            "affected",
            400,
            subject="R1",
            reason="unfair",
            owner={"id": "u-boss", "role": "escalation_owner"},
        ),
    ]
    f = run_facts(raised)
    with pytest.raises(WorkflowError, match=r"no open challenge on 'run' \(open: R1\)"):
        check_challenge_resolver(f, "u-boss", "run")
    with pytest.raises(PolicyViolation, match="u-rev does not own the challenge on 'R1'"):
        check_challenge_resolver(f, "u-rev", "R1")
    assert check_challenge_resolver(f, "u-boss", "R1")["raised_by"] == "p-1"
    with pytest.raises(PolicyViolation, match="took part in run r1 as reviewer"):
        check_assessor(f, "u-rev")
    check_assessor(f, "u-auditor")


# --- what was used -----------------------------------------------------------------------


def test_template_and_model_approval_reasons() -> None:
    assert check_template(POLICY, "memo", "2") is None
    assert check_template(POLICY, "memo", 1) == (
        "template memo@1 is not approved by policy credit-memo@3 (approved: memo@2)"
    )
    assert check_model(POLICY, "openai", "gpt-4o", {"temperature": 0.2}) is None
    assert "temperature 0.9 is above the policy's maximum 0.5" in str(
        check_model(POLICY, "openai", "gpt-4o", {"temperature": 0.9})
    )
    assert check_model(POLICY, "acme", "m1", {}) == (
        "model acme/m1 is not approved by policy credit-memo@3 (approved: openai/gpt-4o)"
    )


def test_downstream_destination_must_be_allowed() -> None:
    check_downstream(POLICY, "loan-file")
    with pytest.raises(
        PolicyViolation,
        match=r"destination 'email' is not allowed by policy "
        r"credit-memo \(allowed: loan-file\)",
    ):
        check_downstream(POLICY, "email")


# --- escalation and close ----------------------------------------------------------------


def test_escalation_required_when_a_trigger_fires_until_one_is_raised_after_it() -> None:
    assert escalation_required(run_facts(assigned("high")), POLICY) == ["risk_level:high"]
    assert escalation_required(run_facts(assigned("medium")), POLICY) == []
    esc = ev(
        E.ESCALATION_RAISED,
        "u-rev",
        "reviewer",
        30,
        reason="r",
        owner={"id": "u-boss", "role": "escalation_owner"},
    )
    over = ev(E.OVERRIDE_RECORDED, "u-rev", "reviewer", 40, what="checklist", reason="why")
    # an escalation raised before the override does not cover it
    assert escalation_required(run_facts([*assigned(), esc, over]), POLICY) == ["override"]
    assert escalation_required(run_facts([*assigned(), over, esc]), POLICY) == []


def test_missing_for_close_lists_everything_in_order() -> None:
    f = run_facts(started("high"))
    assert missing_for_close(f, POLICY, None) == [
        "field 'reviewer'",
        "field 'disposition'",
        "field 'loan_ref'",
        "an escalation (trigger 'risk_level:high' fired)",
    ]
    assert missing_for_close(f, POLICY, "accepted", {"loan_ref": "L-1"}) == [
        "field 'reviewer'",
        "an approval by an assigned reviewer",
        "sign-off by approver (risk level high)",
        "an escalation (trigger 'risk_level:high' fired)",
    ]


def test_close_passes_when_everything_is_there() -> None:
    events = [*approved(), ev(E.SIGNOFF_RECORDED, "u-boss", "approver", 250, role="approver")]
    assert missing_for_close(events, POLICY, "accepted", {"loan_ref": "L-1"}) == []
    assert missing_for_close(events, POLICY, "accepted_with_edits", {"loan_ref": "L-1"}) == [
        "a recorded edit (disposition is accepted_with_edits)"
    ]
    assert missing_for_close(events, POLICY, "rejected", {"loan_ref": "L-1"}) == [
        "a rejection by an assigned reviewer"
    ]


def test_withdrawn_needs_a_reason_but_no_review() -> None:
    f = run_facts(started())
    assert missing_for_close(f, POLICY, "withdrawn", {"loan_ref": "L-1"}) == [
        "field 'reason' (why the run was withdrawn)"
    ]
    assert missing_for_close(f, POLICY, "withdrawn", {"loan_ref": "L", "reason": "dup"}) == []


def test_open_escalations_and_challenges_block_close() -> None:
    events = [
        *approved(),
        ev(E.SIGNOFF_RECORDED, "u-boss", "approver", 250, role="approver"),
        ev(
            E.ESCALATION_RAISED,
            "u-rev",
            "reviewer",
            260,
            reason="r",
            owner={"id": "u-boss", "role": "escalation_owner"},
        ),
        ev(
            E.CHALLENGE_RAISED,
            "p-1",
            "affected",
            270,
            subject="run",
            reason="no",
            owner={"id": "u-boss", "role": "escalation_owner"},
        ),
    ]
    assert missing_for_close(events, POLICY, "accepted", {"loan_ref": "L"}) == [
        "resolution of 1 open escalation(s)",
        "resolution of 1 open challenge(s)",
    ]
    resolved = [
        *events,
        ev(E.ESCALATION_RESOLVED, "u-boss", "escalation_owner", 280, resolution="fine"),
        ev(
            E.CHALLENGE_RESOLVED,
            "u-boss",
            "escalation_owner",
            290,
            subject="run",
            resolution="answered",
        ),
    ]
    assert missing_for_close(resolved, POLICY, "accepted", {"loan_ref": "L"}) == [
        "a fresh approval (the run went back to review after an escalation)"
    ]


def test_fields_from_run_started_satisfy_mandatory_fields() -> None:
    events = [*started(loan_ref="L-7")[:1]]
    assert "field 'loan_ref'" not in missing_for_close(events, POLICY, "withdrawn", {"reason": "x"})


def test_event_triggers_checklist_failed_model_error_and_sla_breach() -> None:
    policy = POLICY.model_copy(
        update={
            "escalation": EscalationRule(triggers=["checklist_failed", "model_error", "sla_breach"])
        }
    )
    ok = [
        *assigned(),
        ev(E.CHECKLIST_COMPLETED, "u-rev", "reviewer", 20, items={"figures checked": True}),
    ]
    assert escalation_required(run_facts(ok), policy) == []
    failed = [
        *assigned(),
        ev(E.CHECKLIST_COMPLETED, "u-rev", "reviewer", 20, items={"figures checked": False}),
        ev(E.MODEL_RESPONDED, "u-init", "initiator", 30, error="timeout"),
    ]
    assert escalation_required(run_facts(failed), policy) == ["checklist_failed", "model_error"]
    late = T0 + timedelta(hours=73)
    assert escalation_required(run_facts(ok), policy, late) == ["sla_breach"]
    early_esc = ev(
        E.ESCALATION_RAISED,
        "u-rev",
        "reviewer",
        60,
        reason="r",
        owner={"id": "u-boss", "role": "escalation_owner"},
    )
    assert escalation_required(run_facts([*ok, early_esc]), policy, late) == ["sla_breach"]
    late_esc = ev(
        E.ESCALATION_RAISED,
        "u-rev",
        "reviewer",
        73 * 3600,
        reason="late",
        owner={"id": "u-boss", "role": "escalation_owner"},
    )
    assert escalation_required(run_facts([*ok, late_esc]), policy, late) == []
    assert "an escalation (trigger 'sla_breach' fired)" in missing_for_close(
        run_facts(ok), policy, "withdrawn", {"reason": "x", "loan_ref": "L"}, now=late
    )


def test_empty_data_context_does_not_satisfy_a_mandatory_field() -> None:
    policy = POLICY.model_copy(update={"mandatory_fields": ["data_context"]})
    assert missing_for_close(started(data_context=[]), policy, "withdrawn", {"reason": "x"}) == [
        "field 'data_context'"
    ]
    assert (
        missing_for_close(
            started(data_context=[{"ref": "doc-1"}]), policy, "withdrawn", {"reason": "x"}
        )
        == []
    )


def test_reviewer_signoff_must_come_from_an_assigned_reviewer() -> None:
    policy = POLICY.model_copy(update={"signoff": {"low": ["reviewer"]}})
    f = run_facts(approved("low"))
    check_signoff(f, policy, "u-rev", "reviewer", qualified("u-rev"))
    with pytest.raises(PolicyViolation, match=r"must come from an assigned reviewer \(u-rev\)"):
        check_signoff(f, policy, "u-boss", "reviewer", None)


def test_empty_downstream_list_allows_any_destination() -> None:
    check_downstream(POLICY.model_copy(update={"downstream_allowed": []}), "anywhere")
