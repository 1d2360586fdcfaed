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
    cite,
    ratio_result,
    register,
    template_ok,
)
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
    bad = [(e, t, v) for e, t, v in used if not template_ok(ctx.policy, t, v)]
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
    """The review took the minimum time and covered the checklist, not a rubber stamp."""
    assigned, decision, secs = review_timing(ev)
    if decision is None:
        return CheckResult(Result.UNMET, "no review decision (approve or reject) is recorded")
    edits = ev.all(EventType.OUTPUT_EDITED)
    lists = ev.all(EventType.CHECKLIST_COMPLETED)
    required = list(ctx.policy.review.checklist) if ctx.policy else list(ctx.param("checklist", []))
    min_s = float(ctx.policy.review.min_seconds if ctx.policy else ctx.param("min_seconds", 60))
    stamp_s = float(ctx.param("rubber_stamp_seconds", 30))
    ticked = {k for e in lists for k, v in (e.payload.get("items") or {}).items() if v is True}
    missing_items = [i for i in required if i not in ticked]
    checklist_ok = bool(lists) and not missing_items if required else True
    checklist_note = (
        f"checklist complete ({', '.join(e.id for e in lists)})"
        if required and checklist_ok
        else f"checklist items not ticked: {', '.join(missing_items)}"
        if required
        else "no checklist required"
    )
    cited = cite([assigned, decision, *lists, *edits])
    if secs is None:
        engaged = bool(edits) or (bool(lists) and checklist_ok)
        return CheckResult(
            Result.PARTIAL if engaged else Result.UNMET,
            f"decision {decision.id} has no review.assigned before it, so review "
            f"time cannot be measured; {checklist_note}; {len(edits)} edit(s)",
            cited,
        )
    timing = f"decision {decision.id} came {secs:.0f}s after assignment {assigned.id}"  # type: ignore[union-attr]
    if secs < stamp_s and not edits and not lists:
        return CheckResult(
            Result.UNMET, f"rubber stamp: {timing}, with no edits and no checklist", cited
        )
    timed = secs >= min_s
    time_note = f"{timing} (minimum {min_s:.0f}s)"
    if timed and checklist_ok:
        return CheckResult(Result.MET, f"{time_note}; {checklist_note}", cited)
    if timed or (required and checklist_ok) or edits:
        return CheckResult(
            Result.PARTIAL, f"{time_note}; {checklist_note}; {len(edits)} edit(s)", cited
        )
    return CheckResult(Result.UNMET, f"{time_note}; {checklist_note}", cited)


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
