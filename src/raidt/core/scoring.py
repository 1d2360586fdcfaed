"""Scoring a run: criterion results, pillar scores, readiness, with the human view beside.

:func:`score_run` is a pure function of the run's events, the policy version in force, the
rubric, the actor directory, the comparable-runs summary, whether the store verified the
hash chain, and the instant the run is judged at. The profile records every one of those
inputs (by content hash, or by value where small), so an auditor can recompute it offline
from an evidence pack and get byte-identical canonical JSON.

Human assessments (``assessment.recorded``) and challenges are listed under ``human``
beside the automated results; they never overwrite them, so disagreement stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from raidt.core.actors import ActorDirectory, directory_digest, named_actor_ids
from raidt.core.canonical import canonical_json
from raidt.core.checks import (
    CHECKS,
    Approvals,
    CheckContext,
    CheckResult,
    Comparables,
    Result,
    RunEvidence,
)
from raidt.core.events import Event, EventType
from raidt.core.policy import Policy
from raidt.core.rubric import PILLARS, READINESS_LEVELS, Pillar, Readiness, Rubric
from raidt.core.timefmt import format_ts, parse_ts

__all__ = [
    "RESULT_VALUE",
    "STORED_FORMAT",
    "CriterionScore",
    "Evaluation",
    "ScoreProfile",
    "ScoringPlan",
    "compact_profile",
    "content_hash_of",
    "evaluate",
    "expand_stored",
    "score_run",
]

#: how much each result counts towards its pillar (not_applicable is left out)
RESULT_VALUE: dict[Result, float] = {Result.MET: 1.0, Result.PARTIAL: 0.5, Result.UNMET: 0.0}

_RESULT_TEXT: dict[Result, str] = {r: r.value for r in Result}
_LEVEL_RANK: dict[str, int] = {lvl.value: i for i, lvl in enumerate(READINESS_LEVELS)}
_NOT_MET = (Result.UNMET.value, Result.PARTIAL.value)


@dataclass(frozen=True, slots=True)
class _Step:
    """One criterion of a rubric, resolved once: its check and what the profile repeats."""

    id: str
    pillar: Pillar
    pillar_text: str
    check: Any
    params: dict[str, Any]
    weight: float
    critical: bool
    cap: str | None
    obligations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Levels:
    """What a vector of criterion results adds up to, before any run's words are added."""

    pillars: dict[str, int]
    mean: float
    level: str
    #: the first level whose thresholds fail and why (threshold words, critical ids)
    failed: str | None
    failures: tuple[str, ...]
    critical_bad: tuple[int, ...]


