"""Capture: API tokens and the OTLP join staging table.

Revision ID: 0005_capture
Revises: 0004_weakpoint_counts

Neither table holds evidence, so neither gets the append-only triggers: a token is revoked
by setting ``revoked_at``, and a staged OTLP record is deleted in the transaction that
seals it into events.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

revision = "0005_capture"
down_revision = "0004_weakpoint_counts"
branch_labels = None
depends_on = None

# frozen copies of the tables as this revision creates them (see 0001 for why)
_metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

capture_pending = Table(
    "capture_pending",
    _metadata,
    # INTEGER on SQLite: only an INTEGER PRIMARY KEY is the autoincrementing rowid
    Column("row", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("received_at", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Index("ix_capture_pending_span", "trace_id", "span_id"),
)


def upgrade() -> None:
    bind = op.get_bind()
    _metadata.create_all(bind, checkfirst=True)


def downgrade() -> None:
    op.drop_table("capture_pending")
    op.drop_table("api_tokens")
