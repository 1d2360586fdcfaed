"""The comparable-runs summary a run is judged against (same use case and policy version).

A pydantic model, so it lives apart from the checks: the check modules are compiled with
mypyc for bulk scoring (see ``setup.py``), and mypyc does not compile pydantic models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Comparables"]


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
