"""The live run lifecycle on SQLite and PostgreSQL: every action checked, then recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.review_rules import missing_for_close
from raidt.core.run_facts import run_facts
from raidt.errors import NotFoundError, PolicyViolation, ValidationError, WorkflowError
from raidt.services.app import App
from raidt.services.policies import PolicyService
from raidt.services.workflow import WorkflowService

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
E = EventType

POLICY = """\
id: briefing
version: "1"
title: Briefing note drafting
approved_templates: [{id: brief, version: "1"}]
approved_models:
  - {provider: openai, model: gpt-4o, parameters: {temperature: {min: 0, max: 0.5}}}
allow_deviations: true
roles:
  separation_of_duties: [[initiator, reviewer], [reviewer, approver]]
  qualifications: {reviewer: briefing-review}
review:
  min_seconds: 120
  checklist: [claims sourced, figures checked]
  guidance: {id: g-brief, version: "1", text: Check every claim against its source.}
mandatory_fields: [purpose, risk_level, reviewer, disposition, record_ref]
escalation: {triggers: [override, deviation], owner_role: escalation_owner}
signoff: {medium: [approver], high: [approver]}
downstream_allowed: [minister-box]
capture: {mode: full}
"""
TEMPLATE = """\
id: brief
version: "1"
text: "Draft a briefing on {{ topic }} for the minister."
"""
ACTORS = """\
actors:
  - {id: u-a1, roles: [initiator], team: team-a}
  - id: u-a2
    roles: [reviewer, approver]
    team: team-a
    qualifications: [{name: briefing-review, valid_from: 2025-01-01}]
  - {id: u-a3, roles: [approver, escalation_owner], team: team-a}
  - id: u-old
    roles: [reviewer]
    qualifications: [{name: briefing-review, valid_from: 2024-01-01, valid_until: 2026-01-31}]
  - {id: u-b1, roles: [initiator, reviewer], team: team-b}
  - {id: sdk, kind: system, roles: [reviewer]}
"""


class Clock:
    """A clock tests move by hand, so review times are exact."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    a = App.open(home=tmp_path / "home", database_url=db_url)
    ps = PolicyService(a)
    before = T0 - timedelta(days=1)
    ps.add_template(TEMPLATE, "brief.yaml", at=before)
    ps.add_policy(POLICY, "briefing.yaml", at=before)
    ps.import_actors(ACTORS, "actors.yaml", at=before)
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wf(app: App, clock: Clock) -> WorkflowService:
    return WorkflowService(app, now=clock)


def start(wf: WorkflowService, run_id: str = "a-1", risk: str = "medium") -> str:
    return wf.start_run(
        "briefing",
        "u-a1",
        "team-a",
        "briefing on flood defences",
        risk,
        template={"id": "brief", "version": "1"},
        run_id=run_id,
        data_context=[{"ref": "doc://flood-report", "digest": "ab" * 32}],
    )


def reviewed(wf: WorkflowService, clock: Clock, run_id: str = "a-1") -> None:
    start(wf, run_id)
    wf.assign_reviewer(run_id, "u-a2", by="u-a1")
    clock.advance(30)
    wf.acknowledge_guidance(run_id, "u-a2")
    wf.complete_checklist(run_id, "u-a2", {"claims sourced": True, "figures checked": True})
    clock.advance(100)


# --- the seed's two teams ----------------------------------------------------------------


