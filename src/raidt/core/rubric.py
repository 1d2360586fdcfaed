"""Rubrics: which evidence checks make up each of the five pillars, and what readiness needs.

A rubric is versioned YAML, content-hashed like a policy, so a score profile can name exactly
which rubric judged it and anyone can recompute the profile later from the same text. Each
criterion names a registered evidence check (see :mod:`raidt.core.checks`), its parameters,
its weight inside its pillar, whether it is *critical* for readiness, and the regulatory
obligations it speaks to (``shared/REGULATORY.md``), so that a profile can be read against
the EU AI Act, NIST AI 600-1 and ISO/IEC 42001.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raidt.core.canonical import canonical_json
from raidt.core.hashing import sha256_hex
from raidt.core.policy import Version  # one rule for version labels: 1.10 is not 1.1

__all__ = [
    "PILLARS",
    "READINESS_LEVELS",
    "Criterion",
    "LevelThreshold",
    "Pillar",
    "Readiness",
    "Rubric",
    "Thresholds",
    "load_rubric",
]


class Pillar(StrEnum):
    """The five RAIDT pillars, in the order profiles list them."""

    RESPONSIBILITY = "responsibility"
    AUDITABILITY = "auditability"
    INTERPRETABILITY = "interpretability"
    DEPENDABILITY = "dependability"
    TRACEABILITY = "traceability"


PILLARS: tuple[Pillar, ...] = tuple(Pillar)


class Readiness(StrEnum):
    """Governance-readiness levels, lowest first."""

    NOT_GOVERNABLE = "not_governable"
    BASIC = "basic"
    MANAGED = "managed"
    AUDIT_READY = "audit_ready"


READINESS_LEVELS: tuple[Readiness, ...] = tuple(Readiness)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Criterion(_Strict):
    """One scored criterion: a registered check applied with parameters."""

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    pillar: Pillar
    title: str = Field(min_length=1)
    check: str = Field(min_length=1)
    params: dict[str, Any] = {}
    weight: float = Field(default=1.0, gt=0, le=100)
    critical: bool = False
    #: the highest readiness a run may reach while this criterion is not met (unmet or
    #: partial): how a rubric says "a nominal review is not oversight, whatever the
    #: rest of the record shows" without making the run ungovernable
    cap: Readiness | None = None
    #: references from REGULATORY.md, e.g. ``R3``, ``EU AI Act Art. 14(5)``
    obligations: list[str] = []

    @field_validator("cap")
    @classmethod
    def _cap_above_floor(cls, value: Readiness | None) -> Readiness | None:
        if value is Readiness.NOT_GOVERNABLE:
            raise ValueError("cap 'not_governable' is what critical: true means; use that")
        return value


class LevelThreshold(_Strict):
    """What a run needs to reach one readiness level.

    ``critical`` says how critical criteria must stand: ``any`` (no demand), ``no_unmet``
    (none unmet; partial is tolerated) or ``all_met`` (every applicable one met).
    """

    min_pillar: float = Field(default=0, ge=0, le=100)
    min_mean: float = Field(default=0, ge=0, le=100)
    critical: Literal["any", "no_unmet", "all_met"] = "any"


class Thresholds(_Strict):
    """Thresholds for the three levels above ``not_governable``."""

    basic: LevelThreshold = LevelThreshold(min_pillar=25, min_mean=40, critical="no_unmet")
    managed: LevelThreshold = LevelThreshold(min_pillar=55, min_mean=70, critical="all_met")
    audit_ready: LevelThreshold = LevelThreshold(min_pillar=80, min_mean=90, critical="all_met")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        levels = [
            ("basic", self.basic),
            ("managed", self.managed),
            ("audit_ready", self.audit_ready),
        ]
        for (lo_name, lo), (hi_name, hi) in pairwise(levels):
            if hi.min_pillar < lo.min_pillar or hi.min_mean < lo.min_mean:
                raise ValueError(
                    f"threshold '{hi_name}' asks less than '{lo_name}'; "
                    "higher levels must ask at least as much"
                )
        return self

    def for_level(self, level: Readiness) -> LevelThreshold:
        return {
            Readiness.BASIC: self.basic,
            Readiness.MANAGED: self.managed,
            Readiness.AUDIT_READY: self.audit_ready,
        }[level]


class Rubric(_Strict):
    """One version of a rubric. ``pillars`` maps each pillar to its criteria.

    In YAML a criterion may omit ``pillar``: it is taken from the key it sits under.
    """

    id: str = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: Version
    title: str = ""
    description: str = ""
    thresholds: Thresholds = Thresholds()
    pillars: dict[Pillar, list[Criterion]]

    @model_validator(mode="before")
    @classmethod
    def _fill_pillar(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("pillars"), dict):
            return data
        pillars: dict[Any, Any] = {}
        for key, items in data["pillars"].items():
            if isinstance(items, list):
                items = [
                    {"pillar": key, **c} if isinstance(c, dict) and "pillar" not in c else c
                    for c in items
                ]
            pillars[key] = items
        return {**data, "pillars": pillars}

    @model_validator(mode="after")
    def _complete(self) -> Rubric:
        from raidt.core.checks import CHECKS

        missing = [p.value for p in PILLARS if not self.pillars.get(p)]
        if missing:
            raise ValueError(
                f"every pillar needs at least one criterion; none for: {', '.join(missing)}"
            )
        seen: set[str] = set()
        for pillar, items in self.pillars.items():
            for c in items:
                if c.pillar is not pillar:
                    raise ValueError(
                        f"criterion '{c.id}' says pillar '{c.pillar.value}' but "
                        f"sits under '{pillar.value}'"
                    )
                if c.id in seen:
                    raise ValueError(f"criterion id '{c.id}' is used twice")
                seen.add(c.id)
                if c.check not in CHECKS:
                    raise ValueError(
                        f"criterion '{c.id}' names unknown check '{c.check}'; "
                        f"known checks: {', '.join(sorted(CHECKS))}"
                    )
        return self

    @property
    def criteria(self) -> list[Criterion]:
        """All criteria, pillar by pillar in the canonical pillar order."""
        return [c for p in PILLARS for c in self.pillars.get(p, [])]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the rubric's canonical JSON (what a profile pins)."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def obligations(self) -> list[str]:
        """Every obligation reference the rubric names, sorted."""
        return sorted({o for c in self.criteria for o in c.obligations})


def load_rubric(text: str, source: str = "<rubric>") -> Rubric:
    """Parse and validate rubric YAML.

    Raises:
        raidt.core.yamldoc.YamlDocumentError: naming ``source:line`` and the field when the
            text is not a valid rubric (a :class:`raidt.errors.ValidationError`).
    """
    from raidt.core.yamldoc import load_yaml_model

    return load_yaml_model(text, Rubric, source)
