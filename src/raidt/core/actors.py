"""People and system components that act on runs.

A person is known by a stable pseudonymous id; the display name is kept apart so it can
be withheld from packs. Qualifications carry validity dates, because what matters is
whether a reviewer was trained for the task *on the date of the run*.

An actor directory is imported from YAML (``raidt actors import``)::

    actors:
      - id: u-101
        display_name: Dr A. Example
        roles: [reviewer]
        team: ward-7
        qualifications:
          - {name: clinician, valid_from: 2024-01-01, valid_until: 2027-01-01}
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raidt.core.canonical import canonical_json
from raidt.core.events import ActorRef, Role

__all__ = [
    "Actor",
    "ActorDirectory",
    "ActorsFile",
    "Qualification",
    "directory_digest",
    "directory_view",
    "named_actor_ids",
]

_ROLES = frozenset(r.value for r in Role)


class Qualification(BaseModel):
    """A named qualification (training, grade, registration) valid between two dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Qualification:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until ({self.valid_until}) is before valid_from ({self.valid_from})"
            )
        return self

    def valid_on(self, when: date | datetime) -> bool:
        day = when.date() if isinstance(when, datetime) else when
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class Actor(BaseModel):
    """A person or system component, with the roles it may take and its qualifications."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    display_name: str | None = None
    kind: str = Field(default="person", pattern="^(person|system)$")
    roles: list[str] = []
    team: str | None = None
    qualifications: list[Qualification] = []

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        for r in value:
            if r not in _ROLES:
                raise ValueError(f"unknown role {r!r}; known roles: {', '.join(sorted(_ROLES))}")
        return value

    def qualified(self, name: str, when: date | datetime) -> bool:
        """True when the actor holds qualification ``name`` valid on ``when``'s date."""
        return any(q.name == name and q.valid_on(when) for q in self.qualifications)

    def has_role(self, role: str) -> bool:
        return role in self.roles


class ActorsFile(BaseModel):
    """The YAML document ``raidt actors import`` reads: a list of actors, ids unique."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actors: list[Actor] = Field(min_length=1)

    @field_validator("actors")
    @classmethod
    def _unique_ids(cls, value: list[Actor]) -> list[Actor]:
        seen: set[str] = set()
        for a in value:
            if a.id in seen:
                raise ValueError(f"actor id {a.id!r} appears twice")
            seen.add(a.id)
        return value


class ActorDirectory(BaseModel):
    """The actors known at scoring time, by id (an explicit input to checks)."""

    model_config = ConfigDict(frozen=True)

    actors: dict[str, Actor] = {}

    @classmethod
    def of(cls, actors: list[Actor]) -> ActorDirectory:
        """A directory of ``actors``; a later entry for the same id wins."""
        return cls(actors={a.id: a for a in actors})

    def get(self, actor_id: str) -> Actor | None:
        return self.actors.get(actor_id)

    def qualified(self, actor_id: str, name: str, when: date | datetime) -> bool:
        """True when the actor is known and holds ``name`` valid on ``when``."""
        actor = self.actors.get(actor_id)
        return actor is not None and actor.qualified(name, when)

    def with_role(self, role: str) -> list[Actor]:
        """Actors that may take ``role``, by id."""
        return sorted((a for a in self.actors.values() if role in a.roles), key=lambda a: a.id)

    def __len__(self) -> int:
        return len(self.actors)


class _ActingEvent(Protocol):
    @property
    def actor(self) -> ActorRef: ...

    @property
    def payload(self) -> dict[str, Any]: ...


def named_actor_ids(events: Iterable[_ActingEvent]) -> list[str]:
    """Every actor a run's events name (who acted, the reviewers assigned, the escalation
    owners), sorted: the entries of the directory a run's checks can look up."""
    ids: set[str] = set()
    for e in events:
        ids.add(e.actor.id)
        for key in ("reviewer", "owner"):
            ref = e.payload.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("id"), str):
                ids.add(ref["id"])
    return sorted(ids)


def directory_view(directory: ActorDirectory, ids: Iterable[str]) -> dict[str, Any]:
    """The directory entries of ``ids`` as JSON data, display names withheld (what an
    evidence pack bundles; ids the directory does not know are left out)."""
    out: dict[str, Any] = {}
    for aid in ids:
        actor = directory.get(aid)
        if actor is not None:
            out[aid] = actor.model_copy(update={"display_name": None}).model_dump(mode="json")
    return out


_DIGESTS: dict[tuple[int, tuple[str, ...]], tuple[ActorDirectory, str]] = {}


def directory_digest(directory: ActorDirectory, ids: Iterable[str]) -> str:
    """SHA-256 of the canonical JSON of :func:`directory_view` for ``ids``.

    A score profile records it, so a profile says which directory entries it was judged
    against: a rescore after the directory changed shows a new digest, and a pack (which
    bundles exactly this view) recomputes the same one. Memoised per directory object and
    id list, since a million runs name a few hundred people.
    """
    key = (id(directory), tuple(ids))
    hit = _DIGESTS.get(key)
    if hit is not None and hit[0] is directory:
        return hit[1]
    if len(_DIGESTS) > 65_536:
        _DIGESTS.clear()
    digest = hashlib.sha256(canonical_json(directory_view(directory, key[1]))).hexdigest()
    _DIGESTS[key] = (directory, digest)
    return digest
