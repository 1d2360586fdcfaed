"""The review workflow's state machine, and the one import path for all its rules.

The live services (review CLI, API, web UI, gateway) ask the workflow before they record
anything: is this action allowed in the run's current state (here), may *this* person take
it and is everything the policy demands already there (:mod:`raidt.core.review_rules`,
over the facts :mod:`raidt.core.run_facts` gathers). Nothing here reads a database or a
clock; the caller passes the events, the :class:`~raidt.core.policy.Policy` in force and
the acting :class:`~raidt.core.actors.Actor`, so every refusal can be reproduced from
evidence alone.

Refusals raise :class:`~raidt.errors.WorkflowError` (the run's state does not allow the
action; the message says what is allowed next) or :class:`~raidt.errors.PolicyViolation`
(the state allows it, the policy does not; the message names the rule).

The rules and facts used to live in this module; their names are re-exported here so
``from raidt.core.workflow import ...`` keeps working for every name in ``__all__``.
"""

from __future__ import annotations

from collections.abc import Sequence

from raidt.core.events import EventType
from raidt.core.projection import RunState
from raidt.core.review_rules import (
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
    escalation_required,
    fired_triggers,
    missing_for_approval,
    missing_for_close,
    required_signoff_roles,
)
from raidt.core.run_facts import EVENT_TRIGGERS, EventLike, RunFacts, run_facts
from raidt.errors import WorkflowError

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
    EventType.TELEMETRY_RECORDED: "record telemetry",
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
