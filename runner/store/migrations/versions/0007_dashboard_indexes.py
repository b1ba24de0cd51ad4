"""Dashboard indexes measured at MOOC scale (bench/dashboard.py, 12,000 learners, 6.2 million
attempts): the course funnel reads only a covering index of ``progress`` instead of looking up
every row, and the exercise page's wrong outputs walk a partial covering index of the failed
checks that kept an output (about one attempt in six), newest first. The index on ``created_at``
alone becomes partial (rows that still hold code: the purge's), so that PostgreSQL no longer walks
it backwards, through millions of rows, for an early exercise's ten most recent failures.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_WITH_OUTPUT = sa.text("wrong_output IS NOT NULL")
_WITH_CODE = sa.text("code IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_progress_funnel",
        "progress",
        ["exercise_id", "attempts", "solved", "hints_revealed", "opened_at"],
    )
    op.create_index(
        "ix_attempts_wrong_output",
        "attempts",
        ["exercise_id", "mode", "created_at", "first_failed", "wrong_output"],
        sqlite_where=_WITH_OUTPUT,
        postgresql_where=_WITH_OUTPUT,
    )
    op.drop_index("ix_attempts_created", "attempts")
    op.create_index(
        "ix_attempts_code_created",
        "attempts",
        ["created_at"],
        sqlite_where=_WITH_CODE,
        postgresql_where=_WITH_CODE,
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_code_created", "attempts")
    op.create_index("ix_attempts_created", "attempts", ["created_at"])
    op.drop_index("ix_attempts_wrong_output", "attempts")
    op.drop_index("ix_progress_funnel", "progress")