class ScoringPlan:
    """A rubric resolved once for scoring: each criterion's check, parameters, weight, cap
    and obligations, the rubric's reference, and the pillar arithmetic per vector of results.

    Built once per rubric and passed to :func:`evaluate`, so a million-run rescore resolves
    the rubric and hashes it once, and looks up the arithmetic of the few hundred distinct
    result vectors it meets instead of redoing it per run. Policy references (id, version,
    content hash) are kept per policy version here too.
    """

    __slots__ = (
        "_approvals",
        "_levels",
        "_policy_refs",
        "ids",
        "obligations",
        "ref",
        "rubric",
        "steps",
    )

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self.steps = tuple(
            _Step(
                id=c.id,
                pillar=c.pillar,
                pillar_text=c.pillar.value,
                check=CHECKS[c.check],
                params=c.params,
                weight=c.weight,
                critical=c.critical,
                cap=None if c.cap is None else c.cap.value,
                obligations=tuple(c.obligations),
            )
            for c in rubric.criteria
        )
        self.ids = tuple(st.id for st in self.steps)
        self.obligations = tuple(st.obligations for st in self.steps)
        self.ref = {"id": rubric.id, "version": rubric.version, "sha256": rubric.content_hash}
        self._levels: dict[tuple[str, ...], _Levels] = {}
        self._policy_refs: dict[tuple[str, str], dict[str, str]] = {}
        self._approvals: dict[tuple[str, str], Approvals] = {}

    def approvals(self, policy: Policy | None) -> Approvals | None:
        """The memoised approval answers of a policy version (one per version)."""
        if policy is None:
            return None
        key = (policy.id, policy.version)
        found = self._approvals.get(key)
        if found is None or found.policy is not policy:
            found = self._approvals[key] = Approvals(policy)
        return found

    def params_of(self, check: str) -> dict[str, Any]:
        """The parameters the rubric gives the (first) criterion using ``check``."""
        name = CHECKS.get(check)
        return next((dict(st.params) for st in self.steps if st.check is name), {})

    def policy_ref(self, policy: Policy) -> dict[str, str]:
        """``{"id", "version", "sha256"}`` of a policy version (hashed once per version: the
        registry refuses two texts for one id and version)."""
        key = (policy.id, policy.version)
        ref = self._policy_refs.get(key)
        if ref is None:
            ref = self._policy_refs[key] = {
                "id": policy.id,
                "version": policy.version,
                "sha256": policy.content_hash,
            }
        return ref

    def contexts(
        self,
        policy: Policy | None,
        actors: ActorDirectory,
        comparables: Comparables | None,
        chain_ok: bool,
        as_of: datetime | None,
        recorded_by: datetime | None,
    ) -> list[CheckContext]:
        """Each criterion's :class:`CheckContext` for one run (criteria without parameters
        share one)."""
        approvals = self.approvals(policy)
        base = CheckContext(
            policy=policy,
            actors=actors,
            comparables=comparables,
            chain_ok=chain_ok,
            as_of=as_of,
            recorded_by=recorded_by,
            approvals=approvals,
        )
        return [
            CheckContext(
                policy=policy,
                actors=actors,
                comparables=comparables,
                chain_ok=chain_ok,
                as_of=as_of,
                params=st.params,
                recorded_by=recorded_by,
                approvals=approvals,
            )
            if st.params
            else base
            for st in self.steps
        ]

    def levels(self, results: tuple[str, ...]) -> _Levels:
        """Pillar scores and the threshold level of a vector of results (rubric order)."""
        hit = self._levels.get(results)
        if hit is None:
            if len(self._levels) > 50_000:
                self._levels.clear()
            hit = self._levels[results] = self._compute(results)
        return hit

    def _compute(self, results: tuple[str, ...]) -> _Levels:
        totals: dict[Pillar, list[float]] = {p: [0.0, 0.0] for p in PILLARS}
        for st, result in zip(self.steps, results, strict=True):
            if result != Result.NOT_APPLICABLE:
                t = totals[st.pillar]
                t[0] += st.weight * RESULT_VALUE[Result(result)]
                t[1] += st.weight
        # an empty pillar (everything not applicable) asks nothing of the run: full marks
        pillars = {
            p.value: (int(100 * num / den + 0.5) if den else 100)
            for p, (num, den) in totals.items()
        }
        mean = sum(pillars.values()) / len(pillars)
        achieved = Readiness.NOT_GOVERNABLE
        for level in (Readiness.BASIC, Readiness.MANAGED, Readiness.AUDIT_READY):
            thr = self.rubric.thresholds.for_level(level)
            fails: list[str] = []
            low = [
                f"{p} {v} < {thr.min_pillar:g}" for p, v in pillars.items() if v < thr.min_pillar
            ]
            if low:
                fails.append("pillar(s) below threshold: " + ", ".join(low))
            if mean < thr.min_mean:
                fails.append(f"mean {mean:.1f} < {thr.min_mean:g}")
            bad: tuple[int, ...] = ()
            if thr.critical == "no_unmet":
                bad = tuple(
                    i
                    for i, (st, r) in enumerate(zip(self.steps, results, strict=True))
                    if st.critical and r == Result.UNMET
                )
            elif thr.critical == "all_met":
                bad = tuple(
                    i
                    for i, (st, r) in enumerate(zip(self.steps, results, strict=True))
                    if st.critical and r in _NOT_MET
                )
            if fails or bad:
                return _Levels(pillars, mean, achieved.value, level.value, tuple(fails), bad)
            achieved = level
        return _Levels(pillars, mean, achieved.value, None, (), ())


def content_hash_of(obj: Policy | Rubric) -> str:
    """``obj.content_hash`` (kept for callers outside scoring)."""
    return obj.content_hash


@dataclass(frozen=True, slots=True)
class CriterionScore:
    """One criterion's automated result in a profile."""

    id: str
    pillar: str
    result: str
    rationale: str
    evidence: tuple[str, ...]
    critical: bool = False
    obligations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pillar": self.pillar,
            "result": self.result,
            "rationale": self.rationale,
            "evidence": list(self.evidence),
            "critical": self.critical,
            "obligations": list(self.obligations),
        }


