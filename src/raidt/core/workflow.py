"""The review workflow's rules, as pure functions of a run's events and its policy.

The live services (review CLI, API, web UI, gateway) ask these functions before they record
anything: is this action allowed in the run's current state, may *this* person take it, and
is everything the policy demands already there. Nothing here reads a database or a clock;
the caller passes the events, the :class:`~raidt.core.policy.Policy` in force and the acting
:class:`~raidt.core.actors.Actor`, so every refusal can be reproduced from evidence alone.

Refusals raise :class:`~raidt.errors.WorkflowError` (the run's state does not allow the
action; the message says what is allowed next) or :class:`~raidt.errors.PolicyViolation`
(the state allows it, the policy does not; the message names the rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from raidt.core.actors import Actor
from raidt.core.events import ActorRef, Event, EventType
from raidt.core.policy import Policy
from raidt.core.projection import RunState, project
from raidt.errors import PolicyViolation, WorkflowError

__all__ = [
    "ACTION_NAMES",
    "EVENT_TRIGGERS",
    "EventLike",
    "RunFacts",
    "allowed_next",
    "check_approve",
    "check_assessor",
    "check_challenge_resolver",
    "check_downstream",
    "check_escalation_owner",
    "check_escalation_resolver",
    "check_model",
    "check_qualified",
    "check_reviewer_acting",
    "check_separation",
    "check_signoff",
    "check_template",
    "check_transition",
    "escalation_required",
    "fired_triggers",
    "missing_for_approval",
    "missing_for_close",
    "required_signoff_roles",
    "run_facts",
]


class EventLike(Protocol):
    """What the rules read from an event: sealed :class:`Event` and :class:`EventIn` fit."""

    @property
    def type(self) -> EventType: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> ActorRef: ...
    @property
    def payload(self) -> dict[str, Any]: ...


#: A verb a person understands for each event type, used in "allowed next" messages.
ACTION_NAMES: dict[EventType, str] = {
    EventType.RUN_STARTED: "start",
    EventType.PROMPT_RENDERED: "render prompt",
    EventType.MODEL_INVOKED: "call model",
    EventType.MODEL_RESPONDED: "record model output",
    EventType.TOOL_CALLED: "call tool",
    EventType.RETRIEVAL_PERFORMED: "retrieve",
    EventType.REVIEW_ASSIGNED: "assign reviewer",
    EventType.GUIDANCE_ACKNOWLEDGED: "acknowledge guidance",
    EventType.CHECKLIST_COMPLETED: "complete checklist",
    EventType.OUTPUT_EDITED: "edit output",
    EventType.REVIEW_APPROVED: "approve",
    EventType.REVIEW_REJECTED: "reject",
    EventType.OVERRIDE_RECORDED: "override",
    EventType.DEVIATION_RECORDED: "record deviation",
    EventType.ESCALATION_RAISED: "escalate",
    EventType.ESCALATION_RESOLVED: "resolve escalation",
    EventType.SIGNOFF_RECORDED: "sign off",
    EventType.RUN_CLOSED: "close",
    EventType.DOWNSTREAM_USED: "record downstream use",
    EventType.CHALLENGE_RAISED: "raise challenge",
    EventType.CHALLENGE_RESOLVED: "resolve challenge",
    EventType.ASSESSMENT_RECORDED: "record assessment",
}

#: Escalation triggers (see ``raidt.core.policy.ESCALATION_TRIGGERS``) that fire on an
#: event; ``risk_level:LEVEL`` compares the run.started payload and ``sla_breach`` the clock.
EVENT_TRIGGERS: dict[str, EventType] = {
    "rejected": EventType.REVIEW_REJECTED,
    "override": EventType.OVERRIDE_RECORDED,
    "deviation": EventType.DEVIATION_RECORDED,
    "challenge": EventType.CHALLENGE_RAISED,
    "checklist_failed": EventType.CHECKLIST_COMPLETED,
    "model_error": EventType.MODEL_RESPONDED,
}


_E = EventType
_MODEL = (
    _E.PROMPT_RENDERED,
    _E.MODEL_INVOKED,
    _E.MODEL_RESPONDED,
    _E.TOOL_CALLED,
    _E.RETRIEVAL_PERFORMED,
)
_ANY_TIME = (_E.CHALLENGE_RAISED, _E.ASSESSMENT_RECORDED)

_ALLOWED: dict[str, tuple[EventType, ...]] = {
    "unknown": (_E.RUN_STARTED,),
    "started": (
        *_MODEL,
        _E.DEVIATION_RECORDED,
        _E.OVERRIDE_RECORDED,
        _E.REVIEW_ASSIGNED,
        _E.ESCALATION_RAISED,
        _E.RUN_CLOSED,
        *_ANY_TIME,
    ),
    "in_review": (
        *_MODEL,
        _E.REVIEW_ASSIGNED,
        _E.GUIDANCE_ACKNOWLEDGED,
        _E.CHECKLIST_COMPLETED,
        _E.OUTPUT_EDITED,
        _E.REVIEW_APPROVED,
        _E.REVIEW_REJECTED,
        _E.OVERRIDE_RECORDED,
        _E.DEVIATION_RECORDED,
        _E.ESCALATION_RAISED,
        _E.RUN_CLOSED,
        *_ANY_TIME,
    ),
    "approved": (
        _E.SIGNOFF_RECORDED,
        _E.DOWNSTREAM_USED,
        _E.OVERRIDE_RECORDED,
        _E.ESCALATION_RAISED,
        _E.RUN_CLOSED,
        *_ANY_TIME,
    ),
    "rejected": (
        *_MODEL,
        _E.REVIEW_ASSIGNED,
        _E.OUTPUT_EDITED,
        _E.OVERRIDE_RECORDED,
        _E.ESCALATION_RAISED,
        _E.RUN_CLOSED,
        *_ANY_TIME,
    ),
    "escalated": (
        _E.ESCALATION_RESOLVED,
        _E.ESCALATION_RAISED,
        _E.GUIDANCE_ACKNOWLEDGED,
        _E.CHECKLIST_COMPLETED,
        _E.OUTPUT_EDITED,
        _E.OVERRIDE_RECORDED,
        *_ANY_TIME,
    ),
    "closed": (_E.DOWNSTREAM_USED, *_ANY_TIME),
}


def allowed_next(state: RunState) -> list[EventType]:
    """The event types the live workflow accepts next, given the run's state.

    Challenge resolution is listed only while a challenge is open, so the list is exactly
    what a person could do now (policy checks may still refuse one of them).
    """
    allowed = list(_ALLOWED.get(state.status, _ALLOWED["started"]))
    if state.open_challenges > 0:
        allowed.append(_E.CHALLENGE_RESOLVED)
    return allowed


def _describe(types: Sequence[EventType]) -> str:
    return ", ".join(ACTION_NAMES[t] for t in types) or "nothing"


def check_transition(state: RunState, event_type: EventType) -> None:
    """Raise :class:`WorkflowError` unless ``event_type`` may follow the run's state."""
    allowed = allowed_next(state)
    if event_type in allowed:
        return
    if state.status == "unknown":
        raise WorkflowError(
            f"run {state.run_id} has not been started; start it first",
            run_id=state.run_id,
            allowed=["run.started"],
        )
    why = ""
    if state.status == "escalated":
        why = f" ({state.open_escalations} open escalation(s) must be resolved first)"
    raise WorkflowError(
        f"run {state.run_id} is {state.status.replace('_', ' ')}{why}: cannot "
        f"{ACTION_NAMES[event_type]}; allowed next: {_describe(allowed)}",
        run_id=state.run_id,
        status=state.status,
        allowed=[t.value for t in allowed],
    )