def test_team_a_whole_lifecycle_is_recorded_in_order(
    app: App, wf: WorkflowService, clock: Clock
) -> None:
    start(wf)
    prompt = wf.render_prompt("a-1", "brief", "1", {"topic": "flood defences"})
    assert prompt == "Draft a briefing on flood defences for the minister."
    wf.record_model_call(
        "a-1",
        "openai",
        "gpt-4o",
        {"temperature": 0.2},
        prompt,
        "Draft: spending rose 12%.\nOptions: A, B.\n",
        {"input_tokens": 40, "output_tokens": 12},
        850.0,
    )
    wf.assign_reviewer("a-1", "u-a2", by="u-a1")
    clock.advance(60)
    wf.acknowledge_guidance("a-1", "u-a2")
    wf.complete_checklist("a-1", "u-a2", {"claims sourced": True, "figures checked": True})
    wf.edit_output(
        "a-1",
        "u-a2",
        "Draft: spending rose 12%.\nOptions: A, B.\n",
        "Draft: spending rose 9% (source: HMT table 2).\nOptions: A, B.\n",
        "figure did not match its source",
    )
    wf.escalate("a-1", "u-a2", "single-source figure on spending", owner="u-a3")
    clock.advance(30)
    wf.resolve_escalation("a-1", "u-a3", "figure confirmed against a second source")
    clock.advance(60)
    wf.approve("a-1", "u-a2")
    wf.signoff("a-1", "u-a3", "approver", "cleared for the minister")
    wf.close("a-1", "u-a1", "accepted_with_edits", {"record_ref": "SUB-2026-114"})
    wf.record_downstream("a-1", "u-a1", "minister-box", "BOX-0302")

    events = app.events.run_events("a-1")
    assert [e.type for e in events] == [
        E.RUN_STARTED,
        E.PROMPT_RENDERED,
        E.MODEL_INVOKED,
        E.MODEL_RESPONDED,
        E.REVIEW_ASSIGNED,
        E.GUIDANCE_ACKNOWLEDGED,
        E.CHECKLIST_COMPLETED,
        E.OUTPUT_EDITED,
        E.ESCALATION_RAISED,
        E.ESCALATION_RESOLVED,
        E.REVIEW_APPROVED,
        E.SIGNOFF_RECORDED,
        E.RUN_CLOSED,
        E.DOWNSTREAM_USED,
    ]
    started, rendered = events[0], events[1]
    policy = PolicyService(app).get("briefing", "1")
    assert started.payload["policy"] == {
        "id": "briefing",
        "version": "1",
        "sha256": policy.content_hash,
    }
    assert started.payload["template"]["sha256"] == rendered.payload["template"]["sha256"]
    assert rendered.payload["prompt"] == prompt
    edit = events[7]
    assert edit.actor == ActorRef(id="u-a2", role=Role.REVIEWER)
    assert "-Draft: spending rose 12%." in edit.payload["diff"]
    assert "+Draft: spending rose 9% (source: HMT table 2)." in edit.payload["diff"]
    assert events[9].payload["escalation"] == events[8].id
    assert (events[10].at - events[4].at).total_seconds() == 150
    assert events[11].payload == {"role": "approver", "statement": "cleared for the minister"}
    state = app.events.get_run("a-1")
    assert state is not None
    assert (state.status, state.disposition, state.edits) == ("closed", "accepted_with_edits", 1)
    assert state.policy_version == "1" and state.reviewers == ("u-a2",)


