"""What every evidence check shares: its inputs, its result, and the registry.

A check is a pure function ``check(evidence, ctx) -> CheckResult``. ``evidence`` is the
run's events with a small index by type (built once per run, so twenty-odd checks do not
each rescan the list); ``ctx`` carries everything else a check may look at — the policy
version in force (or ``None`` when it is unknown, which policy-dependent checks say in their
rationale), the actor directory, the comparable-runs summary, whether the store verified the
hash chain, the instant the run is judged at, and the criterion's parameters. Nothing here
reads a database or a clock, so a profile can be recomputed offline from an evidence pack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from raidt.core.actors import ActorDirectory
from raidt.core.comparables import Comparables
from raidt.core.events import ActorRef, Event, EventType, Role
from raidt.core.policy import Policy
from raidt.core.timefmt import format_ts, parse_ts

__all__ = [
    "CHECKS",
    "Approvals",
    "CheckContext",
    "CheckFn",
    "CheckResult",
    "Comparables",
    "EvidenceEvent",
    "Result",
    "RunEvidence",
    "approvals_of",
    "cite",
    "is_person",
    "model_ok",
    "ratio_result",
    "register",
    "template_ok",
]


class Result(StrEnum):
    """How far a criterion is satisfied."""

    MET = "met"
    PARTIAL = "partial"
    UNMET = "unmet"
    NOT_APPLICABLE = "not_applicable"


class CheckResult(NamedTuple):
    """One check's verdict: a result, words a reviewer can follow, and the events cited.

    A named tuple rather than a dataclass: a million-run rescore makes 26 per run, and bulk
    scoring stores them as they are (orjson writes ``["met", "...", ["<event id>"]]``).
    """

    result: Result
    rationale: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything besides the events that a check may use."""

    policy: Policy | None
    actors: ActorDirectory
    comparables: Comparables | None = None
    chain_ok: bool = True
    as_of: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: the instant by which the run's events were sealed (the first signed checkpoint
    #: covering them): nothing can be dated later than that
    recorded_by: datetime | None = None
    #: the policy's memoised approval answers (see :class:`Approvals`)
    approvals: Approvals | None = None

    def param(self, name: str, default: Any) -> Any:
        return self.params.get(name, default)

    @property
    def policy_label(self) -> str:
        return f"policy {self.policy.id}@{self.policy.version}" if self.policy else "policy"


_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_fromiso = datetime.fromisoformat


def _canonical_shape(text: str) -> bool:
    """True when ``text`` is written exactly as ``format_ts`` writes an instant:
    ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, with microseconds only when they are not zero."""
    n = len(text)
    if n == 20:
        ok = True
    elif n == 27:
        ok = text[19] == "." and text[20:26] != "000000"
    else:
        return False
    return (
        ok
        and text[-1] == "Z"
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
    )


_ACTORS: dict[tuple[str, str], ActorRef] = {}


def _actor(actor_id: str, role: str) -> ActorRef:
    ref = _ACTORS.get((actor_id, role))
    if ref is None:
        if len(_ACTORS) > 100_000:
            _ACTORS.clear()
        ref = _ACTORS[(actor_id, role)] = ActorRef.model_construct(id=actor_id, role=Role(role))
    return ref