# --- facts gathered from the events ------------------------------------------------------


@dataclass
class RunFacts:
    """What the rules need to know about a run, gathered in one pass over its events."""

    run_id: str
    state: RunState
    initiator: str | None = None
    started_at: datetime | None = None
    started: dict[str, Any] = field(default_factory=dict)
    #: actor id -> roles that actor held in this run (acted as, was assigned, owns)
    roles_held: dict[str, set[str]] = field(default_factory=dict)
    #: reviewer id -> time of their latest assignment
    assigned_at: dict[str, datetime] = field(default_factory=dict)
    checklist: dict[str, bool] = field(default_factory=dict)
    guidance: set[tuple[str, str]] = field(default_factory=set)
    #: (actor id, role) of each sign-off, in order
    signoffs: list[tuple[str, str]] = field(default_factory=list)
    last_decision: str | None = None
    #: event types in order, with their index, for "after the trigger" questions
    types: list[EventType] = field(default_factory=list)
    #: trigger name -> index of the first event that fired it
    trigger_at: dict[str, int] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    challenges: list[dict[str, Any]] = field(default_factory=list)

    def hold(self, actor_id: str, role: str) -> None:
        self.roles_held.setdefault(actor_id, set()).add(role)

    @property
    def open_escalations(self) -> list[dict[str, Any]]:
        return [e for e in self.escalations if not e["resolved"]]

    @property
    def open_challenges(self) -> list[dict[str, Any]]:
        return [c for c in self.challenges if not c["resolved"]]


