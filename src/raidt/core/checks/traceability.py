"""Traceability: can the output be followed from its inputs to where it ended up?

Looks for start and end timestamps, a time-stamped chain input -> output -> reviewer ->
approval -> downstream, pinned model and template versions, data context referenced with
digests, attributable edits and a recorded final path (EU AI Act Art. 12(3), 72; NIST AI
600-1 GV-1.6-003; ISO/IEC 42001 A.7.5).
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
from raidt.core.events import EventType

__all__ = [
    "config_pinned",
    "data_context_digested",
    "edits_attributable",
    "linkage_complete",
    "output_path_recorded",
    "timestamps_complete",
]


@register("timestamps_complete")
def timestamps_complete(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The run has a start and an end timestamp (UTC)."""
    s, c = ev.started, ev.first(EventType.RUN_CLOSED)
    if s is not None and c is not None and c.at < s.at:
        return CheckResult(
            Result.UNMET,
            f"closed {c.at_text} ({c.id}) before it started {s.at_text} ({s.id}): "
            "the end time is impossible",
            cite([s, c]),
        )
    if s is not None and c is not None:
        return CheckResult(
            Result.MET, f"started {s.at_text} ({s.id}), closed {c.at_text} ({c.id})", cite([s, c])
        )
    if s is not None:
        return CheckResult(
            Result.PARTIAL,
            f"started {s.at_text} ({s.id}); no run.closed, so no end time",
            cite([s]),
        )
    return CheckResult(Result.UNMET, "no run.started: the run has no start time", cite([c]))


_LINKS: tuple[tuple[str, tuple[EventType, ...]], ...] = (
    ("input", (EventType.PROMPT_RENDERED, EventType.RETRIEVAL_PERFORMED, EventType.TOOL_CALLED)),
    ("output", (EventType.MODEL_RESPONDED,)),
    ("reviewer", (EventType.REVIEW_ASSIGNED,)),
    (
        "approval",
        (EventType.REVIEW_APPROVED, EventType.SIGNOFF_RECORDED, EventType.REVIEW_REJECTED),
    ),
    ("downstream", (EventType.DOWNSTREAM_USED,)),
)