class EvidenceEvent:
    """A sealed event as the checks read it: the fields of :class:`Event`, plus its
    canonical timestamp text, in a plain slotted object.

    Checks run twenty-odd times per run over a million runs, so they read these instead of
    pydantic models; :meth:`of` converts an :class:`Event` and :meth:`from_row` builds one
    from a stored row without building the model at all. Read-only by convention.
    """

    __slots__ = (
        "_at",
        "actor",
        "at_text",
        "hash",
        "id",
        "payload",
        "prev_hash",
        "run_id",
        "seq",
        "type",
    )

    id: str
    run_id: str
    type: EventType
    _at: datetime | None
    at_text: str
    actor: ActorRef
    payload: dict[str, Any]
    prev_hash: str | None
    hash: str
    seq: int

    def __init__(
        self,
        event_id: str,
        run_id: str,
        event_type: EventType,
        at: datetime | None,
        at_text: str,
        actor: ActorRef,
        payload: dict[str, Any],
        prev_hash: str | None,
        hash_hex: str,
        seq: int,
    ) -> None:
        """``at`` may be None when ``at_text`` is canonical: :attr:`at` parses it on use."""
        self.id = event_id
        self.run_id = run_id
        self.type = event_type
        self._at = at
        self.at_text = at_text
        self.actor = actor
        self.payload = payload
        self.prev_hash = prev_hash
        self.hash = hash_hex
        self.seq = seq

    @classmethod
    def of(cls, e: Event) -> EvidenceEvent:
        return EvidenceEvent(
            e.id,
            e.run_id,
            e.type,
            e.at,
            format_ts(e.at),
            e.actor,
            e.payload,
            e.prev_hash,
            e.hash,
            e.seq,
        )

    @classmethod
    def from_row(
        cls,
        seq: int,
        event_id: str,
        run_id: str,
        event_type: str,
        at: str,
        actor_id: str,
        actor_role: str,
        payload: dict[str, Any],
        prev_hash: str | None,
        hash_hex: str,
    ) -> EvidenceEvent:
        """From the columns of an ``events`` row (payload already parsed); equals
        ``EvidenceEvent.of(row_to_event(row))``."""
        when: datetime | None = None
        if _canonical_shape(at):
            text = at  # already what format_ts would render; parsed when first read
        else:
            when = parse_ts(at)
            text = format_ts(when)
        return EvidenceEvent(
            event_id,
            run_id,
            _TYPES[event_type],
            when,
            text,
            _actor(actor_id, actor_role),
            payload,
            prev_hash,
            hash_hex,
            int(seq),
        )

    @property
    def at(self) -> datetime:
        """The instant (UTC), parsed from :attr:`at_text` on first use: the checks read
        the instants of three or four events of a run, not all of them."""
        when = self._at
        if when is None:
            when = self._at = _fromiso(self.at_text)
        return when

    def __repr__(self) -> str:
        return f"EvidenceEvent({self.type.value} {self.id} seq={self.seq})"