def _ref_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return None


def _fires(trigger: str, payload: dict[str, Any]) -> bool:
    if trigger == "checklist_failed":
        return any(v is False for v in dict(payload.get("items") or {}).values())
    if trigger == "model_error":
        return bool(payload.get("error"))
    return True


def run_facts(events: Sequence[EventLike], run_id: str | None = None) -> RunFacts:
    """Gather the workflow facts of a run, and its projection, in one pass over its events."""
    rid = run_id or (str(getattr(events[0], "run_id", "")) if events else "")
    state = project(rid, cast("Sequence[Event]", events))
    f = RunFacts(run_id=rid, state=state)
    for i, e in enumerate(events):
        p = e.payload
        f.types.append(e.type)
        for name, et in EVENT_TRIGGERS.items():
            if e.type is et and name not in f.trigger_at and _fires(name, p):
                f.trigger_at[name] = i
        if e.actor.role.value != "system":
            f.hold(e.actor.id, e.actor.role.value)
        if e.type is _E.RUN_STARTED:
            f.initiator, f.started_at, f.started = e.actor.id, e.at, dict(p)
        elif e.type is _E.REVIEW_ASSIGNED:
            reviewer = _ref_id(p.get("reviewer"))
            if reviewer:
                f.assigned_at[reviewer] = e.at
                f.hold(reviewer, "reviewer")
        elif e.type is _E.CHECKLIST_COMPLETED:
            for item, done in dict(p.get("items") or {}).items():
                f.checklist[str(item)] = bool(done) or f.checklist.get(str(item), False)
        elif e.type is _E.GUIDANCE_ACKNOWLEDGED:
            g = p.get("guidance") or {}
            f.guidance.add((str(g.get("id")), str(g.get("version"))))
        elif e.type is _E.REVIEW_APPROVED:
            f.last_decision = "approved"
        elif e.type is _E.REVIEW_REJECTED:
            f.last_decision = "rejected"
        elif e.type is _E.SIGNOFF_RECORDED:
            f.signoffs.append((e.actor.id, str(p.get("role") or e.actor.role.value)))
        elif e.type is _E.ESCALATION_RAISED:
            owner = _ref_id(p.get("owner"))
            if owner:
                f.hold(owner, str((p.get("owner") or {}).get("role", "escalation_owner")))
            f.escalations.append(
                {
                    "index": i,
                    "owner": owner,
                    "reason": p.get("reason"),
                    "at": e.at,
                    "id": getattr(e, "id", None),
                    "resolved": False,
                }
            )
        elif e.type is _E.ESCALATION_RESOLVED:
            target = p.get("escalation")
            open_ = f.open_escalations
            match = [x for x in open_ if target and x["id"] == target] or open_[:1]
            if match:
                match[0]["resolved"] = True
        elif e.type is _E.CHALLENGE_RAISED:
            f.challenges.append(
                {
                    "index": i,
                    "subject": p.get("subject"),
                    "owner": _ref_id(p.get("owner")),
                    "raised_by": e.actor.id,
                    "id": getattr(e, "id", None),
                    "resolved": False,
                }
            )
        elif e.type is _E.CHALLENGE_RESOLVED:
            target = p.get("challenge")
            open_c = [c for c in f.open_challenges if c["subject"] == p.get("subject")]
            match = [c for c in open_c if target and c["id"] == target] or open_c[:1]
            if match:
                match[0]["resolved"] = True
    return f


