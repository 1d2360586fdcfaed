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
    CheckContext,
    CheckResult,
    Comparables,
    Result,
    RunEvidence,
)
from raidt.core.events import Event, EventType
from raidt.core.policy import Policy
from raidt.core.rubric import PILLARS, Pillar, Readiness, Rubric
from raidt.core.timefmt import format_ts, parse_ts

__all__ = [
    "RESULT_VALUE",
    "STORED_FORMAT",
    "CriterionScore",
    "Evaluation",
    "ScoreProfile",
    "compact_profile",
    "content_hash_of",
    "evaluate",
    "expand_stored",
    "score_run",
]

#: how much each result counts towards its pillar (not_applicable is left out)
RESULT_VALUE: dict[Result, float] = {Result.MET: 1.0, Result.PARTIAL: 0.5, Result.UNMET: 0.0}

_HASH_CACHE: dict[int, tuple[object, str]] = {}

_RESULT_TEXT: dict[Result, str] = {r: r.value for r in Result}

_DUMPS: dict[int, tuple[Comparables, dict[str, Any]]] = {}


def _comparables_json(comparables: Comparables) -> dict[str, Any]:
    """``comparables.model_dump(mode="json")``, built once per object (a bulk rescore
    shares one summary among every run of a use case). The answer is shared: an
    :class:`Evaluation` is read-only, and :meth:`Evaluation.profile` copies it."""
    hit = _DUMPS.get(id(comparables))
    if hit is None or hit[0] is not comparables:
        if len(_DUMPS) > 256:
            _DUMPS.clear()
        hit = _DUMPS[id(comparables)] = (
            comparables,
            comparables.model_dump(mode="json"),
        )
    return hit[1]


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
    obligations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """A rubric's criteria as resolved steps, with the per-criterion columns bulk scoring
    and the rollup read (criterion ids and obligations, in rubric order)."""

    rubric: Rubric
    steps: tuple[_Step, ...]
    ids: tuple[str, ...]
    obligations: tuple[tuple[str, ...], ...]


_PLANS: dict[int, _Plan] = {}


def _plan(rubric: Rubric) -> _Plan:
    """The rubric's resolved plan, memoised per rubric object."""
    hit = _PLANS.get(id(rubric))
    if hit is not None and hit.rubric is rubric:
        return hit
    if len(_PLANS) > 64:
        _PLANS.clear()
    steps = tuple(
        _Step(
            id=c.id,
            pillar=c.pillar,
            pillar_text=c.pillar.value,
            check=CHECKS[c.check],
            params=c.params,
            weight=c.weight,
            critical=c.critical,
            obligations=tuple(c.obligations),
        )
        for c in rubric.criteria
    )
    plan = _Plan(
        rubric=rubric,
        steps=steps,
        ids=tuple(c.id for c in steps),
        obligations=tuple(c.obligations for c in steps),
    )
    _PLANS[id(rubric)] = plan
    return plan


_CONTEXTS: dict[tuple[object, ...], tuple[tuple[object, ...], tuple[CheckContext, ...]]] = {}


def _contexts(
    rubric: Rubric,
    policy: Policy | None,
    actors: ActorDirectory,
    comparables: Comparables | None,
    chain_ok: bool,
    when: datetime | None,
) -> tuple[CheckContext, ...]:
    """Each criterion's :class:`CheckContext`, memoised per combination of inputs (a bulk
    rescore shares a handful of policies, comparables and judging instants among a million
    runs, so it builds them once instead of once per criterion and run)."""
    # equal instants share contexts (open runs each bring a new datetime object); the
    # objects are compared by identity, and kept in the memo so their ids stay theirs
    inputs: tuple[object, ...] = (rubric, policy, actors, comparables)
    instant = None if when is None else when.isoformat()
    key = (id(rubric), id(policy), id(actors), id(comparables), chain_ok, instant)
    hit = _CONTEXTS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], inputs, strict=True)):
        return hit[1]
    if len(_CONTEXTS) > 256:
        _CONTEXTS.clear()
    base = CheckContext(
        policy=policy, actors=actors, comparables=comparables, chain_ok=chain_ok, as_of=when
    )
    found = tuple(
        CheckContext(
            policy=policy,
            actors=actors,
            comparables=comparables,
            chain_ok=chain_ok,
            as_of=when,
            params=c.params,
        )
        if c.params
        else base
        for c in _plan(rubric).steps
    )
    _CONTEXTS[key] = (inputs, found)
    return found


