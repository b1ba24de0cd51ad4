"""Submission ids chosen by clients: a submission sent again after a failover (the same id) is
counted once and its result recorded once (docs/deployment.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runner.store.tables import UTCDateTime

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column(
            "learner_id",
            sa.String(32),
            sa.ForeignKey("learners.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("submission_id", sa.String(64), primary_key=True),
        sa.Column("exercise_id", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("result_at", UTCDateTime(), nullable=True),
        sa.Index("ix_submissions_created", "created_at"),
    )


def downgrade() -> None:
    op.drop_table("submissions")
