"""RAIDT: run-level evidence for governed use of generative AI.

The SDK in two lines::

    rec = raidt.Recorder()
    with rec.run(use_case="meeting-notes", initiator="u-1", team="ops", risk_level="low") as run:
        run.model_call(provider="openai", model="gpt-4o", prompt=p, output=o)

The top-level package stays light on purpose: importing ``raidt`` must not pull in
SQLAlchemy, Typer, httpx or WeasyPrint, because the SDK runs inside other people's
processes. The SDK names below are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raidt.errors import CaptureError, PolicyViolation, RaidtError, SpoolFullError

if TYPE_CHECKING:
    from raidt.sdk._openai import wrap_openai
    from raidt.sdk._recorder import Recorder, Run, current_run, governed

__version__ = "0.1.0"

__all__ = [
    "CaptureError",
    "PolicyViolation",
    "RaidtError",
    "Recorder",
    "Run",
    "SpoolFullError",
    "__version__",
    "current_run",
    "governed",
    "wrap_openai",
]

_LAZY = {
    "Recorder": "raidt.sdk._recorder",
    "Run": "raidt.sdk._recorder",
    "current_run": "raidt.sdk._recorder",
    "governed": "raidt.sdk._recorder",
    "wrap_openai": "raidt.sdk._openai",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'raidt' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
