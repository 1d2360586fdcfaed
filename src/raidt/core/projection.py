"""The run projection: a run's current state as a pure fold over its events.

State is never edited in place; it is recomputed (or folded forward) from evidence. The
store keeps the folded state in the ``runs`` table only to answer list queries quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from raidt.core.events import Event, EventIn, EventType
from raidt.core.timefmt import format_ts

__all__ = ["RunState", "apply", "apply_dict", "changes", "new_state_dict", "project"]


@dataclass(frozen=True)
class RunState:
    """What a run looks like after the events seen so far."""

    run_id: str
    status: str = "unknown"  # unknown | started | in_review | approved | rejected |
    #                          escalated | closed
    use_case: str | None = None
    team: str | None = None
    purpose: str | None = None
    risk_level: str | None = None
    initiator: str | None = None
    template: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    reviewers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    signoffs: tuple[str, ...] = ()
    disposition: str | None = None
    policy_id: str | None = None
    policy_version: str | None = None
    open_escalations: int = 0
    open_challenges: int = 0
    edits: int = 0
    overrides: int = 0
    deviations: int = 0
    downstream: tuple[str, ...] = ()
    started_at: str | None = None
    closed_at: str | None = None
    last_at: str | None = None
    event_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            f: (list(v) if isinstance(v, tuple) else v)
            for f in _FIELDS
            for v in (getattr(self, f),)
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunState:
        kw = dict(d)
        for k in ("reviewers", "approvers", "signoffs", "downstream"):
            kw[k] = tuple(kw.get(k) or ())
        return cls(**kw)


_FIELDS = tuple(f.name for f in fields(RunState))


def _add(seq: Iterable[str], item: str) -> tuple[str, ...]:
    items = tuple(seq)
    return items if item in items else (*items, item)


def apply(state: RunState, event: Event) -> RunState:
    """Fold one event into the state."""
    return replace(state, **changes(state.__getattribute__, event))


def apply_dict(state: dict[str, Any], event: Event | EventIn, at: str | None = None) -> None:
    """Fold one event into a state held as a plain dict (the store's bulk path; the event
    may still be unsealed: folding reads only its type, time, actor and payload)."""
    state.update(changes(state.__getitem__, event, at))


def new_state_dict(run_id: str) -> dict[str, Any]:
    """A fresh state dict (values are replaced by folding, never mutated, so sharing the
    empty template's immutable defaults is safe)."""
    return {**_EMPTY, "run_id": run_id, "extra": {}}


_EMPTY: dict[str, Any] = {}


def changes(
    get: Callable[[str], Any], event: Event | EventIn, at: str | None = None
) -> dict[str, Any]:
    """The fields ``event`` changes, reading the current state through ``get``.

    ``at`` is the event's canonical timestamp text when the caller has it already.
    """
    p = event.payload
    at = at or format_ts(event.at)
    t = event.type
    ch: dict[str, Any] = {"event_count": get("event_count") + 1, "last_at": at}
    if t is EventType.RUN_STARTED:
        pol = p.get("policy") if isinstance(p.get("policy"), dict) else None
        ch.update(
            status="started",
            use_case=p.get("use_case"),
            team=p.get("team"),
            purpose=p.get("purpose"),
            risk_level=p.get("risk_level"),
            initiator=event.actor.id,
            template=p.get("template"),
            started_at=at,
            policy_id=pol.get("id") if pol else p.get("use_case"),
            policy_version=str(pol.get("version")) if pol else None,
        )
    elif t is EventType.PROMPT_RENDERED:
        if p.get("template"):
            ch["template"] = p.get("template")
    elif t is EventType.MODEL_INVOKED:
        ch["model"] = {
            "provider": p.get("provider"),
            "model": p.get("model"),
            "parameters": p.get("parameters", {}),
        }
    elif t is EventType.REVIEW_ASSIGNED:
        reviewer = p.get("reviewer")
        rid = str(reviewer.get("id")) if isinstance(reviewer, dict) else str(reviewer)
        ch.update(status="in_review", reviewers=_add(get("reviewers"), rid))
    elif t is EventType.REVIEW_APPROVED:
        ch.update(status="approved", approvers=_add(get("approvers"), event.actor.id))
    elif t is EventType.REVIEW_REJECTED:
        ch["status"] = "rejected"
    elif t is EventType.OUTPUT_EDITED:
        ch["edits"] = get("edits") + 1
    elif t is EventType.OVERRIDE_RECORDED:
        ch["overrides"] = get("overrides") + 1
    elif t is EventType.DEVIATION_RECORDED:
        ch["deviations"] = get("deviations") + 1
    elif t is EventType.ESCALATION_RAISED:
        ch.update(status="escalated", open_escalations=get("open_escalations") + 1)
    elif t is EventType.ESCALATION_RESOLVED:
        n = max(0, get("open_escalations") - 1)
        ch["open_escalations"] = n
        if n == 0 and get("status") == "escalated":
            ch["status"] = "in_review"
    elif t is EventType.SIGNOFF_RECORDED:
        ch["signoffs"] = _add(get("signoffs"), event.actor.id)
    elif t is EventType.RUN_CLOSED:
        ch.update(status="closed", disposition=p.get("disposition"), closed_at=at)
    elif t is EventType.DOWNSTREAM_USED:
        ch["downstream"] = (*get("downstream"), str(p.get("destination")))
    elif t is EventType.CHALLENGE_RAISED:
        ch["open_challenges"] = get("open_challenges") + 1
    elif t is EventType.CHALLENGE_RESOLVED:
        ch["open_challenges"] = max(0, get("open_challenges") - 1)
    if get("status") == "closed" and "status" in ch and t is not EventType.RUN_CLOSED:
        ch["status"] = "closed"  # a closed run stays closed; later facts are still kept
    return ch


def project(run_id: str, events: Iterable[Event]) -> RunState:
    """The state of ``run_id`` after ``events`` (in order)."""
    state = RunState(run_id=run_id)
    for e in events:
        state = apply(state, e)
    return state


_EMPTY.update(RunState(run_id="").to_dict())
