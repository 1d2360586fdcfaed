"""Responsibility: who started, reviewed, signed off and decided, and were they entitled to.

Accountability must not dissolve into "the model produced it": these checks look for named
people in the right roles, kept apart where the policy separates duties (EU AI Act Art. 14(5),
Art. 26(2); NIST AI 600-1 MS-4.2-004, GV-1.3-002).
"""

from __future__ import annotations

from raidt.core.checks._base import (
    CheckContext,
    CheckResult,
    EvidenceEvent,
    Result,
    RunEvidence,
    cite,
    is_person,
    ratio_result,
    register,
)
from raidt.core.events import EventType, Role
from raidt.core.policy import Policy

__all__ = [
    "acted_role",
    "escalations_as_required",
    "human_disposition",
    "initiator_named",
    "reviewer_distinct",
    "reviewer_qualified",
    "signoff_by_role",
]

_DEFAULT_SOD: list[tuple[str, str]] = [("initiator", "reviewer")]


@register("initiator_named")
def initiator_named(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """A person, in the initiator role, is named as having started the run."""
    s = ev.started
    if s is None:
        return CheckResult(
            Result.UNMET, "no run.started event: nobody is recorded as having started the run"
        )
    who = s.actor.id
    if not is_person(who, s.actor.role, ctx):
        return CheckResult(
            Result.UNMET,
            f"run.started {s.id} was recorded by system component "
            f"'{who}'; no person is named as initiator",
            cite([s]),
        )
    if s.actor.role is not Role.INITIATOR:
        return CheckResult(
            Result.PARTIAL,
            f"run.started {s.id} names '{who}' but in role '{s.actor.role.value}', not 'initiator'",
            cite([s]),
        )
    if ctx.actors.get(who) is None:
        return CheckResult(
            Result.PARTIAL,
            f"run.started {s.id} names initiator '{who}', who is not in the actor directory",
            cite([s]),
        )
    return CheckResult(
        Result.MET,
        f"run.started {s.id} names initiator '{who}', known to the actor directory",
        cite([s]),
    )


def acted_role(e: EvidenceEvent) -> str:
    """The role in which a person acted in an event: a sign-off names the role it is given
    in (``payload.role``), everything else acts in the role it was recorded with."""
    if e.type is EventType.SIGNOFF_RECORDED:
        named = e.payload.get("role")
        if isinstance(named, str) and named:
            return named
    return e.actor.role.value


def _role_holders(ev: RunEvidence) -> dict[str, dict[str, EvidenceEvent]]:
    """Role name -> actor id -> the first event showing that actor acting in that role in
    this run. Separation of duties is about the roles people took in the run, not every
    role their directory entry allows (a credit officer may also be entitled to approve)."""
    out: dict[str, dict[str, EvidenceEvent]] = {}
    if ev.started is not None and ev.started.actor.id:
        out["initiator"] = {ev.started.actor.id: ev.started}
    for e in ev.all(EventType.REVIEW_ASSIGNED):
        rid = _ref(e.payload.get("reviewer"))
        if rid:
            out.setdefault("reviewer", {}).setdefault(rid, e)
    for e in ev.all(
        EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED, EventType.SIGNOFF_RECORDED
    ):
        if e.actor.role is Role.SYSTEM or not e.actor.id:
            continue
        role = acted_role(e)
        if e.type is not EventType.SIGNOFF_RECORDED and role not in ("approver",):
            role = "reviewer"  # a decision is a reviewer's act unless made as approver
        out.setdefault(role, {}).setdefault(e.actor.id, e)
    for e in ev.all(EventType.ESCALATION_RAISED):
        oid = _ref(e.payload.get("owner"))
        if oid:
            out.setdefault("escalation_owner", {}).setdefault(oid, e)
    return out


def _ref(value: object) -> str | None:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") else None


def _sod_pairs(policy: Policy | None) -> list[tuple[str, str]]:
    """The separated pairs: self-review always, plus those the policy lists."""
    if policy is None:
        return _DEFAULT_SOD
    listed = [(str(a), str(b)) for a, b in policy.roles.separation_of_duties]
    return list(dict.fromkeys([*_DEFAULT_SOD, *listed]))


@register("reviewer_distinct")
def reviewer_distinct(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """A reviewer other than the initiator is recorded, and separated duties stay separated
    (judged on the role in which each person acted in the run)."""
    reviewers = ev.reviewers()
    if not reviewers:
        if ev.withdrawn_before_use:
            return CheckResult(
                Result.NOT_APPLICABLE,
                f"withdrawn before any use ({ev.closed.id if ev.closed else '?'}): "
                "no reviewer needed",
                cite([ev.closed]),
            )
        return CheckResult(
            Result.UNMET,
            "no review.assigned and no review decision: no reviewer is recorded for this run",
        )
    # self-review is never separation of duties, whatever a policy lists (DESIGN 7)
    pairs = _sod_pairs(ctx.policy)
    holders = _role_holders(ev)
    clashes: list[str] = []
    cited: list[EvidenceEvent | None] = []
    for a, b in pairs:
        for actor in sorted(set(holders.get(a, {})) & set(holders.get(b, {}))):
            ea, eb = holders[a][actor], holders[b][actor]
            label = "self-review" if {a, b} == {"initiator", "reviewer"} else "duties not separated"
            clashes.append(f"{label}: '{actor}' acted as {a} ({ea.id}) and as {b} ({eb.id})")
            cited += [ea, eb]
    note = "" if ctx.policy else " (policy unknown: default separation initiator/reviewer)"
    if clashes:
        return CheckResult(Result.UNMET, "; ".join(clashes) + note, cite(cited))
    decisions = ev.all(EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)
    names = ", ".join(f"'{r}'" for r in sorted(reviewers))
    base = [e for evs in reviewers.values() for e in evs]
    if not decisions:
        return CheckResult(
            Result.PARTIAL,
            f"reviewer {names} assigned but no review decision is recorded{note}",
            cite(base),
        )
    return CheckResult(
        Result.MET,
        f"reviewed by {names}, distinct from initiator '{ev.initiator}'{note}",
        cite([ev.started, *base]),
    )


@register("signoff_by_role")
def signoff_by_role(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Each sign-off role the policy asks for at the run's risk level has its own signature,
    given in that role, by a distinct person entitled to it (not the initiator)."""
    signoffs = ev.all(EventType.SIGNOFF_RECORDED)
    if ctx.policy is None:
        if signoffs:
            return CheckResult(
                Result.PARTIAL,
                f"sign-off recorded ({signoffs[0].id}) but the policy version is unknown, so "
                "the sign-off path cannot be checked",
                cite(signoffs),
            )
        return CheckResult(
            Result.UNMET,
            "no signoff.recorded, and the policy version is unknown, so no sign-off path can "
            "be shown",
        )
    risk = ev.risk_level
    required = ctx.policy.signoff_roles(risk)
    if not required:
        return CheckResult(
            Result.NOT_APPLICABLE, f"{ctx.policy_label} asks for no sign-off at risk level '{risk}'"
        )
    if ev.withdrawn_before_use and not signoffs:
        return CheckResult(
            Result.NOT_APPLICABLE,
            f"withdrawn before any use ({ev.closed.id if ev.closed else '?'}): nothing to sign off",
            cite([ev.closed]),
        )
    found: list[EvidenceEvent] = []
    missing: list[str] = []
    notes: list[str] = []
    used: set[str] = set()  # each sign-off and each person counts once
    for role in required:
        hit = None
        for e in signoffs:
            if acted_role(e) != role or e.id in used or e.actor.id in used:
                continue
            if e.actor.id == ev.initiator:
                notes.append(f"{e.id} is by the initiator '{e.actor.id}'")
                continue
            if e.actor.role is Role.SYSTEM:
                notes.append(f"{e.id} is by system component '{e.actor.id}'")
                continue
            known = ctx.actors.get(e.actor.id)
            if known is not None and known.roles and role not in known.roles:
                notes.append(
                    f"{e.id}: '{e.actor.id}' signed as {role} but the directory does not list "
                    f"them as {role}"
                )
                continue
            hit = e
            break
        if hit is None:
            missing.append(role)
        else:
            found.append(hit)
            used.update((hit.id, hit.actor.id))
    if missing:
        text = (
            f"{ctx.policy_label} needs a sign-off by each of {', '.join(required)} at risk "
            f"'{risk}'; missing: {', '.join(missing)}"
        )
        if found:
            text += " (signed: " + ", ".join(f"{acted_role(e)} {e.id}" for e in found) + ")"
        if notes:
            text += "; " + "; ".join(dict.fromkeys(notes))
        return CheckResult(ratio_result(len(found), len(required)), text, cite(found))
    return CheckResult(
        Result.MET,
        f"signed off by {', '.join(f'{acted_role(e)} {e.actor.id!s} ({e.id})' for e in found)}, "
        f"as {ctx.policy_label} asks at risk '{risk}'",
        cite(found),
    )


@register("human_disposition")
def human_disposition(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """A person, not a system component, made the final disposition."""
    closed = ev.last(EventType.RUN_CLOSED)
    if closed is None:
        return CheckResult(Result.UNMET, "no run.closed event: no final disposition is recorded")
    who, disp = closed.actor.id, closed.payload.get("disposition")
    if not is_person(who, closed.actor.role, ctx):
        return CheckResult(
            Result.UNMET,
            f"run.closed {closed.id} (disposition '{disp}') was "
            f"set by system component '{who}', not by a person",
            cite([closed]),
        )
    return CheckResult(
        Result.MET,
        f"run.closed {closed.id}: '{who}' ({closed.actor.role.value}) set disposition '{disp}'",
        cite([closed]),
    )


@register("reviewer_qualified")
def reviewer_qualified(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Reviewers held the qualification the policy asks for, valid on the date of the run."""
    reviewers = ev.reviewers()
    if not reviewers:
        if ev.withdrawn_before_use:
            return CheckResult(
                Result.NOT_APPLICABLE, "withdrawn before any use: no reviewer needed"
            )
        return CheckResult(
            Result.UNMET, "no reviewer is recorded, so no qualification can be shown"
        )
    qual = (ctx.policy.roles.qualifications.get("reviewer") if ctx.policy else None) or ctx.param(
        "qualification", None
    )
    day = (ev.started or ev.events[0]).at
    ok: list[str] = []
    problems: list[str] = []
    for rid in sorted(reviewers):
        actor = ctx.actors.get(rid)
        if actor is None:
            problems.append(f"'{rid}' is not in the actor directory")
        elif qual and not actor.qualified(qual, day):
            problems.append(f"'{rid}' holds no '{qual}' qualification valid on {day.date()}")
        elif not qual and not {"reviewer", "approver"} & set(actor.roles):
            problems.append(f"'{rid}' is not listed as a reviewer in the actor directory")
        else:
            ok.append(rid)
    cited = cite([e for r in reviewers.values() for e in r])
    what = (
        f"qualification '{qual}'"
        if qual
        else "the reviewer role (no qualification named"
        + (")" if ctx.policy else "; policy unknown)")
    )
    result = ratio_result(len(ok), len(reviewers))
    if problems:
        return CheckResult(result, f"checked {what}: " + "; ".join(problems), cited)
    return CheckResult(
        Result.MET, f"reviewer(s) {', '.join(ok)} hold {what} on {day.date()}", cited
    )


#: escalation triggers that fire on an event of the run (the rest: risk level, SLA)
_EVENT_TRIGGERS: dict[str, EventType] = {
    "rejected": EventType.REVIEW_REJECTED,
    "override": EventType.OVERRIDE_RECORDED,
    "deviation": EventType.DEVIATION_RECORDED,
    "challenge": EventType.CHALLENGE_RAISED,
    "checklist_failed": EventType.CHECKLIST_COMPLETED,
    "model_error": EventType.MODEL_RESPONDED,
}

_TRIGGER_WORDS = {
    "rejected": "a reviewer rejected the output",
    "override": "an override was recorded",
    "deviation": "a deviation from the policy was recorded",
    "challenge": "the run was challenged",
    "checklist_failed": "a checklist item was answered 'no'",
    "model_error": "the model returned an error",
    "sla_breach": "the run stayed open past the policy's SLA",
}


def _fired_at(
    ev: RunEvidence, trigger: str, sla_hours: float, ctx: CheckContext
) -> tuple[EvidenceEvent | None, float | None] | None:
    """Where ``trigger`` fired: (the event that fired it, or None for the SLA deadline;
    the deadline as seconds after start for ``sla_breach``), or None when it did not fire.
    Read the same way as the live workflow (``core.review_rules.fired_triggers``)."""
    s = ev.started
    if trigger.startswith("risk_level:"):
        return (s, None) if s is not None and ev.risk_level == trigger.partition(":")[2] else None
    if trigger == "sla_breach":
        if s is None:
            return None
        closed = ev.first(EventType.RUN_CLOSED)
        end = closed.at if closed is not None else ctx.as_of
        if end is None or (end - s.at).total_seconds() <= sla_hours * 3600:
            return None
        return None, sla_hours * 3600
    et = _EVENT_TRIGGERS.get(trigger)
    if et is None:
        return None
    for e in ev.all(et):
        if trigger == "checklist_failed":
            items = e.payload.get("items")
            if isinstance(items, dict) and any(v is False for v in items.values()):
                return e, None
        elif trigger == "model_error":
            if e.payload.get("error"):
                return e, None
        else:
            return e, None
    return None


@register("escalations_as_required")
def escalations_as_required(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Every escalation trigger of the policy that fired in the run has an escalation raised
    after it, resolved by the policy's owner role (or the owner it names)."""
    pol = ctx.policy
    if pol is None:
        return CheckResult(
            Result.NOT_APPLICABLE, "the policy version is unknown, so no escalation triggers apply"
        )
    if not pol.escalation.triggers:
        return CheckResult(
            Result.NOT_APPLICABLE, f"{ctx.policy_label} names no escalation triggers"
        )
    raised = ev.all(EventType.ESCALATION_RAISED)
    resolutions = ev.all(EventType.ESCALATION_RESOLVED)
    owner_role = pol.escalation.owner_role
    # pair each resolution with the escalation it names, else the oldest open one
    resolved_by: dict[str, EvidenceEvent] = {}
    for r in resolutions:
        target = r.payload.get("escalation")
        open_ = [e for e in raised if e.id not in resolved_by and e.seq < r.seq]
        match = [e for e in open_ if e.id == target] or open_[:1]
        if match:
            resolved_by[match[0].id] = r
    start = ev.started
    fired: list[str] = []
    ok: list[str] = []
    problems: list[str] = []
    cited: list[EvidenceEvent | None] = []
    for trig in pol.escalation.triggers:
        where = _fired_at(ev, trig, pol.sla_hours, ctx)
        if where is None:
            continue
        event, deadline = where
        why = _TRIGGER_WORDS.get(trig, f"the run's risk level is {ev.risk_level}")
        at = f" ({event.id})" if event is not None else ""
        fired.append(trig)
        cited.append(event)
        if deadline is not None and start is not None:
            after = [e for e in raised if (e.at - start.at).total_seconds() > deadline]
        else:
            after = [e for e in raised if event is None or e.seq >= event.seq]
        if not after:
            problems.append(f"trigger '{trig}' fired ({why}{at}) but no escalation was raised")
            continue
        good = [
            e
            for e in after
            if e.id in resolved_by
            and (
                resolved_by[e.id].actor.role.value == owner_role
                or resolved_by[e.id].actor.id == _ref(e.payload.get("owner"))
            )
            and resolved_by[e.id].actor.role is not Role.SYSTEM
        ]
        if good:
            ok.append(
                f"'{trig}' escalated ({good[0].id}) and resolved ({resolved_by[good[0].id].id})"
            )
            cited += [good[0], resolved_by[good[0].id]]
            continue
        esc = after[0]
        cited.append(esc)
        res = resolved_by.get(esc.id)
        if res is None:
            problems.append(
                f"trigger '{trig}' fired ({why}{at}); escalation {esc.id} is unresolved"
            )
        else:
            cited.append(res)
            problems.append(
                f"trigger '{trig}' fired ({why}{at}); escalation {esc.id} was resolved "
                f"({res.id}) by '{res.actor.id}' as {res.actor.role.value}, not by the "
                f"{owner_role} or the owner it names"
            )
    if not fired:
        return CheckResult(
            Result.NOT_APPLICABLE,
            f"none of the escalation triggers of {ctx.policy_label} fired "
            f"({', '.join(pol.escalation.triggers)})",
        )
    if problems:
        unraised = any("no escalation was raised" in p for p in problems)
        result = Result.UNMET if unraised and not ok else Result.PARTIAL
        return CheckResult(result, "; ".join(problems + ok), cite(cited))
    return CheckResult(Result.MET, "; ".join(ok), cite(cited))
