"""The trainer's space: the attempt log, trainers and their sessions; when each exercise was
first opened and, once solved, in how many checks and how long; indexes for the dashboard.

Rows written before this revision have no ``opened_at`` (the funnel counts them as opened when
they hold an attempt) and no solve figures (left out of the medians).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runner.store.tables import UTCDateTime

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("progress") as batch:
        batch.add_column(sa.Column("opened_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("checks_to_solve", sa.Integer, nullable=True))
        batch.add_column(sa.Column("solve_seconds", sa.Integer, nullable=True))
    op.create_index("ix_progress_checks_to_solve", "progress", ["exercise_id", "checks_to_solve"])
    op.create_index("ix_progress_solve_seconds", "progress", ["exercise_id", "solve_seconds"])
    op.create_index("ix_progress_learner_activity", "progress", ["learner_id", "last_attempt_at"])
    op.create_table(
        "attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "learner_id",
            sa.String(32),
            sa.ForeignKey("learners.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("exercise_id", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("passed", sa.Integer, nullable=True),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("first_failed", sa.Integer, nullable=True),
        sa.Column("error_kind", sa.String(80), nullable=True),
        sa.Column("wrong_output", sa.String(200), nullable=True),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("code", sa.Text, nullable=True),
    )
    op.create_index("ix_attempts_exercise", "attempts", ["exercise_id", "mode", "first_failed"])
    op.create_index("ix_attempts_exercise_kind", "attempts", ["exercise_id", "mode", "error_kind"])
    op.create_index("ix_attempts_exercise_created", "attempts", ["exercise_id", "created_at"])
    op.create_index("ix_attempts_learner_created", "attempts", ["learner_id", "created_at"])
    op.create_index("ix_attempts_created", "attempts", ["created_at"])
    op.create_table(
        "trainers",
        sa.Column("email", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "trainer_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "email",
            sa.String(255),
            sa.ForeignKey("trainers.email", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("trainer_sessions")
    op.drop_table("trainers")
    op.drop_table("attempts")
    for index in (
        "ix_progress_learner_activity",
        "ix_progress_solve_seconds",
        "ix_progress_checks_to_solve",
    ):
        op.drop_index(index, "progress")
    with op.batch_alter_table("progress") as batch:
        batch.drop_column("solve_seconds")
        batch.drop_column("checks_to_solve")
        batch.drop_column("opened_at")
