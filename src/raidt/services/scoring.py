"""Scoring service: gather a run's inputs, score it, store it, aggregate, find weak points.

The pure work (checks, scores, readiness, weak points, aggregation) lives in the core; this
service only gathers the inputs from the store — events, the policy version in force with
its verbatim YAML, the rubric with its verbatim YAML, the actor directory, the comparable-
runs summary, the result of verifying the run's hash chain — and persists results. The
packs engineer bundles exactly :class:`ScoreInputs`, so a pack recomputes its score offline.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from raidt.core.actors import ActorDirectory
from raidt.core.aggregate import RollupAccumulator, RollupRow, summarise
from raidt.core.canonical import canonical_json, from_json
from raidt.core.checks import Comparables, EvidenceEvent, RunEvidence
from raidt.core.events import Event, EventType
from raidt.core.hashing import event_hash, rows_chain_ok
from raidt.core.policy import Policy, load_policy
from raidt.core.rubric import Rubric, load_rubric
from raidt.core.scoring import Evaluation, ScoreProfile, ScoringPlan, evaluate, expand_stored
from raidt.core.timefmt import format_ts, parse_ts, utcnow
from raidt.core.weakpoints import (
    RunFacts,
    Timeline,
    cross_run_keys,
    detect,
    run_facts,
    summarise_counts,
    timeline_of,
    weak_keys,
)
from raidt.errors import NotFoundError, ValidationError
from raidt.services.bulk import batch_writer, relaxed_gc
from raidt.store import schema
from raidt.store.registry import StoredDocument, VersionedDocuments
from raidt.store.scores import ScoreStore, StoredScore, score_row

if TYPE_CHECKING:
    from raidt.services.app import App

__all__ = [
    "DEFAULT_RUBRIC",
    "ScoreInputs",
    "ScoringService",
    "chain_problem",
    "default_rubric_text",
    "install_default_rubric",
]

#: (id, version) of the rubric shipped with RAIDT
DEFAULT_RUBRIC = ("raidt-default", "2")

Progress = Callable[[int, int], None]


def default_rubric_text() -> str:
    """The packaged YAML of the default rubric (``raidt-default@2``)."""
    return (resources.files("raidt") / "policies" / "rubrics" / "raidt-default-2.yaml").read_text(
        "utf-8"
    )


def install_default_rubric(app: App) -> bool:
    """Add the packaged default rubric to the registry (True when it was new)."""
    return ScoringService(app).add_rubric(default_rubric_text(), "raidt-default-2.yaml")


def chain_problem(events: Sequence[Event]) -> str | None:
    """Why a run's stored chain does not verify (hash or link), or None when it does."""
    prev: str | None = None
    for e in sorted(events, key=lambda x: x.seq):
        if e.prev_hash != prev:
            return f"event {e.id}: prev_hash does not match the previous event of the run"
        if event_hash(e.body()) != e.hash:
            return f"event {e.id}: stored hash does not match its content"
        prev = e.hash
    return None


@dataclass(frozen=True)
class ScoreInputs:
    """Everything :func:`raidt.core.scoring.score_run` needs for one run, as recorded."""

    run_id: str
    events: list[Event]
    policy: Policy | None
    policy_text: str | None
    rubric: Rubric
    rubric_text: str
    actors: ActorDirectory
    comparables: Comparables | None
    chain_ok: bool
    as_of: datetime | None
    plan: ScoringPlan
    recorded_by: datetime | None = None

    def score(self) -> ScoreProfile:
        return self.evaluate(RunEvidence(self.events))[0].profile()

    def evaluate(self, ev: RunEvidence) -> tuple[Evaluation, RunFacts]:
        return judge_run(
            ev,
            plan=self.plan,
            policy=self.policy,
            actors=self.actors,
            comparables=self.comparables,
            chain_ok=self.chain_ok,
            as_of=self.as_of,
            recorded_by=self.recorded_by,
        )