def test_team_b_informal_run_is_refused_live_but_recorded_faithfully_by_import(
    app: App, wf: WorkflowService, clock: Clock
) -> None:
    # live: the same self-approval is refused at every step, and nothing is recorded
    wf.start_run(
        "briefing",
        "u-b1",
        "team-b",
        None,
        "medium",
        run_id="b-live",
        deviation_reason="no template in team B",
    )
    n = app.events.count_events()
    with pytest.raises(
        PolicyViolation, match="u-b1 started run b-live and cannot act as its reviewer"
    ):
        wf.assign_reviewer("b-live", "u-b1", by="u-b1")
    with pytest.raises(WorkflowError, match="run b-live is started: cannot approve"):
        wf.approve("b-live", "u-b1")
    assert app.events.count_events() == n

    # history: what team B actually did is imported as it happened
    def ev(type_: EventType, secs: float, role: Role, **payload: object) -> EventIn:
        return EventIn(
            run_id="b-1",
            type=type_,
            at=T0 + timedelta(seconds=secs),
            actor=ActorRef(id="u-b1", role=role),
            payload=dict(payload),
        )

    app.events.append(
        [
            ev(
                E.RUN_STARTED,
                0,
                Role.INITIATOR,
                use_case="briefing",
                team="team-b",
                risk_level="medium",
            ),
            ev(
                E.MODEL_INVOKED,
                1,
                Role.INITIATOR,
                provider="openai",
                model="gpt-4o",
                parameters={"temperature": 0.2},
            ),
            ev(E.MODEL_RESPONDED, 2, Role.INITIATOR, output="Draft: spending rose 12%."),
            ev(E.REVIEW_ASSIGNED, 3, Role.INITIATOR, reviewer={"id": "u-b1", "role": "reviewer"}),
            ev(E.REVIEW_APPROVED, 7, Role.REVIEWER),
        ]
    )
    events = app.events.run_events("b-1")
    state = app.events.get_run("b-1")
    assert state is not None and state.status == "approved" and state.disposition is None
    assert state.initiator == "u-b1" and state.approvers == ("u-b1",)
    assert (events[-1].at - events[-2].at).total_seconds() == 4
    # the same model as team A, and the rules say plainly what this run lacks
    assert events[1].payload["model"] == "gpt-4o"
    policy = PolicyService(app).get("briefing", "1")
    assert missing_for_close(run_facts(events), policy) == [
        "field 'purpose'",
        "field 'disposition'",
        "field 'record_ref'",
    ]
    # a live action on the imported run is still checked
    with pytest.raises(PolicyViolation, match="u-b1 started run b-1 and cannot own its escalation"):
        wf.escalate("b-1", "u-b1", "closing my own run", owner="u-b1")


# --- refusals ----------------------------------------------------------------------------


def test_start_refusals_and_deviation(app: App, wf: WorkflowService) -> None:
    with pytest.raises(
        PolicyViolation,
        match=r"template brief@2 is not approved by policy "
        r"briefing@1 \(approved: brief@1\); give a "
        r"deviation reason",
    ):
        wf.start_run(
            "briefing", "u-a1", "team-a", "p", "low", template={"id": "brief", "version": "2"}
        )
    with pytest.raises(PolicyViolation, match=r"asks for an approved template \(brief@1\)"):
        wf.start_run("briefing", "u-a1", "team-a", "p", "low")
    with pytest.raises(NotFoundError, match="unknown policy"):
        wf.start_run("nope", "u-a1", "team-a", "p", "low")
    assert app.events.count_events() == 0
    rid = wf.start_run(
        "briefing",
        "u-a1",
        "team-a",
        "p",
        "low",
        run_id="d-1",
        template={"id": "brief", "version": "2"},
        deviation_reason="v2 is in pilot with the ethics board's consent",
    )
    events = app.events.run_events(rid)
    assert [e.type for e in events] == [E.RUN_STARTED, E.DEVIATION_RECORDED]
    assert events[1].payload["what"] == "template"
    assert events[1].payload["reason"].startswith("v2 is in pilot")
    with pytest.raises(WorkflowError, match="run d-1 already exists"):
        start(wf, "d-1")


def test_model_call_refusal_deviation_and_capture(app: App, wf: WorkflowService) -> None:
    start(wf)
    n = app.events.count_events()
    with pytest.raises(
        PolicyViolation,
        match=r"parameter temperature 0.9 is above the policy.s maximum 0.5 for openai/gpt-4o",
    ):
        wf.record_model_call("a-1", "openai", "gpt-4o", {"temperature": 0.9}, "p", "o")
    with pytest.raises(PolicyViolation, match="model acme/m1 is not approved"):
        wf.record_model_call("a-1", "acme", "m1", {}, "p", "o")
    assert app.events.count_events() == n
    out = wf.record_model_call("a-1", "acme", "m1", {}, "p", "o", deviation_reason="vendor outage")
    assert [e.type for e in out] == [E.DEVIATION_RECORDED, E.MODEL_INVOKED, E.MODEL_RESPONDED]


