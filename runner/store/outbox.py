"""The webhook outbox's queries: due events, delivery outcomes, counts, clean-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEvent]:
        """Take up to ``limit`` due events for one delivery attempt each: their next attempt moves
        ``lease`` ahead in the same transaction, so the other nodes' dispatchers skip them (and
        PostgreSQL's SKIP LOCKED keeps two claims from waiting on each other). An attempt's outcome
        sets the next attempt; a node that dies mid-delivery leaves its events due again once the
        lease is over (at-least-once: receivers deduplicate by event id)."""
        due = (
            select(outbox.c.id)
            .where(outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite has one writer at a time: ignored there
        )
        # One statement: SQLite runs a transaction's SELECT before its write lock is taken.
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()), outbox.c.next_attempt_at <= now)
            .values(next_attempt_at=now + lease)
            .returning(*outbox.c)
        )

        async def work(conn: AsyncConnection) -> list[OutboxEvent]:
            rows = sorted((await conn.execute(claim)).mappings().all(), key=_created)
            return [
                OutboxEvent(
                    r["id"], r["platform_id"], r["type"], r["body"], r["created_at"], r["attempts"]
                )
                for r in rows
            ]

        return await self.store.write("outbox_claim", work)

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


def _created(row: Any) -> tuple[datetime, str]:
    return (row["created_at"], row["id"])