class RunEvidence:
    """A run's events in ledger order, indexed by type (read-only)."""

    __slots__ = (
        "_by_type",
        "_merged",
        "_reviewers",
        "_templates",
        "events",
        "initiator",
        "memo",
        "run_id",
        "started",
    )

    def __init__(self, events: Iterable[Event | EvidenceEvent]) -> None:
        evs = sorted(
            (e if isinstance(e, EvidenceEvent) else EvidenceEvent.of(e) for e in events),
            key=_seq,
        )
        self.events: tuple[EvidenceEvent, ...] = tuple(evs)
        self.run_id: str | None = evs[0].run_id if evs else None
        by_type: dict[EventType, list[EvidenceEvent]] = {}
        for e in evs:
            by_type.setdefault(e.type, []).append(e)
        self._by_type = by_type
        # the checks ask for the same few type combinations, each many times per run
        self._merged: dict[tuple[EventType, ...], list[EvidenceEvent]] = {}
        self._reviewers: dict[str, list[EvidenceEvent]] | None = None
        self._templates: list[tuple[EvidenceEvent, str, str]] | None = None
        started = by_type.get(EventType.RUN_STARTED)
        self.started: EvidenceEvent | None = started[0] if started else None
        self.initiator: str | None = self.started.actor.id if self.started else None
        #: what several checks derive from the same run (the oversight judgement), kept
        #: with the run so it is worked out once; keyed by what it depends on
        self.memo: dict[object, object] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]]) -> RunEvidence:
        """From raw ``events`` rows ``(seq, id, run_id, type, at, actor_id, actor_role,
        payload_json, prev_hash, hash)``, the payload still as its stored JSON text: the
        bulk path of scoring, which never builds an :class:`Event` model."""
        from_row, loads = EvidenceEvent.from_row, orjson.loads
        return cls(
            [
                from_row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], loads(r[7]), r[8], r[9])
                for r in rows
            ]
        )

    def _all(self, types: tuple[EventType, ...]) -> list[EvidenceEvent] | tuple[()]:
        if len(types) == 1:
            return self._by_type.get(types[0], ())
        found = self._merged.get(types)
        return self._merge(types) if found is None else found

    def _merge(self, types: tuple[EventType, ...]) -> list[EvidenceEvent]:
        out = [e for t in types for e in self._by_type.get(t, ())]
        out.sort(key=_seq)
        self._merged[types] = out
        return out

    # all/first/last repeat _all's lookup inline: the checks call them ~100 times a run

    def all(self, *types: EventType) -> Sequence[EvidenceEvent]:
        """Events of the given types, in ledger order.

        The run's own list, not a copy (the checks ask about 30 times a run): typed as a
        read-only sequence, so mypy refuses code that would change it.
        """
        if len(types) == 1:
            return self._by_type.get(types[0], ())
        found = self._merged.get(types)
        return self._merge(types) if found is None else found

    def first(self, *types: EventType) -> EvidenceEvent | None:
        """The earliest event of the given types (no merged list needed for one event)."""
        by_type = self._by_type
        if len(types) == 1:
            found = by_type.get(types[0])
            return found[0] if found else None
        best: EvidenceEvent | None = None
        for t in types:
            found = by_type.get(t)
            if found and (best is None or found[0].seq < best.seq):
                best = found[0]
        return best

    def last(self, *types: EventType) -> EvidenceEvent | None:
        """The latest event of the given types."""
        by_type = self._by_type
        if len(types) == 1:
            found = by_type.get(types[0])
            return found[-1] if found else None
        best: EvidenceEvent | None = None
        for t in types:
            found = by_type.get(t)
            if found and (best is None or found[-1].seq > best.seq):
                best = found[-1]
        return best

    def has(self, event_type: EventType) -> bool:
        return event_type in self._by_type

    @property
    def closed(self) -> EvidenceEvent | None:
        """The run's final ``run.closed`` (the last one), if any."""
        return self.last(EventType.RUN_CLOSED)

    @property
    def disposition(self) -> str | None:
        closed = self.last(EventType.RUN_CLOSED)
        d = closed.payload.get("disposition") if closed is not None else None
        return d if isinstance(d, str) else None

    @property
    def withdrawn_before_use(self) -> bool:
        """True when the run was closed as ``withdrawn`` and its output never went anywhere:
        a draft its author dropped needs no reviewer (the live workflow allows it too)."""
        return self.disposition == "withdrawn" and not self.has(EventType.DOWNSTREAM_USED)

    @property
    def risk_level(self) -> str | None:
        return None if self.started is None else self.started.payload.get("risk_level")

    def reviewers(self) -> dict[str, list[EvidenceEvent]]:
        """Reviewer id -> events naming them (assignment or their own decision).

        Computed once per run; treat the answer as read-only.
        """
        if self._reviewers is not None:
            return self._reviewers
        out: dict[str, list[EvidenceEvent]] = {}
        for e in self._all(
            (EventType.REVIEW_ASSIGNED, EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)
        ):
            if e.type is EventType.REVIEW_ASSIGNED:
                rid = _ref_id(e.payload.get("reviewer"))
            else:
                rid = e.actor.id if e.actor.role is not Role.SYSTEM else None
            if rid:
                out.setdefault(rid, []).append(e)
        self._reviewers = out
        return out

    def templates(self) -> list[tuple[EvidenceEvent, str, str]]:
        """(event, template id, version) for every template a run names.

        Computed once per run; treat the answer as read-only.
        """
        if self._templates is not None:
            return self._templates
        out = []
        for e in self._all((EventType.RUN_STARTED, EventType.PROMPT_RENDERED)):
            t = e.payload.get("template")
            if isinstance(t, dict) and t.get("id") and t.get("version") is not None:
                out.append((e, str(t["id"]), str(t["version"])))
        self._templates = out
        return out


