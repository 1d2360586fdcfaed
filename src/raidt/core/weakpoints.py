"""Weak points: patterns across runs that a governance lead should act on.

Detection works on :class:`RunFacts`, a small per-run summary computed once from the run's
evidence (and stored beside its score), so that weak points over a million runs stream facts
instead of re-reading every event. Each weak point names its kind, the runs behind it and a
detail sentence a reviewer can check against those runs (DESIGN.md 6.2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from raidt.core.checks import Comparables, RunEvidence
from raidt.core.checks._base import model_ok, template_ok
from raidt.core.checks.dependability import model_config
from raidt.core.checks.interpretability import review_timing
from raidt.core.events import EventType
from raidt.core.policy import Policy

__all__ = [
    "KINDS",
    "RunFacts",
    "WeakKey",
    "WeakPointRules",
    "detect",
    "run_facts",
    "summarise_counts",
    "weak_keys",
]

KINDS = (
    "self_review",
    "rubber_stamp",
    "missing_reviewer",
    "non_approved_template",
    "non_approved_model",
    "repeated_overrides",
    "unresolved_escalation",
    "stale_open_run",
    "config_drift",
    "recurring_failures",
)


@dataclass(slots=True)  # not frozen: built once per run, and frozen __init__ costs 3x
class RunFacts:
    """What weak-point detection needs to know about one run."""

    run_id: str
    use_case: str | None = None
    team: str | None = None
    policy_version: str | None = None
    started_at: str | None = None
    closed: bool = False
    initiator: str | None = None
    reviewers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    self_review: bool = False
    missing_reviewer: bool = False
    review_seconds: float | None = None
    rubber_stamp: bool = False
    template: str | None = None
    template_ok: bool | None = None
    model: str | None = None
    model_ok: bool | None = None
    overrides: int = 0
    open_escalations: int = 0
    open_past_sla: bool = False
    config_drift: bool = False
    failures: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when the run alone shows a weak point (the others need peers)."""
        return (
            self.self_review
            or self.missing_reviewer
            or self.rubber_stamp
            or self.template_ok is False
            or self.model_ok is False
            or self.overrides > 0
            or self.open_escalations > 0
            or self.open_past_sla
            or self.config_drift
            or bool(self.failures)
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _FACT_FIELDS:
            v = getattr(self, name)
            out[name] = list(v) if v.__class__ is tuple else v
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunFacts:
        kw: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in d.items()
            if k in cls.__dataclass_fields__
        }
        return cls(**kw)


_FACT_FIELDS = tuple(RunFacts.__dataclass_fields__)


