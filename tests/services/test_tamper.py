"""An attacker with write access to the database file: every kind of change is caught.

Each test first drops the append-only triggers, as someone holding the database file or
a superuser account could, then alters the log behind the application's back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from raidt.core.hashing import event_hash, leaf_hash
from raidt.services.app import App
from raidt.services.verification import verify_store
from tests.helpers import open_app, seed_runs


def _drop_triggers(app: App, conn: Connection) -> None:
    if app.db.dialect == "sqlite":
        for t in ("events", "checkpoints", "ledger_nodes"):
            for verb in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
    else:
        for t in ("events", "checkpoints", "ledger_nodes"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}"))


def _tamper(app: App, fn: Callable[[Connection], None]) -> None:
    with app.db.engine.begin() as conn:
        _drop_triggers(app, conn)
        fn(conn)


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> App:
    a = open_app(tmp_path, db_url)
    seed_runs(a, n=10)
    assert verify_store(a).ok
    return a


def _middle_event(app: App) -> tuple[int, str, str]:
    with app.db.read() as c:
        row = c.execute(
            text(
                "SELECT seq, id, run_id FROM events WHERE prev_hash IS NOT NULL "
                "ORDER BY seq LIMIT 1 OFFSET 10"
            )
        ).one()
    return int(row.seq), str(row.id), str(row.run_id)


@pytest.mark.parametrize(
    "column,value",
    [
        ("payload", "REPLACE(payload, 'a', 'b')"),
        ("actor_id", "'u-mallory'"),
        ("at", "'2026-01-01T00:00:00Z'"),
        ("type", "'review.rejected'"),
    ],
)
def test_one_changed_field_is_caught(app: App, column: str, value: str) -> None:
    seq, eid, _ = _middle_event(app)
    _tamper(
        app, lambda c: c.execute(text(f"UPDATE events SET {column} = {value} WHERE seq = {seq}"))
    )
    report = verify_store(app)
    assert not report.ok
    assert report.first_bad_event == eid
    assert "altered" in report.problems[0]


def test_one_flipped_byte_in_payload_is_caught(app: App) -> None:
    seq, eid, _ = _middle_event(app)
    with app.db.read() as c:
        payload = c.execute(text(f"SELECT payload FROM events WHERE seq = {seq}")).scalar_one()
    i = payload.index('"', 2) + 1
    flipped = payload[:i] + chr(ord(payload[i]) ^ 1) + payload[i + 1 :]
    _tamper(
        app,
        lambda c: c.execute(
            text("UPDATE events SET payload = :p WHERE seq = :s"), {"p": flipped, "s": seq}
        ),
    )
    report = verify_store(app)
    assert not report.ok and report.first_bad_event == eid


def test_rewritten_content_with_fresh_hash_is_caught(app: App) -> None:
    """The attacker recomputes the event's own hash and leaf: the next link or the root breaks."""
    seq, _, _ = _middle_event(app)
    with app.db.read() as c:
        r = c.execute(text(f"SELECT * FROM events WHERE seq = {seq}")).one()
    body = {
        "id": r.id,
        "run_id": r.run_id,
        "type": r.type,
        "at": r.at,
        "actor": {"id": "u-mallory", "role": r.actor_role},
        "payload": __import__("orjson").loads(r.payload),
        "prev_hash": r.prev_hash,
    }
    h = event_hash(body)
    _tamper(
        app,
        lambda c: c.execute(
            text(
                "UPDATE events SET actor_id = 'u-mallory', hash = :h, leaf_hash = :l WHERE seq = :s"
            ),
            {"h": h, "l": leaf_hash(body, h), "s": seq},
        ),
    )
    report = verify_store(app)
    assert not report.ok
    assert "prev_hash" in report.problems[0] or "signed checkpoint" in report.problems[0]


