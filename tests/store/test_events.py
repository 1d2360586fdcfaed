"""The event store: sealing, chaining, atomic batches and database-enforced append-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from raidt.core.hashing import event_hash
from raidt.errors import ValidationError
from tests.helpers import ev, open_app, started


def test_append_seals_and_chains(tmp_path: Path, db_url: str) -> None:
    with open_app(tmp_path, db_url) as app:
        a = app.events.append([started("r-1"), started("r-2")])
        b = app.events.append([ev("r-1", "review.approved", "u-2", "reviewer", minutes=5)])
        assert [e.seq for e in a + b] == [0, 1, 2]
        assert a[0].prev_hash is None and a[1].prev_hash is None
        assert b[0].prev_hash == a[0].hash
        assert b[0].hash == event_hash(b[0].body())
        stored = app.events.run_events("r-1")
        assert [e.hash for e in stored] == [a[0].hash, b[0].hash]
        assert stored[1].to_json_dict()["seq"] == 2
        run = app.events.get_run("r-1")
        assert run is not None and run.status == "approved" and run.event_count == 2
        assert [r.run_id for r in app.events.list_runs(use_case="meeting-notes")] == ["r-1", "r-2"]


def test_duplicate_event_id_refuses_whole_batch(tmp_path: Path, db_url: str) -> None:
    with open_app(tmp_path, db_url) as app:
        first = app.events.append([started("r-1")])
        dup = started("r-2").model_copy(update={"id": first[0].id})
        with pytest.raises(ValidationError, match="already stored"):
            app.events.append([started("r-3"), dup])
        assert app.events.count_events() == 1
        assert app.events.get_run("r-3") is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor_id = 'mallory'",
        "DELETE FROM events",
        "UPDATE checkpoints SET note = 'x'",
        "DELETE FROM ledger_nodes",
    ],
)
def test_database_refuses_changes_to_evidence(tmp_path: Path, db_url: str, statement: str) -> None:
    with open_app(tmp_path, db_url) as app:
        app.events.append([started(f"r-{i}") for i in range(20)])  # >= 16: a ledger node
        app.checkpoint()
        with pytest.raises(DBAPIError, match="append-only"), app.db.engine.begin() as conn:
            conn.execute(text(statement))
        assert app.events.count_events() == 20


def test_truncate_refused_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    with open_app(tmp_path, pg_url) as app:
        app.events.append([started("r-1")])
        with pytest.raises(DBAPIError, match="append-only"), app.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE events CASCADE"))
        assert app.events.count_events() == 1
