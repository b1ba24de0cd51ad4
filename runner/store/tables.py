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
    Column("first_attempt_at", UTCDateTime(), nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("solved", Boolean, nullable=False, default=False),
    Column("solved_at", UTCDateTime(), nullable=True),
    Column("hints_revealed", Integer, nullable=False, default=0),
    Column("last_code", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)