@pytest.mark.parametrize("mode", ["digest", "redacted"])
def test_capture_mode_is_respected(
    tmp_path: Path, sqlite_url: str, clock: Clock, mode: str
) -> None:
    capture = (
        "{mode: digest}"
        if mode == "digest"
        else "{mode: redacted, redact_patterns: ['builtin:email']}"
    )
    with App.open(home=tmp_path / "h", database_url=sqlite_url) as a:
        ps = PolicyService(a)
        ps.add_template(TEMPLATE, "t.yaml", at=T0 - timedelta(days=1))
        ps.add_policy(
            POLICY.replace("capture: {mode: full}", f"capture: {capture}"),
            "p.yaml",
            at=T0 - timedelta(days=1),
        )
        ps.import_actors(ACTORS, "a.yaml", at=T0 - timedelta(days=1))
        w = WorkflowService(a, now=clock)
        start(w)
        w.record_model_call(
            "a-1", "openai", "gpt-4o", {}, "write to jo@example.org", "Dear jo@example.org"
        )
        w.assign_reviewer("a-1", "u-a2", by="u-a1")
        w.edit_output("a-1", "u-a2", "Dear jo@example.org\n", "Dear Jo,\n")
        inv, resp, _, edit = a.events.run_events("a-1")[1:]
    if mode == "digest":
        assert set(inv.payload) == {"provider", "model", "parameters", "prompt_sha256"}
        assert set(resp.payload) == {"output_sha256"}
        assert "diff" not in edit.payload and len(edit.payload["after_sha256"]) == 64
    else:
        assert inv.payload["prompt"] == "write to [REDACTED:email]"
        assert resp.payload["output"] == "Dear [REDACTED:email]"
        assert "jo@example.org" not in edit.payload["diff"]


def test_review_refusals_name_the_rule(app: App, wf: WorkflowService, clock: Clock) -> None:
    start(wf)
    n = app.events.count_events()
    with pytest.raises(
        PolicyViolation, match="u-a1 started run a-1 and cannot act as its reviewer"
    ):
        wf.assign_reviewer("a-1", "u-a1", by="u-a1")
    with pytest.raises(
        PolicyViolation,
        match="u-old does not hold qualification 'briefing-review' valid on 2026-03-02",
    ):
        wf.assign_reviewer("a-1", "u-old", by="u-a1")
    with pytest.raises(PolicyViolation, match="u-nobody is not in the actor directory"):
        wf.assign_reviewer("a-1", "u-nobody", by="u-a1")
    with pytest.raises(PolicyViolation, match="sdk is a system component, not a person"):
        wf.assign_reviewer("a-1", "sdk", by="u-a1")
    with pytest.raises(
        WorkflowError, match=r"run a-1 is started: cannot approve; allowed next: .*assign reviewer"
    ):
        wf.approve("a-1", "u-a2")
    with pytest.raises(NotFoundError, match="no run with id 'zzz'"):
        wf.approve("zzz", "u-a2")
    assert app.events.count_events() == n

    wf.assign_reviewer("a-1", "u-a2", by="u-a1")
    clock.advance(10)
    n = app.events.count_events()
    with pytest.raises(
        PolicyViolation,
        match=r"u-a3 is not an assigned reviewer of run a-1 "
        r"and cannot approve \(assigned: u-a2\)",
    ):
        wf.approve("a-1", "u-a3")
    with pytest.raises(PolicyViolation) as exc:
        wf.approve("a-1", "u-a2")
    assert exc.value.diagnostic() == (
        "cannot approve run a-1 yet; missing: minimum review time: 10 s since assignment, "
        "policy asks at least 120 s (110 s more); checklist item 'claims sourced'; "
        "checklist item 'figures checked'; acknowledgement of reviewer guidance g-brief@1"
    )
    with pytest.raises(ValidationError, match=r"unknown checklist item\(s\): claims sorced"):
        wf.complete_checklist("a-1", "u-a2", {"claims sorced": True})
    with pytest.raises(ValidationError, match="the edit changes nothing"):
        wf.edit_output("a-1", "u-a2", "same", "same")
    with pytest.raises(ValidationError, match="a rejection needs a reason"):
        wf.reject("a-1", "u-a2", " ")
    assert app.events.count_events() == n


