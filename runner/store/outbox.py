"""The webhook outbox's queries: due events, delivery outcomes, counts, clean-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.store import ProgressStore
from runner.store.tables import outbox

ERROR_CHARS = 500


@dataclass(frozen=True)
class OutboxEvent:
    id: str
    platform: str
    type: str
    body: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    abandoned: int


class OutboxStore:
    """Events wait with a ``next_attempt_at``; delivered and abandoned ones have none."""

    def __init__(self, store: ProgressStore) -> None:
        self.store = store

    async def due(self, now: datetime, limit: int) -> list[OutboxEvent]:
        query = (
            select(outbox)
            .where(outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
            .limit(limit)
        )
        rows = await self.store.read("outbox_due", query, {})
        return [
            OutboxEvent(
                r["id"], r["platform_id"], r["type"], r["body"], r["created_at"], r["attempts"]
            )
            for r in rows
        ]

    async def next_due(self) -> datetime | None:
        rows = await self.store.read(
            "outbox_next", select(func.min(outbox.c.next_attempt_at).label("at")), {}
        )
        at = rows[0]["at"] if rows else None
        if isinstance(at, str):  # SQLite's MIN() loses the column type
            at = datetime.fromisoformat(at)
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at

    async def delivered(self, event_id: str, now: datetime) -> None:
        await self._set(
            "outbox_delivered",
            event_id,
            delivered_at=now,
            next_attempt_at=None,
            attempts=outbox.c.attempts + 1,
            last_error=None,
        )

    async def failed(self, event_id: str, retry_at: datetime, error: str) -> None:
        await self._set(
            "outbox_failed",
            event_id,
            next_attempt_at=retry_at,
            attempts=outbox.c.attempts + 1,
            last_error=error[:ERROR_CHARS],
        )

    async def abandoned(self, event_id: str, now: datetime, error: str) -> None:
        await self._set(
            "outbox_abandoned",
            event_id,
            abandoned_at=now,
            next_attempt_at=None,
            attempts=outbox.c.attempts + 1,
            last_error=error[:ERROR_CHARS],
        )

    async def _set(self, operation: str, event_id: str, **values: object) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(update(outbox).where(outbox.c.id == event_id).values(**values))

        await self.store.write(operation, work)

    async def counts(self) -> OutboxCounts:
        query = select(
            func.count().filter(outbox.c.next_attempt_at.is_not(None)).label("pending"),
            func.count().filter(outbox.c.abandoned_at.is_not(None)).label("abandoned"),
        )
        row = (await self.store.read("outbox_counts", query, {}))[0]
        return OutboxCounts(int(row["pending"] or 0), int(row["abandoned"] or 0))

    async def purge(self, keep: timedelta, now: datetime) -> int:
        """Delete events delivered or abandoned more than ``keep`` ago (they name learners)."""
        cutoff = now - keep
        finished = and_(
            outbox.c.next_attempt_at.is_(None),
            func.coalesce(outbox.c.delivered_at, outbox.c.abandoned_at) < cutoff,
        )

        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(delete(outbox).where(finished))).rowcount or 0)

        return await self.store.write("outbox_purge", work)
