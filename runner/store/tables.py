"""The progress store's schema (SQLAlchemy Core); Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
    text,
)

LEARNER_ID_LENGTH = 32
EXERCISE_ID_LENGTH = 200
SUBMISSION_ID_LENGTH = 64


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
    # For the trainer's space (migration 0006): when the learner first opened the exercise, and,
    # once solved, how many checks and how long (from the first attempt) it took.
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("checks_to_solve", Integer, nullable=True),
    Column("solve_seconds", Integer, nullable=True),
    # Medians by index: ORDER BY … LIMIT 1 OFFSET n/2 walks these, on SQLite and PostgreSQL alike.
    Index("ix_progress_checks_to_solve", "exercise_id", "checks_to_solve"),
    Index("ix_progress_solve_seconds", "exercise_id", "solve_seconds"),
    Index("ix_progress_learner_activity", "learner_id", "last_attempt_at"),
    # The course funnel (migration 0007): every figure it sums, read from the index alone.
    Index("ix_progress_funnel", "exercise_id", "attempts", "solved", "hints_revealed", "opened_at"),
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

# LTI 1.3 (runner/lti, docs/lti.md). A registration's learners are accounts of the platform id
# "lti:<registration id>" (":" never appears in a platforms.toml id), so an LTI learner is an
# account like any other: same sessions, progress feed, export and erasure.
lti_registrations = Table(
    "lti_registrations",
    metadata,
    Column("id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("issuer", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("deployment_ids", Text, nullable=False),  # JSON list of strings
    Column("auth_login_url", Text, nullable=False),
    Column("auth_token_url", Text, nullable=False),
    Column("jwks_url", Text, nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_lti_registrations_client", "issuer", "client_id", unique=True),
)

# The tool's own signing keys (RSA, PEM). Which one signs and which are published follows from
# their creation times (runner/lti/keys.py): a new key is published before it signs.
lti_keys = Table(
    "lti_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Short-lived single-use values, stored hashed: OIDC login states (with their nonce), launch
# tickets (a verified launch waiting for the browser check), registration invitations.
lti_states = Table(
    "lti_states",
    metadata,
    Column("value_hash", String(TOKEN_HASH_LENGTH), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("registration_id", String(PLATFORM_ID_LENGTH), nullable=False),
    Column("data", Text, nullable=False),  # JSON
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# The line item each (account, resource link) reports to, and the best score sent to it.
lti_grades = Table(
    "lti_grades",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("lineitem", String(1024), primary_key=True),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), nullable=False),
    Column("best_given", Integer, nullable=False),
    Column("score_maximum", Integer, nullable=False),
    Column("last_timestamp", UTCDateTime(), nullable=True),
    ForeignKeyConstraint(
        ["platform_id", "subject"],
        ["accounts.platform_id", "accounts.subject"],
        ondelete="CASCADE",
    ),
    Index("ix_lti_grades_exercise", "platform_id", "subject", "exercise_id"),
)

# Who launched which exercise in which LMS context (the instructor's view); no names kept.
lti_members = Table(
    "lti_members",
    metadata,
    Column("platform_id", String(PLATFORM_ID_LENGTH), primary_key=True),
    Column("context_id", String(255), primary_key=True),
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), primary_key=True),
    Column("instructor", Boolean, nullable=False),
    Column("last_launch_at", UTCDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["platform_id", "subject"],
        ["accounts.platform_id", "accounts.subject"],
        ondelete="CASCADE",
    ),
)

# The trainer's space (runner/trainers, docs/guide-formateur.md): every submission, one row.
# ``code`` is emptied after DECODE_ATTEMPT_CODE_DAYS; the row goes with its learner.
attempts = Table(
    "attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "learner_id",
        String(LEARNER_ID_LENGTH),
        ForeignKey("learners.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), nullable=False),
    Column("mode", String(8), nullable=False),  # "check" or "run"
    Column("created_at", UTCDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # a check's status, or a run's outcome
    Column("passed", Integer, nullable=True),
    Column("total", Integer, nullable=True),
    Column("first_failed", Integer, nullable=True),  # index of the first failing test
    Column("error_kind", String(80), nullable=True),  # runner/feedback's category, or the status
    Column("wrong_output", String(200), nullable=True),  # a visible test's output, cut
    Column("code_sha256", String(64), nullable=False),
    Column("code", Text, nullable=True),
    Index("ix_attempts_exercise", "exercise_id", "mode", "first_failed"),
    Index("ix_attempts_exercise_kind", "exercise_id", "mode", "error_kind"),
    Index("ix_attempts_exercise_created", "exercise_id", "created_at"),
    Index("ix_attempts_learner_created", "learner_id", "created_at"),
    # Only the code purge walks attempts by date alone (migration 0007 made it partial): a full
    # index on created_at lured PostgreSQL into scanning millions of newest rows for an early
    # exercise's "recent failures" (ORDER BY created_at DESC LIMIT 10).
    Index(
        "ix_attempts_code_created",
        "created_at",
        sqlite_where=text("code IS NOT NULL"),
        postgresql_where=text("code IS NOT NULL"),
    ),
    # The exercise page's wrong outputs (migration 0007): newest first, read from the index alone.
    Index(
        "ix_attempts_wrong_output",
        "exercise_id",
        "mode",
        "created_at",
        "first_failed",
        "wrong_output",
        sqlite_where=text("wrong_output IS NOT NULL"),
        postgresql_where=text("wrong_output IS NOT NULL"),
    ),
)

# Trainers: e-mail, argon2id password hash, failed logins and lock-out.
trainers = Table(
    "trainers",
    metadata,
    Column("email", String(255), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("last_login_at", UTCDateTime(), nullable=True),
)

# Trainers' sessions (first-party cookie): SHA-256 of the token, and the session's CSRF token.
trainer_sessions = Table(
    "trainer_sessions",
    metadata,
    Column("token_hash", String(TOKEN_HASH_LENGTH), primary_key=True),
    Column("email", String(255), ForeignKey("trainers.email", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# Submission ids a client chose (the `run` message's `submission`, docs/protocol.md): sent again,
# after a node died under it, the submission is not counted twice and its result is recorded once.
# Kept SUBMISSION_KEEP (two days), then purged; they go with their learner.
submissions = Table(
    "submissions",
    metadata,
    Column(
        "learner_id",
        String(LEARNER_ID_LENGTH),
        ForeignKey("learners.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("submission_id", String(SUBMISSION_ID_LENGTH), primary_key=True),
    Column("exercise_id", String(EXERCISE_ID_LENGTH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("result_at", UTCDateTime(), nullable=True),
    Index("ix_submissions_created", "created_at"),
)