# --- who may act -------------------------------------------------------------------------


def check_separation(facts: RunFacts, policy: Policy, actor_id: str, role: str) -> None:
    """Refuse when taking ``role`` would give ``actor_id`` two roles the policy keeps apart.

    The initiator may never review, approve or sign off their own run, whatever the policy
    says; the policy's ``roles.separation_of_duties`` pairs add to that.
    """
    if actor_id == facts.initiator and role in ("reviewer", "approver", "signoff"):
        raise PolicyViolation(
            f"separation of duties: {actor_id} started run {facts.run_id} and cannot act as "
            f"its {role}; ask another person",
            rule="separation_of_duties",
            actor=actor_id,
        )
    held = facts.roles_held.get(actor_id, set())
    for a, b in policy.roles.separation_of_duties:
        other = b if role == a else a if role == b else None
        if other is not None and other in held:
            raise PolicyViolation(
                f"separation of duties: {actor_id} already acted as {other} on run "
                f"{facts.run_id}; policy {policy.id}@{policy.version} forbids also acting "
                f"as {role}",
                rule="separation_of_duties",
                actor=actor_id,
            )


def check_qualified(
    policy: Policy, role: str, actor_id: str, actor: Actor | None, on: datetime
) -> None:
    """Refuse when the policy asks a qualification for ``role`` that is not valid ``on``."""
    needed = policy.roles.qualifications.get(role)
    if not needed:
        return
    day = on.date().isoformat()
    if actor is None:
        raise PolicyViolation(
            f"{actor_id} is not in the actor directory, so cannot be shown to hold "
            f"'{needed}' (policy {policy.id} requires it of every {role}); import them with "
            f"`raidt actors import`",
            rule="qualification",
            actor=actor_id,
        )
    if not actor.qualified(needed, on):
        held = [q for q in actor.qualifications if q.name == needed]
        when = (
            "; theirs is valid "
            + ", ".join(f"{q.valid_from}..{q.valid_until or 'open'}" for q in held)
            if held
            else ""
        )
        raise PolicyViolation(
            f"{actor_id} does not hold qualification '{needed}' valid on {day}{when} "
            f"(policy {policy.id} requires it of every {role})",
            rule="qualification",
            actor=actor_id,
        )


def check_reviewer_acting(facts: RunFacts, actor_id: str, action: str) -> None:
    """Refuse review actions by anyone who is not an assigned reviewer of the run."""
    if actor_id not in facts.assigned_at:
        assigned = ", ".join(facts.assigned_at) or "nobody yet"
        raise PolicyViolation(
            f"{actor_id} is not an assigned reviewer of run {facts.run_id} and cannot "
            f"{action} (assigned: {assigned})",
            rule="assigned_reviewer",
            actor=actor_id,
        )