def content_hash_of(obj: Policy | Rubric) -> str:
    """``obj.content_hash``, memoised per object (scoring a million runs hashes it once)."""
    hit = _HASH_CACHE.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if len(_HASH_CACHE) > 256:
        _HASH_CACHE.clear()
    digest = obj.content_hash
    _HASH_CACHE[id(obj)] = (obj, digest)
    return digest


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
    rubric: Rubric,
    pillars: dict[str, int],
    critical: Sequence[tuple[str, str]],
    chain_problem: str | None,
) -> tuple[str, tuple[str, ...]]:
    """The readiness level and its reasons; ``critical`` is (criterion id, result) of each
    critical criterion, in rubric order."""
    if chain_problem is not None:
        return Readiness.NOT_GOVERNABLE.value, (chain_problem,)
    mean = sum(pillars.values()) / len(pillars)
    reasons: list[str] = []
    achieved = Readiness.NOT_GOVERNABLE
    for level in (Readiness.BASIC, Readiness.MANAGED, Readiness.AUDIT_READY):
        thr = rubric.thresholds.for_level(level)
        fails: list[str] = []
        low = [f"{p} {v} < {thr.min_pillar:g}" for p, v in pillars.items() if v < thr.min_pillar]
        if low:
            fails.append("pillar(s) below threshold: " + ", ".join(low))
        if mean < thr.min_mean:
            fails.append(f"mean {mean:.1f} < {thr.min_mean:g}")
        if thr.critical == "no_unmet":
            bad = [cid for cid, result in critical if result == Result.UNMET]
            if bad:
                fails.append("critical criteria unmet: " + ", ".join(bad))
        elif thr.critical == "all_met":
            bad = [
                f"{cid} ({result})"
                for cid, result in critical
                if result not in (Result.MET, Result.NOT_APPLICABLE)
            ]
            if bad:
                fails.append("critical criteria not met: " + ", ".join(bad))
        if fails:
            reasons.append(f"not {level.value}: " + "; ".join(fails))
            break
        achieved = level
    if achieved is Readiness.AUDIT_READY:
        reasons.append(f"audit_ready: every threshold holds (mean {mean:.1f})")
    elif achieved is Readiness.NOT_GOVERNABLE:
        reasons.insert(0, f"not_governable: the thresholds for basic do not hold (mean {mean:.1f})")
    else:
        reasons.insert(
            0, f"{achieved.value}: highest level whose thresholds hold (mean {mean:.1f})"
        )
    return achieved.value, tuple(reasons)


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


#: (plan id, results, chain problem) -> (plan, pillars, readiness, reasons); the plan is
#: kept so that its id cannot be reused by another plan while the entry lives
_JUDGED: dict[
    tuple[int, tuple[str, ...], str | None],
    tuple[_Plan, dict[str, int], str, tuple[str, ...]],
] = {}


def _judge(
    plan: _Plan, results: tuple[str, ...], problem: str | None
) -> tuple[dict[str, int], str, tuple[str, ...]]:
    """Pillar scores, readiness and its reasons from the criteria results (rubric order).

    A pure function of its arguments, memoised: a million runs fall into a few hundred
    distinct result vectors. Each caller gets its own copy of the pillar dict.
    """
    key = (id(plan), results, problem)
    hit = _JUDGED.get(key)
    if hit is None or hit[0] is not plan:
        if len(_JUDGED) > 50_000:
            _JUDGED.clear()
        totals: dict[Pillar, list[float]] = {p: [0.0, 0.0] for p in PILLARS}
        critical: list[tuple[str, str]] = []
        for c, result in zip(plan.steps, results, strict=True):
            if result != Result.NOT_APPLICABLE:
                t = totals[c.pillar]
                t[0] += c.weight * RESULT_VALUE[Result(result)]
                t[1] += c.weight
            if c.critical:
                critical.append((c.id, result))
        # an empty pillar (everything not applicable) asks nothing of the run: full marks
        pillars = {
            p.value: (int(100 * num / den + 0.5) if den else 100)
            for p, (num, den) in totals.items()
        }
        readiness, reasons = _readiness(plan.rubric, pillars, critical, problem)
        hit = _JUDGED[key] = (plan, pillars, readiness, reasons)
    return dict(hit[1]), hit[2], hit[3]


