"""Alembic environment: runs on the connection that ``runner.store.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from runner.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through runner.store (ProgressStore.migrate)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