def missing_for_approval(
    facts: RunFacts, policy: Policy, reviewer_id: str, at: datetime
) -> list[str]:
    """What the policy still asks of ``reviewer_id`` before they may approve at ``at``."""
    missing: list[str] = []
    rule = policy.review
    assigned = facts.assigned_at.get(reviewer_id)
    if assigned is not None and rule.min_seconds:
        spent = (at - assigned).total_seconds()
        if spent < rule.min_seconds:
            missing.append(
                f"minimum review time: {spent:.0f} s since assignment, policy asks at least "
                f"{rule.min_seconds} s ({rule.min_seconds - spent:.0f} s more)"
            )
    for item in rule.checklist:
        if not facts.checklist.get(item):
            missing.append(f"checklist item '{item}'")
    g = rule.guidance
    if g is not None and (g.id, str(g.version)) not in facts.guidance:
        missing.append(f"acknowledgement of reviewer guidance {g.id}@{g.version}")
    return missing


def check_approve(facts: RunFacts, policy: Policy, reviewer_id: str, at: datetime) -> None:
    """Refuse an approval that skips the policy's minimum review."""
    missing = missing_for_approval(facts, policy, reviewer_id, at)
    if missing:
        raise PolicyViolation(
            f"cannot approve run {facts.run_id} yet; missing: " + "; ".join(missing),
            rule="minimum_review",
            missing=missing,
        )


def required_signoff_roles(policy: Policy, risk_level: str | None) -> list[str]:
    """The roles whose sign-off the policy asks for at this risk level."""
    return policy.signoff_roles(risk_level)


def check_signoff(
    facts: RunFacts, policy: Policy, actor_id: str, role: str, actor: Actor | None
) -> None:
    """Refuse a sign-off by a role the risk level does not call for, or by the wrong person."""
    risk = facts.state.risk_level
    needed = required_signoff_roles(policy, risk)
    if role not in needed:
        expected = ", ".join(needed) or "no sign-off at all"
        raise PolicyViolation(
            f"policy {policy.id} asks sign-off at risk level {risk} from: {expected}; "
            f"not from role {role}",
            rule="signoff",
            actor=actor_id,
        )
    if any(r == role for _, r in facts.signoffs):
        raise PolicyViolation(
            f"run {facts.run_id} already has the {role} sign-off", rule="signoff", actor=actor_id
        )
    if any(a == actor_id for a, _ in facts.signoffs):
        raise PolicyViolation(
            f"{actor_id} already signed off run {facts.run_id}; each required sign-off "
            f"needs a different person",
            rule="signoff",
            actor=actor_id,
        )
    if actor is not None and actor.roles and role not in actor.roles:
        raise PolicyViolation(
            f"{actor_id} does not hold role {role} in the actor directory "
            f"(holds: {', '.join(actor.roles)})",
            rule="signoff",
            actor=actor_id,
        )
    if role == "reviewer" and actor_id not in facts.assigned_at:
        raise PolicyViolation(
            f"the reviewer sign-off of run {facts.run_id} must come from an assigned "
            f"reviewer ({', '.join(facts.assigned_at) or 'none assigned'})",
            rule="signoff",
            actor=actor_id,
        )
    check_separation(facts, policy, actor_id, "signoff")
    check_separation(facts, policy, actor_id, role)
    check_qualified(policy, role, actor_id, actor, facts.started_at or _never())


def _never() -> datetime:
    raise WorkflowError("the run has no run.started event")


def check_escalation_owner(
    facts: RunFacts, policy: Policy, owner_id: str, owner: Actor | None
) -> None:
    """The owner of an escalation must hold the policy's owner role and not be the initiator."""
    role = policy.escalation.owner_role
    if owner_id == facts.initiator:
        raise PolicyViolation(
            f"{owner_id} started run {facts.run_id} and cannot own its escalation",
            rule="escalation_owner",
            actor=owner_id,
        )
    if owner is not None and owner.roles and role not in owner.roles:
        raise PolicyViolation(
            f"{owner_id} does not hold role {role} in the actor directory; policy "
            f"{policy.id} sends escalations to a {role}",
            rule="escalation_owner",
            actor=owner_id,
        )


