"""Evidence events: the only facts RAIDT stores about a run.

An event is validated on the way in (:class:`EventIn`), then sealed by the store
(:class:`Event`), which adds the ledger index ``seq``, the hash of the previous event of
the same run and its own hash. Payloads are checked per event type against the table in
DESIGN.md 6.1; unknown extra fields are kept, because evidence must not be trimmed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from raidt.core.hashing import body_of
from raidt.core.timefmt import format_ts, parse_ts

__all__ = [
    "PAYLOAD_MODELS",
    "ActorRef",
    "Event",
    "EventIn",
    "EventType",
    "Role",
    "validate_payload",
]


class EventType(StrEnum):
    RUN_STARTED = "run.started"
    PROMPT_RENDERED = "prompt.rendered"
    MODEL_INVOKED = "model.invoked"
    MODEL_RESPONDED = "model.responded"
    TOOL_CALLED = "tool.called"
    RETRIEVAL_PERFORMED = "retrieval.performed"
    REVIEW_ASSIGNED = "review.assigned"
    GUIDANCE_ACKNOWLEDGED = "guidance.acknowledged"
    CHECKLIST_COMPLETED = "checklist.completed"
    OUTPUT_EDITED = "output.edited"
    REVIEW_APPROVED = "review.approved"
    REVIEW_REJECTED = "review.rejected"
    OVERRIDE_RECORDED = "override.recorded"
    DEVIATION_RECORDED = "deviation.recorded"
    ESCALATION_RAISED = "escalation.raised"
    ESCALATION_RESOLVED = "escalation.resolved"
    SIGNOFF_RECORDED = "signoff.recorded"
    RUN_CLOSED = "run.closed"
    DOWNSTREAM_USED = "downstream.used"
    CHALLENGE_RAISED = "challenge.raised"
    CHALLENGE_RESOLVED = "challenge.resolved"
    ASSESSMENT_RECORDED = "assessment.recorded"
    #: telemetry that maps to no other type (an unknown OTLP span), kept whole as evidence
    TELEMETRY_RECORDED = "telemetry.recorded"


class Role(StrEnum):
    INITIATOR = "initiator"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    ESCALATION_OWNER = "escalation_owner"
    ASSESSOR = "assessor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    AFFECTED = "affected"
    SYSTEM = "system"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorRef(_Frozen):
    """Who acted: a pseudonymous person id or a system component, with the role held."""

    id: str = Field(min_length=1, max_length=200)
    role: Role


# --- payloads ---------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class TemplateRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    version: str | int

    @field_validator("version")
    @classmethod
    def _version_text(cls, v: str | int) -> str | int:
        return v


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    ref: str = Field(min_length=1)
    digest: str | None = None


class RunStarted(_Payload):
    use_case: str = Field(min_length=1)
    team: str = Field(min_length=1)
    purpose: str | None = None
    risk_level: Literal["low", "medium", "high"]
    template: TemplateRef | None = None
    data_context: list[SourceRef] = []


class PromptRendered(_Payload):
    template: TemplateRef | None = None
    prompt: str | None = None
    prompt_sha256: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PromptRendered:
        if self.prompt is None and self.prompt_sha256 is None:
            raise ValueError("give 'prompt' or 'prompt_sha256'")
        return self


class ModelInvoked(_Payload):
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    parameters: dict[str, Any] = {}


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow")
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)


class ModelResponded(_Payload):
    output: str | None = None
    output_sha256: str | None = None
    usage: Usage | None = None
    latency_ms: float | None = Field(default=None, ge=0)
    error: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ModelResponded:
        if self.output is None and self.output_sha256 is None and self.error is None:
            raise ValueError("give 'output', 'output_sha256' or 'error'")
        return self


class ToolCalled(_Payload):
    name: str = Field(min_length=1)
    inputs: Any = None
    query: Any = None
    sources: list[SourceRef] = []


class ReviewAssigned(_Payload):
    reviewer: ActorRef


class GuidanceAcknowledged(_Payload):
    guidance: TemplateRef


class ChecklistCompleted(_Payload):
    items: dict[str, bool]


class OutputEdited(_Payload):
    diff: str | None = None
    before_sha256: str | None = None
    after_sha256: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> OutputEdited:
        if self.diff is None and (self.before_sha256 is None or self.after_sha256 is None):
            raise ValueError("give 'diff' or both 'before_sha256' and 'after_sha256'")
        return self


class ReviewDecision(_Payload):
    reason: str | None = None


class WhatReason(_Payload):
    what: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class EscalationRaised(_Payload):
    reason: str = Field(min_length=1)
    owner: ActorRef


class EscalationResolved(_Payload):
    resolution: str = Field(min_length=1)


class SignoffRecorded(_Payload):
    statement: str | None = None


class RunClosed(_Payload):
    disposition: Literal["accepted", "accepted_with_edits", "rejected", "withdrawn"]


class DownstreamUsed(_Payload):
    destination: str = Field(min_length=1)
    reference: str | None = None


class ChallengeRaised(_Payload):
    subject: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class ChallengeResolved(_Payload):
    subject: str = Field(min_length=1)
    resolution: str = Field(min_length=1)


class AssessmentRecorded(_Payload):
    criterion: str = Field(min_length=1)
    result: Literal["met", "partial", "unmet", "not_applicable"]
    rationale: str = Field(min_length=1)


class TelemetryRecorded(_Payload):
    source: str = Field(min_length=1)


PAYLOAD_MODELS: dict[EventType, type[_Payload]] = {
    EventType.RUN_STARTED: RunStarted,
    EventType.PROMPT_RENDERED: PromptRendered,
    EventType.MODEL_INVOKED: ModelInvoked,
    EventType.MODEL_RESPONDED: ModelResponded,
    EventType.TOOL_CALLED: ToolCalled,
    EventType.RETRIEVAL_PERFORMED: ToolCalled,
    EventType.REVIEW_ASSIGNED: ReviewAssigned,
    EventType.GUIDANCE_ACKNOWLEDGED: GuidanceAcknowledged,
    EventType.CHECKLIST_COMPLETED: ChecklistCompleted,
    EventType.OUTPUT_EDITED: OutputEdited,
    EventType.REVIEW_APPROVED: ReviewDecision,
    EventType.REVIEW_REJECTED: ReviewDecision,
    EventType.OVERRIDE_RECORDED: WhatReason,
    EventType.DEVIATION_RECORDED: WhatReason,
    EventType.ESCALATION_RAISED: EscalationRaised,
    EventType.ESCALATION_RESOLVED: EscalationResolved,
    EventType.SIGNOFF_RECORDED: SignoffRecorded,
    EventType.RUN_CLOSED: RunClosed,
    EventType.DOWNSTREAM_USED: DownstreamUsed,
    EventType.CHALLENGE_RAISED: ChallengeRaised,
    EventType.CHALLENGE_RESOLVED: ChallengeResolved,
    EventType.ASSESSMENT_RECORDED: AssessmentRecorded,
    EventType.TELEMETRY_RECORDED: TelemetryRecorded,
}


def validate_payload(event_type: EventType, payload: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError when ``payload`` lacks what ``event_type`` needs.

    The payload itself is stored exactly as given (validation never rewrites evidence).
    """
    PAYLOAD_MODELS[event_type].model_validate(payload)