@register("linkage_complete")
def linkage_complete(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Input, output, reviewer, approval and downstream use are each time-stamped events."""
    closed = ev.last(EventType.RUN_CLOSED)
    not_used = closed is not None and closed.payload.get("disposition") in ("rejected", "withdrawn")
    found: list[EvidenceEvent] = []
    missing: list[str] = []
    for name, types in _LINKS:
        hit = ev.first(*types)
        if hit is None and name == "downstream" and not_used and closed is not None:
            hit = closed  # a rejected or withdrawn output is not expected to go anywhere
        if hit is None and name in ("reviewer", "approval") and ev.withdrawn_before_use:
            continue  # a draft withdrawn before use is not reviewed
        if hit is None:
            missing.append(name)
        else:
            found.append(hit)
    k = len(found)
    text = " -> ".join(f"{e.type.value} {e.id} at {e.at_text}" for e in found)
    if not missing:
        return CheckResult(Result.MET, f"linked: {text}", cite(found))
    return CheckResult(
        Result.PARTIAL if k >= 3 else Result.UNMET,
        f"link(s) missing: {', '.join(missing)}" + (f"; recorded: {text}" if text else ""),
        cite(found),
    )


@register("config_pinned")
def config_pinned(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Model id, its parameters and the prompt-template version are recorded."""
    call = ev.last(EventType.MODEL_INVOKED)
    used = ev.templates()
    have: list[str] = []
    missing: list[str] = []
    (have if call is not None else missing).append("model id")
    (have if call is not None and call.payload.get("parameters") else missing).append(
        "model parameters"
    )
    (have if used else missing).append("template version")
    cited = cite([call, *(e for e, _, _ in used[-1:])])
    if not missing:
        return CheckResult(
            Result.MET,
            f"pinned: {call.payload.get('provider')}/"  # type: ignore[union-attr]
            f"{call.payload.get('model')} with parameters, template "  # type: ignore[union-attr]
            f"{used[-1][1]}@{used[-1][2]}",
            cited,
        )
    return CheckResult(
        ratio_result(len(have), 3),
        f"not pinned: {', '.join(missing)}" + (f"; pinned: {', '.join(have)}" if have else ""),
        cited,
    )


@register("data_context_digested")
def data_context_digested(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Data context and reference sources are recorded as references with digests."""
    refs: list[tuple[EvidenceEvent, str, bool]] = []
    for e in ev.all(EventType.RUN_STARTED, EventType.RETRIEVAL_PERFORMED, EventType.TOOL_CALLED):
        key = "data_context" if e.type is EventType.RUN_STARTED else "sources"
        for item in e.payload.get(key) or []:
            if isinstance(item, dict) and item.get("ref"):
                refs.append((e, str(item["ref"]), bool(item.get("digest"))))
    if not refs:
        if not ctx.param("required", True):
            return CheckResult(
                Result.NOT_APPLICABLE,
                "no data context recorded, and the rubric does not require one",
            )
        return CheckResult(
            Result.UNMET,
            "no data context or reference sources are recorded "
            "(run.started data_context, retrieval sources)",
        )
    bare = [r for _, r, d in refs if not d]
    cited = cite([e for e, _, _ in refs])
    if bare:
        return CheckResult(
            Result.PARTIAL,
            f"{len(refs)} reference(s) recorded; without digest: {', '.join(bare[:5])}",
            cited,
        )
    return CheckResult(Result.MET, f"{len(refs)} reference(s) recorded, each with a digest", cited)


@register("edits_attributable")
def edits_attributable(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Every edit of the output is attributed to a person known to the directory."""
    edits = ev.all(EventType.OUTPUT_EDITED)
    if not edits:
        return CheckResult(Result.NOT_APPLICABLE, "no edits to attribute")
    bad = [e for e in edits if not is_person(e.actor.id, e.actor.role, ctx)]
    unknown = [e for e in edits if e not in bad and ctx.actors.get(e.actor.id) is None]
    if bad:
        return CheckResult(
            Result.UNMET if len(bad) == len(edits) else Result.PARTIAL,
            "edit(s) by a system component, not a person: "
            + ", ".join(f"{e.id} ({e.actor.id})" for e in bad),
            cite(bad),
        )
    if unknown:
        return CheckResult(
            Result.PARTIAL,
            "edit(s) by people missing from the actor "
            "directory: " + ", ".join(f"{e.id} ({e.actor.id})" for e in unknown),
            cite(unknown),
        )
    return CheckResult(
        Result.MET,
        f"{len(edits)} edit(s), each by a named person: "
        + ", ".join(f"{e.id} ({e.actor.id})" for e in edits),
        cite(edits),
    )


@register("output_path_recorded")
def output_path_recorded(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Where the output finally went (or that it went nowhere) is recorded."""
    closed = ev.last(EventType.RUN_CLOSED)
    used = ev.all(EventType.DOWNSTREAM_USED)
    if closed is None:
        return CheckResult(
            Result.UNMET,
            "no run.closed: the output's final disposition is not recorded",
            cite(used),
        )
    disp = closed.payload.get("disposition")
    if disp in ("rejected", "withdrawn"):
        if used:
            return CheckResult(
                Result.UNMET,
                f"disposition '{disp}' ({closed.id}) but the "
                f"output was used downstream ({used[0].id})",
                cite([closed, *used]),
            )
        return CheckResult(
            Result.MET,
            f"disposition '{disp}' ({closed.id}); the output went nowhere",
            cite([closed]),
        )
    if not used:
        return CheckResult(
            Result.PARTIAL,
            f"disposition '{disp}' ({closed.id}) but no downstream.used says where the output went",
            cite([closed]),
        )
    allowed = ctx.policy.downstream_allowed if ctx.policy else []
    off = [e for e in used if allowed and e.payload.get("destination") not in allowed]
    dests = ", ".join(str(e.payload.get("destination")) for e in used)
    if off:
        return CheckResult(
            Result.PARTIAL,
            f"output used at {dests}; not allowed by "
            f"{ctx.policy_label}: "
            + ", ".join(f"{e.payload.get('destination')} ({e.id})" for e in off),
            cite([closed, *used]),
        )
    return CheckResult(
        Result.MET,
        f"disposition '{disp}' ({closed.id}); output used at {dests}",
        cite([closed, *used]),
    )
