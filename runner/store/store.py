"""ProgressStore: what each learner did on each exercise, in SQLite (default) or PostgreSQL."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    Update,
    bindparam,
    case,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runner.store import revisions
from runner.store.attempts import AttemptLog, insert_attempt
from runner.store.changes import Account, track_change
from runner.store.grades import is_lti, record_grade
from runner.store.tables import UTCDateTime, learners, progress, server_secrets, submissions

logger = logging.getLogger(__name__)

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 5000
SUBMISSION_KEEP = timedelta(days=2)  # a client's submission ids are forgotten after this long
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
# Alembic's one-row table exists once migrated; the statement is portable (SQLite, PostgreSQL).
_TOUCH = text("UPDATE alembic_version SET version_num = version_num")

# Statements built once, with their values bound at execution: SQLAlchemy then reuses their
# compiled form and cache key (building them per call cost about 1,300 Python calls per check).
_NOW = bindparam("now", type_=UTCDateTime())
_ROW = (progress.c.learner_id == bindparam("learner")) & (
    progress.c.exercise_id == bindparam("exercise")
)


def _update_row(**changes: Any) -> Update:
    """UPDATE one learner's row for one exercise, and return it."""
    return update(progress).where(_ROW).values(updated_at=_NOW, **changes).returning(progress)


_GET = select(progress).where(_ROW)
_ATTEMPT = {
    "attempts": progress.c.attempts + 1,
    "first_attempt_at": func.coalesce(progress.c.first_attempt_at, _NOW),
    "last_attempt_at": _NOW,
    "last_code": bindparam("code"),
}
_RECORD_CHECK = _update_row(**_ATTEMPT, checks=progress.c.checks + 1)
_RECORD_RUN = _update_row(**_ATTEMPT, runs=progress.c.runs + 1)
# A solve whose attempt could not be written (a slow database) still counts that attempt.
_RECORD_SOLVED = _update_row(
    solved=True,
    solved_at=func.coalesce(progress.c.solved_at, _NOW),
    attempts=case((progress.c.attempts == 0, 1), else_=progress.c.attempts),
    checks=case((progress.c.checks == 0, 1), else_=progress.c.checks),
    first_attempt_at=func.coalesce(progress.c.first_attempt_at, _NOW),
    last_attempt_at=func.coalesce(progress.c.last_attempt_at, _NOW),
)
_SAVE_CODE = _update_row(last_code=bindparam("code"))
_RECORD_OPENED = _update_row(opened_at=func.coalesce(progress.c.opened_at, _NOW))
_SOLVE_FIGURES = (
    update(progress)
    .where(_ROW & progress.c.checks_to_solve.is_(None))
    .values(checks_to_solve=bindparam("checks_to_solve"), solve_seconds=bindparam("seconds"))
)


def _solve_figures(solved: ExerciseProgress) -> dict[str, int]:
    """How many checks and seconds (from the first attempt) a first solve took."""
    start = solved.first_attempt_at or solved.solved_at
    assert solved.solved_at is not None and start is not None
    return {
        "checks_to_solve": max(1, solved.checks),
        "seconds": max(0, int((solved.solved_at - start).total_seconds())),
    }


_REVEAL_HINT = _update_row(
    hints_revealed=case(
        (
            progress.c.hints_revealed < bindparam("total", type_=Integer()),
            progress.c.hints_revealed + 1,
        ),
        else_=progress.c.hints_revealed,
    )
)