# --- events -----------------------------------------------------------------------------


def _parse_at(value: Any) -> Any:
    if isinstance(value, str):
        return parse_ts(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("timestamp has no time zone; give UTC ('Z') or an offset")
    return value


class EventIn(_Frozen):
    """An event as submitted (import line, API body, SDK call): not yet sealed."""

    run_id: str = Field(min_length=1, max_length=200)
    type: EventType
    at: datetime
    actor: ActorRef
    payload: dict[str, Any] = {}
    id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        return _parse_at(v)

    @field_validator("payload")
    @classmethod
    def _payload_fits_type(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        etype = info.data.get("type")
        if etype is None:
            return v
        try:
            validate_payload(etype, v)
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise PydanticCustomError(
                "payload", "{where}: {msg}", {"where": where, "msg": err["msg"]}
            ) from None
        return v


class Event(_Frozen):
    """A sealed event as stored: ``seq`` is its leaf index in the ledger."""

    id: str
    run_id: str
    type: EventType
    at: datetime
    actor: ActorRef
    payload: dict[str, Any]
    prev_hash: str | None
    hash: str
    seq: int

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        return _parse_at(v)

    @property
    def at_text(self) -> str:
        return format_ts(self.at)

    def body(self) -> dict[str, Any]:
        """The hashed content: everything but ``hash`` and ``seq`` (see core.hashing)."""
        return body_of(self)

    def to_json_dict(self) -> dict[str, Any]:
        """The stored event as JSON (``events.jsonl`` line, ``show --json``)."""
        return {**self.body(), "hash": self.hash, "seq": self.seq}
