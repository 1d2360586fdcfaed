"""Dependability: would the same arrangement behave the same way next time?

Looks for an approved model and configuration, agreement with comparable runs, required
steps in order, failures and escalations handled, and closure within the policy's SLA
(NIST AI 600-1 GV-1.6-003, GV-4.3-002, MG-4.3-002; EU AI Act Art. 72, 73).
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

__all__ = [
    "approved_model",
    "closed_within_sla",
    "consistent_with_comparables",
    "failures_handled",
    "model_config",
    "steps_in_order",
]


@register("approved_model")
def approved_model(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Every model call used an approved model with parameters inside the policy's bounds."""
    calls = ev.all(EventType.MODEL_INVOKED)
    if not calls:
        return CheckResult(
            Result.UNMET, "no model.invoked: the model and its configuration are not recorded"
        )
    names = ", ".join(
        sorted({f"{e.payload.get('provider')}/{e.payload.get('model')}" for e in calls})
    )
    if ctx.policy is None:
        return CheckResult(
            Result.PARTIAL,
            f"model {names} recorded, but the policy version is "
            "unknown, so its approval cannot be checked",
            cite(calls),
        )
    ok = approvals_of(ctx)
    assert ok is not None
    bad = [
        e
        for e in calls
        if not ok.model_ok(
            str(e.payload.get("provider")),
            str(e.payload.get("model")),
            e.payload.get("parameters") or {},
        )
    ]
    if not bad:
        return CheckResult(
            Result.MET,
            f"model {names} and its parameters are approved by {ctx.policy_label}",
            cite(calls),
        )
    text = "; ".join(
        f"{e.id}: "
        + (
            ctx.policy.model_problem(
                str(e.payload.get("provider")),
                str(e.payload.get("model")),
                p if isinstance(p := e.payload.get("parameters"), dict) else {},
            )
            or "not approved"
        )
        for e in bad
    )
    return CheckResult(ratio_result(len(calls) - len(bad), len(calls)), text, cite(bad))


def describe_config(config: dict[str, Any] | None) -> str:
    """A model configuration as a person reads it: ``openai/gpt-4o (temperature 0.2)``."""
    if not config:
        return "no model"
    params = config.get("parameters") or {}
    shown = (
        ", ".join(f"{k} {v}" for k, v in sorted(params.items())) if isinstance(params, dict) else ""
    )
    return f"{config.get('provider')}/{config.get('model')}" + (f" ({shown})" if shown else "")


def describe_template(template: dict[str, Any] | None) -> str:
    return "no template" if not template else f"{template.get('id')}@{template.get('version')}"


def model_config(ev: RunEvidence) -> dict[str, Any] | None:
    """The run's (last) model configuration as ``{"provider", "model", "parameters"}``."""
    e = ev.last(EventType.MODEL_INVOKED)
    if e is None:
        return None
    return {
        "provider": e.payload.get("provider"),
        "model": e.payload.get("model"),
        "parameters": e.payload.get("parameters") or {},
    }