def test_reject_then_close_rejected(app: App, wf: WorkflowService, clock: Clock) -> None:
    reviewed(wf, clock)
    wf.reject("a-1", "u-a2", "claims not sourced")
    with pytest.raises(WorkflowError, match="run a-1 is rejected: cannot approve"):
        wf.approve("a-1", "u-a2")
    with pytest.raises(
        PolicyViolation, match="missing: an approval by an assigned reviewer; sign-off by approver"
    ):
        wf.close("a-1", "u-a1", "accepted", {"record_ref": "R"})
    wf.close("a-1", "u-a1", "rejected", {"record_ref": "R"})
    with pytest.raises(WorkflowError, match="closed as rejected; its output may not be used"):
        wf.record_downstream("a-1", "u-a1", "minister-box")


def test_signoff_escalation_close_and_downstream_refusals(
    app: App, wf: WorkflowService, clock: Clock
) -> None:
    reviewed(wf, clock)
    with pytest.raises(PolicyViolation) as exc:
        wf.close("a-1", "u-a1", "accepted")
    assert exc.value.diagnostic() == (
        "cannot close run a-1; missing: field 'record_ref'; an approval by an assigned "
        "reviewer; sign-off by approver (risk level medium)"
    )
    assert exc.value.details["missing"][0] == "field 'record_ref'"
    wf.approve("a-1", "u-a2")
    with pytest.raises(
        PolicyViolation,
        match="already acted as reviewer on run a-1; policy "
        "briefing@1 forbids also acting as approver",
    ):
        wf.signoff("a-1", "u-a2", "approver")
    with pytest.raises(
        PolicyViolation,
        match="asks sign-off at risk level medium from: approver; not from role reviewer",
    ):
        wf.signoff("a-1", "u-a3", "reviewer")
    with pytest.raises(PolicyViolation, match="u-b1 does not hold role approver"):
        wf.signoff("a-1", "u-b1", "approver")
    with pytest.raises(
        PolicyViolation,
        match=r"destination 'email' is not allowed by policy "
        r"briefing \(allowed: minister-box\)",
    ):
        wf.record_downstream("a-1", "u-a1", "email")
    with pytest.raises(PolicyViolation, match="u-a2 does not hold role escalation_owner"):
        wf.escalate("a-1", "u-a1", "why", owner="u-a2")
    wf.override("a-1", "u-a1", "sign-off timing", "minister needs it tonight")
    with pytest.raises(PolicyViolation, match=r"an escalation \(trigger 'override' fired\)"):
        wf.close("a-1", "u-a1", "accepted", {"record_ref": "R"})
    wf.escalate("a-1", "u-a1", "override of sign-off timing", owner="u-a3")
    with pytest.raises(
        WorkflowError,
        match=r"escalated \(1 open escalation\(s\) must be "
        r"resolved first\): cannot sign off",
    ):
        wf.signoff("a-1", "u-a3", "approver")
    with pytest.raises(PolicyViolation, match="u-a2 does not own an open escalation"):
        wf.resolve_escalation("a-1", "u-a2", "fine")
    wf.resolve_escalation("a-1", "u-a3", "accepted the timing")
    with pytest.raises(WorkflowError, match="run a-1 is in review: cannot sign off"):
        wf.signoff("a-1", "u-a3", "approver")
    wf.approve("a-1", "u-a2", "re-approved after the escalation")
    wf.signoff("a-1", "u-a3", "approver")
    with pytest.raises(PolicyViolation, match="already has the approver sign-off"):
        wf.signoff("a-1", "u-a3", "approver")
    wf.close("a-1", "u-a1", "accepted", {"record_ref": "R"})
    with pytest.raises(WorkflowError, match="run a-1 is closed: cannot close"):
        wf.close("a-1", "u-a1", "accepted", {"record_ref": "R"})