def judge_run(
    ev: RunEvidence,
    *,
    plan: ScoringPlan,
    policy: Policy | None,
    actors: ActorDirectory,
    comparables: Comparables | None,
    chain_ok: bool,
    as_of: datetime | None,
    recorded_by: datetime | None,
) -> tuple[Evaluation, RunFacts]:
    """A run's evaluation and its weak-point facts: the one scoring pipeline, for one run
    (``raidt score RUN``, packs) and for a million (``raidt score --all``). The facts read
    the same oversight judgement the score made (it is worked out once per run)."""
    scored = evaluate(
        ev,
        policy=policy,
        rubric=plan,
        actors=actors,
        comparables=comparables,
        chain_ok=chain_ok,
        as_of=as_of,
        recorded_by=recorded_by,
    )
    facts = run_facts(
        ev,
        policy=policy,
        actors=actors,
        comparables=comparables,
        as_of=as_of,
        review_params=plan.params_of("substantive_review"),
        approvals=plan.approvals(policy),
    )
    return scored, facts


_CONFIG_KEYS: dict[bytes, str] = {}


def _config_key(value: Any) -> str | None:
    """Canonical JSON text of a configuration, memoised on orjson's sorted encoding (which
    tells distinct JSON values apart): a million runs share a handful of configurations."""
    if value is None:
        return None
    try:
        raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return canonical_json(value).decode()
    hit = _CONFIG_KEYS.get(raw)
    if hit is None:
        if len(_CONFIG_KEYS) > 10_000:
            _CONFIG_KEYS.clear()
        hit = _CONFIG_KEYS[raw] = canonical_json(value).decode()
    return hit


@dataclass(frozen=True, slots=True)
class _RunKeys:
    """What the service needs from a run's events to look up its inputs.

    The same reading as the run projection (``core.projection``): the policy named on
    ``run.started`` (default: the use case) and its version if recorded; done without
    folding every event, because this runs once per run when scoring a million.
    """

    use_case: str | None
    policy_id: str | None
    policy_version: str | None
    started_at: datetime | None
    closed: bool

    @classmethod
    def of(cls, events: Sequence[Event]) -> _RunKeys:
        started = next((e for e in events if e.type is EventType.RUN_STARTED), None)
        closed = any(e.type is EventType.RUN_CLOSED for e in events)
        return cls._from(started, closed)

    @classmethod
    def of_evidence(cls, ev: RunEvidence) -> _RunKeys:
        """Same as :meth:`of` on the events ``ev`` holds."""
        return cls._from(ev.started, ev.has(EventType.RUN_CLOSED))

    @classmethod
    def _from(cls, started: Event | EvidenceEvent | None, closed: bool) -> _RunKeys:
        if started is None:
            return cls(None, None, None, None, closed)
        p = started.payload
        pol = p.get("policy") if isinstance(p.get("policy"), dict) else None
        version = None if not pol or pol.get("version") is None else str(pol["version"])
        use_case = p.get("use_case")
        return cls(use_case, (pol or {}).get("id", use_case), version, started.at, closed)


