"""LTI 1.3: registrations, the tool's keys, login states and tickets, line items and scores,
and who launched what in which LMS context.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runner.store.tables import UTCDateTime

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_ACCOUNT = (["platform_id", "subject"], ["accounts.platform_id", "accounts.subject"])


def upgrade() -> None:
    op.create_table(
        "lti_registrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_ids", sa.Text, nullable=False),
        sa.Column("auth_login_url", sa.Text, nullable=False),
        sa.Column("auth_token_url", sa.Text, nullable=False),
        sa.Column("jwks_url", sa.Text, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_lti_registrations_client", "lti_registrations", ["issuer", "client_id"], unique=True
    )
    op.create_table(
        "lti_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "lti_states",
        sa.Column("value_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registration_id", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "lti_grades",
        sa.Column("platform_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("lineitem", sa.String(1024), primary_key=True),
        sa.Column("exercise_id", sa.String(200), nullable=False),
        sa.Column("best_given", sa.Integer, nullable=False),
        sa.Column("score_maximum", sa.Integer, nullable=False),
        sa.Column("last_timestamp", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(*_ACCOUNT, ondelete="CASCADE"),
    )
    op.create_index(
        "ix_lti_grades_exercise", "lti_grades", ["platform_id", "subject", "exercise_id"]
    )
    op.create_table(
        "lti_members",
        sa.Column("platform_id", sa.String(64), primary_key=True),
        sa.Column("context_id", sa.String(255), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("exercise_id", sa.String(200), primary_key=True),
        sa.Column("instructor", sa.Boolean, nullable=False),
        sa.Column("last_launch_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(*_ACCOUNT, ondelete="CASCADE"),
    )


def downgrade() -> None:
    for table in ("lti_members", "lti_grades", "lti_states", "lti_keys", "lti_registrations"):
        op.drop_table(table)
