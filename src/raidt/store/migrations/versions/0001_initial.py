"""Initial schema: evidence tables with append-only triggers, projections.

Revision ID: 0001_initial
"""

from __future__ import annotations

from alembic import op

from raidt.store.schema import EVIDENCE_TABLES, metadata

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

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


def upgrade() -> None:
    bind = op.get_bind()
    tables = [metadata.tables[name] for name in _INITIAL_TABLES]
    metadata.create_all(bind, tables=tables)
    for name in EVIDENCE_TABLES:
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