def run_facts(
    events: Iterable[Any] | RunEvidence,
    *,
    policy: Policy | None,
    comparables: Comparables | None = None,
    as_of: datetime | None = None,
    rubber_stamp_seconds: float = 30,
    sla_hours: float = 72,
) -> RunFacts:
    """Summarise one run's evidence for weak-point detection (pure)."""
    ev = events if isinstance(events, RunEvidence) else RunEvidence(events)
    s = ev.started
    reviewers = ev.reviewers()
    approvers = tuple(sorted({e.actor.id for e in ev.all(EventType.REVIEW_APPROVED)}))
    initiator = ev.initiator
    closed = ev.first(EventType.RUN_CLOSED)
    produced = ev.has(EventType.MODEL_RESPONDED)
    _a, _d, secs = review_timing(ev)
    edits = ev.has(EventType.OUTPUT_EDITED)
    checklist = ev.has(EventType.CHECKLIST_COMPLETED)
    used = ev.templates()
    template = f"{used[-1][1]}@{used[-1][2]}" if used else None
    mc = model_config(ev)
    templates_approved = models_approved = None
    if policy is not None:
        templates_approved = bool(used) and all(template_ok(policy, t, v) for _, t, v in used)
        calls = ev.all(EventType.MODEL_INVOKED)
        if calls:
            models_approved = all(
                model_ok(
                    policy,
                    str(e.payload.get("provider")),
                    str(e.payload.get("model")),
                    e.payload.get("parameters") or {},
                )
                for e in calls
            )
    sla = policy.sla_hours if policy else sla_hours
    past = (
        closed is None
        and s is not None
        and as_of is not None
        and (as_of - s.at).total_seconds() > sla * 3600
    )
    drift = False
    if comparables is not None and comparables.runs >= 3 and mc is not None:
        tmpl = {"id": used[-1][1], "version": used[-1][2]} if used else None
        drift = (comparables.model is not None and mc != comparables.model) or (
            comparables.template is not None and tmpl != comparables.template
        )
    failures: list[str] = []
    if any(e.payload.get("error") for e in ev.all(EventType.MODEL_RESPONDED)):
        failures.append("model_error")
    if ev.has(EventType.REVIEW_REJECTED):
        failures.append("rejected")
    n_raised = len(ev.all(EventType.ESCALATION_RAISED))
    n_resolved = len(ev.all(EventType.ESCALATION_RESOLVED))
    return RunFacts(
        run_id=ev.run_id or "",
        use_case=s.payload.get("use_case") if s else None,
        team=s.payload.get("team") if s else None,
        policy_version=policy.version if policy else None,
        started_at=s.at_text if s else None,
        closed=closed is not None,
        initiator=initiator,
        reviewers=tuple(sorted(reviewers)),
        approvers=approvers,
        self_review=initiator is not None and (initiator in reviewers),
        missing_reviewer=not reviewers and (closed is not None or produced),
        review_seconds=secs,
        rubber_stamp=(
            secs is not None
            and secs < rubber_stamp_seconds
            and not edits
            and not checklist
            and ev.has(EventType.REVIEW_APPROVED)
        ),
        template=template,
        template_ok=templates_approved,
        model=None if mc is None else f"{mc['provider']}/{mc['model']}",
        model_ok=models_approved,
        overrides=len(ev.all(EventType.OVERRIDE_RECORDED)),
        open_escalations=max(0, n_raised - n_resolved),
        open_past_sla=past,
        config_drift=drift,
        failures=tuple(failures),
    )


@dataclass(frozen=True)
class WeakPointRules:
    """Thresholds for the pattern-based weak points."""

    #: a reviewer approving more than ``peer_factor`` x the median of peers is flagged
    peer_factor: float = 3.0
    min_peers: int = 3
    min_approvals: int = 10
    #: runs of one team with overrides: flagged at this share (and at least ``min_runs``)
    override_share: float = 0.2
    #: a single run with at least this many overrides is flagged on its own
    overrides_per_run: int = 2
    #: failures of one kind in one use case recurring at least this often
    recurring_min: int = 3
    min_runs: int = 3
    #: how many run ids a peer-comparison weak point lists
    sample: int = 200


def _scope(f: RunFacts) -> str:
    return f"{f.use_case or '?'} / {f.team or '?'}"


_TEXTS = {
    "self_review": "the initiator reviewed or approved their own output",
    "missing_reviewer": "output produced or run closed with no reviewer recorded",
    "non_approved_template": "prompt template {x} is not approved by the run's policy",
    "non_approved_model": "model {x} (or its parameters) is not approved by the policy",
    "repeated_overrides": "{n} run(s) with {k} or more overrides each",
    "unresolved_escalation": "escalation raised and never resolved",
    "stale_open_run": "run still open past its policy's SLA",
    "config_drift": "model configuration or template differs from the usual one among "
    "comparable runs",
}

#: (kind, scope, extra): one counter a run adds to for the weak-point summary
WeakKey = tuple[str, str, str]