class _Comparables:
    """Tally of model configs and templates per (use case, policy version)."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, str | None], Counter[str]] = {}
        self.templates: dict[tuple[str, str | None], Counter[str]] = {}
        self.runs: Counter[tuple[str, str | None]] = Counter()
        self._summaries: dict[tuple[str, str | None], Comparables] = {}

    def add(
        self, use_case: str | None, version: str | None, model: Any, template: Any, runs: int = 1
    ) -> None:
        """Count ``runs`` runs of this use case and version with this model and template."""
        if use_case is None:
            return
        self._summaries.clear()
        key = (use_case, version)
        self.runs[key] += runs
        if model is not None:
            self.models.setdefault(key, Counter())[_config_key(model) or ""] += runs
        if isinstance(template, dict) and template.get("id"):
            t = {"id": str(template["id"]), "version": str(template.get("version"))}
            self.templates.setdefault(key, Counter())[_config_key(t) or ""] += runs

    def get(self, use_case: str | None, version: str | None) -> Comparables | None:
        if use_case is None or (use_case, version) not in self.runs:
            return None
        key = (use_case, version)
        done = self._summaries.get(key)
        if done is None:
            done = self._summaries[key] = self._summary(key)
        return done

    def _summary(self, key: tuple[str, str | None]) -> Comparables:
        use_case, version = key

        def modal(c: Counter[str] | None) -> Any:
            # the usual configuration is one held by a strict majority; without one there
            # is nothing to drift from (and the answer never depends on scan order)
            if not c:
                return None
            best = max(c.items(), key=lambda kv: (kv[1], kv[0]))
            return from_json(best[0]) if 2 * best[1] > sum(c.values()) else None

        return Comparables(
            use_case=use_case,
            policy_version=version,
            runs=self.runs[key],
            model=modal(self.models.get(key)),
            template=modal(self.templates.get(key)),
        )


@dataclass(frozen=True)
class ShareTally:
    """What scoring a share of the runs adds up to: readiness counts, rollup rows and
    weak-point counters (summed over shares, then written once)."""

    counts: Counter[str]
    rollup: list[RollupRow]
    weak: Counter[tuple[str, str, str, str]]
    done: int
    #: what the cross-run weak-point rules read of each run (workload, drift)
    timeline: list[Timeline]


class ScoringService:
    """Score runs of one store against a rubric from its registry."""

    def __init__(
        self, app: App, rubric_id: str = DEFAULT_RUBRIC[0], rubric_version: str | None = None
    ) -> None:
        self.app = app
        self.scores = ScoreStore(app.db, self._expand)
        self.rubrics = VersionedDocuments(app.db, schema.rubrics, "rubric")
        self._by_ref: dict[tuple[str, str], Rubric] = {}
        if rubric_id == DEFAULT_RUBRIC[0] and rubric_version is None:
            # the rubric this release judges with, registered or not: a store created by an
            # older release holds only the older version, whose criteria mean less
            rubric_version = DEFAULT_RUBRIC[1]
        self._rubric_ref = (rubric_id, rubric_version)
        self._plan: ScoringPlan | None = None
        self._sealed: list[tuple[int, datetime]] | None = None
        self._rubric: tuple[Rubric, str] | None = None
        self._policies: dict[tuple[str, str], tuple[Policy, str] | None] = {}
        self._versions: dict[str, list[tuple[datetime, Policy, str]]] = {}
        self._actors: ActorDirectory | None = None
        self._comparables: _Comparables | None = None
        self._group_cache: dict[tuple[str, str | None], Comparables | None] = {}

    # --- rubric registry -----------------------------------------------------------------

    def add_rubric(self, text: str, source: str) -> bool:
        """Validate rubric YAML and add it (append-only; True when it was new).

        Raises:
            ValidationError: the text is not a valid rubric (names ``source:line`` and field),
                or the same id and version are stored with different content.
        """
        rubric = load_rubric(text, source)
        return self.rubrics.add(rubric.id, rubric.version, rubric.content_hash, text)

    def list_rubrics(self) -> list[StoredDocument]:
        return self.rubrics.all()

    def rubric_doc(self, rubric_id: str, version: str | None = None) -> StoredDocument:
        """A stored rubric version (the latest added when ``version`` is None)."""
        if version is not None:
            doc = self.rubrics.get(rubric_id, version)
        else:
            docs = self.rubrics.versions(rubric_id)
            doc = docs[-1] if docs else None
        if doc is None:
            known = ", ".join(f"{d.id}@{d.version}" for d in self.rubrics.all()) or "none"
            want = rubric_id + (f"@{version}" if version else "")
            raise NotFoundError(f"unknown rubric {want}; known rubrics: {known}")
        return doc

    def rubric(self) -> tuple[Rubric, str]:
        """The rubric this service scores with, and its verbatim YAML.

        Falls back to the packaged default when the registry does not hold it yet (a store
        created before ``raidt init`` installed it).
        """
        if self._rubric is None:
            rid, ver = self._rubric_ref
            try:
                doc = self.rubric_doc(rid, ver)
                text, source = doc.body, f"rubric {doc.id}@{doc.version}"
            except NotFoundError:
                if (rid, ver) not in (DEFAULT_RUBRIC, (DEFAULT_RUBRIC[0], None)):
                    raise
                text, source = default_rubric_text(), "raidt-default-2.yaml"
            self._rubric = (load_rubric(text, source), text)
        return self._rubric

    def plan(self) -> ScoringPlan:
        """The rubric resolved for scoring, built once per service."""
        if self._plan is None:
            self._plan = ScoringPlan(self.rubric()[0])
        return self._plan

    def _recorded_by(self, last_seq: int | None) -> datetime | None:
        """When the event at ``last_seq`` was sealed at the latest: the time of the first
        signed checkpoint covering it (None when no checkpoint covers it yet: every write
        path signs one, and a judging time here would make rescores differ)."""
        if self._sealed is None:
            self._sealed = [(n, parse_ts(at)) for n, at in self.scores.checkpoint_times()]
        if last_seq is not None:
            i = bisect_right(self._sealed, last_seq, key=lambda c: c[0])
            if i < len(self._sealed):
                return self._sealed[i][1]
        return None

    def _expand(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored profile as ``ScoreProfile.to_json()``, with the rubric it names."""
        ref = stored.get("rubric") or {}
        key = (str(ref.get("id")), str(ref.get("version")))
        rubric = self._by_ref.get(key)
        if rubric is None:
            own = self.rubric()[0]
            if (own.id, own.version) == key:
                rubric = own
            else:
                doc = self.rubric_doc(*key)
                rubric = load_rubric(doc.body, f"rubric {doc.id}@{doc.version}")
            self._by_ref[key] = rubric
        try:
            return expand_stored(stored, self.plan() if rubric is self.rubric()[0] else rubric)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    # --- inputs --------------------------------------------------------------------------

    def actors(self) -> ActorDirectory:
        if self._actors is None:
            from raidt.services.policies import PolicyService

            self._actors = PolicyService(self.app).actor_directory()
        return self._actors

    def _policy(self, keys: _RunKeys) -> tuple[Policy, str] | None:
        if not keys.policy_id:
            return None
        pid = keys.policy_id
        if keys.policy_version:
            key = (pid, keys.policy_version)
            if key not in self._policies:
                self._policies[key] = self._load_policy(pid, keys.policy_version)
            return self._policies[key]
        if keys.started_at is None:
            return None
        return self._in_force(pid, keys.started_at)

    def _load_policy(self, pid: str, version: str) -> tuple[Policy, str] | None:
        from raidt.services.policies import PolicyService

        svc = PolicyService(self.app)
        try:
            return svc.get(pid, version), svc.policy_text(pid, version)
        except (NotFoundError, ValidationError):
            return None

    def _in_force(self, pid: str, at: datetime) -> tuple[Policy, str] | None:
        """Same rule as ``PolicyService.policy_in_force``, over a cached version list."""
        if pid not in self._versions:
            docs = VersionedDocuments(self.app.db, schema.policies, "policy").versions(pid)
            parsed = []
            for d in docs:
                try:
                    parsed.append(
                        (d.added_at, load_policy(d.body, f"policy {d.id}@{d.version}"), d.body)
                    )
                except ValidationError:
                    continue
            self._versions[pid] = parsed
        versions = self._versions[pid]
        if not versions:
            return None
        chosen = None
        for added, pol, text in versions:
            if added <= at and (pol.effective_from is None or pol.effective_from <= at.date()):
                chosen = (pol, text)
        return chosen or (versions[0][1], versions[0][2])

    def _comparables_for(self, use_case: str | None, version: str | None) -> Comparables | None:
        if use_case is None:
            return None
        if self._comparables is None:
            # one tally per comparable group for this service's lifetime: building a period's
            # packs asks for the same group once per run, which must not re-read the group
            key = (use_case, version)
            if key not in self._group_cache:
                tally = _Comparables()
                for uc, pv, model, tmpl, n in self.scores.run_config_counts(
                    use_case=use_case, policy_version=version
                ):
                    tally.add(uc, pv, model, tmpl, n)
                self._group_cache[key] = tally.get(use_case, version)
            return self._group_cache[key]
        return self._comparables.get(use_case, version)

    def inputs_for(self, run_id: str, events: Sequence[Event] | None = None) -> ScoreInputs:
        """The recorded inputs of one run's score (what an evidence pack bundles).

        Raises:
            NotFoundError: no run with that id.
        """
        evs = list(events) if events is not None else self.app.events.run_events(run_id)
        if not evs:
            raise NotFoundError(f"no run with id {run_id!r}")
        rubric, rubric_text = self.rubric()
        keys = _RunKeys.of(evs)
        found = self._policy(keys)
        return ScoreInputs(
            run_id=run_id,
            events=evs,
            policy=found[0] if found else None,
            policy_text=found[1] if found else None,
            rubric=rubric,
            rubric_text=rubric_text,
            actors=self.actors(),
            comparables=self._comparables_for(keys.use_case, keys.policy_version),
            chain_ok=chain_problem(evs) is None,
            as_of=None if keys.closed else utcnow().replace(microsecond=0),
            plan=self.plan(),
            recorded_by=self._recorded_by(max(e.seq for e in evs)),
        )

    # --- scoring -------------------------------------------------------------------------

    def score(self, run_id: str, *, store: bool = True) -> ScoreProfile:
        """Score one run from the store (and keep the profile, rollup included).

        The weak points that compare runs with each other (workload, drift) are counted
        for the dashboard by the next ``score --all``; the drill-down always has them.
        """
        inputs = self.inputs_for(run_id)
        scored, facts = inputs.evaluate(RunEvidence(inputs.events))
        profile = scored.profile()
        if store:
            self.scores.save(
                [
                    StoredScore(
                        profile=profile.to_json(),
                        facts=facts.to_json(),
                        flagged=facts.flagged,
                        scored_at=format_ts(utcnow()),
                    )
                ]
            )
        return profile

    def stored(self, run_id: str) -> dict[str, Any] | None:
        """The stored profile of a run, if it was scored."""
        return self.scores.get(run_id)

    def score_all(
        self,
        progress: Progress | None = None,
        *,
        by: str | None = None,
        batch: int = 1000,
        workers: int = 1,
    ) -> dict[str, Any]:
        """Rescore every run, streaming (memory flat), then rebuild the dashboard rollup.

        The bulk path reads raw event rows a page of runs at a time, verifies each run's
        chain on the stored canonical bytes, builds the run's evidence once for the checks
        and the weak-point facts, writes profiles with the driver's executemany and counts
        the rollup as it goes. Every profile equals what :meth:`score` stores for the run.
        ``workers > 1`` splits the runs into that many shares scored by as many processes
        (:mod:`raidt.services.scoring_workers`); the stored result is the same.

        Returns ``{"runs", "readiness": {level: n}}`` plus ``aggregate`` when ``by`` is set.
        """
        if workers < 1:
            raise ValidationError(f"workers must be at least 1, not {workers}")
        tally = _Comparables()
        for uc, pv, model, tmpl, n in self.scores.run_config_counts():
            tally.add(uc, pv, model, tmpl, n)
        self._comparables = tally
        total = sum(tally.runs.values()) or self.app.events.count_runs()
        if workers > 1:
            from raidt.services.scoring_workers import score_in_workers

            shares = score_in_workers(self, workers, batch=batch, progress=progress, total=total)
        else:
            tick = None if progress is None else (lambda n: progress(n, total))
            shares = [self.score_share(batch=batch, on_batch=tick)]
        counts: Counter[str] = Counter()
        weak: Counter[tuple[str, str, str, str]] = Counter()
        rows: list[RollupRow] = []
        timeline: list[Timeline] = []
        for share in shares:
            counts.update(share.counts)
            weak.update(share.weak)
            rows += share.rollup
            timeline += share.timeline
        # the rules that compare runs with each other need every run: counted here, once
        for (kind, scope, extra), _run_id, day in cross_run_keys(timeline):
            weak[(kind, scope, extra, day)] += 1
        del timeline
        done = sum(share.done for share in shares)
        self.scores.rebuild_rollup(rows, weak)
        if progress:
            progress(done, max(total, done))
        out: dict[str, Any] = {"runs": done, "readiness": dict(sorted(counts.items()))}
        if by:
            out["aggregate"] = self.aggregate(by)
        return out

    def score_share(
        self,
        *,
        after: str = "",
        upto: str | None = None,
        batch: int = 1000,
        on_batch: Callable[[int], None] | None = None,
    ) -> ShareTally:
        """Score and store the runs with ids in ``(after, upto]`` (all by default); what
        they add to the rollup and weak-point counters is returned, not written.

        Needs the comparable-runs tally of the whole store in ``self._comparables``
        (:meth:`score_all` sets it). ``on_batch`` gets the number of runs done so far.
        """
        plan = self.plan()
        actors = self.actors()
        rollup = RollupAccumulator()
        weak: Counter[tuple[str, str, str, str]] = Counter()
        counts: Counter[str] = Counter()
        timeline: list[Timeline] = []
        pending: list[tuple[Any, ...]] = []
        now = format_ts(utcnow())
        from_rows = RunEvidence.from_rows
        done = 0
        # with a second CPU, profiles are written on a background thread at most two
        # batches behind (see services.bulk); a failed write stops the rescore either way
        with relaxed_gc(), batch_writer(self.scores.upsert_rows) as writer:
            for run_id, rows in self.app.events.iter_run_rows(
                batch_runs=batch, after=after, upto=upto
            ):
                ev = from_rows(rows)
                chain_ok = rows_chain_ok(rows) or (
                    chain_problem(self.app.events.run_events(run_id)) is None
                )
                keys = _RunKeys.of_evidence(ev)
                found = self._policy(keys)
                policy = found[0] if found else None
                as_of = None if keys.closed else utcnow().replace(microsecond=0)
                scored, facts = judge_run(
                    ev,
                    plan=plan,
                    policy=policy,
                    actors=actors,
                    comparables=self._comparables_for(keys.use_case, keys.policy_version),
                    chain_ok=chain_ok,
                    as_of=as_of,
                    recorded_by=self._recorded_by(ev.events[-1].seq if ev.events else None),
                )
                counts[scored.readiness] += 1
                rollup.add(
                    scored.run,
                    scored.readiness,
                    scored.pillars,
                    scored.ids,
                    scored.results,
                    scored.obligations,
                    facts.reviewers,
                )
                day = (facts.started_at or "")[:10]
                for kind, scope, extra in weak_keys(facts):
                    weak[(kind, scope, extra, day)] += 1
                timeline.append(timeline_of(facts))
                pending.append(score_row(scored.stored(), facts.to_json(), facts.flagged, now))
                done += 1
                if len(pending) >= batch:
                    writer.put(pending)
                    pending = []
                    if on_batch:
                        on_batch(done)
            writer.put(pending)
        return ShareTally(counts, rollup.rows(), weak, done, timeline)

    # --- dashboards ----------------------------------------------------------------------

    def aggregate(
        self, by: str, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """Per-group readiness counts, mean pillar scores and monthly trend.

        Reads the rollup maintained on write, so it answers in milliseconds over a million
        scored runs. ``since``/``until`` are compared by month.

        Raises:
            ValidationError: ``by`` is not one of use_case, team, reviewer, month, obligation.
        """
        if since and until and since[:7] > until[:7]:
            raise ValidationError(
                f"since {since} is after until {until}: no month lies between them"
            )
        try:
            return summarise(
                self.scores.rollup(by, since=since, until=until), by, since=since, until=until
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def iter_facts(self, since: str | None = None, until: str | None = None) -> Iterator[RunFacts]:
        for d in self.scores.iter_facts(since=since, until=until):
            yield RunFacts.from_json(d)

    def weakpoints(
        self, since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        """Weak points among scored runs started in ``[since, until)`` (ISO dates), each
        with every run behind it: the drill-down, a pass over every stored run's facts."""
        lo, hi = _check_window(_day(since), _day(until))
        return detect(self.iter_facts(lo, hi))

    def weakpoint_summary(
        self, since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        """The weak points of :meth:`weakpoints` with run counts instead of run ids.

        For dashboards: sums the counters kept on write (per start day), so it answers in
        milliseconds over a million scored runs. A bound with a time of day (not a whole
        day) is answered from the stored facts instead, exactly but slowly.
        """
        lo, hi = _check_window(_day(since), _day(until))
        if (lo and "T" in lo) or (hi and "T" in hi):
            counts: Counter[tuple[str, str, str]] = Counter()
            for f in self.iter_facts(lo, hi):
                counts.update(weak_keys(f))
            return summarise_counts(counts)
        return summarise_counts(self.scores.weak_counts(since=lo, until=hi))


def _check_window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """``(since, until)`` unchanged, or a refusal when no run can start between them (an
    inverted window would otherwise answer "no weak points", which reads like good news)."""
    if since is not None and until is not None and since >= until:
        raise ValidationError(
            f"since {since} is not before until {until}: no run can start in that window"
        )
    return since, until


def _day(value: str | None) -> str | None:
    """Accept a date or timestamp; compare as text against stored UTC timestamps."""
    if value is None:
        return None
    try:
        if "T" in value:
            return format_ts(parse_ts(value))
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise ValidationError(f"not a date or timestamp: {value!r} ({exc})") from None
