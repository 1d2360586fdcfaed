"""Initial schema: evidence tables with append-only triggers, projections.

Revision ID: 0001_initial
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# The tables exactly as this revision created them, frozen here rather than read from
# schema.py: a later column added to schema.py must arrive through its own migration on
# old and new databases alike (0003 and 0004 add theirs).
_metadata = MetaData()

#: One row per sealed event. ``seq`` is the 0-based leaf index in the ledger.
events = Table(
    "events",
    _metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(200), nullable=False, unique=True),
    Column("run_id", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_role", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Index("ix_events_run_seq", "run_id", "seq"),
)

#: Complete-subtree hashes of the Merkle tree at stored levels (see store/ledger.py).
ledger_nodes = Table(
    "ledger_nodes",
    _metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

#: Signed tree heads in C2SP tlog-checkpoint signed-note form.
checkpoints = Table(
    "checkpoints",
    _metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

#: Versioned workflow policies (YAML text kept verbatim, plus its content hash).
policies = Table(
    "policies",
    _metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Versioned prompt templates.
templates = Table(
    "templates",
    _metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Actor directory, append-only: a later row for the same actor supersedes earlier ones.
actors = Table(
    "actors",
    _metadata,
    Column("row", BigInteger, primary_key=True, autoincrement=True),
    Column("actor_id", String(200), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Versioned rubrics.
rubrics = Table(
    "rubrics",
    _metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Run projection (derived from events; rebuilt by replay if ever in doubt).
runs = Table(
    "runs",
    _metadata,
    Column("run_id", String(200), primary_key=True),
    Column("use_case", String(200), nullable=True, index=True),
    Column("team", String(200), nullable=True, index=True),
    Column("status", String(40), nullable=False),
    Column("risk_level", String(20), nullable=True),
    Column("initiator", String(200), nullable=True),
    Column("started_at", String(32), nullable=True, index=True),
    Column("closed_at", String(32), nullable=True),
    Column("disposition", String(40), nullable=True),
    Column("policy_id", String(200), nullable=True),
    Column("policy_version", String(50), nullable=True),
    Column("event_count", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("state", Text, nullable=False),
)

#: Latest score profile per run (derived; recomputable from events + policy + rubric).
scores = Table(
    "scores",
    _metadata,
    Column("run_id", String(200), primary_key=True),
    Column("rubric_id", String(200), nullable=False),
    Column("rubric_version", String(50), nullable=False),
    Column("readiness", String(30), nullable=False, index=True),
    Column("pillars", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("scored_at", String(32), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)


_INITIAL_TABLES = (
    "events",
    "ledger_nodes",
    "checkpoints",
    "policies",
    "templates",
    "actors",
    "rubrics",
    "runs",
    "scores",
)


#: The append-only tables of this revision (frozen: later ones get their triggers from the
#: migration that creates them).
_EVIDENCE_TABLES = (
    "events",
    "ledger_nodes",
    "checkpoints",
    "policies",
    "templates",
    "actors",
    "rubrics",
)


def upgrade() -> None:
    bind = op.get_bind()
    tables = [_metadata.tables[name] for name in _INITIAL_TABLES]
    _metadata.create_all(bind, tables=tables)
    for name in _EVIDENCE_TABLES:
        install_append_only(name)


def install_append_only(table: str) -> None:
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
