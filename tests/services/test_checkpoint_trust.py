"""Checkpoints an outsider can rely on (issue 13.6, 13.7, 13.12).

A witness's checkpoint catches truncation and forks even when ``checkpoint.latest`` is
gone; the origin is fixed at the first write and kept with the key, so a copied store
still verifies; every write signs its checkpoint in the same transaction, and a failed
outside copy is a warning, never a failed write.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from raidt.core.checkpoint import parse_note
from raidt.services.app import App
from raidt.services.verification import verify_store
from raidt.store import checkpoints as cp_store
from tests.helpers import open_app, seed_runs, started


def _drop_triggers(app: App, conn: Connection) -> None:
    for t in ("events", "checkpoints", "ledger_nodes"):
        if app.db.dialect == "sqlite":
            for verb in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))


def _truncate(app: App, keep: int) -> None:
    """What an attacker holding the database file does: drop the last leaves, their
    checkpoints and nodes, and the outside copy."""
    with app.db.engine.begin() as c:
        _drop_triggers(app, c)
        c.execute(text(f"DELETE FROM events WHERE seq >= {keep}"))
        c.execute(text(f"DELETE FROM checkpoints WHERE tree_size > {keep}"))
        c.execute(text(f"DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > {keep}"))
    (app.home / cp_store.LATEST_FILE).unlink()


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> App:
    a = open_app(tmp_path, db_url)
    seed_runs(a, n=6)
    return a


def _sizes(app: App) -> list[int]:
    with app.db.read() as c:
        return cp_store.all_sizes(c)


def test_a_store_extending_the_witness_checkpoint_verifies(app: App) -> None:
    witness = app.checkpoint()
    seed_runs(app, n=3, seed=9)
    report = verify_store(app, witness=witness)
    assert report.ok, report.problems
    assert report.witness_size == parse_note(witness)[0].tree_size < report.tree_size


def test_truncation_is_caught_by_the_witness_once_the_outside_copy_is_gone(app: App) -> None:
    small = _sizes(app)[-1]
    seed_runs(app, n=3, seed=9)
    witness = app.checkpoint()
    _truncate(app, small)

    plain = verify_store(app)
    assert plain.ok  # nothing inside the store shows it...
    assert any("no outside copy" in w for w in plain.warnings)  # ...and verify says so loudly
    caught = verify_store(app, witness=witness)
    assert not caught.ok and "truncated" in caught.problems[0]


def test_a_fork_after_the_witness_checkpoint_is_caught(app: App) -> None:
    """The attacker truncates and appends other events up to the same size, and even signs
    with the store's key: the witness's root no longer fits."""
    small = _sizes(app)[-1]
    seed_runs(app, n=3, seed=9)
    witness = app.checkpoint()
    size = parse_note(witness)[0].tree_size
    _truncate(app, small)
    app.events.append([started(f"fork-{i}") for i in range(size - small)])
    app.checkpoint()  # the attacker even holds the key
    assert verify_store(app).ok  # the forged history is self-consistent
    forked = verify_store(app, witness=witness)
    assert not forked.ok
    assert "forked" in forked.problems[0] or "not an extension" in forked.problems[0]


def test_a_witness_checkpoint_of_another_log_is_refused(app: App, tmp_path: Path) -> None:
    other = App.open(home=tmp_path / "other", database_url=f"sqlite:///{tmp_path / 'o.db'}")
    seed_runs(other, n=1)
    report = verify_store(app, witness=other.checkpoint())
    assert not report.ok and "witness checkpoint" in report.problems[0]


def test_an_outside_copy_older_than_the_store_is_reported(app: App) -> None:
    old = (app.home / cp_store.LATEST_FILE).read_text()
    seed_runs(app, n=2, seed=9)
    (app.home / cp_store.LATEST_FILE).write_text(old)  # rolled back to an older valid note
    report = verify_store(app)
    assert report.ok and any("older than the store" in w for w in report.warnings)


def test_a_store_smaller_than_its_outside_copy_fails(app: App) -> None:
    small = _sizes(app)[-1]
    seed_runs(app, n=2, seed=9)
    note = (app.home / cp_store.LATEST_FILE).read_text()
    _truncate(app, small)
    (app.home / cp_store.LATEST_FILE).write_text(note)
    report = verify_store(app)
    assert not report.ok


def test_events_without_any_signed_checkpoint_are_not_intact(app: App) -> None:
    with app.db.engine.begin() as c:
        _drop_triggers(app, c)
        c.execute(text("DELETE FROM checkpoints"))
    (app.home / cp_store.LATEST_FILE).unlink()
    report = verify_store(app)
    assert not report.ok and "no signed checkpoint" in report.problems[0]


def test_events_appended_behind_the_stores_back_fail_verify(app: App) -> None:
    app.db.seal = None  # a writer that bypasses the application (holds the file)
    app.events.append([started("forged-1")])
    report = verify_store(app)
    assert not report.ok and "signed by no checkpoint" in report.problems[0]


def test_every_write_commits_with_its_checkpoint(app: App) -> None:
    before = _sizes(app)
    seed_runs(app, n=1, seed=5)  # EventStore.append: one write transaction
    with app.db.read() as c:
        assert cp_store.latest_size(c) == app.ledger.size(c) > before[-1]


def test_a_write_onto_a_truncated_log_is_refused(app: App) -> None:
    from raidt.errors import IntegrityError

    size = _sizes(app)[-1]
    with app.db.engine.begin() as c:
        _drop_triggers(app, c)
        c.execute(text(f"DELETE FROM events WHERE seq >= {size - 2}"))
    with pytest.raises(IntegrityError, match="no longer matches its checkpoint"):
        seed_runs(app, n=1, seed=5)
    with app.db.read() as c:
        assert app.ledger.size(c) == size - 2  # nothing was written


def test_a_failed_outside_copy_is_a_warning_and_the_next_write_repairs_it(app: App) -> None:
    latest = app.home / cp_store.LATEST_FILE
    latest.unlink()
    latest.mkdir()  # the copy cannot be written
    seed_runs(app, n=1, seed=5)
    assert app.warnings and "committed" in app.warnings[0]
    with app.db.read() as c:
        assert cp_store.latest_size(c) == app.ledger.size(c)  # the checkpoint is in the store
    latest.rmdir()
    note = app.checkpoint()
    assert latest.read_text() == note
    assert verify_store(app).ok


# --- the origin (13.7) ---------------------------------------------------------------


@pytest.mark.parametrize("folder", ["my store", "a+b", "plain"])
def test_the_origin_is_kept_with_the_key_and_survives_a_move(tmp_path: Path, folder: str) -> None:
    home = tmp_path / folder
    app = App.open(home=home)
    seed_runs(app, n=2)
    origin = (home / "origin").read_text().strip()
    assert origin == app.origin and " " not in origin and "+" not in origin
    assert parse_note(app.checkpoint())[0].origin == origin
    app.close()
    moved = tmp_path / "elsewhere, renamed"
    shutil.copytree(home, moved)
    copy = App.open(home=moved)
    assert copy.origin == origin
    assert verify_store(copy).ok


def test_a_store_from_before_the_origin_file_keeps_its_origin(tmp_path: Path) -> None:
    """Old stores signed with ``raidt.local/<folder>``; without an origin file the origin
    their checkpoints carry is used, so they keep verifying wherever they are."""
    home = tmp_path / "legacy"
    old = App.open(home=home)
    old._origin = "raidt.local/legacy"  # what the folder-name default produced
    seed_runs(old, n=2)
    old.close()
    (home / "origin").unlink()
    moved = tmp_path / "restored"
    shutil.copytree(home, moved)
    app = App.open(home=moved)
    assert app.origin == "raidt.local/legacy"
    assert verify_store(app).ok


def test_an_origin_that_cannot_name_a_log_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raidt.errors import ConfigurationError

    monkeypatch.setenv("RAIDT_ORIGIN", "my log")
    app = App.open(home=tmp_path / "h")
    with pytest.raises(ConfigurationError, match="cannot name a log"):
        _ = app.origin
