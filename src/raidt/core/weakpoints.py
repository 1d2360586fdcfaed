"""Weak points: patterns across runs that a governance lead should act on.

One engine, in three steps that both the dashboard summary and the drill-down use:

1. :func:`run_facts` summarises one run's evidence once (stored beside its score);
2. :func:`weak_keys` turns one run's facts into the counters it adds to (its flagged kinds,
   and the totals the rate-based rules compare against), and :func:`cross_run_keys` does
   the same for the rules that need the other runs (a reviewer's workload, configuration
   drift against the runs before);
3. :func:`summarise` turns counters into weak points. :func:`detect` is the same engine
   over a stream of facts, keeping the run ids behind each counter for the drill-down.

Each weak point names its kind, its scope, the runs behind it (or their number) and a
detail sentence a reviewer can check against those runs (DESIGN.md 6.2).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from raidt.core.actors import ActorDirectory
from raidt.core.checks import CheckContext, Comparables, RunEvidence
from raidt.core.checks._base import Approvals, approvals_of
from raidt.core.checks.dependability import describe_config, describe_template, model_config
from raidt.core.checks.oversight import judge_review
from raidt.core.events import EventType
from raidt.core.policy import Policy

__all__ = [
    "KINDS",
    "RunFacts",
    "WeakKey",
    "WeakPointRules",
    "cross_run_keys",
    "detect",
    "run_facts",
    "summarise",
    "summarise_counts",
    "weak_keys",
]

KINDS = (
    "self_review",
    "rubber_stamp",
    "implausible_workload",
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
    #: the approval is not oversight: why, in a few words (see core.checks.oversight)
    rubber_stamp: str | None = None
    #: who made the decision judged, and the review it claims: window and required minimum
    decider: str | None = None
    review_start: str | None = None
    review_end: str | None = None
    review_min: float | None = None
    template: str | None = None
    template_ok: bool | None = None
    model: str | None = None
    model_ok: bool | None = None
    #: the configuration (model, parameters, template) as a person reads it
    config: str | None = None
    overrides: int = 0
    open_escalations: int = 0
    open_past_sla: bool = False
    failures: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when the run alone shows a weak point (the others need peers)."""
        return bool(
            self.self_review
            or self.missing_reviewer
            or self.rubber_stamp
            or self.template_ok is False
            or self.model_ok is False
            or self.overrides > 0
            or self.open_escalations > 0
            or self.open_past_sla
            or self.failures
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
        if isinstance(kw.get("rubber_stamp"), bool):  # facts stored before the reason
            kw["rubber_stamp"] = "approved within seconds" if kw["rubber_stamp"] else None
        return cls(**kw)


_FACT_FIELDS = tuple(RunFacts.__dataclass_fields__)


def _stamp_reason(problems: tuple[str, ...]) -> str:
    """The first problem of a nominal review, reduced to words that group well."""
    text = problems[0]
    for needle, words in (
        ("system component", "decided by a system component"),
        ("not in the actor directory", "decider not in the directory"),
        ("without being assigned", "decided by someone not assigned"),
        ("before any output", "decided before the output existed"),
        ("minimum review", "approved faster than the policy's minimum review"),
        ("checklist was ticked", "checklist ticked at the moment of approval"),
        ("checklist", "checklist not worked through"),
    ):
        if needle in text:
            return words
    return "not oversight"


def run_facts(
    events: Iterable[Any] | RunEvidence,
    *,
    policy: Policy | None,
    actors: ActorDirectory | None = None,
    comparables: Comparables | None = None,
    as_of: datetime | None = None,
    review_params: Mapping[str, Any] | None = None,
    approvals: Approvals | None = None,
    sla_hours: float = 72,
) -> RunFacts:
    """Summarise one run's evidence for weak-point detection (pure).

    ``review_params`` are the rubric's parameters of the oversight criterion, so the run
    is called a rubber stamp exactly when its score says the review was nominal.
    """
    ev = events if isinstance(events, RunEvidence) else RunEvidence(events)
    s = ev.started
    reviewers = ev.reviewers()
    approvers = tuple(sorted({e.actor.id for e in ev.all(EventType.REVIEW_APPROVED)}))
    initiator = ev.initiator
    closed = ev.first(EventType.RUN_CLOSED)
    produced = ev.has(EventType.MODEL_RESPONDED)
    ctx = CheckContext(
        policy=policy,
        actors=actors or ActorDirectory(),
        as_of=as_of,
        params=dict(review_params or {}),
        approvals=approvals,
    )
    j = judge_review(ev, ctx)
    stamp = _stamp_reason(j.problems) if j.approved and j.problems else None
    plausible = j.approved and not j.problems and j.window_start is not None
    used = ev.templates()
    tmpl = {"id": used[-1][1], "version": used[-1][2]} if used else None
    template = f"{used[-1][1]}@{used[-1][2]}" if used else None
    mc = model_config(ev)
    templates_approved = models_approved = None
    ok = approvals_of(ctx)
    if ok is not None:
        templates_approved = bool(used) and all(ok.template_ok(t, v) for _, t, v in used)
        calls = ev.all(EventType.MODEL_INVOKED)
        if calls:
            models_approved = all(
                ok.model_ok(
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
    failures: list[str] = []
    if any(e.payload.get("error") for e in ev.all(EventType.MODEL_RESPONDED)):
        failures.append("model_error")
    if ev.disposition == "rejected":  # a rejection followed by a revision is oversight working
        failures.append("output_rejected")
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
        missing_reviewer=not reviewers
        and (closed is not None or produced)
        and not ev.withdrawn_before_use,
        review_seconds=j.seconds,
        rubber_stamp=stamp,
        decider=j.reviewer if j.approved else None,
        review_start=j.window_start.isoformat() if plausible and j.window_start else None,
        review_end=j.decision.at_text if plausible and j.decision else None,
        review_min=j.required_seconds if plausible else None,
        template=template,
        template_ok=templates_approved,
        model=None if mc is None else f"{mc['provider']}/{mc['model']}",
        model_ok=models_approved,
        config=None if mc is None else f"{describe_config(mc)}, template {describe_template(tmpl)}",
        overrides=len(ev.all(EventType.OVERRIDE_RECORDED)),
        open_escalations=max(0, n_raised - n_resolved),
        open_past_sla=past,
        failures=tuple(failures),
    )


@dataclass(frozen=True)
class WeakPointRules:
    """Thresholds for the pattern-based weak points."""

    #: runs of one team with overrides: flagged at this share (and at least ``min_runs``)
    override_share: float = 0.2
    #: a single run with at least this many overrides is flagged on its own
    overrides_per_run: int = 2
    #: failures of one kind in one use case: flagged at this rate and at least this often
    recurring_rate: float = 0.1
    recurring_min: int = 5
    min_runs: int = 3
    #: configuration drift: the baseline is the configuration a strict majority of the
    #: previous ``drift_window`` runs (of one use case and policy version) used, judged
    #: once at least ``drift_min`` runs came before
    drift_window: int = 20
    drift_min: int = 5


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
}

#: (kind, scope, extra): one counter a run adds to for the weak-point summary
WeakKey = tuple[str, str, str]


def weak_keys(f: RunFacts, rules: WeakPointRules = WeakPointRules()) -> list[WeakKey]:
    """The counters one run adds 1 to: its own weak points, and the totals (``runs`` per
    team, ``uc_runs`` per use case, ``overrides``, ``failure``) that the rate rules of
    :func:`summarise` compare against."""
    scope = _scope(f)
    out: list[WeakKey] = [("runs", scope, ""), ("uc_runs", f.use_case or "?", "")]
    if f.self_review:
        out.append(("self_review", scope, ""))
    if f.missing_reviewer:
        out.append(("missing_reviewer", scope, ""))
    if f.rubber_stamp:
        who = f.decider or (f.approvers[0] if f.approvers else "?")
        out.append(("rubber_stamp", who, f.rubber_stamp))
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
    out += [("failure", f.use_case or "?", kind) for kind in f.failures]
    return out


#: what the cross-run rules read of a run: (run id, start, use case, policy version,
#: configuration, decider, review window start and end, required seconds)
Timeline = tuple[str, str, str, str, str | None, str | None, str | None, str | None, float | None]


def timeline_of(f: RunFacts) -> Timeline:
    """The part of a run's facts the cross-run rules need (small: a million of these are
    collected by a full rescore)."""
    return (
        f.run_id,
        f.started_at or "",
        f.use_case or "?",
        f.policy_version or "?",
        f.config,
        f.decider,
        f.review_start,
        f.review_end,
        f.review_min,
    )


def cross_run_keys(
    timeline: Iterable[Timeline], rules: WeakPointRules = WeakPointRules()
) -> list[tuple[WeakKey, str, str]]:
    """``(counter, run id, start day)`` for the rules that need the other runs.

    * ``implausible_workload``: a person can review one thing at a time. Each approval that
      counts as oversight claims the policy's minimum review time inside its window (from
      assignment or the latest output to the decision). Scheduling every claim of one
      reviewer earliest-deadline-first shows which cannot fit: 300 approvals of two
      minutes each in one eight-hour day do not, ten-minute reviews spread over a day do,
      however many there are.
    * ``config_drift``: a run whose configuration differs from the one a strict majority
      of the runs before it (same use case and policy version) used; the counter names
      the baseline, the new configuration and the day the change was first seen.
    """
    by_reviewer: dict[str, list[tuple[float, float, float, str, str]]] = defaultdict(list)
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for run_id, started, uc, pv, config, decider, r0, r1, need in timeline:
        day = started[:10]
        if decider and r0 and r1 and need:
            start = datetime.fromisoformat(r0).timestamp()
            end = datetime.fromisoformat(r1).timestamp()
            by_reviewer[decider].append((start, end, need, run_id, day))
        if config is not None:
            groups[(uc, pv)].append((started, run_id, config))
    out: list[tuple[WeakKey, str, str]] = []
    for reviewer, jobs in by_reviewer.items():
        for run_id, day in _unschedulable(jobs):
            out.append((("implausible_workload", reviewer, ""), run_id, day))
    for (uc, pv), runs in groups.items():
        out += _drift(uc, pv, sorted(runs), rules)
    return out


def _unschedulable(jobs: list[tuple[float, float, float, str, str]]) -> list[tuple[str, str]]:
    """Claims that cannot all be honoured by one person: preemptive earliest-deadline-first
    over (release, deadline, work), which meets every deadline whenever any schedule can;
    a claim that would miss its deadline is reported and dropped (so roughly the excess
    of claimed over available time is reported, not everything after the first miss)."""
    jobs.sort()
    heap: list[tuple[float, float, int]] = []
    missed: list[tuple[str, str]] = []
    t = float("-inf")
    i, n = 0, len(jobs)
    while heap or i < n:
        if not heap:
            t = max(t, jobs[i][0])
        while i < n and jobs[i][0] <= t:
            heapq.heappush(heap, (jobs[i][1], jobs[i][2], i))
            i += 1
        deadline, left, k = heapq.heappop(heap)
        nxt = jobs[i][0] if i < n else float("inf")
        if t + left <= deadline + 1e-6:
            if t + left <= nxt:
                t += left
            else:
                heapq.heappush(heap, (deadline, left - (nxt - t), k))
                t = nxt
        else:  # cannot be met: not credited, and its time given to the others
            missed.append((jobs[k][3], jobs[k][4]))
    return missed


def _drift(
    uc: str, pv: str, runs: list[tuple[str, str, str]], rules: WeakPointRules
) -> list[tuple[WeakKey, str, str]]:
    out: list[tuple[WeakKey, str, str]] = []
    window: list[str] = []
    seen: dict[tuple[str, str], str] = {}  # (baseline, new) -> day first seen
    for started, run_id, config in runs:
        if len(window) >= rules.drift_min:
            usual, n = Counter(window).most_common(1)[0]
            if 2 * n > len(window) and config != usual:
                first = seen.setdefault((usual, config), started[:10])
                extra = f"{first}|{usual}|{config}"
                out.append((("config_drift", f"{uc} (policy {pv})", extra), run_id, started[:10]))
        window.append(config)
        if len(window) > rules.drift_window:
            window.pop(0)
    return out


def summarise(
    counts: Mapping[WeakKey, int],
    rules: WeakPointRules = WeakPointRules(),
    ids: Mapping[WeakKey, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Weak points from counters (``{"kind", "runs", "scope", "detail"}``), plus
    ``run_ids`` when ``ids`` (the runs behind each counter) is given. Counts first by
    kind, in the order of :data:`KINDS`, then by scope."""
    team_runs: dict[str, int] = {}
    uc_runs: dict[str, int] = {}
    out: list[dict[str, Any]] = []

    def add(kind: str, key: WeakKey, n: int, scope: str, detail: str) -> None:
        item: dict[str, Any] = {"kind": kind, "runs": n, "scope": scope, "detail": detail}
        if ids is not None:
            item["run_ids"] = sorted(ids.get(key, []))
        out.append(item)

    for (kind, scope, _), n in counts.items():
        if kind == "runs":
            team_runs[scope] = team_runs.get(scope, 0) + n
        elif kind == "uc_runs":
            uc_runs[scope] = uc_runs.get(scope, 0) + n
    for key, n in counts.items():
        kind, scope, extra = key
        if n <= 0 or kind in ("runs", "uc_runs"):
            continue
        if kind == "rubber_stamp":
            add(
                kind,
                key,
                n,
                scope,
                f"reviewer '{scope}': {n} approval(s) that were not oversight: {extra}",
            )
        elif kind == "implausible_workload":
            add(
                kind,
                key,
                n,
                scope,
                f"reviewer '{scope}': {n} approval(s) whose claimed "
                "minimum review time cannot fit beside their other reviews (overlapping "
                "review windows, more review hours than the day holds)",
            )
        elif kind == "config_drift":
            first, usual, new = ([*extra.split("|", 2), "", ""])[:3]
            add(
                kind,
                key,
                n,
                scope,
                f"{scope}: from {first}, {n} run(s) used {new} instead of the usual {usual}",
            )
        elif kind == "failure":
            total = uc_runs.get(scope, 0)
            rate = n / total if total else 1.0
            if n >= rules.recurring_min and rate >= rules.recurring_rate:
                add(
                    "recurring_failures",
                    key,
                    n,
                    scope,
                    f"{scope}: '{extra}' in {n} of {total} runs ({rate:.0%})",
                )
        elif kind == "overrides":
            total = team_runs.get(scope, 0)
            share = n / total if total else 0.0
            if n >= rules.min_runs and share >= rules.override_share:
                add(
                    "repeated_overrides",
                    key,
                    n,
                    scope,
                    f"{scope}: {n} of {total} runs ({share:.0%}) carry overrides",
                )
        elif kind in _TEXTS:  # counters of kinds no longer reported are skipped
            text = _TEXTS[kind].format(x=extra, n=n, k=rules.overrides_per_run)
            add(kind, key, n, scope, f"{scope}: {text} ({n} run(s))")
    out.sort(key=lambda w: (KINDS.index(w["kind"]), -w["runs"], w["scope"], w["detail"]))
    return out


def summarise_counts(
    counts: Mapping[WeakKey, int], rules: WeakPointRules = WeakPointRules()
) -> list[dict[str, Any]]:
    """:func:`summarise` without run ids (the dashboard's view of stored counters)."""
    return summarise(counts, rules)


def detect(
    facts: Iterable[RunFacts], rules: WeakPointRules = WeakPointRules()
) -> list[dict[str, Any]]:
    """Weak points among ``facts``, each with every run behind it (the drill-down): the
    same engine as the summary, keeping run ids per counter."""
    counts: Counter[WeakKey] = Counter()
    ids: dict[WeakKey, list[str]] = defaultdict(list)
    timeline: list[Timeline] = []
    for f in facts:
        for key in weak_keys(f, rules):
            counts[key] += 1
            if key[0] not in ("runs", "uc_runs"):
                ids[key].append(f.run_id)
        timeline.append(timeline_of(f))
    for key, run_id, _day in cross_run_keys(timeline, rules):
        counts[key] += 1
        ids[key].append(run_id)
    return summarise(counts, rules, ids)
