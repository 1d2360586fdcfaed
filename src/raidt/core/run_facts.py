"""What the review rules know about a run, gathered from its events in one pass.

The rules in :mod:`raidt.core.review_rules` and the state machine in
:mod:`raidt.core.workflow` must not each walk the event list with their own idea of who
did what; :func:`run_facts` walks it once and records the facts they share (who started
the run, who was assigned, which checklist items and guidance were covered, which
escalation triggers fired, which escalations and challenges are still open). It reads no
database or clock, so the facts can be rebuilt from evidence alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from raidt.core.events import ActorRef, Event, EventType
from raidt.core.projection import RunState, project

__all__ = ["EVENT_TRIGGERS", "EventLike", "RunFacts", "run_facts"]


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
