"""A real store with the sector presets, for SDK tests."""

from __future__ import annotations

from pathlib import Path

from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.verification import verify_store

PROMPT = "Summarise the meeting: " + "decisions and owners " * 100
OUTPUT = "Notes: " + "Ana owns the budget review by Friday. " * 50
TEMPLATE = {"id": "meeting-notes-summary", "version": "1"}


def make_store(home: Path, database_url: str | None = None) -> None:
    with App.open(home, database_url) as app:
        install_presets(app)


def stored_runs(home: Path, database_url: str | None = None) -> dict[str, list[str]]:
    """run id -> event types in ledger order."""
    with App.open(home, database_url) as app:
        return {rid: [e.type.value for e in events] for rid, events in app.events.iter_runs()}


def verified(home: Path, database_url: str | None = None) -> bool:
    with App.open(home, database_url) as app:
        report = verify_store(app, stop_at_first=False)
        assert report.ok, report.problems
        return report.ok
