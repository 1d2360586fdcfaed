"""RAIDT: run-level evidence for governed use of generative AI.

The top-level package stays light on purpose: importing ``raidt`` must not pull in
SQLAlchemy, Typer or WeasyPrint, because the SDK runs inside other people's processes.
"""

from __future__ import annotations

from raidt.errors import RaidtError

__version__ = "0.1.0"

__all__ = ["RaidtError", "__version__"]
