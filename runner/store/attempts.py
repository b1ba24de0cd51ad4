"""The attempt log: one row per submission (check or run), for the trainer's space; and the
dashboard's read queries, each bounded by an index (docs/performance.md has their timings)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, Select, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.tables import accounts, attempts, progress

if TYPE_CHECKING:  # ProgressStore writes attempts itself: no import cycle at run time
    from runner.store.store import ProgressStore

WRONG_OUTPUT_CHARS = 200
# Wrong outputs are counted over the most recent failed checks of an exercise (a sample that
# stays fast on millions of rows; the page says so).
WRONG_OUTPUT_SAMPLE = 20_000


@dataclass(frozen=True)
class AttemptLog:
    """What the log keeps of one submission (built by ``runner/trainers/log.py``)."""

    exercise_id: str
    mode: str
    duration_ms: int
    status: str
    code: str
    passed: int | None = None
    total: int | None = None
    first_failed: int | None = None
    error_kind: str | None = None
    wrong_output: str | None = None


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


async def insert_attempt(
    conn: AsyncConnection, learner: str, log: AttemptLog, now: datetime
) -> None:
    await conn.execute(
        attempts.insert().values(
            learner_id=learner,
            exercise_id=log.exercise_id,
            mode=log.mode,
            created_at=now,
            duration_ms=log.duration_ms,
            status=log.status[:16],
            passed=log.passed,
            total=log.total,
            first_failed=log.first_failed,
            error_kind=log.error_kind[:80] if log.error_kind else None,
            wrong_output=log.wrong_output[:WRONG_OUTPUT_CHARS] if log.wrong_output else None,
            code_sha256=code_hash(log.code),
            code=log.code,
        )
    )


@dataclass(frozen=True)
class FunnelRow:
    exercise_id: str
    opened: int
    attempted: int
    solved: int
    hinted: int


class AttemptStore:
    """The dashboard's queries. Identifiers come from the catalog, values are bound: no text of a
    request ever reaches SQL."""

    def __init__(self, store: ProgressStore) -> None:
        self.store = store

    async def purge_code(self, before: datetime) -> int:
        """Empty the code of attempts older than ``before`` (the log keeps its figures)."""

        async def work(conn: AsyncConnection) -> int:
            done = await conn.execute(
                update(attempts)
                .where(and_(attempts.c.created_at < before, attempts.c.code.is_not(None)))
                .values(code=None)
            )
            return int(done.rowcount or 0)

        return await self.store.write("purge_code", work)

    async def funnel(self) -> list[FunnelRow]:
        opened = (progress.c.opened_at.is_not(None)) | (progress.c.attempts > 0)
        query = select(
            progress.c.exercise_id,
            func.sum(case((opened, 1), else_=0)).label("opened"),
            func.sum(case((progress.c.attempts > 0, 1), else_=0)).label("attempted"),
            func.sum(case((progress.c.solved, 1), else_=0)).label("solved"),
            func.sum(case((progress.c.hints_revealed > 0, 1), else_=0)).label("hinted"),
        ).group_by(progress.c.exercise_id)
        rows = await self.store.read("funnel", query, {})
        return [
            FunnelRow(
                r["exercise_id"],
                int(r["opened"] or 0),
                int(r["attempted"] or 0),
                int(r["solved"] or 0),
                int(r["hinted"] or 0),
            )
            for r in rows
        ]

    async def median(self, exercise_id: str, column: str) -> int | None:
        """The median of ``checks_to_solve`` or ``solve_seconds`` among the exercise's solvers:
        a count, then one row at the middle offset, both walking the (exercise, column) index."""
        value = {
            "checks_to_solve": progress.c.checks_to_solve,
            "solve_seconds": progress.c.solve_seconds,
        }[column]
        where = and_(progress.c.exercise_id == exercise_id, value.is_not(None))
        counted = select(func.count().label("n")).select_from(progress).where(where)
        total = int((await self.store.read("median_count", counted, {}))[0]["n"])
        if total == 0:
            return None
        query = select(value.label("v")).where(where).order_by(value).offset(total // 2).limit(1)
        rows = await self.store.read("median", query, {})
        return int(rows[0]["v"]) if rows else None

    async def failures_by_test(self, exercise_id: str) -> dict[int, int]:
        query = (
            select(attempts.c.first_failed, func.count().label("n"))
            .where(
                and_(
                    attempts.c.exercise_id == exercise_id,
                    attempts.c.mode == "check",
                    attempts.c.first_failed.is_not(None),
                )
            )
            .group_by(attempts.c.first_failed)
        )
        rows = await self.store.read("failures_by_test", query, {})
        return {int(r["first_failed"]): int(r["n"]) for r in rows}

    async def checks_count(self, exercise_id: str) -> int:
        query = (
            select(func.count().label("n"))
            .select_from(attempts)
            .where(and_(attempts.c.exercise_id == exercise_id, attempts.c.mode == "check"))
        )
        return int((await self.store.read("checks_count", query, {}))[0]["n"])

    async def error_kinds(self, exercise_id: str, limit: int = 10) -> list[tuple[str, int]]:
        query = (
            select(attempts.c.error_kind, func.count().label("n"))
            .where(
                and_(
                    attempts.c.exercise_id == exercise_id,
                    attempts.c.mode == "check",
                    attempts.c.error_kind.is_not(None),
                )
            )
            .group_by(attempts.c.error_kind)
            .order_by(func.count().desc())
            .limit(limit)
        )
        rows = await self.store.read("error_kinds", query, {})
        return [(str(r["error_kind"]), int(r["n"])) for r in rows]

    async def wrong_outputs(
        self, exercise_id: str, per_test: int = 5
    ) -> dict[int, list[tuple[str, int]]]:
        """The most frequent wrong outputs of each visible test, among recent failed checks."""
        recent = (
            select(attempts.c.first_failed, attempts.c.wrong_output)
            .where(
                and_(
                    attempts.c.exercise_id == exercise_id,
                    attempts.c.mode == "check",
                    attempts.c.wrong_output.is_not(None),
                )
            )
            .order_by(attempts.c.created_at.desc())
            .limit(WRONG_OUTPUT_SAMPLE)
            .subquery()
        )
        query = (
            select(recent.c.first_failed, recent.c.wrong_output, func.count().label("n"))
            .group_by(recent.c.first_failed, recent.c.wrong_output)
            .order_by(func.count().desc())
        )
        rows = await self.store.read("wrong_outputs", query, {})
        found: dict[int, list[tuple[str, int]]] = {}
        for r in rows:
            bucket = found.setdefault(int(r["first_failed"]), [])
            if len(bucket) < per_test:
                bucket.append((str(r["wrong_output"]), int(r["n"])))
        return found

    async def recent_failures(self, exercise_id: str, limit: int = 10) -> list[dict[str, Any]]:
        query = (
            select(attempts)
            .where(
                and_(
                    attempts.c.exercise_id == exercise_id,
                    attempts.c.mode == "check",
                    attempts.c.status != "passed",
                )
            )
            .order_by(attempts.c.created_at.desc())
            .limit(limit)
        )
        return await self.store.read("recent_failures", query, {})

    async def at_risk(
        self, inactive_since: datetime, limit: int, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Learners active before, none since ``inactive_since``, with an exercise attempted and
        not solved; the longest inactive last."""
        last = func.max(progress.c.last_attempt_at)
        unsolved = func.sum(case((and_(progress.c.attempts > 0, ~progress.c.solved), 1), else_=0))
        grouped = (
            select(
                progress.c.learner_id,
                last.label("last_active"),
                unsolved.label("unsolved"),
                func.sum(case((progress.c.solved, 1), else_=0)).label("solved"),
            )
            .where(progress.c.last_attempt_at.is_not(None))
            .group_by(progress.c.learner_id)
            .having(and_(last < inactive_since, unsolved > 0))
            .order_by(last.desc())
            .limit(limit)
            .offset(offset)
            .subquery()
        )
        query = (
            select(grouped, accounts.c.platform_id, accounts.c.subject)
            .outerjoin(accounts, accounts.c.learner_id == grouped.c.learner_id)
            .order_by(grouped.c.last_active.desc())
        )
        return await self.store.read("at_risk", query, {})

    async def learner_attempts(self, learner: str, limit: int = 500) -> list[dict[str, Any]]:
        query = (
            select(attempts)
            .where(attempts.c.learner_id == learner)
            .order_by(attempts.c.created_at.desc())
            .limit(limit)
        )
        return await self.store.read("learner_attempts", query, {})

    async def account_of(self, learner: str) -> tuple[str, str] | None:
        rows = await self.store.read(
            "account_of",
            select(accounts.c.platform_id, accounts.c.subject).where(
                accounts.c.learner_id == learner
            ),
            {},
        )
        return (rows[0]["platform_id"], rows[0]["subject"]) if rows else None

    async def stream(
        self, query: Select[Any], batch: int = 2000
    ) -> AsyncIterator[Sequence[RowMapping]]:
        """Rows of ``query`` in batches, as the database sends them (a server-side cursor on
        PostgreSQL), so a million rows never sit in memory."""
        async with self.store.engine.connect() as conn:
            result = await conn.stream(query.execution_options(yield_per=batch))
            async for rows in result.mappings().partitions(batch):
                yield rows
