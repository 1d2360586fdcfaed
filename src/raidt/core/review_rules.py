"""The policy's rules for who may act on a run and what a run needs before it closes.

Pure functions of a run's :class:`~raidt.core.run_facts.RunFacts`, the
:class:`~raidt.core.policy.Policy` in force and, where a qualification or role matters, the
acting :class:`~raidt.core.actors.Actor`. They answer the questions the state machine in
:mod:`raidt.core.workflow` cannot: may *this* person take this action (separation of
duties, qualifications, assigned reviewer, escalation and challenge ownership), were the
template, model and destination approved, and is everything the policy asks for there
(minimum review, sign-offs, escalations, mandatory fields) before approval or close.

Nothing here reads a database or a clock, so every refusal can be reproduced from
evidence alone. Refusals raise :class:`~raidt.errors.PolicyViolation` naming the rule, or
:class:`~raidt.errors.WorkflowError` when there is nothing to act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from raidt.core.actors import Actor
from raidt.core.events import EventType
from raidt.core.policy import Policy
from raidt.core.run_facts import EventLike, RunFacts, run_facts
from raidt.errors import PolicyViolation, WorkflowError

__all__ = [
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
    "escalation_required",
    "fired_triggers",
    "missing_for_approval",
    "missing_for_close",
    "required_signoff_roles",
]

_E = EventType


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