def test_deleted_event_is_caught(app: App) -> None:
    seq, _, _ = _middle_event(app)
    _tamper(app, lambda c: c.execute(text(f"DELETE FROM events WHERE seq = {seq}")))
    report = verify_store(app)
    assert not report.ok and "missing" in report.problems[0]


def test_events_of_one_run_reordered_are_caught(app: App) -> None:
    with app.db.read() as c:
        rid = c.execute(
            text(
                "SELECT run_id FROM events GROUP BY run_id "
                "HAVING COUNT(*) > 3 ORDER BY run_id LIMIT 1"
            )
        ).scalar_one()
        a, b = (
            c.execute(
                text(f"SELECT seq FROM events WHERE run_id = '{rid}' ORDER BY seq LIMIT 2 OFFSET 1")
            )
            .scalars()
            .all()
        )

    def swap(c: Connection) -> None:
        c.execute(text(f"UPDATE events SET seq = -1 WHERE seq = {a}"))
        c.execute(text(f"UPDATE events SET seq = {a} WHERE seq = {b}"))
        c.execute(text(f"UPDATE events SET seq = {b} WHERE seq = -1"))

    _tamper(app, swap)
    report = verify_store(app)
    assert not report.ok and "prev_hash" in report.problems[0]


def test_events_of_two_runs_reordered_are_caught(app: App) -> None:
    """Each run's chain stays intact; only the ledger order changes, so the root breaks."""
    with app.db.read() as c:
        rows = c.execute(text("SELECT seq, run_id FROM events ORDER BY seq")).all()
    a, b = next(
        (int(x.seq), int(y.seq)) for x, y in itertools.pairwise(rows) if x.run_id != y.run_id
    )

    def swap(c: Connection) -> None:
        c.execute(text(f"UPDATE events SET seq = -1 WHERE seq = {a}"))
        c.execute(text(f"UPDATE events SET seq = {a} WHERE seq = {b}"))
        c.execute(text(f"UPDATE events SET seq = {b} WHERE seq = -1"))

    _tamper(app, swap)
    report = verify_store(app)
    assert not report.ok
    assert "signed checkpoint" in report.problems[0] or "ledger node" in report.problems[0]


def test_truncated_log_with_its_checkpoints_is_caught(app: App) -> None:
    """Only the checkpoint kept outside the database reveals this one."""
    total = app.events.count_events()

    def truncate(c: Connection) -> None:
        c.execute(text(f"DELETE FROM events WHERE seq >= {total - 5}"))
        c.execute(text("DELETE FROM checkpoints"))
        c.execute(text(f"DELETE FROM ledger_nodes WHERE idx * 16 >= {total - 5}"))

    _tamper(app, truncate)
    report = verify_store(app)
    assert not report.ok
    assert "missing from the database" in " ".join(report.problems) or "truncated" in " ".join(
        report.problems
    )


def test_forged_checkpoint_is_caught(app: App) -> None:
    _tamper(
        app,
        lambda c: c.execute(
            text("UPDATE checkpoints SET note = REPLACE(note, substr(note, 1, 5), 'evil.')")
        ),
    )
    report = verify_store(app)
    assert not report.ok and "checkpoint" in report.problems[0]


def test_forged_ledger_node_is_caught(tmp_path: Path, db_url: str) -> None:
    a = open_app(tmp_path, db_url)
    seed_runs(a, n=30)
    _tamper(
        a,
        lambda c: c.execute(
            text("UPDATE ledger_nodes SET hash = :h WHERE level = 4 AND idx = 1"),
            {"h": b"\x01" * 32},
        ),
    )
    report = verify_store(a)
    assert not report.ok and "level 4, index 1" in report.problems[0]


def test_removed_ledger_node_is_caught(tmp_path: Path, db_url: str) -> None:
    a = open_app(tmp_path, db_url)
    seed_runs(a, n=30)
    _tamper(a, lambda c: c.execute(text("DELETE FROM ledger_nodes WHERE level = 4 AND idx = 0")))
    report = verify_store(a)
    assert not report.ok and "missing" in report.problems[0]
