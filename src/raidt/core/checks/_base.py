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
from typing import Any

from pydantic import BaseModel, ConfigDict

from raidt.core.actors import ActorDirectory
from raidt.core.events import Event, EventType, Role
from raidt.core.policy import Policy

__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckFn",
    "CheckResult",
    "Comparables",
    "Result",
    "RunEvidence",
    "cite",
    "is_person",
    "ratio_result",
    "register",
]


class Result(StrEnum):
    """How far a criterion is satisfied."""

    MET = "met"
    PARTIAL = "partial"
    UNMET = "unmet"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict: a result, words a reviewer can follow, and the events cited."""

    result: Result
    rationale: str
    evidence: tuple[str, ...] = ()


class Comparables(BaseModel):
    """What comparable runs (same use case and policy version) usually look like.

    Computed by the scoring service from the store and serialised into the score profile,
    so the profile recomputes offline without the other runs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_case: str
    policy_version: str | None = None
    runs: int = 0
    #: modal ``{"provider", "model", "parameters"}`` among the comparable runs
    model: dict[str, Any] | None = None
    #: modal ``{"id", "version"}`` prompt template among the comparable runs
    template: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything besides the events that a check may use."""

    policy: Policy | None
    actors: ActorDirectory
    comparables: Comparables | None = None
    chain_ok: bool = True
    as_of: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str, default: Any) -> Any:
        return self.params.get(name, default)

    @property
    def policy_label(self) -> str:
        return f"policy {self.policy.id}@{self.policy.version}" if self.policy else "policy"


class RunEvidence:
    """A run's events in ledger order, indexed by type (read-only)."""

    __slots__ = ("_by_type", "events", "initiator", "run_id", "started")

    def __init__(self, events: Iterable[Event]) -> None:
        evs = sorted(events, key=lambda e: e.seq)
        self.events: tuple[Event, ...] = tuple(evs)
        self.run_id: str | None = evs[0].run_id if evs else None
        by_type: dict[EventType, list[Event]] = {}
        for e in evs:
            by_type.setdefault(e.type, []).append(e)
        self._by_type = by_type
        started = by_type.get(EventType.RUN_STARTED)
        self.started: Event | None = started[0] if started else None
        self.initiator: str | None = self.started.actor.id if self.started else None

    def all(self, *types: EventType) -> list[Event]:
        """Events of the given types, in ledger order."""
        if len(types) == 1:
            return list(self._by_type.get(types[0], ()))
        out = [e for t in types for e in self._by_type.get(t, ())]
        out.sort(key=lambda e: e.seq)
        return out

    def first(self, *types: EventType) -> Event | None:
        found = self.all(*types)
        return found[0] if found else None

    def last(self, *types: EventType) -> Event | None:
        found = self.all(*types)
        return found[-1] if found else None

    def has(self, event_type: EventType) -> bool:
        return event_type in self._by_type

    @property
    def risk_level(self) -> str | None:
        return None if self.started is None else self.started.payload.get("risk_level")

    def reviewers(self) -> dict[str, list[Event]]:
        """Reviewer id -> events naming them (assignment or their own decision)."""
        out: dict[str, list[Event]] = {}
        for e in self.all(
            EventType.REVIEW_ASSIGNED, EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED
        ):
            if e.type is EventType.REVIEW_ASSIGNED:
                rid = _ref_id(e.payload.get("reviewer"))
            else:
                rid = e.actor.id if e.actor.role is not Role.SYSTEM else None
            if rid:
                out.setdefault(rid, []).append(e)
        return out

    def templates(self) -> list[tuple[Event, str, str]]:
        """(event, template id, version) for every template a run names."""
        out = []
        for e in self.all(EventType.RUN_STARTED, EventType.PROMPT_RENDERED):
            t = e.payload.get("template")
            if isinstance(t, dict) and t.get("id") and t.get("version") is not None:
                out.append((e, str(t["id"]), str(t["version"])))
        return out


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


def cite(events: Sequence[Event | None]) -> tuple[str, ...]:
    """Event ids for a result's evidence list (order kept, duplicates and None dropped)."""
    seen: dict[str, None] = {}
    for e in events:
        if e is not None:
            seen.setdefault(e.id, None)
    return tuple(seen)


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