@register("consistent_with_comparables")
def consistent_with_comparables(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Model configuration and template match what comparable runs usually use."""
    comp = ctx.comparables
    need = int(ctx.param("min_runs", 3))
    if comp is None or comp.runs < need:
        n = 0 if comp is None else comp.runs
        return CheckResult(
            Result.NOT_APPLICABLE,
            f"{n} comparable run(s) (same use case and "
            f"policy version); at least {need} are needed to judge consistency",
        )
    mine = model_config(ev)
    call = ev.last(EventType.MODEL_INVOKED)
    if mine is None:
        return CheckResult(
            Result.UNMET,
            "no model.invoked, so the configuration cannot be compared with comparable runs",
        )
    used = ev.templates()
    tmpl = {"id": used[-1][1], "version": used[-1][2]} if used else None
    diffs: list[str] = []
    if comp.model is not None and mine != comp.model:
        diffs.append(
            f"model configuration {describe_config(mine)} differs from the usual "
            f"{describe_config(comp.model)}"
        )
    if comp.template is not None and tmpl != comp.template:
        diffs.append(
            f"template {describe_template(tmpl)} differs from the usual "
            f"{describe_template(comp.template)}"
        )
    cited = cite([call, *(e for e, _, _ in used[-1:])])
    basis = f"among {comp.runs} comparable runs of {comp.use_case}"
    if not diffs:
        return CheckResult(
            Result.MET, f"model configuration and template match the usual ones {basis}", cited
        )
    return CheckResult(
        Result.PARTIAL if len(diffs) == 1 else Result.UNMET, f"{'; '.join(diffs)} ({basis})", cited
    )


#: (earlier, later): when both occur, the first of ``later`` must follow the first ``earlier``
_ORDER: tuple[tuple[tuple[EventType, ...], tuple[EventType, ...]], ...] = (
    ((EventType.PROMPT_RENDERED,), (EventType.MODEL_INVOKED,)),
    ((EventType.MODEL_INVOKED,), (EventType.MODEL_RESPONDED,)),
    ((EventType.MODEL_RESPONDED,), (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)),
    ((EventType.REVIEW_ASSIGNED,), (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)),
    ((EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED), (EventType.RUN_CLOSED,)),
    ((EventType.SIGNOFF_RECORDED,), (EventType.RUN_CLOSED,)),
    ((EventType.REVIEW_APPROVED,), (EventType.DOWNSTREAM_USED,)),
)

_AFTER_CLOSE_OK = {
    EventType.DOWNSTREAM_USED,
    EventType.CHALLENGE_RAISED,
    EventType.CHALLENGE_RESOLVED,
    EventType.ASSESSMENT_RECORDED,
}


@register("steps_in_order")
def steps_in_order(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The run starts first and its required steps happen in the workflow's order."""
    problems: list[str] = []
    cited: list[EvidenceEvent | None] = []
    if not ev.events or ev.events[0].type is not EventType.RUN_STARTED:
        first = ev.events[0] if ev.events else None
        problems.append(
            "run.started is not the first event" + (f" ({first.id} is)" if first else "")
        )
        cited.append(first)
    for earlier, later in _ORDER:
        a, b = ev.first(*earlier), ev.first(*later)
        if a is not None and b is not None and b.seq < a.seq:
            problems.append(f"{b.type.value} {b.id} comes before {a.type.value} {a.id}")
            cited += [a, b]
    closed = ev.first(EventType.RUN_CLOSED)
    if closed is not None:
        late = [e for e in ev.events if e.seq > closed.seq and e.type not in _AFTER_CLOSE_OK]
        if late:
            problems.append(
                f"{late[0].type.value} {late[0].id} recorded after run.closed {closed.id}"
            )
            cited += [closed, late[0]]
    if not problems:
        return CheckResult(
            Result.MET,
            f"all {len(ev.events)} events follow the workflow order",
            cite([ev.started, closed]),
        )
    return CheckResult(
        Result.PARTIAL if len(problems) == 1 else Result.UNMET, "; ".join(problems), cite(cited)
    )


@register("failures_handled")
def failures_handled(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """Model errors are retried or escalated, and every escalation is resolved."""
    errors = [e for e in ev.all(EventType.MODEL_RESPONDED) if e.payload.get("error")]
    raised = ev.all(EventType.ESCALATION_RAISED)
    resolved = ev.all(EventType.ESCALATION_RESOLVED)
    if not errors and not raised:
        return CheckResult(Result.NOT_APPLICABLE, "no model errors or escalations in this run")
    handled: list[EvidenceEvent] = []
    problems: list[str] = []
    for err in errors:
        follow = next(
            (
                e
                for e in ev.events
                if e.seq > err.seq
                and (
                    (e.type is EventType.MODEL_RESPONDED and not e.payload.get("error"))
                    or e.type
                    in (
                        EventType.ESCALATION_RAISED,
                        EventType.DEVIATION_RECORDED,
                        EventType.OVERRIDE_RECORDED,
                        EventType.REVIEW_REJECTED,
                    )
                    or (
                        e.type is EventType.RUN_CLOSED
                        and e.payload.get("disposition") in ("rejected", "withdrawn")
                    )
                )
            ),
            None,
        )
        if follow is None:
            problems.append(f"model error at {err.id} is neither retried nor escalated")
        else:
            handled.append(err)
    for i, esc in enumerate(raised):
        if i < len(resolved):
            handled.append(esc)
        else:
            problems.append(f"escalation {esc.id} ('{esc.payload.get('reason')}') is unresolved")
    total = len(errors) + len(raised)
    result = ratio_result(len(handled), total)
    if problems:
        return CheckResult(result, "; ".join(problems), cite([*errors, *raised, *resolved]))
    return CheckResult(
        Result.MET,
        f"{len(errors)} model error(s) and {len(raised)} escalation(s), all handled",
        cite([*errors, *raised, *resolved]),
    )


@register("closed_within_sla")
def closed_within_sla(ev: RunEvidence, ctx: CheckContext) -> CheckResult:
    """The run was closed within the policy's SLA (or is still open inside it)."""
    s = ev.started
    if s is None:
        return CheckResult(Result.UNMET, "no run.started, so the SLA clock has no start")
    sla = float(ctx.policy.sla_hours if ctx.policy else ctx.param("sla_hours", 72))
    src = ctx.policy_label if ctx.policy else "the default (policy unknown)"
    closed = ev.first(EventType.RUN_CLOSED)
    if closed is not None:
        hours = (closed.at - s.at).total_seconds() / 3600
        if hours < 0:
            return CheckResult(
                Result.UNMET,
                f"run.closed {closed.id} ({closed.at_text}) is dated {-hours:.1f} h before the "
                f"run started ({s.at_text}): the SLA cannot be judged on an impossible record",
                cite([s, closed]),
            )
        if hours <= sla:
            return CheckResult(
                Result.MET,
                f"closed {hours:.1f} h after start (SLA {sla:g} h from {src})",
                cite([s, closed]),
            )
        return CheckResult(
            Result.PARTIAL,
            f"closed {hours:.1f} h after start, past the {sla:g} h SLA from {src}",
            cite([s, closed]),
        )
    if ctx.as_of is None:
        return CheckResult(Result.NOT_APPLICABLE, "run still open and no judging time given")
    hours = (ctx.as_of - s.at).total_seconds() / 3600
    if hours > sla:
        return CheckResult(
            Result.UNMET,
            f"still open {hours:.1f} h after start, past the {sla:g} h SLA from {src}",
            cite([s]),
        )
    return CheckResult(
        Result.NOT_APPLICABLE, f"still open, {hours:.1f} h of the {sla:g} h SLA used", cite([s])
    )
