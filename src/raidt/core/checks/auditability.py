"""Auditability: can an outsider follow the run end to end and trust the record?

Looks for an unbroken prompt -> output -> review -> disposition sequence, documented
exceptions, an intact hash chain and the fields the policy makes mandatory (EU AI Act
Art. 12, 19, 26(6); NIST AI 600-1 MS-2.8-003, GV-1.5-003; ISO/IEC 42001 A.6.2.8).
"""

from __future__ import annotations

from typing import Any

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
from raidt.core.events import EventType
from raidt.core.timefmt import format_ts

__all__ = [
    "breaches",
    "chain_verified",
    "chronology_possible",
    "exceptions_documented",
    "mandatory_fields",
    "retention_rule",
    "sequence_complete",
]

_STEPS: tuple[tuple[str, tuple[EventType, ...]], ...] = (
    ("prompt", (EventType.PROMPT_RENDERED, EventType.MODEL_INVOKED)),
    ("output", (EventType.MODEL_RESPONDED,)),
    ("review", (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)),
    ("disposition", (EventType.RUN_CLOSED,)),
)


@register("sequence_complete")
def sequence_complete(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Prompt, output, review decision and disposition are all recorded, in that order."""
    found: list[EvidenceEvent] = []
    missing: list[str] = []
    disorder: list[str] = []
    last_seq = -1
    withdrawn = ev.withdrawn_before_use
    for name, types in _STEPS:
        hits = ev.all(*types)
        if not hits and name == "review" and withdrawn:
            continue  # a draft withdrawn before any use needs no review
        if not hits:
            missing.append(name)
            continue
        after = [e for e in hits if e.seq > last_seq]
        if not after:
            disorder.append(f"{name} ({hits[0].id}) comes before the step it should follow")
            found.append(hits[0])
            continue
        found.append(after[0])
        last_seq = after[0].seq
    chain = " -> ".join(f"{e.type.value} {e.id}" for e in found)
    if not missing and not disorder:
        return CheckResult(Result.MET, f"complete sequence: {chain}", cite(found))
    parts = []
    if missing:
        parts.append(f"missing step(s): {', '.join(missing)}")
    if disorder:
        parts.append("; ".join(disorder))
    text = "; ".join(parts) + (f" (recorded: {chain})" if chain else "")
    ordered = len(found) - len(disorder)
    return CheckResult(Result.PARTIAL if ordered >= 2 else Result.UNMET, text, cite(found))


def breaches(ev: RunEvidence, ctx: CheckContext) -> list[tuple[EvidenceEvent, str]]:
    """Departures from the policy the record itself shows (template or model not approved)."""
    pol, ok = ctx.policy, approvals_of(ctx)
    if pol is None or ok is None:
        return []
    out: list[tuple[EvidenceEvent, str]] = []
    for e, tid, ver in ev.templates():
        if not ok.template_ok(tid, ver):
            out.append((e, f"template {tid}@{ver} is not approved by {ctx.policy_label}"))
    for e in ev.all(EventType.MODEL_INVOKED):
        p = e.payload
        params = p.get("parameters") if isinstance(p.get("parameters"), dict) else {}
        if not ok.model_ok(str(p.get("provider")), str(p.get("model")), params or {}):
            out.append(
                (
                    e,
                    f"model {p.get('provider')}/{p.get('model')} with {params} is not "
                    f"approved by {ctx.policy_label}",
                )
            )
    return out


def _reason(e: EvidenceEvent) -> str:
    r = e.payload.get("reason")
    return r.strip() if isinstance(r, str) else ""


@register("exceptions_documented")
def exceptions_documented(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Overrides, deviations and policy breaches are recorded as events with reasons."""
    exceptions = ev.all(EventType.OVERRIDE_RECORDED, EventType.DEVIATION_RECORDED)
    found = breaches(ev, ctx)
    if not exceptions and not found:
        return CheckResult(
            Result.NOT_APPLICABLE,
            "no overrides, deviations or policy breaches in this run, so none needed documenting",
        )
    if found and not exceptions:
        what = "; ".join(f"{e.id}: {why}" for e, why in found)
        return CheckResult(
            Result.UNMET,
            f"{what}; no deviation.recorded or override.recorded explains it",
            cite([e for e, _ in found]),
        )
    reasoned = [e for e in exceptions if _reason(e)]
    result = ratio_result(len(reasoned), len(exceptions))
    text = f"{len(reasoned)} of {len(exceptions)} override/deviation event(s) carry a reason"
    if found:
        text += f"; policy breach(es) at {', '.join(e.id for e, _ in found)} are documented"
    return CheckResult(result, text, cite([*exceptions, *(e for e, _ in found)]))


@register("chain_verified")
def chain_verified(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Every event links to the one before it, and the store's verification passed."""
    if not ev.events:
        return CheckResult(Result.UNMET, "no events: there is no record to verify")
    if not ctx.chain_ok:
        return CheckResult(
            Result.UNMET,
            "verification of the stored hash chain or ledger "
            "failed for this run: the record may have been altered",
        )
    prev: EvidenceEvent | None = None
    for e in ev.events:
        expected = prev.hash if prev is not None else None
        if e.prev_hash != expected:
            where = f"after {prev.id}" if prev is not None else "as the first event"
            return CheckResult(
                Result.UNMET,
                f"hash chain broken at {e.id}: its prev_hash does "
                f"not match the event {where} (an event is missing or altered)",
                cite([prev, e]),
            )
        prev = e
    first, last = ev.events[0], ev.events[-1]
    return CheckResult(
        Result.MET,
        f"{len(ev.events)} events chain unbroken from {first.id} to {last.id}",
        cite([first, last]),
    )


def _field_value(ev: RunEvidence, name: str) -> tuple[Any, EvidenceEvent | None]:
    if name == "reviewer":
        e = ev.first(EventType.REVIEW_ASSIGNED)
        return (e.payload.get("reviewer") if e else None), e
    closed = ev.last(EventType.RUN_CLOSED)
    for e in (closed, ev.started):
        if e is not None and e.payload.get(name) not in (None, "", [], {}):
            return e.payload[name], e
    return None, None


@register("mandatory_fields")
def mandatory_fields(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The fields the policy makes mandatory before close are present in the record."""
    fields: list[str] = (
        list(ctx.policy.mandatory_fields)
        if ctx.policy
        else list(ctx.param("fields", ["purpose", "risk_level", "reviewer", "disposition"]))
    )
    if not fields:
        return CheckResult(Result.NOT_APPLICABLE, f"{ctx.policy_label} names no mandatory fields")
    present: list[EvidenceEvent | None] = []
    missing: list[str] = []
    if ev.withdrawn_before_use:  # as the live workflow: no review fields, but a reason
        fields = [f for f in fields if f not in ("reviewer", "approver", "signoff", "checklist")]
        fields.append("reason")
    for f in fields:
        value, where = _field_value(ev, f)
        if value is None:
            missing.append(f)
        else:
            present.append(where)
    source = ctx.policy_label if ctx.policy else "the default list (policy unknown)"
    result = ratio_result(len(fields) - len(missing), len(fields))
    if missing:
        return CheckResult(
            result, f"mandatory field(s) from {source} missing: {', '.join(missing)}", cite(present)
        )
    return CheckResult(
        Result.MET,
        f"all mandatory fields from {source} present: {', '.join(fields)}",
        cite(present),
    )


@register("retention_rule")
def retention_rule(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """A retention rule of at least six months applies to the run's record."""
    if ctx.policy is None:
        return CheckResult(
            Result.UNMET,
            "the policy version is unknown, so no retention rule "
            "can be shown to apply to this record",
        )
    r = ctx.policy.retention
    hold = " with a legal hold" if r.legal_hold else ""
    return CheckResult(
        Result.MET,
        f"{ctx.policy_label} keeps records {r.min_days} days (at least six months){hold}",
        cite([ev.started]),
    )


_DECIDED = (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)


def _when(e: EvidenceEvent) -> str:
    return f"{e.type.value} {e.id} ({e.at_text})"


@register("chronology_possible")
def chronology_possible(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The record's times could have happened: the run starts before everything else, an
    output exists before any decision on it, decisions come before sign-off and close, and
    nothing is dated later than the instant it was sealed (allowing ``clock_skew_seconds``).

    A record that fails this cannot be evidence of what happened, whatever else it shows.
    """
    if not ev.events:
        return CheckResult(Result.UNMET, "no events: there is no chronology to check")
    problems: list[str] = []
    cited: list[EvidenceEvent | None] = []
    s = ev.started
    if s is not None:
        early = [e for e in ev.events if e.at < s.at]
        for e in early[:3]:
            problems.append(f"{_when(e)} is dated before the run started ({s.at_text})")
            cited += [s, e]
        if len(early) > 3:
            problems.append(f"{len(early) - 3} more event(s) are dated before the start")
    outputs = ev.all(EventType.MODEL_RESPONDED)
    first_out = min(outputs, key=lambda e: e.at) if outputs else None
    decisions = ev.all(*_DECIDED)
    if first_out is not None:
        for d in decisions:
            if d.at < first_out.at:
                problems.append(
                    f"{_when(d)} is dated before the first output it could decide on "
                    f"({_when(first_out)})"
                )
                cited += [d, first_out]
    first_decision = min(decisions, key=lambda e: e.at) if decisions else None
    if first_decision is not None:
        for so in ev.all(EventType.SIGNOFF_RECORDED):
            if so.at < first_decision.at:
                problems.append(
                    f"{_when(so)} is dated before any review decision ({_when(first_decision)})"
                )
                cited += [so, first_decision]
    for closed in ev.all(EventType.RUN_CLOSED):
        before = [
            e
            for e in ev.all(EventType.MODEL_RESPONDED, *_DECIDED, EventType.SIGNOFF_RECORDED)
            if e.at > closed.at and e.seq < closed.seq
        ]
        if before:
            latest = max(before, key=lambda e: e.at)
            problems.append(f"{_when(closed)} is dated before {_when(latest)}, which it closes on")
            cited += [closed, latest]
    if ctx.recorded_by is not None:
        skew = float(ctx.param("clock_skew_seconds", 300))
        future = [e for e in ev.events if (e.at - ctx.recorded_by).total_seconds() > skew]
        for e in future[:3]:
            problems.append(
                f"{_when(e)} is dated after it was sealed (by {format_ts(ctx.recorded_by)})"
            )
            cited.append(e)
        if len(future) > 3:
            problems.append(f"{len(future) - 3} more event(s) are dated in the future")
    if problems:
        return CheckResult(
            Result.UNMET, "impossible chronology: " + "; ".join(problems), cite(cited)
        )
    last = max(ev.events, key=lambda e: e.at)
    sealed = (
        f"; none later than its sealing ({format_ts(ctx.recorded_by)})"
        if ctx.recorded_by is not None
        else ""
    )
    return CheckResult(
        Result.MET,
        f"times are possible: from {ev.events[0].at_text if s is None else s.at_text} to "
        f"{last.at_text}, output before decisions, decisions before sign-off and close{sealed}",
        cite([s, last]),
    )