def weak_keys(f: RunFacts, rules: WeakPointRules = WeakPointRules()) -> list[WeakKey]:
    """The counters one run adds 1 to, so the weak-point summary is kept as counts.

    Mirrors what :func:`detect` collects per run: besides the flagged kinds, every run
    counts towards its scope (``runs``) and each approver's ``approvals``, which the
    share- and peer-based weak points compare against.
    """
    scope = _scope(f)
    out: list[WeakKey] = [("runs", scope, "")]
    out += [("approvals", a, "") for a in f.approvers]
    if f.self_review:
        out.append(("self_review", scope, ""))
    if f.missing_reviewer:
        out.append(("missing_reviewer", scope, ""))
    if f.rubber_stamp:
        out += [("rubber_stamp", a, "") for a in f.approvers or f.reviewers]
    if f.template_ok is False:
        out.append(("non_approved_template", scope, f.template or "no template"))
    if f.model_ok is False:
        out.append(("non_approved_model", scope, f.model or "?"))
    if f.overrides:
        out.append(("overrides", scope, ""))
        if f.overrides >= rules.overrides_per_run:
            out.append(("repeated_overrides", scope, "run"))
    if f.open_escalations:
        out.append(("unresolved_escalation", scope, ""))
    if f.open_past_sla:
        out.append(("stale_open_run", scope, ""))
    if f.config_drift:
        out.append(("config_drift", f"{f.use_case} (policy {f.policy_version})", ""))
    out += [("failure", f.use_case or "?", kind) for kind in f.failures]
    return out


def summarise_counts(
    counts: Mapping[WeakKey, int], rules: WeakPointRules = WeakPointRules()
) -> list[dict[str, Any]]:
    """Weak points from :func:`weak_keys` counters, for dashboards.

    The same kinds, scopes and details as :func:`detect` over the same runs, with the
    number of runs (``runs``) in place of their ids; :func:`detect` stays the drill-down.
    Answers from a few thousand counters instead of a pass over every run.
    """
    team_runs: dict[str, int] = {}
    approvals: dict[str, int] = {}
    overrides: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    for (kind, scope, extra), n in counts.items():
        if n <= 0:
            continue
        if kind == "runs":
            team_runs[scope] = n
        elif kind == "approvals":
            approvals[scope] = n
        elif kind == "overrides":
            overrides[scope] = n
        elif kind == "rubber_stamp":
            out.append(
                {
                    "kind": kind,
                    "runs": n,
                    "scope": scope,
                    "detail": f"reviewer '{scope}' approved {n} run(s) within "
                    "seconds of assignment, with no edits and no checklist",
                }
            )
        elif kind == "failure":
            if n >= rules.recurring_min:
                out.append(
                    {
                        "kind": "recurring_failures",
                        "runs": n,
                        "scope": scope,
                        "detail": f"{scope}: '{extra}' recurred in {n} runs",
                    }
                )
        else:
            text = _TEXTS[kind].format(x=extra, n=n, k=rules.overrides_per_run)
            out.append(
                {"kind": kind, "runs": n, "scope": scope, "detail": f"{scope}: {text} ({n} run(s))"}
            )
    for scope, n in overrides.items():
        share = n / team_runs[scope] if team_runs.get(scope) else 0.0
        if n >= rules.min_runs and share >= rules.override_share:
            out.append(
                {
                    "kind": "repeated_overrides",
                    "runs": n,
                    "scope": scope,
                    "detail": f"{scope}: {n} of {team_runs[scope]} runs "
                    f"({share:.0%}) carry overrides",
                }
            )
    if len(approvals) >= rules.min_peers:
        for reviewer, n in approvals.items():
            med = median([v for r, v in approvals.items() if r != reviewer])
            if n >= rules.min_approvals and n > rules.peer_factor * med:
                out.append(
                    {
                        "kind": "rubber_stamp",
                        "runs": n,
                        "scope": reviewer,
                        "detail": f"reviewer '{reviewer}' approved {n} runs, more than "
                        f"{rules.peer_factor:g}x the median of peers ({med:g})",
                    }
                )
    out.sort(key=lambda w: (KINDS.index(w["kind"]), w["scope"], w["detail"]))
    return out


