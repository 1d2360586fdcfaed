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


def _role_holders(ev: RunEvidence) -> dict[str, dict[str, EvidenceEvent]]:
    """Role name -> actor id -> the first event showing that actor in that role."""
    out: dict[str, dict[str, EvidenceEvent]] = {}
    if ev.started is not None and ev.started.actor.id:
        out["initiator"] = {ev.started.actor.id: ev.started}
    reviewers = ev.reviewers()
    if reviewers:
        out["reviewer"] = {rid: evs[0] for rid, evs in reviewers.items()}
    for e in ev.all(EventType.SIGNOFF_RECORDED, EventType.REVIEW_APPROVED):
        if e.actor.id and (e.actor.role is Role.APPROVER or e.type is EventType.SIGNOFF_RECORDED):
            out.setdefault("approver", {}).setdefault(e.actor.id, e)
    for e in ev.all(EventType.ESCALATION_RAISED):
        owner = e.payload.get("owner")
        oid = owner.get("id") if isinstance(owner, dict) else None
        if oid:
            out.setdefault("escalation_owner", {}).setdefault(oid, e)
    return out


#: id(policy) -> (policy, role pairs that must differ): read once per policy object, not
#: once per run (the entry holds the policy, so the id cannot be reused meanwhile)
_SOD_PAIRS: dict[int, tuple[Policy, list[tuple[str, str]]]] = {}


def _sod_pairs(policy: Policy | None) -> list[tuple[str, str]]:
    """The separated pairs: self-review always, plus those the policy lists."""
    if policy is None:
        return _DEFAULT_SOD
    hit = _SOD_PAIRS.get(id(policy))
    if hit is None:
        if len(_SOD_PAIRS) > 1000:
            _SOD_PAIRS.clear()
        listed = [(str(a), str(b)) for a, b in policy.roles.separation_of_duties]
        hit = _SOD_PAIRS[id(policy)] = (policy, list(dict.fromkeys([*_DEFAULT_SOD, *listed])))
    return hit[1]


@register("reviewer_distinct")
def reviewer_distinct(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """A reviewer other than the initiator is recorded, and separated duties stay separated."""
    reviewers = ev.reviewers()
    if not reviewers:
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
            clashes.append(f"{label}: '{actor}' is {a} ({ea.id}) and {b} ({eb.id})")
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
    """The sign-offs the policy asks for at the run's risk level are recorded by those roles."""
    signoffs = ev.all(EventType.SIGNOFF_RECORDED)
    if ctx.policy is None:
        if signoffs:
            return CheckResult(
                Result.PARTIAL,
                f"sign-off recorded ({signoffs[0].id}) but the "
                "policy version is unknown, so the sign-off path cannot be "
                "checked",
                cite(signoffs),
            )
        return CheckResult(
            Result.UNMET,
            "no signoff.recorded, and the policy version is "
            "unknown, so no sign-off path can be shown",
        )
    risk = ev.risk_level
    by_risk: dict[str, list[str]] = {str(k): v for k, v in ctx.policy.signoff.items()}
    required = by_risk.get(str(risk), [])
    if not required:
        return CheckResult(
            Result.NOT_APPLICABLE, f"{ctx.policy_label} asks for no sign-off at risk level '{risk}'"
        )
    found: list[EvidenceEvent] = []
    missing: list[str] = []
    for role in required:
        hit = next(
            (
                e
                for e in signoffs
                if e.actor.id != ev.initiator
                and (e.actor.role.value == role or role in _dir_roles(ctx, e.actor.id))
            ),
            None,
        )
        if hit is None:
            missing.append(role)
        else:
            found.append(hit)
    result = ratio_result(len(found), len(required))
    if missing:
        text = (
            f"{ctx.policy_label} needs sign-off by {', '.join(required)} at risk "
            f"'{risk}'; missing: {', '.join(missing)}"
        )
        if found:
            text += f" (found {', '.join(e.id for e in found)})"
        return CheckResult(result, text, cite(found))
    return CheckResult(
        Result.MET,
        f"sign-off by {', '.join(required)} recorded as {ctx.policy_label} asks at risk '{risk}'",
        cite(found),
    )


def _dir_roles(ctx: CheckContext, actor_id: str) -> list[str]:
    known = ctx.actors.get(actor_id)
    return known.roles if known else []


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
