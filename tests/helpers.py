"""Small builders shared by tests (no mocks: everything lands in a real database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.services.app import App
from raidt.services.demo_data import DemoGenerator

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def ev(
    run_id: str,
    etype: str,
    actor: str = "u-1",
    role: str = "initiator",
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
    minutes: float = 0,
) -> EventIn:
    return EventIn(
        run_id=run_id,
        type=EventType(etype),
        at=at or T0 + timedelta(minutes=minutes),
        actor=ActorRef(id=actor, role=Role(role)),
        payload=payload or {},
    )


def started(run_id: str, **kw: Any) -> EventIn:
    payload = {
        "use_case": "meeting-notes",
        "team": "product",
        "purpose": "notes",
        "risk_level": "low",
        **kw,
    }
    return ev(run_id, "run.started", payload=payload)


def open_app(tmp_path: Path, db_url: str) -> App:
    return App.open(home=tmp_path / "home", database_url=db_url)


def seed_runs(app: App, n: int = 12, seed: int = 3) -> int:
    """Append ``n`` generated runs, one batch per run, then sign a checkpoint."""
    count = 0
    for run in DemoGenerator(seed=seed).runs(n):
        app.events.append(run)
        count += len(run)
    app.checkpoint()
    return count
