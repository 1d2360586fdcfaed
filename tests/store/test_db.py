"""Tests for raidt.store.db: write transactions, durable and not, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from raidt.store.db import Database, open_database


@pytest.fixture
def db(db_url: str) -> Database:
    database = open_database(db_url)
    yield database  # type: ignore[misc]
    database.dispose()


def _settings(db: Database, conn: Connection) -> tuple[str, ...]:
    if db.dialect == "sqlite":
        return (
            str(conn.exec_driver_sql("PRAGMA synchronous").scalar()),
            str(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()),
        )
    return (str(conn.exec_driver_sql("SHOW synchronous_commit").scalar()),)


def test_non_durable_writes_relax_commit_and_put_the_defaults_back(db: Database) -> None:
    with db.write() as conn:
        durable = _settings(db, conn)
    with db.write(durable=False) as conn:
        relaxed = _settings(db, conn)
        conn.execute(text("CREATE TABLE IF NOT EXISTS scratch_t (k INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(text("INSERT INTO scratch_t (k, v) VALUES (1, 'kept')"))
    if db.dialect == "sqlite":
        assert durable == ("2", "1000")  # FULL
        assert relaxed == ("1", "25000")  # NORMAL, larger checkpoints
    else:
        assert durable == ("on",)
        assert relaxed == ("off",)
    # every pooled connection is back on the durable defaults, and the write committed
    conns = [db.engine.connect() for _ in range(3)]
    try:
        for c in conns:
            with c.begin():
                assert _settings(db, c) == durable
                assert c.execute(text("SELECT v FROM scratch_t")).scalar_one() == "kept"
    finally:
        for c in conns:
            c.close()


def test_a_failed_non_durable_write_rolls_back_and_restores(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS scratch_u (k INTEGER PRIMARY KEY)"))
    with pytest.raises(RuntimeError), db.write(durable=False) as conn:
        conn.execute(text("INSERT INTO scratch_u (k) VALUES (1)"))
        raise RuntimeError("boom")
    with db.write() as conn:
        assert conn.execute(text("SELECT count(*) FROM scratch_u")).scalar_one() == 0
        assert _settings(db, conn)[0] in ("2", "on")


def test_sqlite_connections_keep_a_64_mib_page_cache(db: Database, tmp_path: Path) -> None:
    if db.dialect != "sqlite":
        pytest.skip("a SQLite connection setting")
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
    small = open_database(f"sqlite:///{tmp_path / 'w.db'}", sqlite_cache_kib=2000)
    try:
        with small.read() as conn, small.write() as w:  # both kinds of pooled connection
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
            assert w.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    finally:
        small.dispose()