@dataclass(frozen=True, slots=True)
class ScoreProfile:
    """A run's five-pillar score profile (DESIGN.md 6.2 plus provenance)."""

    run_id: str
    readiness: str
    pillars: dict[str, int]
    criteria: tuple[CriterionScore, ...]
    rubric: dict[str, str]
    policy: dict[str, str] | None
    inputs: dict[str, Any]
    readiness_reasons: tuple[str, ...]
    human: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return sum(self.pillars.values()) / len(self.pillars)

    def result_of(self, criterion_id: str) -> str | None:
        return next((c.result for c in self.criteria if c.id == criterion_id), None)

    def to_json(self) -> dict[str, Any]:
        """The profile as JSON data (``raidt score --json``, ``score.json`` in packs)."""
        return {
            "run_id": self.run_id,
            "readiness": self.readiness,
            "pillars": dict(self.pillars),
            "criteria": [c.to_json() for c in self.criteria],
            "rubric": dict(self.rubric),
            "policy": None if self.policy is None else dict(self.policy),
            "inputs": self.inputs,
            "readiness_reasons": list(self.readiness_reasons),
            "human": self.human,
            "run": self.run,
        }

    def canonical(self) -> bytes:
        """RFC 8785 bytes of :meth:`to_json`; equal inputs give equal bytes."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScoreProfile:
        """Rebuild a profile from :meth:`to_json` output (e.g. the stored copy)."""
        return cls(
            run_id=d["run_id"],
            readiness=d["readiness"],
            pillars=dict(d["pillars"]),
            criteria=tuple(
                CriterionScore(
                    id=c["id"],
                    pillar=c["pillar"],
                    result=c["result"],
                    rationale=c["rationale"],
                    evidence=tuple(c.get("evidence", ())),
                    critical=bool(c.get("critical")),
                    obligations=tuple(c.get("obligations", ())),
                )
                for c in d["criteria"]
            ),
            rubric=dict(d["rubric"]),
            policy=d.get("policy"),
            inputs=dict(d.get("inputs", {})),
            readiness_reasons=tuple(d.get("readiness_reasons", ())),
            human=dict(d.get("human", {})),
            run=dict(d.get("run", {})),
        )


def _criterion(step: _Step, outcome: CheckResult) -> CriterionScore:
    return CriterionScore(
        step.id,
        step.pillar_text,
        _RESULT_TEXT[outcome.result],
        outcome.rationale,
        outcome.evidence,
        step.critical,
        step.obligations,
    )


def _chain_intact(ev: RunEvidence) -> str | None:
    """None when every event links to the one before it; else the id where it breaks."""
    prev: str | None = None
    for e in ev.events:
        if e.prev_hash != prev:
            return e.id
        prev = e.hash
    return None


def _readiness(
    plan: ScoringPlan,
    results: tuple[str, ...],
    outcomes: Sequence[CheckResult],
    problem: str | None,
) -> tuple[dict[str, int], str, tuple[str, ...]]:
    """Pillar scores, the readiness level and its reasons in words.

    The level is the highest whose thresholds hold, then lowered to the ``cap`` of every
    criterion that is not met; each reason names the criterion and says, with the check's
    own rationale, what failed. A problem with the record itself (no events, a broken
    chain) means ``not_governable`` whatever the criteria say.
    """
    lv = plan.levels(results)
    pillars = dict(lv.pillars)
    if problem is not None:
        return pillars, Readiness.NOT_GOVERNABLE.value, (problem,)
    steps = plan.steps
    level = lv.level
    reasons: list[str] = []
    if lv.failed is not None:
        parts = list(lv.failures)
        parts += [
            f"critical {steps[i].id} is {results[i]}: {outcomes[i].rationale}"
            for i in lv.critical_bad
        ]
        reasons.append(f"not {lv.failed}: " + "; ".join(parts))
    for st, result, outcome in zip(steps, results, outcomes, strict=True):
        if st.cap is not None and result in _NOT_MET and _LEVEL_RANK[level] > _LEVEL_RANK[st.cap]:
            reasons.append(f"capped at {st.cap} by {st.id} ({result}): {outcome.rationale}")
            level = st.cap
    mean = f"mean {lv.mean:.1f}"
    if level == Readiness.AUDIT_READY.value:
        reasons.insert(0, f"audit_ready: every threshold holds ({mean})")
    elif level == Readiness.NOT_GOVERNABLE.value:
        reasons.insert(0, f"not_governable: the thresholds for basic do not hold ({mean})")
    elif level != lv.level:
        reasons.insert(0, f"{level}: capped by the criteria below ({mean})")
    else:
        reasons.insert(0, f"{level}: highest level whose thresholds hold ({mean})")
    return pillars, level, tuple(reasons)


def _human(ev: RunEvidence, ids: Sequence[str], results: Sequence[str]) -> dict[str, Any]:
    automated = (
        dict(zip(ids, results, strict=True)) if ev.has(EventType.ASSESSMENT_RECORDED) else {}
    )
    assessments = [
        {
            "event": e.id,
            "criterion": e.payload.get("criterion"),
            "result": e.payload.get("result"),
            "rationale": e.payload.get("rationale"),
            "by": e.actor.id,
            "at": e.at_text,
            "automated_result": automated.get(str(e.payload.get("criterion"))),
        }
        for e in ev.all(EventType.ASSESSMENT_RECORDED)
    ]
    challenges: list[dict[str, Any]] = []
    open_by_subject: dict[str, list[dict[str, Any]]] = {}
    for e in ev.all(EventType.CHALLENGE_RAISED, EventType.CHALLENGE_RESOLVED):
        subject = str(e.payload.get("subject"))
        if e.type is EventType.CHALLENGE_RAISED:
            item = {
                "event": e.id,
                "subject": subject,
                "reason": e.payload.get("reason"),
                "by": e.actor.id,
                "at": e.at_text,
                "status": "open",
            }
            challenges.append(item)
            open_by_subject.setdefault(subject, []).append(item)
        else:
            pending = open_by_subject.get(subject) or []
            if pending:
                item = pending.pop(0)
                item.update(
                    status="resolved",
                    resolution=e.payload.get("resolution"),
                    resolved_by=e.actor.id,
                    resolved_event=e.id,
                )
    return {"assessments": assessments, "challenges": challenges}


def score_run(
    events: Sequence[Event] | RunEvidence,
    *,
    policy: Policy | None,
    rubric: Rubric | ScoringPlan,
    actors: ActorDirectory,
    comparables: Comparables | None = None,
    chain_ok: bool = True,
    as_of: datetime | str | None = None,
    recorded_by: datetime | str | None = None,
) -> ScoreProfile:
    """Score one run against ``rubric``.

    Args:
        events: the run's sealed events (any order; ledger order is restored by ``seq``), or
            their :class:`RunEvidence` when the caller already built it (bulk scoring shares
            it with weak-point facts).
        policy: the policy version in force for the run, or None when it is unknown (checks
            that depend on it then say so, and readiness cannot pass critical criteria that
            need it).
        rubric: the rubric version to apply (or its :class:`ScoringPlan`, built once).
        actors: the actor directory (qualifications, roles, person or system).
        comparables: what comparable runs usually use (None: consistency not judged).
        chain_ok: False when the store's verification of this run's chain or ledger failed;
            readiness is then ``not_governable`` whatever else the record shows.
        as_of: the instant open runs are judged at (SLA); recorded in ``inputs``.
        recorded_by: the instant by which the run's events were sealed (nothing may be
            dated later); recorded in ``inputs``.

    Returns:
        The :class:`ScoreProfile`; identical inputs give byte-identical ``canonical()``.
    """
    return evaluate(
        events,
        policy=policy,
        rubric=rubric,
        actors=actors,
        comparables=comparables,
        chain_ok=chain_ok,
        as_of=as_of,
        recorded_by=recorded_by,
    ).profile()


#: ``format`` of the compact stored form of a profile (see :meth:`Evaluation.stored`);
#: format 2 (evidence ids written out in every criterion) is still read
STORED_FORMAT = 3
_STORED_FORMATS = (2, 3)


def _cite_table(evidence: Sequence[Sequence[str]]) -> tuple[list[str], list[list[int]]]:
    """Each distinct cited event id once, in order of first citation, and each criterion's
    evidence as positions in that list. Criteria cite the same few events over and over:
    a million stored profiles were a quarter event ids."""
    index: dict[str, int] = {}
    refs: list[list[int]] = []
    for ids in evidence:
        row: list[int] = []
        for eid in ids:
            at = index.get(eid)
            if at is None:
                at = index[eid] = len(index)
            row.append(at)
        refs.append(row)
    return list(index), refs


@dataclass(slots=True)  # read-only by convention: frozen __init__ costs 3x, once per run
class Evaluation:
    """A run's score before it is shaped into a :class:`ScoreProfile`.

    Holds each criterion's :class:`CheckResult` as the check returned it, in rubric order;
    what the rubric says of each criterion (id, pillar, critical, obligations) stays in the
    rubric. Bulk scoring stores :meth:`stored` and never builds the 26 criterion objects and
    dicts of a full profile per run; :func:`expand_stored` turns the stored form back into
    exactly ``profile().to_json()``.
    """

    run_id: str
    plan: ScoringPlan
    outcomes: tuple[CheckResult, ...]
    results: tuple[str, ...]
    readiness: str
    pillars: dict[str, int]
    readiness_reasons: tuple[str, ...]
    rubric: dict[str, str]
    policy: dict[str, str] | None
    inputs: dict[str, Any]
    human: dict[str, Any]
    run: dict[str, Any]

    @property
    def ids(self) -> tuple[str, ...]:
        """Criterion ids, in rubric order (parallel to :attr:`results`)."""
        return self.plan.ids

    @property
    def obligations(self) -> tuple[tuple[str, ...], ...]:
        """Each criterion's obligations, in rubric order."""
        return self.plan.obligations

    def profile(self) -> ScoreProfile:
        return ScoreProfile(
            run_id=self.run_id,
            readiness=self.readiness,
            pillars=self.pillars,
            criteria=tuple(
                _criterion(st, o) for st, o in zip(self.plan.steps, self.outcomes, strict=True)
            ),
            rubric=self.rubric,
            policy=self.policy,
            inputs=orjson.loads(orjson.dumps(self.inputs)),  # its own copy (see stored())
            readiness_reasons=self.readiness_reasons,
            human=self.human,
            run=self.run,
        )

    def stored(self) -> dict[str, Any]:
        """The compact stored form: the profile's JSON with each criterion reduced to
        ``[result, rationale, evidence]`` in rubric order, the evidence as positions in one
        ``cited`` list of event ids, marked ``"format": 3``; about half the size of the
        full profile."""
        cited, refs = _cite_table([o.evidence for o in self.outcomes])
        return {
            "format": STORED_FORMAT,
            "run_id": self.run_id,
            "readiness": self.readiness,
            "pillars": self.pillars,
            "cited": cited,
            "criteria": [
                (r, o.rationale, ref)
                for r, o, ref in zip(self.results, self.outcomes, refs, strict=True)
            ],
            "rubric": self.rubric,
            "policy": self.policy,
            "inputs": self.inputs,
            "readiness_reasons": self.readiness_reasons,
            "human": self.human,
            "run": self.run,
        }


