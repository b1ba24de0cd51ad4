"""The progress store's schema (SQLAlchemy Core); Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

LEARNER_ID_LENGTH = 32
EXERCISE_ID_LENGTH = 200


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

learners = Table(
    "learners",
    metadata,
    Column("id", String(LEARNER_ID_LENGTH), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

progress = Table(
    "progress",
    metadata,
    Column(
        "learner_id",
        String(LEARNER_ID_LENGTH),
        ForeignKey("learners.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("checks", Integer, nullable=False, default=0, server_default="0"),
    Column("runs", Integer, nullable=False, default=0, server_default="0"),
    Column("first_attempt_at", UTCDateTime(), nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("solved", Boolean, nullable=False, default=False),
    Column("solved_at", UTCDateTime(), nullable=True),
    Column("hints_revealed", Integer, nullable=False, default=0),
    Column("last_code", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Platforms (MOOCs) and their learners' accounts: see runner/identity and docs/embedding.md.
PLATFORM_ID_LENGTH = 64
SUBJECT_LENGTH = 255
TOKEN_HASH_LENGTH = 64  # SHA-256, hex
EVENT_ID_LENGTH = 40

accounts = Table(
    "accounts",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column(
        "learner_id",
        String(LEARNER_ID_LENGTH),
        ForeignKey("learners.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Opaque learner sessions and one-time hand-off codes, stored as SHA-256 hashes only.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(TOKEN_HASH_LENGTH), primary_key=True),
    Column("kind", String(16), nullable=False),  # "session" or "handoff"
    Column("platform_id", String(PLATFORM_ID_LENGTH), nullable=False),
    Column("subject", String(SUBJECT_LENGTH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    ForeignKeyConstraint(
        ["platform_id", "subject"],
        ["accounts.platform_id", "accounts.subject"],
        ondelete="CASCADE",
    ),
)

# Launch tokens' `jti`, kept until the token expires, so that each is used once.
used_tokens = Table(
    "used_tokens",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("jti", String(SUBJECT_LENGTH), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# One counter per platform: the `sequence` of its learners' progress changes (the API's cursor).
platform_sequences = Table(
    "platform_sequences",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)

# Where each (account, exercise) progress row stands in its platform's sequence.
progress_changes = Table(
    "progress_changes",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), primary_key=True),
    Column("sequence", Integer, nullable=False),
    ForeignKeyConstraint(
        ["platform_id", "subject"],
        ["accounts.platform_id", "accounts.subject"],
        ondelete="CASCADE",
    ),
    Index("ix_progress_changes_platform_sequence", "platform_id", "sequence", unique=True),
)

# The persistent outbox of webhook events, written in the progress write's transaction.
outbox = Table(
    "outbox",
    metadata,
    Column("id", String(EVENT_ID_LENGTH), primary_key=True),
    Column("platform_id", String(PLATFORM_ID_LENGTH), nullable=False),
    Column("subject", String(SUBJECT_LENGTH), nullable=False),
    Column("type", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("abandoned_at", UTCDateTime(), nullable=True),
    Index("ix_outbox_due", "next_attempt_at"),
    Index("ix_outbox_subject", "platform_id", "subject"),
)

# Keys the servers share (HMAC keys of learner ids): generated once, kept in the database.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
