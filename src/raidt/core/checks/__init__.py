"""The registry of evidence checks, one module per pillar.

Importing this package registers every built-in check in :data:`CHECKS`; rubric criteria
name checks from there. Checks are pure: ``check(evidence, ctx) -> CheckResult``.
"""

from __future__ import annotations

from raidt.core.checks import (  # noqa: F401 - imported to register the checks
    auditability,
    dependability,
    interpretability,
    responsibility,
    traceability,
)
from raidt.core.checks._base import (
    CHECKS,
    Approvals,
    CheckContext,
    CheckFn,
    CheckResult,
    Comparables,
    EvidenceEvent,
    Result,
    RunEvidence,
    model_ok,
    register,
    template_ok,
)

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
    "model_ok",
    "register",
    "template_ok",
]