def detect(
    facts: Iterable[RunFacts], rules: WeakPointRules = WeakPointRules()
) -> list[dict[str, Any]]:
    """Weak points among ``facts`` as ``{"kind", "run_ids", "detail", "scope"}`` dicts.

    One pass; memory grows with the flagged run ids and the number of reviewers, teams and
    use cases, not with the number of runs.
    """
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    approvals: dict[str, int] = defaultdict(int)
    approved_ids: dict[str, list[str]] = defaultdict(list)
    stamps: dict[str, list[str]] = defaultdict(list)
    team_runs: dict[str, int] = defaultdict(int)
    team_override_runs: dict[str, list[str]] = defaultdict(list)
    failures: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in facts:
        scope = _scope(f)
        team_runs[scope] += 1
        for a in f.approvers:
            approvals[a] += 1
            if len(approved_ids[a]) < rules.sample:
                approved_ids[a].append(f.run_id)
        if f.self_review:
            groups[("self_review", scope, "")].append(f.run_id)
        if f.missing_reviewer:
            groups[("missing_reviewer", scope, "")].append(f.run_id)
        if f.rubber_stamp:
            for a in f.approvers or f.reviewers:
                stamps[a].append(f.run_id)
        if f.template_ok is False:
            groups[("non_approved_template", scope, f.template or "no template")].append(f.run_id)
        if f.model_ok is False:
            groups[("non_approved_model", scope, f.model or "?")].append(f.run_id)
        if f.overrides:
            team_override_runs[scope].append(f.run_id)
            if f.overrides >= rules.overrides_per_run:
                groups[("repeated_overrides", scope, "run")].append(f.run_id)
        if f.open_escalations:
            groups[("unresolved_escalation", scope, "")].append(f.run_id)
        if f.open_past_sla:
            groups[("stale_open_run", scope, "")].append(f.run_id)
        if f.config_drift:
            groups[("config_drift", f"{f.use_case} (policy {f.policy_version})", "")].append(
                f.run_id
            )
        for kind in f.failures:
            failures[(f.use_case or "?", kind)].append(f.run_id)
    out: list[dict[str, Any]] = []
    for (kind, scope, extra), ids in groups.items():
        text = _TEXTS[kind].format(x=extra, n=len(ids), k=rules.overrides_per_run)
        out.append(
            {
                "kind": kind,
                "run_ids": sorted(ids),
                "scope": scope,
                "detail": f"{scope}: {text} ({len(ids)} run(s))",
            }
        )
    for scope, ids in team_override_runs.items():
        share = len(ids) / team_runs[scope]
        if len(ids) >= rules.min_runs and share >= rules.override_share:
            out.append(
                {
                    "kind": "repeated_overrides",
                    "run_ids": sorted(ids),
                    "scope": scope,
                    "detail": f"{scope}: {len(ids)} of {team_runs[scope]} runs "
                    f"({share:.0%}) carry overrides",
                }
            )
    for reviewer, ids in stamps.items():
        out.append(
            {
                "kind": "rubber_stamp",
                "run_ids": sorted(ids),
                "scope": reviewer,
                "detail": f"reviewer '{reviewer}' approved {len(ids)} run(s) within "
                "seconds of assignment, with no edits and no checklist",
            }
        )
    if len(approvals) >= rules.min_peers:
        for reviewer, n in approvals.items():
            peers = [v for r, v in approvals.items() if r != reviewer]
            med = median(peers)
            if n >= rules.min_approvals and n > rules.peer_factor * med:
                listed = sorted(approved_ids[reviewer])
                note = "" if len(listed) == n else f"; first {len(listed)} listed"
                out.append(
                    {
                        "kind": "rubber_stamp",
                        "run_ids": listed,
                        "scope": reviewer,
                        "detail": f"reviewer '{reviewer}' approved {n} runs, more than "
                        f"{rules.peer_factor:g}x the median of peers ({med:g})"
                        f"{note}",
                    }
                )
    for (use_case, kind), ids in failures.items():
        if len(ids) >= rules.recurring_min:
            out.append(
                {
                    "kind": "recurring_failures",
                    "run_ids": sorted(ids),
                    "scope": use_case,
                    "detail": f"{use_case}: '{kind}' recurred in {len(ids)} runs",
                }
            )
    out.sort(key=lambda w: (KINDS.index(w["kind"]), w["scope"], w["detail"]))
    return out