def test_challenges_and_assessments_are_evidence(
    app: App, wf: WorkflowService, clock: Clock
) -> None:
    reviewed(wf, clock)
    wf.approve("a-1", "u-a2")
    wf.signoff("a-1", "u-a3", "approver")
    wf.close("a-1", "u-a1", "accepted", {"record_ref": "R"})
    with pytest.raises(PolicyViolation, match="cannot own a challenge they raise"):
        wf.raise_challenge("a-1", "p-9", "run", "my case was misdescribed", owner="p-9")
    wf.raise_challenge("a-1", "p-9", "run", "my case was misdescribed", owner="u-a3")
    wf.raise_challenge("a-1", "p-9", "R2.reviewer-qualified", "reviewer was new", owner="u-a3")
    with pytest.raises(
        WorkflowError,
        match=r"no open challenge on 'T1' \(open: "
        r"R2.reviewer-qualified, run\)",
    ):
        wf.resolve_challenge("a-1", "u-a3", "T1", "n/a")
    with pytest.raises(PolicyViolation, match="u-a2 does not own the challenge on 'run'"):
        wf.resolve_challenge("a-1", "u-a2", "run", "n/a")
    ev = wf.resolve_challenge("a-1", "u-a3", "run", "corrected the case summary")
    raised = app.events.run_events("a-1")[-2]
    assert ev.payload["challenge"] != raised.id  # the run challenge, not the criterion one
    with pytest.raises(PolicyViolation, match="took part in run a-1 as reviewer"):
        wf.record_assessment("a-1", "u-a2", "R1", "met", "fine")
    wf.record_assessment("a-1", "u-aud", "R1", "met", "named reviewer, qualified")
    state = app.events.get_run("a-1")
    assert state is not None and state.open_challenges == 1


def test_withdrawn_run_needs_only_a_reason(app: App, wf: WorkflowService) -> None:
    start(wf)
    with pytest.raises(PolicyViolation, match=r"field 'reason' \(why the run was withdrawn\)"):
        wf.close("a-1", "u-a1", "withdrawn", {"record_ref": "R"})
    wf.close("a-1", "u-a1", "withdrawn", {"record_ref": "R", "reason": "duplicate request"})


def test_review_queue_and_view(app: App, wf: WorkflowService, clock: Clock) -> None:
    reviewed(wf, clock, "a-1")
    start(wf, "a-2")
    start(wf, "a-3")
    wf.close("a-3", "u-a1", "withdrawn", {"record_ref": "R", "reason": "dup"})
    assert [s.run_id for s in wf.review_queue()] == ["a-1", "a-2"]
    assert [s.run_id for s in wf.review_queue("u-a2")] == ["a-1"]
    view = wf.view("a-1").to_dict()
    assert view["checklist"] == {"claims sourced": True, "figures checked": True}
    assert "review.approved" in view["allowed_next"]
    assert view["guidance"]["id"] == "g-brief"


def test_concurrent_signoffs_cannot_both_pass(
    app: App, db_url: str, tmp_path: Path, clock: Clock
) -> None:
    wf = WorkflowService(app, now=clock)
    reviewed(wf, clock)
    wf.approve("a-1", "u-a2")
    ps = PolicyService(app)
    ps.import_actors("actors:\n  - {id: u-a4, roles: [approver]}\n", "more.yaml")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(who: str) -> None:
        with App.open(home=tmp_path / "home", database_url=db_url) as other:
            w = WorkflowService(other, now=clock)
            barrier.wait()
            try:
                w.signoff("a-1", who, "approver")
                outcomes.append("ok")
            except PolicyViolation as exc:
                outcomes.append(exc.diagnostic())

    threads = [threading.Thread(target=act, args=(who,)) for who in ("u-a3", "u-a4")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and outcomes.count("ok") == 1
    assert any("already has the approver sign-off" in o for o in outcomes)
    signoffs = [e for e in app.events.run_events("a-1") if e.type is E.SIGNOFF_RECORDED]
    assert len(signoffs) == 1