def score_run(
    events: Sequence[Event] | RunEvidence,
    *,
    policy: Policy | None,
    rubric: Rubric,
    actors: ActorDirectory,
    comparables: Comparables | None = None,
    chain_ok: bool = True,
    as_of: datetime | str | None = None,
) -> ScoreProfile:
    """Score one run against ``rubric``.

    Args:
        events: the run's sealed events (any order; ledger order is restored by ``seq``), or
            their :class:`RunEvidence` when the caller already built it (bulk scoring shares
            it with weak-point facts).
        policy: the policy version in force for the run, or None when it is unknown (checks
            that depend on it then say so, and readiness cannot pass critical criteria that
            need it).
        rubric: the rubric version to apply.
        actors: the actor directory (qualifications, roles, person or system).
        comparables: what comparable runs usually use (None: consistency not judged).
        chain_ok: False when the store's verification of this run's chain or ledger failed;
            readiness is then ``not_governable`` whatever else the record shows.
        as_of: the instant open runs are judged at (SLA); recorded in ``inputs``.

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
    plan: _Plan
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


def expand_stored(stored: dict[str, Any], rubric: Rubric) -> dict[str, Any]:
    """``ScoreProfile.to_json()`` from a stored profile: the compact form gets back each
    criterion's id, pillar, critical flag and obligations from ``rubric`` (which must be
    the version it names, content hash included); a full profile is returned as it is.

    Raises:
        ValueError: the stored form names another rubric, or its criteria do not match.
    """
    form = stored.get("format")
    if form not in _STORED_FORMATS:
        return stored
    ref = stored["rubric"]
    if (ref.get("id"), ref.get("version"), ref.get("sha256")) != (
        rubric.id,
        rubric.version,
        content_hash_of(rubric),
    ):
        raise ValueError(
            f"stored profile of run {stored.get('run_id')} was scored with rubric "
            f"{ref.get('id')}@{ref.get('version')}, not {rubric.id}@{rubric.version}"
        )
    steps = _plan(rubric).steps
    rows = stored["criteria"]
    if len(rows) != len(steps):
        raise ValueError(
            f"stored profile of run {stored.get('run_id')} has {len(rows)} criteria; "
            f"rubric {rubric.id}@{rubric.version} has {len(steps)}"
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
    rubric: Rubric,
    actors: ActorDirectory,
    comparables: Comparables | None = None,
    chain_ok: bool = True,
    as_of: datetime | str | None = None,
) -> Evaluation:
    """What :func:`score_run` computes, before it is shaped into a profile (same inputs)."""
    ev = events if isinstance(events, RunEvidence) else RunEvidence(events)
    when = parse_ts(as_of) if isinstance(as_of, str) else as_of
    contexts = _contexts(rubric, policy, actors, comparables, chain_ok, when)
    plan = _plan(rubric)
    outcomes = tuple([c.check(ev, ctx) for c, ctx in zip(plan.steps, contexts, strict=True)])
    results = tuple([_RESULT_TEXT[o.result] for o in outcomes])
    broken = _chain_intact(ev)
    problem = None
    if not ev.events:
        problem = "not_governable: the run has no events"
    elif not chain_ok:
        problem = "not_governable: verification of the stored hash chain or ledger failed"
    elif broken is not None:
        problem = f"not_governable: the hash chain is broken at event {broken}"
    pillars, readiness, reasons = _judge(plan, results, problem)
    last = ev.events[-1] if ev.events else None
    inputs: dict[str, Any] = {
        "events": {
            "count": len(ev.events),
            "last_hash": last.hash if last else None,
            "last_seq": last.seq if last else None,
        },
        "comparables": None if comparables is None else _comparables_json(comparables),
        "actors": {"sha256": directory_digest(actors, named_actor_ids(ev.events))},
        "chain_ok": chain_ok,
        "as_of": None if when is None else format_ts(when),
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
        rubric={"id": rubric.id, "version": rubric.version, "sha256": content_hash_of(rubric)},
        policy=None
        if policy is None
        else {"id": policy.id, "version": policy.version, "sha256": content_hash_of(policy)},
        inputs=inputs,
        human=_human(ev, plan.ids, results),
        run=run,
    )