def compact_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a full profile (``ScoreProfile.to_json()``); inverse of
    :func:`expand_stored` for the rubric the profile was scored with."""
    out = dict(profile)
    out["format"] = STORED_FORMAT
    cited, refs = _cite_table([c["evidence"] for c in profile["criteria"]])
    out["cited"] = cited
    out["criteria"] = [
        [c["result"], c["rationale"], ref] for c, ref in zip(profile["criteria"], refs, strict=True)
    ]
    return out


def expand_stored(stored: dict[str, Any], rubric: Rubric | ScoringPlan) -> dict[str, Any]:
    """``ScoreProfile.to_json()`` from a stored profile: the compact form gets back each
    criterion's id, pillar, critical flag and obligations from ``rubric`` (which must be
    the version it names, content hash included); a full profile is returned as it is.

    Raises:
        ValueError: the stored form names another rubric, or its criteria do not match.
    """
    form = stored.get("format")
    if form not in _STORED_FORMATS:
        return stored
    plan = rubric if isinstance(rubric, ScoringPlan) else ScoringPlan(rubric)
    ref, mine = stored["rubric"], plan.ref
    if (ref.get("id"), ref.get("version"), ref.get("sha256")) != (
        mine["id"],
        mine["version"],
        mine["sha256"],
    ):
        raise ValueError(
            f"stored profile of run {stored.get('run_id')} was scored with rubric "
            f"{ref.get('id')}@{ref.get('version')}, not {mine['id']}@{mine['version']}"
        )
    steps = plan.steps
    rows = stored["criteria"]
    if len(rows) != len(steps):
        raise ValueError(
            f"stored profile of run {stored.get('run_id')} has {len(rows)} criteria; "
            f"rubric {mine['id']}@{mine['version']} has {len(steps)}"
        )
    out = {k: v for k, v in stored.items() if k not in ("format", "cited")}
    cited: list[str] = stored.get("cited", [])
    if form == 2:  # event ids written out in each criterion
        evidence_of = [list(evidence) for _, _, evidence in rows]
    else:
        n = len(cited)
        if not all(type(i) is int and 0 <= i < n for _, _, refs in rows for i in refs):
            raise ValueError(
                f"stored profile of run {stored.get('run_id')} cites evidence "
                "outside its list of cited events"
            )
        evidence_of = [[cited[i] for i in refs] for _, _, refs in rows]
    out["criteria"] = [
        {
            "id": st.id,
            "pillar": st.pillar_text,
            "result": result,
            "rationale": rationale,
            "evidence": evidence,
            "critical": st.critical,
            "obligations": list(st.obligations),
        }
        for st, (result, rationale, _), evidence in zip(steps, rows, evidence_of, strict=True)
    ]
    out["readiness_reasons"] = list(out["readiness_reasons"])
    return out


def evaluate(
    events: Sequence[Event] | RunEvidence,
    *,
    policy: Policy | None,
    rubric: Rubric | ScoringPlan,
    actors: ActorDirectory,
    comparables: Comparables | None = None,
    chain_ok: bool = True,
    as_of: datetime | str | None = None,
    recorded_by: datetime | str | None = None,
) -> Evaluation:
    """What :func:`score_run` computes, before it is shaped into a profile (same inputs)."""
    ev = events if isinstance(events, RunEvidence) else RunEvidence(events)
    plan = rubric if isinstance(rubric, ScoringPlan) else ScoringPlan(rubric)
    when = parse_ts(as_of) if isinstance(as_of, str) else as_of
    sealed = parse_ts(recorded_by) if isinstance(recorded_by, str) else recorded_by
    contexts = plan.contexts(policy, actors, comparables, chain_ok, when, sealed)
    outcomes = tuple([st.check(ev, ctx) for st, ctx in zip(plan.steps, contexts, strict=True)])
    results = tuple([_RESULT_TEXT[o.result] for o in outcomes])
    broken = _chain_intact(ev)
    problem = None
    if not ev.events:
        problem = "not_governable: the run has no events"
    elif not chain_ok:
        problem = "not_governable: verification of the stored hash chain or ledger failed"
    elif broken is not None:
        problem = f"not_governable: the hash chain is broken at event {broken}"
    pillars, readiness, reasons = _readiness(plan, results, outcomes, problem)
    last = ev.events[-1] if ev.events else None
    inputs: dict[str, Any] = {
        "events": {
            "count": len(ev.events),
            "last_hash": last.hash if last else None,
            "last_seq": last.seq if last else None,
        },
        "comparables": None if comparables is None else comparables.model_dump(mode="json"),
        "actors": {"sha256": directory_digest(actors, named_actor_ids(ev.events))},
        "chain_ok": chain_ok,
        "as_of": None if when is None else format_ts(when),
        "recorded_by": None if sealed is None else format_ts(sealed),
    }
    s = ev.started
    run = {
        "use_case": s.payload.get("use_case") if s else None,
        "team": s.payload.get("team") if s else None,
        "started_at": s.at_text if s else None,
        "policy_version": policy.version if policy else None,
    }
    return Evaluation(
        run_id=ev.run_id or "",
        plan=plan,
        outcomes=outcomes,
        results=results,
        readiness=readiness,
        pillars=pillars,
        readiness_reasons=reasons,
        rubric=plan.ref,
        policy=None if policy is None else plan.policy_ref(policy),
        inputs=inputs,
        human=_human(ev, plan.ids, results),
        run=run,
    )
