"""Migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from raidt.store.db import open_database
from raidt.store.schema import metadata


def test_fresh_database_matches_schema(tmp_path: Path, db_url: str) -> None:
    db = open_database(db_url)
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    # alembic's own version table is not in our metadata; nothing else may differ
    diffs = [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diffs == []


def test_opening_twice_is_a_no_op(tmp_path: Path, db_url: str) -> None:
    open_database(db_url).dispose()
    db = open_database(db_url)
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
    db.dispose()
