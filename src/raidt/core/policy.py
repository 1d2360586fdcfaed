"""Workflow policies and prompt templates: the written-down arrangement around a run.

A policy is versioned YAML; its identity is ``(id, version)`` and its content hash (the
SHA-256 of its canonical JSON) pins exactly what was in force. Runs point at the policy
version in force when they started, so a later edit never rewrites how an old run is judged.

Everything here is pure: the registry (``raidt.store.registry``) persists policies and the
workflow services enforce them; this module only says what a policy *means*.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from raidt.core.canonical import canonical_json
from raidt.core.events import Role
from raidt.core.hashing import sha256_hex
from raidt.core.yamldoc import load_yaml_model

__all__ = [
    "ESCALATION_TRIGGERS",
    "RISK_LEVELS",
    "ApprovedModel",
    "ApprovedTemplate",
    "CaptureRule",
    "EscalationRule",
    "Guidance",
    "ParamBound",
    "PersonRole",
    "Policy",
    "PromptTemplate",
    "RetentionRule",
    "ReviewRule",
    "RoleRule",
    "Version",
    "load_policy",
    "load_template",
]

RISK_LEVELS = ("low", "medium", "high")

#: Escalation triggers a policy may name. ``risk_level:LEVEL`` escalates every run of that
#: risk level; the others escalate when the named event happens in the run.
ESCALATION_TRIGGERS = (
    "risk_level:low",
    "risk_level:medium",
    "risk_level:high",
    "rejected",  # a reviewer rejected the output
    "override",  # override.recorded
    "deviation",  # a non-approved template/model was used under allow_deviations
    "challenge",  # someone affected contested the run
    "checklist_failed",  # a checklist item was answered false
    "model_error",  # model.responded carried an error
    "sla_breach",  # the run stayed open past sla_hours
)

_PERSON_ROLES = frozenset(r.value for r in Role if r not in (Role.SYSTEM, Role.AFFECTED))
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _version(value: Any) -> Any:
    """Accept ``version: 1`` (YAML reads it as an int) but refuse ``version: 1.10``.

    YAML turns ``1.10`` into the float 1.1, which would silently pin the wrong version,
    so floats must be quoted.
    """
    if isinstance(value, bool):
        raise ValueError("a version is text, not true/false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"write the version as quoted text (YAML reads it as the number {value})")
    return value


#: A version label: text, or a YAML integer turned into text.
Version = Annotated[str, BeforeValidator(_version), Field(min_length=1, max_length=50)]


def _check_role(role: str) -> str:
    if role not in _PERSON_ROLES:
        known = ", ".join(sorted(_PERSON_ROLES))
        raise ValueError(f"unknown role {role!r}; known roles: {known}")
    return role


#: A role a person can take in a run (every ``Role`` except ``system`` and ``affected``).
PersonRole = Annotated[str, AfterValidator(_check_role)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApprovedTemplate(_Strict):
    """A prompt template version the policy approves, optionally pinned to its hash."""

    id: str = Field(min_length=1)
    version: Version
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("sha256", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("YAML read this hash as a number; put it in quotes")
        return value


class ParamBound(_Strict):
    """Bounds on one model parameter: a numeric range and/or a list of allowed values."""

    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ParamBound:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def problem(self, name: str, value: Any) -> str | None:
        """Why ``value`` is out of bounds, or None when it is within them."""
        if self.allowed is not None and value not in self.allowed:
            allowed = ", ".join(_plain(v) for v in self.allowed)
            return f"parameter {name} {_plain(value)} is not one the policy allows ({allowed})"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"parameter {name} {value:g} is below the policy's minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"parameter {name} {value:g} is above the policy's maximum {self.max:g}"
        return None


def _plain(value: Any) -> str:
    """A parameter value as a person writes it (no Python quotes or ``None``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ApprovedModel(_Strict):
    """A provider/model pair the policy approves, with bounds on its parameters."""

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    parameters: dict[str, ParamBound] = {}


class RoleRule(_Strict):
    """Who must take part in a run, who may not double up, and who must be qualified."""

    required: list[PersonRole] = ["initiator", "reviewer"]
    #: pairs of roles that one person may not both hold in the same run
    separation_of_duties: list[tuple[PersonRole, PersonRole]] = [("initiator", "reviewer")]
    #: role -> qualification name an actor must hold (valid on the run's date)
    qualifications: dict[PersonRole, str] = {}

    @field_validator("separation_of_duties")
    @classmethod
    def _known_pairs(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for a, b in value:
            if a == b:
                raise ValueError(f"separation_of_duties pairs a role with itself: {a}")
        return value

    def must_differ(self, role_a: str, role_b: str) -> bool:
        """True when one person may not hold both roles in the same run."""
        return (role_a, role_b) in self.separation_of_duties or (
            role_b,
            role_a,
        ) in self.separation_of_duties


class Guidance(_Strict):
    """Reviewer guidance: what to look for, versioned so an acknowledgement is exact."""

    id: str = Field(min_length=1)
    version: Version
    text: str = Field(min_length=1)


class ReviewRule(_Strict):
    """The minimum review: time spent, checklist items answered, guidance acknowledged."""

    min_seconds: int = Field(default=0, ge=0)
    #: reviewers take runs from a shared queue themselves, so a decision by a reviewer no
    #: review.assigned names still counts as oversight (otherwise it must be assigned)
    self_assign: bool = False
    checklist: list[str] = []
    #: the guidance a reviewer must acknowledge before approving
    guidance: Guidance | None = None
    #: further guidance documents reviewers are pointed at (acknowledgement optional)
    further_guidance: list[Guidance] = []

    @field_validator("checklist")
    @classmethod
    def _unique_items(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for item in value:
            if not item.strip():
                raise ValueError("a checklist item is empty")
            if item in seen:
                raise ValueError(f"checklist item {item!r} appears twice")
            seen.add(item)
        return value

    @property
    def all_guidance(self) -> list[Guidance]:
        """The required guidance (if any) followed by the further guidance."""
        return ([self.guidance] if self.guidance else []) + list(self.further_guidance)


class EscalationRule(_Strict):
    """When a run must be escalated, and to which role."""

    #: conditions that require an escalation; see ``ESCALATION_TRIGGERS``
    triggers: list[str] = []
    owner_role: PersonRole = "escalation_owner"

    @field_validator("triggers")
    @classmethod
    def _known_triggers(cls, value: list[str]) -> list[str]:
        for t in value:
            if t not in ESCALATION_TRIGGERS:
                raise ValueError(
                    f"unknown escalation trigger {t!r}; known: {', '.join(ESCALATION_TRIGGERS)}"
                )
        return value


_BUILTIN_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"(?<![\w+])\+?\d[\d ()-]{7,}\d(?!\w)",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "card_number": r"\b(?:\d[ -]?){12,18}\d\b",
    "nhs_number": r"\b\d{3} ?\d{3} ?\d{4}\b",
    "uk_nino": r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
    "us_ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "date_of_birth": r"\b(?:DOB|D\.O\.B\.|date of birth)[:\s]+\S+",
}


class CaptureRule(_Strict):
    """How much of prompts and outputs is kept as evidence.

    ``full`` keeps the text; ``redacted`` keeps it after replacing every match of
    ``redact_patterns`` (regular expressions, or ``builtin:NAME`` for one of the patterns
    in ``CaptureRule.BUILTIN``); ``digest`` keeps only the SHA-256 of the text.
    """

    BUILTIN: ClassVar[tuple[str, ...]] = tuple(_BUILTIN_PATTERNS)

    mode: Literal["full", "redacted", "digest"] = "full"
    redact_patterns: list[str] = []

    @field_validator("mode", mode="before")
    @classmethod
    def _digest_only(cls, value: Any) -> Any:
        return "digest" if value in ("digest-only", "digest_only") else value

    @field_validator("redact_patterns")
    @classmethod
    def _compilable(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if pattern.startswith("builtin:"):
                if pattern[8:] not in _BUILTIN_PATTERNS:
                    raise ValueError(
                        f"unknown builtin pattern {pattern!r}; known: "
                        + ", ".join(f"builtin:{n}" for n in _BUILTIN_PATTERNS)
                    )
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from None
            if re.fullmatch(pattern, ""):
                raise ValueError(f"pattern {pattern!r} matches empty text")
        return value

    @model_validator(mode="after")
    def _patterns_when_redacting(self) -> CaptureRule:
        if self.mode == "redacted" and not self.redact_patterns:
            raise ValueError("mode 'redacted' needs at least one entry in redact_patterns")
        return self

    def compiled(self) -> list[tuple[str, re.Pattern[str]]]:
        """(label, compiled pattern) for each entry of ``redact_patterns``."""
        out: list[tuple[str, re.Pattern[str]]] = []
        for i, pattern in enumerate(self.redact_patterns):
            if pattern.startswith("builtin:"):
                name = pattern[8:]
                out.append((name, re.compile(_BUILTIN_PATTERNS[name], re.IGNORECASE)))
            else:
                out.append((f"pattern-{i + 1}", re.compile(pattern)))
        return out


class RetentionRule(_Strict):
    """How long evidence is kept; nothing is deleted before ``min_days`` have passed."""

    #: EU AI Act Art. 19 / 26(6): at least six months
    min_days: int = Field(default=183, ge=183)
    legal_hold: bool = False

    def earliest_deletion(self, closed_at: datetime) -> datetime | None:
        """When evidence of a run closed at ``closed_at`` may first be deleted (None: hold)."""
        return None if self.legal_hold else closed_at + timedelta(days=self.min_days)


class Policy(_Strict):
    """One version of a use case's workflow policy."""

    id: str = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: Version
    title: str = Field(min_length=1)
    sector: str = "general"
    description: str = ""
    #: the day this version takes effect (None: as soon as it is added)
    effective_from: date | None = None
    approved_templates: list[ApprovedTemplate] = []
    approved_models: list[ApprovedModel] = []
    allow_deviations: bool = True
    roles: RoleRule = RoleRule()
    review: ReviewRule = ReviewRule()
    mandatory_fields: list[str] = ["purpose", "risk_level", "reviewer", "disposition"]
    escalation: EscalationRule = EscalationRule()
    #: risk level -> roles whose sign-off is needed before close
    signoff: dict[Literal["low", "medium", "high"], list[PersonRole]] = {}
    downstream_allowed: list[str] = []
    capture: CaptureRule = CaptureRule()
    retention: RetentionRule = RetentionRule()
    sla_hours: float = Field(default=72, gt=0)

    @model_validator(mode="wrap")
    @classmethod
    def _declared_hash(cls, data: Any, handler: ModelWrapValidatorHandler[Policy]) -> Policy:
        """Accept the ``content_hash`` that ``policy show --json`` prints, and check it.

        The hash is derived, so it is never part of the policy; given, it must be the hash
        of the rest, which catches an edited JSON copy passed off as the version it names.
        """
        if not (isinstance(data, dict) and "content_hash" in data):
            return handler(data)
        declared = data["content_hash"]
        policy = handler({k: v for k, v in data.items() if k != "content_hash"})
        if declared != policy.content_hash:
            raise ValueError(
                f"content_hash {str(declared)[:64]!r} is not the hash of this policy "
                f"({policy.content_hash}); a changed policy is a new version: drop "
                "content_hash and raise the version"
            )
        return policy

    @model_validator(mode="after")
    def _sane(self) -> Policy:
        seen_t: set[tuple[str, str]] = set()
        for t in self.approved_templates:
            if (t.id, t.version) in seen_t:
                raise ValueError(f"template {t.id}@{t.version} is listed twice")
            seen_t.add((t.id, t.version))
        seen_m: set[tuple[str, str]] = set()
        for m in self.approved_models:
            if (m.provider, m.model) in seen_m:
                raise ValueError(f"model {m.provider}/{m.model} is listed twice")
            seen_m.add((m.provider, m.model))
        return self

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated policy (formatting-independent).

        Fields added to the format later (``review.self_assign``) are hashed only when they
        differ from their default, so a policy written before them keeps its hash.
        """
        data = self.model_dump(mode="json")
        if not data["review"]["self_assign"]:
            del data["review"]["self_assign"]
        return sha256_hex(canonical_json(data))

    def template_approved(self, template_id: str, version: str, sha256: str | None = None) -> bool:
        """True when the template version is approved (and its hash matches, if pinned)."""
        return any(
            t.id == template_id
            and t.version == str(version)
            and (sha256 is None or t.sha256 is None or t.sha256 == sha256)
            for t in self.approved_templates
        )

    def template_problem(
        self, template_id: str, version: str, sha256: str | None = None
    ) -> str | None:
        """Why a template is not approved by this policy, or None when it is."""
        if self.template_approved(template_id, version, sha256):
            return None
        approved = ", ".join(f"{t.id}@{t.version}" for t in self.approved_templates) or "none"
        if self.template_approved(template_id, version):
            return (
                f"template {template_id}@{version} has hash {sha256}, not the approved one "
                f"for policy {self.id}@{self.version}"
            )
        return (
            f"template {template_id}@{version} is not approved by policy "
            f"{self.id}@{self.version} (approved: {approved})"
        )

    def model_problem(self, provider: str, model: str, parameters: dict[str, Any]) -> str | None:
        """Why a model call is not approved by this policy, or None when it is."""
        for m in self.approved_models:
            if m.provider != provider or m.model != model:
                continue
            for name, bound in m.parameters.items():
                if name in parameters:
                    why = bound.problem(name, parameters[name])
                    if why:
                        return f"{why} for {provider}/{model} under policy {self.id}@{self.version}"
            return None
        approved = ", ".join(f"{m.provider}/{m.model}" for m in self.approved_models) or "none"
        return (
            f"model {provider}/{model} is not approved by policy {self.id}@{self.version} "
            f"(approved: {approved})"
        )

    def model_approved(self, provider: str, model: str, parameters: dict[str, Any]) -> bool:
        """True when the model is listed and every bounded parameter lies in bounds (the
        checks ask through ``raidt.core.checks.model_ok``, which memoises the answer)."""
        return self.model_problem(provider, model, parameters) is None

    def signoff_roles(self, risk_level: str | None) -> list[str]:
        """Roles whose sign-off a run of ``risk_level`` needs before it can close."""
        if risk_level not in RISK_LEVELS:
            return []
        return list(self.signoff.get(risk_level, []))  # type: ignore[call-overload]

    def downstream_ok(self, destination: str) -> bool:
        """True when the output may be used at ``destination`` (empty list: anywhere)."""
        return not self.downstream_allowed or destination in self.downstream_allowed

    def escalation_required(self, trigger: str) -> bool:
        """True when ``trigger`` (an entry of ``ESCALATION_TRIGGERS``) is one of ours."""
        return trigger in self.escalation.triggers


class PromptTemplate(_Strict):
    """A versioned prompt template; its hash is over id, version and text.

    Placeholders are written ``{{ name }}``. ``variables`` defaults to the placeholders
    found in the text; when given, it must name exactly those placeholders.
    """

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: Version
    text: str = Field(min_length=1)
    variables: list[str] = []
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_variables(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and not data.get("variables")
            and isinstance(data.get("text"), str)
        ):
            found = list(dict.fromkeys(_PLACEHOLDER.findall(data["text"])))
            return {**data, "variables": found}
        return data

    @model_validator(mode="after")
    def _variables_match(self) -> PromptTemplate:
        used = set(_PLACEHOLDER.findall(self.text))
        declared = set(self.variables)
        if used != declared:
            missing = sorted(used - declared)
            unused = sorted(declared - used)
            parts = []
            if missing:
                parts.append(f"placeholders not declared in variables: {', '.join(missing)}")
            if unused:
                parts.append(f"variables not used in the text: {', '.join(unused)}")
            raise ValueError("; ".join(parts))
        return self

    @property
    def content_hash(self) -> str:
        return sha256_hex(
            canonical_json({"id": self.id, "version": self.version, "text": self.text})
        )

    def render(self, values: dict[str, Any]) -> str:
        """Fill the placeholders; every variable must be given (extra values are refused)."""
        missing = [v for v in self.variables if v not in values]
        extra = [k for k in values if k not in self.variables]
        if missing or extra:
            what = []
            if missing:
                what.append(f"missing {', '.join(missing)}")
            if extra:
                what.append(f"unknown {', '.join(extra)}")
            raise ValueError(f"template {self.id}@{self.version}: {'; '.join(what)}")
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.text)


def load_policy(text: str, source: str) -> Policy:
    """Parse and validate policy YAML (errors name ``source:line: field``)."""
    return load_yaml_model(text, Policy, source)


def load_template(text: str, source: str) -> PromptTemplate:
    """Parse and validate prompt template YAML (errors name ``source:line: field``)."""
    return load_yaml_model(text, PromptTemplate, source)