def _seq(e: EvidenceEvent) -> int:
    return e.seq


def _ref_id(ref: Any) -> str | None:
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") else None


CheckFn = Callable[[RunEvidence, CheckContext], CheckResult]

#: name -> check function; rubric criteria name checks from here
CHECKS: dict[str, CheckFn] = {}


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check under ``name`` (names are part of the rubric format: keep them)."""

    def deco(fn: CheckFn) -> CheckFn:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = fn
        return fn

    return deco


def cite(events: Sequence[EvidenceEvent | None]) -> tuple[str, ...]:
    """Event ids for a result's evidence list (order kept, duplicates and None dropped)."""
    if len(events) == 1:  # the common case, by far
        only = events[0]
        return () if only is None else (only.id,)
    # a list scan beats a dict for the handful of events a check cites
    out: list[str] = []
    for e in events:
        if e is not None and e.id not in out:
            out.append(e.id)
    return tuple(out)


def is_person(actor_id: str, role: Role, ctx: CheckContext) -> bool:
    """True when the actor is a person, not a system component."""
    if role is Role.SYSTEM:
        return False
    known = ctx.actors.get(actor_id)
    return known is None or known.kind == "person"


def ratio_result(ok: int, total: int) -> Result:
    """met when all ``total`` are ok, unmet when none are, partial in between."""
    if total and ok == total:
        return Result.MET
    return Result.PARTIAL if ok else Result.UNMET


class Approvals:
    """One policy version's answers to the questions scoring asks of every run (is this
    template, this model configuration approved?), each worked out once.

    A million runs ask a handful of distinct questions. The scoring plan keeps one of these
    per policy version and hands it to the checks in their :class:`CheckContext`; the
    answers are the policy's own (``Policy.template_approved`` and ``model_problem``).
    """

    __slots__ = ("_models", "_templates", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._templates: dict[tuple[str, str], bool] = {}
        self._models: dict[tuple[Any, ...], bool] = {}

    def template_ok(self, template_id: str, version: str) -> bool:
        key = (template_id, version)
        hit = self._templates.get(key)
        if hit is None:
            hit = self._templates[key] = self.policy.template_approved(template_id, version)
        return hit

    def model_ok(self, provider: str, model: str, parameters: Any) -> bool:
        """Parameters with unhashable values are judged without the memo."""
        if not isinstance(parameters, dict):
            return self.policy.model_problem(provider, model, parameters) is None
        try:
            # the type is part of the key: 1, 1.0 and True are equal to Python, not here
            key = (provider, model, tuple(sorted([(k, type(v), v) for k, v in parameters.items()])))
            hit = self._models.get(key)
        except TypeError:
            return self.policy.model_problem(provider, model, parameters) is None
        if hit is None:
            if len(self._models) > 10_000:
                self._models.clear()
            hit = self._models[key] = self.policy.model_problem(provider, model, parameters) is None
        return hit


def approvals_of(ctx: CheckContext) -> Approvals | None:
    """The approvals of the context's policy (the plan's, or new ones when a context was
    built by hand); None when the policy is unknown."""
    if ctx.policy is None:
        return None
    if ctx.approvals is not None and ctx.approvals.policy is ctx.policy:
        return ctx.approvals
    return Approvals(ctx.policy)


def template_ok(policy: Policy, template_id: str, version: str) -> bool:
    """``policy.template_approved(template_id, version)`` (no memo: see :class:`Approvals`)."""
    return policy.template_approved(template_id, version)


def model_ok(policy: Policy, provider: str, model: str, parameters: Any) -> bool:
    """Whether the model call is approved by ``policy`` (no memo: see :class:`Approvals`)."""
    return policy.model_problem(provider, model, parameters) is None
