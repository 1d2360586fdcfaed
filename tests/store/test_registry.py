"""Tests for raidt.store.registry on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from raidt.core.actors import Actor, Qualification
from raidt.errors import ValidationError
from raidt.store import schema
from raidt.store.db import Database, open_database
from raidt.store.registry import ActorRegistry, VersionedDocuments


@pytest.fixture
def db(db_url: str) -> Database:
    database = open_database(db_url)
    yield database  # type: ignore[misc]
    database.dispose()


def test_add_is_idempotent_and_conflicts_are_refused(db: Database) -> None:
    docs = VersionedDocuments(db, schema.policies, "policy")
    assert docs.add("p", "1", "a" * 64, "id: p\nversion: 1\n") is True
    assert docs.add("p", "1", "a" * 64, "# reformatted\nid: p\nversion: 1\n") is False
    with pytest.raises(ValidationError, match="new version"):
        docs.add("p", "1", "b" * 64, "id: p\nversion: 1\ntitle: changed\n")
    stored = docs.get("p", "1")
    assert stored is not None
    assert stored.body == "id: p\nversion: 1\n"  # verbatim, first one kept
    assert docs.count() == 1


def test_versions_are_ordered_by_addition(db: Database) -> None:
    docs = VersionedDocuments(db, schema.templates, "template")
    docs.add("t", "2", "b" * 64, "two")
    docs.add("t", "1", "a" * 64, "one")
    docs.add("t", "10", "c" * 64, "ten")
    docs.add("u", "1", "d" * 64, "u")
    assert [d.version for d in docs.versions("t")] == ["2", "1", "10"]
    stamps = [d.added_at for d in docs.versions("t")]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert docs.ids() == ["t", "u"]
    assert [(d.id, d.version) for d in docs.all()] == [
        ("t", "2"),
        ("t", "1"),
        ("t", "10"),
        ("u", "1"),
    ]
    assert docs.get("t", "3") is None


def test_explicit_added_at_is_kept(db: Database) -> None:
    docs = VersionedDocuments(db, schema.policies, "policy")
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    docs.add("p", "1", "a" * 64, "x", at=when)
    stored = docs.get("p", "1")
    assert stored is not None and stored.added_at == when


def test_actors_latest_row_wins(db: Database) -> None:
    reg = ActorRegistry(db)
    q = Qualification(name="consultant", valid_from=date(2020, 1, 1))
    assert reg.add([Actor(id="u-1", roles=["reviewer"]), Actor(id="u-2")]) == 2
    assert reg.add([Actor(id="u-1", roles=["reviewer", "approver"], qualifications=[q])]) == 1
    assert reg.add([]) == 0
    current = {a.id: a for a in reg.current()}
    assert sorted(current) == ["u-1", "u-2"]
    assert current["u-1"].roles == ["reviewer", "approver"]
    assert current["u-1"].qualified("consultant", date(2026, 1, 1))
    assert [a.roles for _, a in reg.history("u-1")] == [["reviewer"], ["reviewer", "approver"]]


@pytest.mark.parametrize("table", ["policies", "templates", "actors"])
def test_database_refuses_update_and_delete(db: Database, table: str) -> None:
    if table == "actors":
        ActorRegistry(db).add([Actor(id="u-1")])
        column = "body"
    else:
        VersionedDocuments(db, getattr(schema, table), "doc").add("p", "1", "a" * 64, "body")
        column = "body"
    for statement in (f"UPDATE {table} SET {column} = 'tampered'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError), db.write() as conn:
            conn.execute(text(statement))
    with db.read() as conn:
        assert conn.execute(text(f"SELECT {column} FROM {table}")).scalar_one() != "tampered"
