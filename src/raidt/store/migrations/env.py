"""Alembic environment: runs on the connection handed over by raidt.store.migrate."""

from __future__ import annotations

from alembic import context

from raidt.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via raidt.store.migrate
    raise RuntimeError("run migrations through raidt.store.migrate.upgrade()")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    transaction_per_migration=False,
)
context.run_migrations()