class StoreError(RuntimeError):
    """The database failed; ``operation`` names what the store was doing."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"{operation}: {reason}")
        self.operation = operation
        self.reason = reason


@dataclass(frozen=True)
class ExerciseProgress:
    exercise_id: str
    attempts: int = 0  # checks + runs
    checks: int = 0
    runs: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    solved: bool = False
    solved_at: datetime | None = None
    hints_revealed: int = 0
    last_code: str | None = None
    opened_at: datetime | None = None

    @property
    def status(self) -> str:
        """``todo``, ``started`` or ``solved``: what the pages and the platforms show."""
        if self.solved:
            return "solved"
        started = self.attempts or self.hints_revealed or self.last_code is not None
        return "started" if started else "todo"

    def public(self) -> dict[str, Any]:
        """The progress as platforms see it (API and webhooks): no code."""
        return {
            "exercise": self.exercise_id,
            "status": self.status,
            "attempts": self.attempts,
            "checks": self.checks,
            "runs": self.runs,
            "solved": self.solved,
            "solved_at": iso(self.solved_at),
            "first_attempt_at": iso(self.first_attempt_at),
            "last_attempt_at": iso(self.last_attempt_at),
            "hints_revealed": self.hints_revealed,
        }


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, or None."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


class ProgressStore:
    """Progress per learner and exercise. ``open`` connects and migrates; ``close`` disposes."""

    def __init__(self, url: str, webhook_platforms: frozenset[str] = frozenset()) -> None:
        self._url: URL = _async_url(make_url(url))
        # Platform learners' changes always move in their platform's feed; only these
        # platforms (those with a webhook URL) also get outbox events.
        self.webhook_platforms = webhook_platforms
        self._engine: AsyncEngine | None = None

    @property
    def url(self) -> str:
        """The database's URL, with its driver (another process or node opens the same one)."""
        return self._url.render_as_string(hide_password=False)

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    async def open(self) -> None:
        """Create the engine (and SQLite's directory), then migrate the schema to the head."""
        if self.is_sqlite and self._url.database not in (None, "", ":memory:"):
            folder = Path(str(self._url.database)).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError("open", f"cannot create {folder}: {exc.strerror}") from exc
        # PostgreSQL restarted (a failover, an upgrade): a pooled connection is tested before use
        # and replaced, so the first writes after it are not lost to dead connections.
        self._engine = create_async_engine(self._url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _configure_sqlite)
        await self.migrate()

    async def migrate(self) -> None:
        """Run Alembic's upgrade to head on one connection (sync Alembic through ``run_sync``)."""
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(revisions.upgrade)
        except (SQLAlchemyError, OSError) as exc:  # OSError: asyncpg's connect
            raise StoreError("migrate", str(exc)) from exc

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("use", "the store is not open")
        return self._engine

    async def ping(self) -> bool:
        """Whether the database accepts a write: one committed UPDATE that changes no value."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(_TOUCH)
        except (SQLAlchemyError, StoreError, OSError):
            logger.warning("database ping failed", exc_info=True)
            return False
        return True

    async def secret(self, name: str) -> bytes:
        """A key shared by every server on this database, generated on first use."""
        query = select(server_secrets.c.value).where(server_secrets.c.name == name)
        rows = await self.read("secret", query, {})
        if not rows:
            value, now = secrets.token_hex(32), _now()
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        server_secrets.insert().values(name=name, value=value, created_at=now)
                    )
            except IntegrityError:
                pass  # another server created it first: use theirs
            except (SQLAlchemyError, OSError) as exc:  # OSError: asyncpg's connect
                raise StoreError("secret", str(exc)) from exc
            rows = await self.read("secret", query, {})
        return bytes.fromhex(rows[0]["value"])

    async def learner_exists(self, learner: str) -> bool:
        query = select(learners.c.id).where(learners.c.id == learner)
        return bool(await self.read("learner_exists", query, {}))

    async def register_learner(self, learner: str) -> None:
        await self.write("register_learner", lambda conn: _ensure_learner(conn, learner))

    async def get(self, learner: str, exercise: str) -> ExerciseProgress:
        """The learner's progress on ``exercise`` (all zeros when nothing is recorded)."""
        rows = await self.read("get", _GET, {"learner": learner, "exercise": exercise})
        return progress_of(rows[0]) if rows else ExerciseProgress(exercise)

    async def all_for(self, learner: str) -> dict[str, ExerciseProgress]:
        query = select(progress).where(progress.c.learner_id == learner)
        rows = await self.read("all_for", query, {})
        return {row["exercise_id"]: progress_of(row) for row in rows}

    async def record_attempt(
        self,
        learner: str,
        exercise: str,
        code: str,
        account: Account | None = None,
        check: bool = True,
        submission: str | None = None,
    ) -> ExerciseProgress:
        """Count one submission, a check (``checks``, the page's "Essais") or a run (``runs``,
        "Exécutions"); both count in ``attempts``. Keep its code.

        With an ``account``, the change gets its platform's next sequence number and its webhook
        event, in the same transaction (so does every progress change below). A ``submission``
        id already recorded for this learner is the same submission sent again (after a node
        died under it): not counted again."""
        now = _now()
        statement = _RECORD_CHECK if check else _RECORD_RUN

        async def write(conn: AsyncConnection) -> ExerciseProgress:
            if submission is not None and not await _first_sight(
                conn, learner, exercise, submission, now
            ):
                row = await conn.execute(_GET, {"learner": learner, "exercise": exercise})
                found = row.mappings().first()
                return progress_of(dict(found)) if found else ExerciseProgress(exercise)
            return await self._apply(
                conn, "record_attempt", statement, learner, exercise, account, now, {"code": code}
            )

        return await self.write("record_attempt", write)

    async def record_solved(
        self, learner: str, exercise: str, account: Account | None = None
    ) -> ExerciseProgress:
        """Mark solved; ``solved_at`` keeps the first time."""
        return await self._upsert("record_solved", _RECORD_SOLVED, learner, exercise, account)

    async def save_code(self, learner: str, exercise: str, code: str) -> None:
        """Keep the editor's code: not a progress change (no event)."""
        await self._upsert("save_code", _SAVE_CODE, learner, exercise, None, code=code)

    async def reveal_hint(
        self, learner: str, exercise: str, total: int, account: Account | None = None
    ) -> int:
        """Reveal one more hint, never more than ``total``; returns how many are revealed."""
        if total > 0:
            changed = await self._upsert(
                "reveal_hint", _REVEAL_HINT, learner, exercise, account, total=total
            )
            return changed.hints_revealed
        return (await self.get(learner, exercise)).hints_revealed

    async def _upsert(
        self,
        operation: str,
        statement: Update,
        learner: str,
        exercise: str,
        account: Account | None,
        **values: Any,
    ) -> ExerciseProgress:
        """Run one of the UPDATE … RETURNING statements above; when the row is missing, create
        it (and its learner) first. One statement in the usual case; SQLite (3.35+) and
        PostgreSQL both return rows from an UPDATE, so no dialect-specific upsert is needed."""
        now = _now()

        async def write(conn: AsyncConnection) -> ExerciseProgress:
            return await self._apply(
                conn, operation, statement, learner, exercise, account, now, values
            )

        return await self.write(operation, write)

    async def record_result(
        self,
        learner: str,
        exercise: str,
        passed: int,
        total: int,
        account: Account | None = None,
        log: AttemptLog | None = None,
        submission: str | None = None,
    ) -> ExerciseProgress:
        """A finished check: solved when every test passed (the first time, with how many checks
        and how long it took); its row in the attempt log; for an LMS learner (LTI), a score for
        each line item. One transaction. The result of a ``submission`` id whose result is
        already recorded (the same submission, sent again) adds no log row and no score."""
        now = _now()
        params = {"learner": learner, "exercise": exercise, "now": now}

        async def write(conn: AsyncConnection) -> ExerciseProgress:
            if total > 0 and passed == total:
                result = await self._apply(
                    conn, "record_solved", _RECORD_SOLVED, learner, exercise, account, now, {}
                )
                if result.solved_at == now:
                    await conn.execute(_SOLVE_FIGURES, {**params, **_solve_figures(result)})
            else:
                row = (await conn.execute(_GET, params)).mappings().first()
                result = progress_of(dict(row)) if row else ExerciseProgress(exercise)
            if submission is not None and not await _first_result(conn, learner, submission, now):
                return result
            if log is not None:
                await _ensure_learner(conn, learner)
                await insert_attempt(conn, learner, log, now)
            if account is not None and is_lti(account):
                await record_grade(conn, account, exercise, passed, total, now)
            return result

        return await self.write("record_result", write)

    async def log_attempt(
        self, learner: str, log: AttemptLog, submission: str | None = None
    ) -> None:
        """A run's row in the attempt log (a check's is written by ``record_result``); once per
        ``submission`` id, as a check's."""
        now = _now()

        async def write(conn: AsyncConnection) -> None:
            if submission is not None and not await _first_result(conn, learner, submission, now):
                return
            await _ensure_learner(conn, learner)
            await insert_attempt(conn, learner, log, now)

        await self.write("log_attempt", write)

    async def purge_submissions(self, before: datetime) -> int:
        """Forget submission ids older than ``before`` (nobody resends a submission that late)."""

        async def work(conn: AsyncConnection) -> int:
            gone = await conn.execute(delete(submissions).where(submissions.c.created_at < before))
            return int(gone.rowcount or 0)

        return await self.write("purge_submissions", work)

    async def record_opened(self, learner: str, exercise: str) -> None:
        """The first time a learner opens an exercise (the funnel's first step)."""
        await self._upsert("record_opened", _RECORD_OPENED, learner, exercise, None)

    async def _apply(
        self,
        conn: AsyncConnection,
        operation: str,
        statement: Update,
        learner: str,
        exercise: str,
        account: Account | None,
        now: datetime,
        values: dict[str, Any],
    ) -> ExerciseProgress:
        params = {"learner": learner, "exercise": exercise, "now": now, **values}
        hints = operation == "reveal_hint" and account is not None
        before = await _hints_before(conn, params) if hints else 0
        row = (await conn.execute(statement, params)).mappings().first()
        if row is None:
            await _ensure_learner(conn, learner)
            await conn.execute(progress.insert().values(_initial_row(learner, exercise)))
            row = (await conn.execute(statement, params)).mappings().one()
        result = progress_of(dict(row))
        if account is not None:
            changed, solved_now = _change(operation, result, now, before)
            if changed:
                events = account.platform in self.webhook_platforms
                await track_change(conn, account, result.public(), solved_now, now, events)
        return result

    async def write(self, operation: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction; a concurrent insert of the same row retries once."""
        for attempt in (1, 2):
            try:
                async with self.engine.begin() as conn:
                    return await work(conn)
            except IntegrityError as exc:
                if attempt == 2:
                    raise StoreError(operation, str(exc)) from exc
            except SQLAlchemyError as exc:
                raise StoreError(operation, str(exc)) from exc
            except OSError as exc:  # asyncpg's connect: a server down or restarting
                raise StoreError(operation, f"database unreachable: {exc}") from exc
        raise AssertionError("unreachable")

    async def read(
        self, operation: str, query: Any, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(query, params)
                return [dict(row._mapping) for row in result]
        except SQLAlchemyError as exc:
            raise StoreError(operation, str(exc)) from exc
        except OSError as exc:  # asyncpg's connect: a server down or restarting
            raise StoreError(operation, f"database unreachable: {exc}") from exc


def _change(
    operation: str, result: ExerciseProgress, now: datetime, hints_before: int
) -> tuple[bool, bool]:
    """Whether a write changed the learner's progress, and whether it solved the exercise."""
    if operation == "record_solved":
        solved_now = result.solved_at == now  # solved_at keeps the first time
        return solved_now, solved_now
    if operation == "reveal_hint":
        return result.hints_revealed != hints_before, False  # at the limit: no change
    return True, False  # an attempt always counts


async def _hints_before(conn: AsyncConnection, params: dict[str, Any]) -> int:
    row = (await conn.execute(_GET, params)).mappings().first()
    return int(row["hints_revealed"]) if row is not None else 0


async def _first_sight(
    conn: AsyncConnection, learner: str, exercise: str, submission: str, now: datetime
) -> bool:
    """Record the submission id; False when it was already recorded (a concurrent insert of the
    same id fails on the primary key, and ``write`` retries: then it is found)."""
    mine = (submissions.c.learner_id == learner) & (submissions.c.submission_id == submission)
    if (await conn.execute(select(submissions.c.learner_id).where(mine))).first() is not None:
        return False
    await _ensure_learner(conn, learner)
    await conn.execute(
        submissions.insert().values(
            learner_id=learner, submission_id=submission, exercise_id=exercise, created_at=now
        )
    )
    return True


async def _first_result(
    conn: AsyncConnection, learner: str, submission: str, now: datetime
) -> bool:
    """Mark the submission's result recorded; False when it already was. An id the attempt
    could not record (the database was down then) counts as a first result."""
    mine = (submissions.c.learner_id == learner) & (submissions.c.submission_id == submission)
    marked = await conn.execute(
        update(submissions).where(mine & submissions.c.result_at.is_(None)).values(result_at=now)
    )
    if marked.rowcount:
        return True
    return (await conn.execute(select(submissions.c.learner_id).where(mine))).first() is None


async def _ensure_learner(conn: AsyncConnection, learner: str) -> None:
    found = await conn.execute(select(learners.c.id).where(learners.c.id == learner))
    if found.first() is None:
        await conn.execute(learners.insert().values(id=learner, created_at=_now()))


def _async_url(url: URL) -> URL:
    """``sqlite://`` and ``postgresql://`` get their asyncio drivers; explicit drivers are kept."""
    driver = _ASYNC_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def _initial_row(learner: str, exercise: str) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "exercise_id": exercise,
        "attempts": 0,
        "checks": 0,
        "runs": 0,
        "solved": False,
        "hints_revealed": 0,
        "updated_at": _now(),
    }


def progress_of(row: Any) -> ExerciseProgress:
    return ExerciseProgress(
        exercise_id=row["exercise_id"],
        attempts=row["attempts"],
        checks=row["checks"],
        runs=row["runs"],
        first_attempt_at=row["first_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        solved=bool(row["solved"]),
        solved_at=row["solved_at"],
        hints_revealed=row["hints_revealed"],
        last_code=row["last_code"],
        opened_at=row.get("opened_at"),
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; the busy timeout makes writers wait, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL never corrupts and survives a process crash; only a power cut may lose
    # the last commits. It saves an fsync on every attempt.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