def check_escalation_resolver(facts: RunFacts, actor_id: str) -> dict[str, Any]:
    """Return the open escalation ``actor_id`` owns (oldest first), or refuse."""
    open_ = facts.open_escalations
    if not open_:
        raise WorkflowError(f"run {facts.run_id} has no open escalation to resolve")
    mine = [e for e in open_ if e["owner"] == actor_id]
    if not mine:
        owners = ", ".join(sorted({str(e["owner"]) for e in open_}))
        raise PolicyViolation(
            f"{actor_id} does not own an open escalation of run {facts.run_id} (owner: {owners})",
            rule="escalation_owner",
            actor=actor_id,
        )
    return mine[0]


def check_challenge_resolver(facts: RunFacts, actor_id: str, subject: str) -> dict[str, Any]:
    """Return the open challenge on ``subject`` that ``actor_id`` owns, or refuse."""
    open_ = [c for c in facts.open_challenges if c["subject"] == subject]
    if not open_:
        subjects = ", ".join(sorted({str(c["subject"]) for c in facts.open_challenges}))
        raise WorkflowError(
            f"run {facts.run_id} has no open challenge on '{subject}'"
            + (f" (open: {subjects})" if subjects else "")
        )
    mine = [c for c in open_ if c["owner"] in (None, actor_id)]
    if not mine:
        raise PolicyViolation(
            f"{actor_id} does not own the challenge on '{subject}' of run {facts.run_id} "
            f"(owner: {open_[0]['owner']})",
            rule="challenge_owner",
            actor=actor_id,
        )
    if mine[0]["raised_by"] == actor_id:
        raise PolicyViolation(
            f"{actor_id} raised this challenge and cannot resolve it",
            rule="challenge_owner",
            actor=actor_id,
        )
    return mine[0]


def check_assessor(facts: RunFacts, actor_id: str) -> None:
    """An assessor judges someone else's run: not its initiator, reviewer or approver."""
    held = facts.roles_held.get(actor_id, set()) & {"initiator", "reviewer", "approver"}
    if held or actor_id == facts.initiator:
        raise PolicyViolation(
            f"{actor_id} took part in run {facts.run_id} as {', '.join(sorted(held))} "
            f"and cannot assess it",
            rule="separation_of_duties",
            actor=actor_id,
        )


# --- what was used -----------------------------------------------------------------------


def check_template(
    policy: Policy, template_id: str, version: str | int, sha256: str | None = None
) -> str | None:
    """``None`` when the template version is approved, else the reason it is not."""
    return policy.template_problem(template_id, str(version), sha256)


def check_model(
    policy: Policy, provider: str, model: str, parameters: dict[str, Any]
) -> str | None:
    """``None`` when the model and its parameters are approved, else the reason."""
    return policy.model_problem(provider, model, parameters)


def check_downstream(policy: Policy, destination: str) -> None:
    """Refuse a destination the policy does not list (an empty list allows any)."""
    if not policy.downstream_ok(destination):
        allowed = ", ".join(policy.downstream_allowed)
        raise PolicyViolation(
            f"destination '{destination}' is not allowed by policy {policy.id} "
            f"(allowed: {allowed})",
            rule="downstream",
            destination=destination,
        )


# --- escalation and close ----------------------------------------------------------------


def fired_triggers(
    facts: RunFacts, policy: Policy, now: datetime | None = None
) -> list[tuple[str, int]]:
    """Escalation triggers that fired, each with the index of the event that fired it.

    ``risk_level:LEVEL`` fires at index 0; ``sla_breach`` fires (at the end of the run so
    far) when ``now`` is past the policy's SLA for an open run.
    """
    fired: list[tuple[str, int]] = []
    for trig in policy.escalation.triggers:
        if trig in facts.trigger_at:
            fired.append((trig, facts.trigger_at[trig]))
        elif trig.startswith("risk_level:"):
            if facts.started.get("risk_level") == trig.partition(":")[2]:
                fired.append((trig, 0))
        elif trig == "sla_breach" and _past_sla(facts, policy, now):
            fired.append((trig, len(facts.types)))
    return fired


