"""Reading never writes; recording a run is one signed transaction (issue 13.15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from raidt.errors import PackError, ValidationError
from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.reports import ReportService
from raidt.services.runs import RunService
from raidt.services.scoring import install_default_rubric
from raidt.store import checkpoints as cp_store
from tests.helpers import ev, open_app, seed_runs, started


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> App:
    a = open_app(tmp_path, db_url)
    install_presets(a)
    install_default_rubric(a)
    seed_runs(a, n=3)
    return a


def _state(app: App) -> tuple[int, list[int], str]:
    with app.db.read() as c:
        rows = int(c.execute(text("SELECT COUNT(*) FROM checkpoints")).scalar_one())
        return rows, cp_store.all_sizes(c), (app.home / cp_store.LATEST_FILE).read_text()


def test_a_run_report_signs_nothing_and_writes_nothing(app: App) -> None:
    run_id = RunService(app).list_runs(limit=1)[0].run_id
    before = _state(app)
    page = ReportService(app).run_html(run_id)
    assert run_id in page and "<html" in page
    assert _state(app) == before


def test_a_report_of_a_run_no_checkpoint_covers_is_refused_not_signed(app: App) -> None:
    app.db.seal = None  # a store from before every write signed its checkpoint
    app.events.append([started("late-1")])
    before = _state(app)
    with pytest.raises(PackError, match="no signed checkpoint covers run late-1"):
        ReportService(app).run_html("late-1")
    assert _state(app) == before


def test_record_appends_one_run_in_one_signed_transaction(app: App) -> None:
    svc = RunService(app)
    stored = svc.record(
        [
            started("hand-1"),
            ev(
                "hand-1",
                "downstream.used",
                payload={"destination": "wiki", "reference": "p"},
                minutes=1,
            ),
        ]
    )
    assert [e.run_id for e in stored] == ["hand-1", "hand-1"]
    with app.db.read() as c:
        assert cp_store.latest_size(c) == app.ledger.size(c)  # signed with the write
    before = _state(app)
    with pytest.raises(ValidationError, match="already exists; nothing recorded"):
        svc.record([started("hand-1")])
    with pytest.raises(ValidationError, match="exactly one run"):
        svc.record([started("hand-2"), started("hand-3")])
    assert _state(app) == before
    assert len(svc.run_events("hand-1")) == 2
