"""Scoring: grouping columns and facts on ``scores``, and the ``score_rollup`` table.

Revision ID: 0003_scoring
Revises: 0002_workflow

``0001_initial`` creates ``scores`` from the current ``schema.py``, so on a fresh database
the new columns and indexes already exist; this revision adds only what is missing, which
also upgrades a database created before it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from raidt.store.schema import metadata

revision = "0003_scoring"
down_revision = "0002_workflow"
branch_labels = None
depends_on = None

_NEW_COLUMNS = ("use_case", "team", "policy_version", "started_at", "flagged", "facts")


def upgrade() -> None:
    bind = op.get_bind()
    insp = sa.inspect(bind)
    scores = metadata.tables["scores"]
    have = {c["name"] for c in insp.get_columns("scores")}
    for name in _NEW_COLUMNS:
        if name not in have:
            col = scores.c[name]
            op.add_column("scores", sa.Column(name, col.type, nullable=True))
    indexes = {i["name"] for i in insp.get_indexes("scores")}
    for index in scores.indexes:
        if index.name not in indexes:
            index.create(bind)
    metadata.tables["score_rollup"].create(bind, checkfirst=True)


def downgrade() -> None:
    op.drop_table("score_rollup")
    for index in ("ix_scores_group", "ix_scores_flagged_started"):
        op.drop_index(index, table_name="scores")
    for name in _NEW_COLUMNS:
        op.drop_column("scores", name)
