"""Governance documents are ledger leaves: changing the judge's inputs is caught (issue 13.2).

As in ``test_tamper.py``, the attacker holds the database file: the append-only triggers
are dropped first, then a document is changed behind the application's back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from raidt.core.documents import document_leaf_bytes, text_sha256
from raidt.core.merkle import leaf_hash
from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.scoring import ScoringService, install_default_rubric
from raidt.services.verification import verify_store
from tests.helpers import open_app, seed_runs

_TABLES = ("policies", "templates", "rubrics", "actors", "document_leaves", "checkpoints")


def _tamper(app: App, fn: Callable[[Connection], None]) -> None:
    with app.db.engine.begin() as conn:
        for t in _TABLES:
            if app.db.dialect == "sqlite":
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
            else:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))
        fn(conn)


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> App:
    a = open_app(tmp_path, db_url)
    install_presets(a)
    install_default_rubric(a)
    seed_runs(a, n=4)
    report = verify_store(a)
    assert report.ok, report.problems
    assert report.documents > 7 and report.sealed_at_migration == 0
    return a


def test_every_document_version_is_a_leaf_of_the_tree(app: App) -> None:
    with app.db.read() as c:
        docs = int(c.execute(text("SELECT COUNT(*) FROM document_leaves")).scalar_one())
        events = int(c.execute(text("SELECT COUNT(*) FROM events")).scalar_one())
        rubric = c.execute(text("SELECT * FROM document_leaves WHERE type = 'rubric'")).one()
        body = c.execute(text("SELECT body FROM rubrics")).scalar_one()
    with app.db.read() as c:
        assert app.ledger.size(c) == docs + events
    assert rubric.sha256 == text_sha256(body)
    expected = leaf_hash(
        document_leaf_bytes(
            "rubric",
            rubric.doc_id,
            rubric.version,
            rubric.sha256,
            rubric.content_hash,
            rubric.added_at,
        )
    )
    assert bytes(rubric.leaf_hash) == expected


def test_lowered_rubric_thresholds_fail_verify(app: App) -> None:
    """The finding: lowering thresholds made every run audit_ready and verify said intact."""
    _tamper(
        app,
        lambda c: c.execute(
            text(
                "UPDATE rubrics SET body = REPLACE(body, "
                "'min_pillar: 80, min_mean: 90', 'min_pillar: 55, min_mean: 70')"
            )
        ),
    )
    rubric = ScoringService(app).rubric()[0]  # the judge reads the lowered thresholds
    assert rubric.thresholds.audit_ready.min_pillar == 55
    report = verify_store(app)
    assert not report.ok
    label = f"rubric {rubric.id}@{rubric.version}"
    assert any(label in p and "altered" in p for p in report.problems)


def test_a_changed_content_hash_column_fails_verify(app: App) -> None:
    _tamper(
        app,
        lambda c: c.execute(
            text(
                "UPDATE policies SET content_hash = "
                "REPLACE(content_hash, substr(content_hash, 1, 4), 'abcd')"
            )
        ),
    )
    report = verify_store(app)
    assert not report.ok and "content hash" in report.problems[0]


def test_a_back_dated_policy_version_fails_verify(app: App) -> None:
    _tamper(
        app,
        lambda c: c.execute(
            text("UPDATE policies SET added_at = '2020-01-01T00:00:00Z' WHERE id = 'credit-memo'")
        ),
    )
    report = verify_store(app)
    assert not report.ok and "back- or forward-dated" in report.problems[0]


def test_a_changed_actor_entry_fails_verify(app: App, tmp_path: Path) -> None:
    from importlib.resources import files

    from raidt.services.policies import PolicyService

    yaml = files("raidt.policies").joinpath("actors-example.yaml").read_text(encoding="utf-8")
    PolicyService(app).import_actors(yaml, "actors.yaml")
    assert verify_store(app).ok
    _tamper(
        app,
        lambda c: c.execute(
            text("UPDATE actors SET body = REPLACE(body, '\"reviewer\"', '\"approver\"')")
        ),
    )
    report = verify_store(app)
    assert not report.ok and "actor directory entry" in report.problems[0]


def test_a_document_inserted_behind_the_stores_back_fails_verify(app: App) -> None:
    _tamper(
        app,
        lambda c: c.execute(
            text(
                "INSERT INTO rubrics (id, version, content_hash, body, added_at) "
                "VALUES ('lenient', '1', 'x', 'id: lenient', '2026-01-01T00:00:00Z')"
            )
        ),
    )
    report = verify_store(app)
    assert not report.ok and "rubric lenient@1 is not in the ledger" in report.problems[0]


def test_a_removed_document_leaf_fails_verify(app: App) -> None:
    _tamper(app, lambda c: c.execute(text("DELETE FROM document_leaves WHERE type = 'rubric'")))
    report = verify_store(app)
    assert not report.ok


def test_inclusion_proofs_still_anchor_events_after_document_leaves(app: App) -> None:
    from raidt.core.checkpoint import parse_note
    from raidt.core.merkle import verify_inclusion

    note = app.checkpoint()
    cp, _ = parse_note(note)
    with app.db.read() as c:
        rows = c.execute(text("SELECT seq, leaf_hash FROM events ORDER BY seq")).all()
        for seq, leaf in rows:
            proof = app.ledger.inclusion_proof(c, int(seq), cp.tree_size)
            assert verify_inclusion(bytes(leaf), int(seq), cp.tree_size, proof, cp.root_hash)


def test_documents_of_an_older_store_are_sealed_by_the_migration(
    tmp_path: Path, db_url: str
) -> None:
    """A store from before revision 0006: its documents are sealed at the upgrade, and
    verify says so."""
    app = open_app(tmp_path, db_url)
    seed_runs(app, n=3)
    with app.db.engine.begin() as c:  # make it look like revision 0004 with two documents
        c.execute(text("DROP TABLE document_leaves"))
        c.execute(text("UPDATE alembic_version SET version_num = '0005_capture'"))
        c.execute(
            text(
                "INSERT INTO policies (id, version, content_hash, body, added_at) VALUES "
                "('p', '1', 'h1', 'id: p', '2026-01-01T00:00:00Z'), "
                "('p', '2', 'h2', 'id: p2', '2026-01-02T00:00:00Z')"
            )
        )
    app.close()
    app = open_app(tmp_path, db_url)  # opening upgrades the store
    report = verify_store(app)
    assert report.ok, report.problems
    assert report.documents == 2 and report.sealed_at_migration == 2
    assert any("sealed when the store was upgraded" in w for w in report.warnings)
    assert any("sealed by the upgrade" in w and "not signed yet" in w for w in report.warnings)
    app.checkpoint()
    after = verify_store(app)
    assert after.ok and not any("not signed yet" in w for w in after.warnings)
    _tamper(
        app, lambda c: c.execute(text("UPDATE policies SET body = 'id: q' WHERE version = '2'"))
    )
    assert "policy p@2" in verify_store(app).problems[0]