def _past_sla(facts: RunFacts, policy: Policy, now: datetime | None) -> bool:
    if now is None or facts.started_at is None or facts.state.status == "closed":
        return False
    return now - facts.started_at > timedelta(hours=policy.sla_hours)


def escalation_required(facts: RunFacts, policy: Policy, now: datetime | None = None) -> list[str]:
    """Triggers that fired with no escalation raised after them.

    An SLA breach is answered by an escalation raised after the SLA ran out.
    """
    out: list[str] = []
    for trig, idx in fired_triggers(facts, policy, now):
        if trig == "sla_breach" and facts.started_at is not None:
            deadline = facts.started_at + timedelta(hours=policy.sla_hours)
            if not any(e["at"] > deadline for e in facts.escalations):
                out.append(trig)
        elif not any(e["index"] >= idx for e in facts.escalations):
            out.append(trig)
    return out


_FIELD_FROM_STATE = ("purpose", "risk_level", "team", "use_case", "initiator")


def _field_present(name: str, facts: RunFacts, fields: dict[str, Any]) -> bool:
    if _filled(fields.get(name)):
        return True
    if name == "reviewer":
        return bool(facts.assigned_at)
    if name == "approver":
        return facts.last_decision == "approved"
    if name == "template":
        return bool(facts.state.template)
    if name == "model":
        return bool(facts.state.model)
    if name == "signoff":
        return bool(facts.signoffs)
    if name == "checklist":
        return bool(facts.checklist)
    if name in _FIELD_FROM_STATE:
        return getattr(facts.state, name) not in (None, "")
    return _filled(facts.started.get(name))


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict | tuple):
        return bool(value)
    return value is not None


def missing_for_close(
    events: RunFacts | Sequence[EventLike],
    policy: Policy,
    disposition: str | None = None,
    fields: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Everything the policy still asks for before the run may close with ``disposition``.

    An empty list means the close is allowed. A withdrawn run needs no review or sign-off
    but must say why (``reason``).
    """
    facts = events if isinstance(events, RunFacts) else run_facts(events)
    fields = dict(fields or {})
    disposition = disposition or fields.get("disposition")
    if disposition:
        fields["disposition"] = disposition
    withdrawn = disposition == "withdrawn"
    missing: list[str] = []
    for name in policy.mandatory_fields:
        if withdrawn and name in ("reviewer", "approver", "signoff", "checklist"):
            continue
        if not _field_present(name, facts, fields):
            missing.append(f"field '{name}'")
    if withdrawn:
        if not fields.get("reason"):
            missing.append("field 'reason' (why the run was withdrawn)")
    elif disposition in ("accepted", "accepted_with_edits"):
        if facts.last_decision != "approved":
            missing.append("an approval by an assigned reviewer")
        elif facts.state.status not in ("approved", "escalated"):
            missing.append("a fresh approval (the run went back to review after an escalation)")
        if disposition == "accepted_with_edits" and _E.OUTPUT_EDITED not in facts.types:
            missing.append("a recorded edit (disposition is accepted_with_edits)")
        have = {r for _, r in facts.signoffs}
        for role in required_signoff_roles(policy, facts.state.risk_level):
            if role not in have:
                missing.append(f"sign-off by {role} (risk level {facts.state.risk_level})")
    elif disposition == "rejected" and (
        facts.last_decision != "rejected" or facts.state.status != "rejected"
    ):
        missing.append("a rejection by an assigned reviewer")
    for trig in escalation_required(facts, policy, now):
        missing.append(f"an escalation (trigger '{trig}' fired)")
    n_esc = len(facts.open_escalations)
    if n_esc:
        missing.append(f"resolution of {n_esc} open escalation(s)")
    n_ch = len(facts.open_challenges)
    if n_ch:
        missing.append(f"resolution of {n_ch} open challenge(s)")
    return missing
