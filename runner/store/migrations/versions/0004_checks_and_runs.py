"""Checks and runs counted apart ("Essais" and "Exécutions"); ``attempts`` keeps their sum.

Rows written before this revision keep their ``attempts`` and start both new counts at 0: how
their attempts split was not recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("progress") as batch:
        batch.add_column(sa.Column("checks", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("runs", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("progress") as batch:
        batch.drop_column("runs")
        batch.drop_column("checks")
