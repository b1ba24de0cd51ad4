"""Alembic, driven from code: no alembic.ini, the scripts live in ``runner/store/migrations``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# Held for the migration's transaction: the nodes of a cluster start at once on one PostgreSQL,
# and only one may migrate (the others then find the schema at its head). Any fixed 64-bit key.
MIGRATION_LOCK = 0x6465636F6465  # "decode"


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on ``connection`` (sync: call through ``run_sync``)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    command.upgrade(config(connection), revision)


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(config()).get_current_head()
