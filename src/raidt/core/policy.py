"""Workflow policies and prompt templates: the written-down arrangement around a run.

A policy is versioned YAML; its identity is ``(id, version)`` and its content hash (the
SHA-256 of its canonical JSON) pins exactly what was in force. Runs point at the policy
version in force when they started, so a later edit never rewrites how an old run is judged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raidt.core.canonical import canonical_json
from raidt.core.hashing import sha256_hex

__all__ = [
    "ApprovedModel",
    "ApprovedTemplate",
    "CaptureRule",
    "EscalationRule",
    "Guidance",
    "ParamBound",
    "Policy",
    "PromptTemplate",
    "RetentionRule",
    "ReviewRule",
    "RoleRule",
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApprovedTemplate(_Strict):
    id: str = Field(min_length=1)
    version: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ParamBound(_Strict):
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None


class ApprovedModel(_Strict):
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    parameters: dict[str, ParamBound] = {}


class RoleRule(_Strict):
    required: list[str] = ["initiator", "reviewer"]
    #: pairs of roles that one person may not both hold in the same run
    separation_of_duties: list[tuple[str, str]] = [("initiator", "reviewer")]
    #: role -> qualification name an actor must hold (valid on the run's date)
    qualifications: dict[str, str] = {}


class Guidance(_Strict):
    id: str = Field(min_length=1)
    version: str
    text: str = Field(min_length=1)


class ReviewRule(_Strict):
    min_seconds: int = Field(default=0, ge=0)
    checklist: list[str] = []
    guidance: Guidance | None = None


class EscalationRule(_Strict):
    #: conditions that require an escalation, e.g. ``risk_level:high``, ``rejected``,
    #: ``override``, ``deviation``
    triggers: list[str] = []
    owner_role: str = "escalation_owner"


class CaptureRule(_Strict):
    mode: Literal["full", "redacted", "digest"] = "full"
    redact_patterns: list[str] = []


class RetentionRule(_Strict):
    #: EU AI Act Art. 19 / 26(6): at least six months
    min_days: int = Field(default=183, ge=183)
    legal_hold: bool = False


class Policy(_Strict):
    """One version of a use case's workflow policy."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    sector: str = "general"
    description: str = ""
    approved_templates: list[ApprovedTemplate] = []
    approved_models: list[ApprovedModel] = []
    allow_deviations: bool = True
    roles: RoleRule = RoleRule()
    review: ReviewRule = ReviewRule()
    mandatory_fields: list[str] = ["purpose", "risk_level", "reviewer", "disposition"]
    escalation: EscalationRule = EscalationRule()
    #: risk level -> roles whose sign-off is needed before close
    signoff: dict[Literal["low", "medium", "high"], list[str]] = {}
    downstream_allowed: list[str] = []
    capture: CaptureRule = CaptureRule()
    retention: RetentionRule = RetentionRule()
    sla_hours: float = Field(default=72, gt=0)

    @model_validator(mode="after")
    def _sane(self) -> Policy:
        for a, b in self.roles.separation_of_duties:
            if a == b:
                raise ValueError(f"separation_of_duties pairs a role with itself: {a}")
        return self

    @property
    def content_hash(self) -> str:
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def template_approved(self, template_id: str, version: str) -> bool:
        return any(t.id == template_id and t.version == str(version)
                   for t in self.approved_templates)

    def model_approved(self, provider: str, model: str, parameters: dict[str, Any]) -> bool:
        """True when the model is listed and every bounded parameter lies in bounds."""
        for m in self.approved_models:
            if m.provider != provider or m.model != model:
                continue
            for name, bound in m.parameters.items():
                if name not in parameters:
                    continue
                value = parameters[name]
                if bound.allowed is not None and value not in bound.allowed:
                    return False
                if isinstance(value, int | float) and not isinstance(value, bool):
                    if bound.min is not None and value < bound.min:
                        return False
                    if bound.max is not None and value > bound.max:
                        return False
            return True
        return False


class PromptTemplate(_Strict):
    """A versioned prompt template; its hash is over id, version and text."""

    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    text: str = Field(min_length=1)
    variables: list[str] = []
    description: str = ""

    @property
    def content_hash(self) -> str:
        return sha256_hex(canonical_json({"id": self.id, "version": self.version,
                                          "text": self.text}))
