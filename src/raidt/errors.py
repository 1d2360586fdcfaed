"""The error hierarchy of RAIDT.

::

    RaidtError                      one-line diagnostic for the CLI, problem JSON for the API
    ├── ValidationError             input refused before anything is written
    │   └── ImportFileError         a bad line/row of an import file (carries line and field)
    ├── PolicyViolation             the workflow policy refuses the action
    ├── WorkflowError               the run's state does not allow the action (says what does)
    ├── NotFoundError               unknown run, policy, rubric, template or actor
    ├── IntegrityError              evidence failed verification (chain, ledger, checkpoint)
    ├── PackError                   an evidence pack failed a check
    ├── ConfigurationError          RAIDT_HOME, database URL or signing key unusable
    └── CaptureError                the SDK could not make a run durable (spool write failed)
        └── SpoolFullError          the spool is at its limit and the recorder fails, not blocks
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CaptureError",
    "ConfigurationError",
    "ImportFileError",
    "IntegrityError",
    "NotFoundError",
    "PackError",
    "PolicyViolation",
    "RaidtError",
    "SpoolFullError",
    "ValidationError",
    "WorkflowError",
]


class RaidtError(Exception):
    """Root of every error RAIDT raises on purpose."""

    code = "raidt_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def diagnostic(self) -> str:
        """One line for a terminal."""
        return self.message.replace("\n", " ")

    def problem(self) -> dict[str, Any]:
        """An RFC 9457-style problem body for the API."""
        return {"type": self.code, "title": self.diagnostic(), **self.details}


class ValidationError(RaidtError):
    code = "validation_error"


class ImportFileError(ValidationError):
    code = "import_error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        source: str | None = None,
    ) -> None:
        where = ":".join(str(x) for x in (source, line) if x is not None)
        prefix = f"{where}: " if where else ""
        what = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{what}{message}", line=line, field=field, source=source)
        self.line = line
        self.field = field


class PolicyViolation(RaidtError):
    code = "policy_violation"


class WorkflowError(RaidtError):
    code = "workflow_error"


class NotFoundError(RaidtError):
    code = "not_found"


class IntegrityError(RaidtError):
    code = "integrity_error"


class PackError(RaidtError):
    code = "pack_error"


class ConfigurationError(RaidtError):
    code = "configuration_error"


class CaptureError(RaidtError):
    """A run the SDK was asked to record is not durable (nothing was acknowledged)."""

    code = "capture_error"


class SpoolFullError(CaptureError):
    """The spool holds as much undrained evidence as allowed; the run was not recorded."""

    code = "spool_full"
