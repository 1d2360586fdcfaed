"""Governance documents become ledger leaves: the ``document_leaves`` table.

Revision ID: 0006_document_leaves
Revises: 0005_capture

Every policy, template and rubric version and every actor directory entry gets a leaf in
the Merkle tree the events live in (format: ``raidt.core.documents``). Documents already
stored are sealed here, in the order they were added, after the last event; the leaves
say ``sealed = 'migration'`` and ``raidt verify`` reports how many documents were sealed
this way (their content before this upgrade is taken as it stood at the upgrade). No
checkpoint can be signed here (the key lives under RAIDT_HOME, not in the database): the
next write signs the grown tree.

Everything this revision needs is frozen below (table, leaf bytes, node hashing), so it
never changes when the live modules do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import rfc8785
import sqlalchemy as sa
from alembic import op

revision = "0006_document_leaves"
down_revision = "0005_capture"
branch_labels = None
depends_on = None

_metadata = sa.MetaData()
_leaves = sa.Table(
    "document_leaves",
    _metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("doc_id", sa.String(200), nullable=False),
    sa.Column("version", sa.String(50), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("added_at", sa.String(32), nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("sealed", sa.String(20), nullable=False),
    sa.UniqueConstraint("type", "doc_id", "version", name="uq_document_leaves_doc"),
)
_STRIDE = 4


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("document_leaves"):
        return  # already there (a store whose revision mark was moved back by hand)
    _leaves.create(bind)
    _install_append_only("document_leaves")
    start = int(bind.execute(sa.text("SELECT COALESCE(MAX(seq) + 1, 0) FROM events")).scalar_one())
    new: dict[int, bytes] = {}
    rows: list[dict[str, Any]] = []
    for seq, (doc_type, doc_id, version, body, content_hash, added_at) in enumerate(
        _documents(bind), start
    ):
        sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
        content = content_hash or sha
        leaf = rfc8785.dumps(
            {
                "kind": "document",
                "type": doc_type,
                "id": doc_id,
                "version": version,
                "sha256": sha,
                "content_hash": content,
                "added_at": added_at,
            }
        )
        digest = hashlib.sha256(b"\x00" + leaf).digest()
        new[seq] = digest
        rows.append(
            {
                "seq": seq,
                "type": doc_type,
                "doc_id": doc_id,
                "version": version,
                "sha256": sha,
                "content_hash": content,
                "added_at": added_at,
                "leaf_hash": digest,
                "sealed": "migration",
            }
        )
    if not rows:
        return
    for i in range(0, len(rows), 1000):
        bind.execute(_leaves.insert(), rows[i : i + 1000])
    _add_nodes(bind, start, start + len(rows), new)


def _documents(bind: sa.Connection) -> Iterator[tuple[str, str, str, str, str | None, str]]:
    """Every stored document, in the order it was added (ties broken by id and version)."""
    docs: list[tuple[str, str, str, str, str, str | None]] = []
    for doc_type, table in (
        ("policy", "policies"),
        ("template", "templates"),
        ("rubric", "rubrics"),
    ):
        for r in bind.execute(
            sa.text(f"SELECT id, version, body, content_hash, added_at FROM {table}")
        ):
            docs.append((str(r[4]), doc_type, str(r[0]), str(r[1]), str(r[2]), str(r[3])))
    for r in bind.execute(sa.text('SELECT "row", actor_id, body, added_at FROM actors')):
        docs.append((str(r[3]), "actor", str(r[1]), str(r[0]), str(r[2]), None))
    docs.sort(key=lambda d: (d[0], d[1], d[2], d[3].zfill(20) if d[1] == "actor" else d[3]))
    for added_at, doc_type, doc_id, version, body, content_hash in docs:
        yield doc_type, doc_id, version, body, content_hash, added_at


def _add_nodes(bind: sa.Connection, start: int, end: int, new: dict[int, bytes]) -> None:
    """Store the ledger nodes (every 4th level) that the new leaves complete."""
    memo: dict[tuple[int, int], bytes] = {}

    def subtree(level: int, idx: int) -> bytes:
        key = (level, idx)
        if key in memo:
            return memo[key]
        if level == 0:
            h = new.get(idx)
            if h is None:
                h = bytes(
                    bind.execute(
                        sa.text("SELECT leaf_hash FROM events WHERE seq = :s"), {"s": idx}
                    ).scalar_one()
                )
        else:
            stored = None
            if level % _STRIDE == 0 and (idx + 1) << level <= start:
                stored = bind.execute(
                    sa.text("SELECT hash FROM ledger_nodes WHERE level = :l AND idx = :i"),
                    {"l": level, "i": idx},
                ).scalar_one_or_none()
            if stored is not None:
                h = bytes(stored)
            else:
                left, right = subtree(level - 1, 2 * idx), subtree(level - 1, 2 * idx + 1)
                h = hashlib.sha256(b"\x01" + left + right).digest()
        memo[key] = h
        return h

    rows = []
    level = _STRIDE
    while end >> level:
        for idx in range(start >> level, end >> level):
            rows.append({"level": level, "idx": idx, "hash": subtree(level, idx)})
        level += _STRIDE
    if rows:
        bind.execute(
            sa.text("INSERT INTO ledger_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"),
            rows,
        )


def _install_append_only(table: str) -> None:
    """Make the database itself refuse UPDATE and DELETE (and TRUNCATE) on ``table``."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'raidt: {table} is append-only ({verb} refused)'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION raidt_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'raidt: % is append-only (% refused)', TG_TABLE_NAME, TG_OP; "
        "END $$ LANGUAGE plpgsql"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION raidt_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION raidt_append_only()"
    )


def downgrade() -> None:
    raise NotImplementedError("evidence is never dropped by a migration")
