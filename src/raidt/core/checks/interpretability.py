"""Interpretability: was the use legible, and did the reviewer engage with the output?

Looks for an approved template, acknowledged reviewer guidance, a stated purpose, a review
that took time and followed the checklist rather than a rubber stamp, and reasons on every
edit, override or rejection (EU AI Act Art. 14(4)(a-d); NIST AI 600-1 MS-4.2-004).
"""

from __future__ import annotations

from raidt.core.checks._base import (
    CheckContext,
    CheckResult,
    EvidenceEvent,
    Result,
    RunEvidence,
    approvals_of,
    cite,
    ratio_result,
    register,
)
from raidt.core.checks.oversight import judge_review
from raidt.core.events import EventType

__all__ = [
    "approved_template",
    "edits_reasoned",
    "guidance_acknowledged",
    "purpose_recorded",
    "review_timing",
    "substantive_review",
]


@register("approved_template")
def approved_template(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The prompt template used is one the policy approves."""
    used = ev.templates()
    if not used:
        return CheckResult(
            Result.UNMET,
            "no prompt template is recorded (neither run.started "
            "nor prompt.rendered names one): the prompt was ad hoc",
        )
    names = ", ".join(sorted({f"{t}@{v}" for _, t, v in used}))
    if ctx.policy is None:
        return CheckResult(
            Result.PARTIAL,
            f"template {names} recorded, but the policy version "
            "is unknown, so its approval cannot be checked",
            cite([e for e, _, _ in used]),
        )
    ok = approvals_of(ctx)
    assert ok is not None
    bad = [(e, t, v) for e, t, v in used if not ok.template_ok(t, v)]
    if not bad:
        return CheckResult(
            Result.MET,
            f"template {names} is approved by {ctx.policy_label}",
            cite([e for e, _, _ in used]),
        )
    approved = ", ".join(f"{a.id}@{a.version}" for a in ctx.policy.approved_templates) or "none"
    text = "; ".join(f"{e.id} uses template {t}@{v}, not approved" for e, t, v in bad)
    return CheckResult(
        ratio_result(len(used) - len(bad), len(used)),
        f"{text} ({ctx.policy_label} approves: {approved})",
        cite([e for e, _, _ in bad]),
    )


@register("guidance_acknowledged")
def guidance_acknowledged(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The reviewer acknowledged the guidance version the policy gives for this task."""
    acks = ev.all(EventType.GUIDANCE_ACKNOWLEDGED)
    if ctx.policy is None:
        if acks:
            return CheckResult(
                Result.PARTIAL,
                f"guidance acknowledged ({acks[0].id}), but the "
                "policy version is unknown, so the version cannot be checked",
                cite(acks),
            )
        return CheckResult(
            Result.UNMET, "no guidance.acknowledged, and the policy version is unknown"
        )
    g = ctx.policy.review.guidance
    if g is None:
        return CheckResult(
            Result.NOT_APPLICABLE, f"{ctx.policy_label} gives no reviewer guidance to acknowledge"
        )
    if not acks:
        if ev.withdrawn_before_use and not ev.reviewers():
            return CheckResult(
                Result.NOT_APPLICABLE, "withdrawn before any use: no reviewer to read guidance"
            )
        return CheckResult(
            Result.UNMET,
            f"no guidance.acknowledged: nobody confirmed reading guidance {g.id}@{g.version}",
        )
    good = [
        e
        for e in acks
        if isinstance(e.payload.get("guidance"), dict)
        and e.payload["guidance"].get("id") == g.id
        and str(e.payload["guidance"].get("version")) == g.version
    ]
    if good:
        return CheckResult(
            Result.MET,
            f"'{good[0].actor.id}' acknowledged guidance {g.id}@{g.version} ({good[0].id})",
            cite(good),
        )
    return CheckResult(
        Result.PARTIAL,
        f"guidance acknowledged ({acks[0].id}) but not version "
        f"{g.id}@{g.version} that {ctx.policy_label} gives",
        cite(acks),
    )


@register("purpose_recorded")
def purpose_recorded(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The run states what the output is for, in more than a word or two."""
    s = ev.started
    purpose = s.payload.get("purpose") if s else None
    text = purpose.strip() if isinstance(purpose, str) else ""
    if not text or s is None:
        return CheckResult(Result.UNMET, "no purpose is recorded on run.started")
    need = int(ctx.param("min_chars", 10))
    if len(text) < need:
        return CheckResult(
            Result.PARTIAL,
            f"purpose '{text}' on {s.id} is shorter than "
            f"{need} characters: too thin to say what the output is for",
            cite([s]),
        )
    return CheckResult(Result.MET, f"purpose recorded on {s.id}: '{text[:80]}'", cite([s]))


def review_timing(
    ev: RunEvidence,
) -> tuple[EvidenceEvent | None, EvidenceEvent | None, float | None]:
    """(first assignment, first decision, seconds between them or None)."""
    assigned = ev.first(EventType.REVIEW_ASSIGNED)
    decision = ev.first(EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)
    if assigned is None or decision is None:
        return assigned, decision, None
    return assigned, decision, (decision.at - assigned.at).total_seconds()


@register("substantive_review")
def substantive_review(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The decision that settled the output was human oversight, not a click to approve.

    Met only when a person who was assigned decided on an output that existed, after at
    least the policy's review time (measured from the later of the assignment and the
    latest output or revision), with the checklist worked through (see
    :mod:`raidt.core.checks.oversight`). A draft withdrawn before any use needs no review.
    """
    j = judge_review(ev, ctx)
    if j.decision is None:
        if ev.withdrawn_before_use:
            closed = ev.closed
            return CheckResult(
                Result.NOT_APPLICABLE,
                f"withdrawn before any use ({closed.id if closed else '?'}): no review needed",
                cite([closed]),
            )
        what = (
            f"the run closed as '{ev.disposition}'" if ev.closed is not None else "the run is open"
        )
        return CheckResult(
            Result.UNMET, f"no review decision (approve or reject) is recorded; {what}"
        )
    d = j.decision
    if j.problems:
        return CheckResult(
            Result.UNMET,
            "rubber stamp, not oversight: " + "; ".join(j.problems),
            cite(j.cited),
        )
    if not j.approved:
        return CheckResult(
            Result.MET,
            f"'{j.reviewer}' rejected the output ({d.id}) {j.seconds:.0f} s after {j.start_label}",
            cite(j.cited),
        )
    edits = len(ev.all(EventType.OUTPUT_EDITED))
    checklist = (
        "checklist worked through"
        if ctx.policy is not None and ctx.policy.review.checklist
        else "no checklist required"
    )
    return CheckResult(
        Result.MET,
        f"'{j.reviewer}' (assigned, a person) approved {d.id} {j.seconds:.0f} s after "
        f"{j.start_label} (minimum {j.required_seconds:.0f} s); {checklist}; {edits} edit(s)",
        cite(j.cited),
    )


@register("edits_reasoned")
def edits_reasoned(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Every edit, override and rejection is a separate event carrying a reason."""
    items = ev.all(EventType.OUTPUT_EDITED, EventType.OVERRIDE_RECORDED, EventType.REVIEW_REJECTED)
    if not items:
        return CheckResult(Result.NOT_APPLICABLE, "no edits, overrides or rejections to explain")
    bare = [
        e
        for e in items
        if not (isinstance(e.payload.get("reason"), str) and e.payload["reason"].strip())
    ]
    result = ratio_result(len(items) - len(bare), len(items))
    if bare:
        return CheckResult(
            result,
            f"{len(bare)} of {len(items)} edit/override/rejection "
            f"event(s) give no reason: {', '.join(e.id for e in bare)}",
            cite(bare),
        )
    return CheckResult(
        Result.MET, f"all {len(items)} edit/override/rejection event(s) give a reason", cite(items)
    )
