"""ProgressStore on real SQLite files and, marked ``postgres``, a throwaway PostgreSQL cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import event, inspect, text

from runner.store import ExerciseProgress, ProgressStore, StoreError, revisions

pytestmark = pytest.mark.anyio

LEARNER = "a" * 32
OTHER = "b" * 32


async def test_store_open_creates_directory_and_migrates_to_head(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "db.sqlite3"
    store = ProgressStore(f"sqlite+aiosqlite:///{path}")
    await store.open()
    try:
        assert path.exists()
        async with store.engine.connect() as conn:
            newest = max(p.name[:4] for p in revisions.SCRIPT_LOCATION.glob("versions/0*.py"))
            assert await conn.run_sync(revisions.current) == revisions.head() == newest
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert {"learners", "progress", "alembic_version"} <= tables
        assert mode == "wal"
    finally:
        await store.close()


async def test_migrations_produce_exactly_the_declared_schema(store: ProgressStore) -> None:
    """tables.py is the schema; the migrations must build the same tables, columns, indexes
    and foreign keys (Alembic's own comparison), on each backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from runner.store.tables import metadata

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return [d for d in compare_metadata(context, metadata) if d[0] != "remove_table"]

    async with store.engine.connect() as conn:
        found = await conn.run_sync(differences)
    assert found == []


async def test_store_migrate_twice_is_a_no_op(store: ProgressStore) -> None:
    await store.record_attempt(LEARNER, "ex", "print(1)")
    await store.migrate()
    assert (await store.get(LEARNER, "ex")).attempts == 1


@pytest.mark.postgres
async def test_nodes_starting_together_migrate_once(postgres_server: str) -> None:
    """A cluster's nodes open one fresh PostgreSQL database at the same moment: one migrates
    (under an advisory lock), the others wait and find the schema at its head."""
    from fixtures_postgres import fresh_postgres_database

    url = await fresh_postgres_database(postgres_server)
    nodes = [ProgressStore(url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as tasks:
            for node in nodes:
                tasks.start_soon(node.open)
        async with nodes[0].engine.connect() as conn:
            assert await conn.run_sync(revisions.current) == revisions.head()
        await nodes[1].record_attempt(LEARNER, "ex", "print(1)")
        assert (await nodes[3].get(LEARNER, "ex")).attempts == 1
    finally:
        for node in nodes:
            await node.close()


async def test_store_get_unknown_is_empty(store: ProgressStore) -> None:
    assert await store.get(LEARNER, "nothing") == ExerciseProgress("nothing")
    assert await store.all_for(LEARNER) == {}


async def test_store_record_attempt_counts_and_keeps_last_code(store: ProgressStore) -> None:
    first = await store.record_attempt(LEARNER, "ex", "print(1)")
    second = await store.record_attempt(LEARNER, "ex", "print(2)")
    assert (first.attempts, second.attempts) == (1, 2)
    assert second.last_code == "print(2)"
    assert first.first_attempt_at is not None and first.first_attempt_at.tzinfo is not None
    assert second.first_attempt_at == first.first_attempt_at
    assert second.last_attempt_at is not None and second.last_attempt_at >= first.first_attempt_at
    assert not second.solved


async def test_store_record_solved_keeps_first_solve_time(store: ProgressStore) -> None:
    await store.record_attempt(LEARNER, "ex", "x")
    first = await store.record_solved(LEARNER, "ex")
    again = await store.record_solved(LEARNER, "ex")
    assert first.solved and first.solved_at is not None
    assert again.solved_at == first.solved_at


async def test_store_reveal_hint_stops_at_total(store: ProgressStore) -> None:
    counts = [await store.reveal_hint(LEARNER, "ex", total=2) for _ in range(4)]
    assert counts == [1, 2, 2, 2]
    assert await store.reveal_hint(LEARNER, "none", total=0) == 0


async def test_store_save_code_does_not_count_an_attempt(store: ProgressStore) -> None:
    await store.save_code(LEARNER, "ex", "draft")
    progress = await store.get(LEARNER, "ex")
    assert (progress.attempts, progress.last_code) == (0, "draft")


async def test_store_learners_are_separate(store: ProgressStore) -> None:
    await store.record_attempt(LEARNER, "ex", "mine")
    await store.record_attempt(OTHER, "other-ex", "theirs")
    assert set(await store.all_for(LEARNER)) == {"ex"}
    assert (await store.all_for(OTHER))["other-ex"].last_code == "theirs"


async def test_store_concurrent_attempts_are_all_counted(store: ProgressStore) -> None:
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(store.record_attempt, LEARNER, "ex", f"print({i})")
    assert (await store.get(LEARNER, "ex")).attempts == 20


async def test_store_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3"
    first = ProgressStore(url)
    await first.open()
    await first.record_attempt(LEARNER, "ex", "kept")
    await first.record_solved(LEARNER, "ex")
    await first.close()
    second = ProgressStore(url)
    await second.open()
    try:
        progress = await second.get(LEARNER, "ex")
        assert (progress.attempts, progress.solved, progress.last_code) == (1, True, "kept")
    finally:
        await second.close()


async def test_store_ping_and_errors_when_closed(tmp_path: Path) -> None:
    store = ProgressStore(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3")
    assert not await store.ping()
    with pytest.raises(StoreError):
        await store.get(LEARNER, "ex")
    await store.open()
    assert await store.ping()
    await store.close()


async def test_store_ping_writes_nothing_and_fails_on_a_read_only_database(
    store: ProgressStore,
) -> None:
    await store.record_attempt(LEARNER, "ex", "kept")
    assert await store.ping()
    async with store.engine.connect() as conn:
        assert await conn.run_sync(revisions.current) == revisions.head()
    await _make_read_only(store)
    assert (
        await store.get(LEARNER, "ex")
    ).last_code == "kept"  # reads still work: SELECT 1 would pass
    assert not await store.ping()


async def _make_read_only(store: ProgressStore) -> None:
    """New connections can read but not write (a read-only replica, a read-only file)."""
    if store.is_sqlite:
        event.listen(store.engine.sync_engine, "connect", _query_only)
    else:
        name = store.engine.url.database
        async with store.engine.begin() as conn:
            await conn.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
    await store.engine.dispose()


def _query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


async def test_store_translates_database_errors(tmp_path: Path) -> None:
    store = ProgressStore(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3")
    await store.open()
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP TABLE progress"))
        with pytest.raises(StoreError) as info:
            await store.record_attempt(LEARNER, "ex", "x")
        assert info.value.operation == "record_attempt"
    finally:
        await store.close()


async def test_store_solved_without_a_recorded_attempt_counts_one(store: ProgressStore) -> None:
    """The attempt write can time out (a locked database) while the solve gets through."""
    solved = await store.record_solved(LEARNER, "ex")
    assert (solved.solved, solved.attempts) == (True, 1)
    assert solved.first_attempt_at is not None
    again = await store.record_attempt(LEARNER, "ex", "x")
    assert again.attempts == 2


async def test_store_counts_checks_and_runs_apart(store: ProgressStore) -> None:
    await store.record_attempt(LEARNER, "ex", "a", check=False)
    await store.record_attempt(LEARNER, "ex", "b", check=False)
    counted = await store.record_attempt(LEARNER, "ex", "c", check=True)
    assert (counted.attempts, counted.checks, counted.runs) == (3, 1, 2)


async def test_a_submission_sent_again_is_counted_once(store: ProgressStore) -> None:
    """A client resends a submission (same id) after the node under it died: its attempt and
    its result are recorded once, whichever node runs it again; another id counts anew."""
    from sqlalchemy import func, select

    from runner.store.attempts import AttemptLog
    from runner.store.tables import attempts

    log = AttemptLog("ex", "check", 40, "passed", "print(1)", 3, 3)
    for _ in range(3):  # the first node, then two resends
        await store.record_attempt(LEARNER, "ex", "print(1)", submission="sub-0001")
        await store.record_result(LEARNER, "ex", 3, 3, None, log, submission="sub-0001")
    run_log = AttemptLog("ex", "run", 40, "ok", "print(3)")
    for _ in range(2):  # a run (mode run) resent: one log row too
        await store.record_attempt(LEARNER, "ex", "print(3)", check=False, submission="run-0001")
        await store.log_attempt(LEARNER, run_log, submission="run-0001")
    await store.record_attempt(LEARNER, "ex", "print(2)", submission="sub-0002")
    await store.record_attempt(
        OTHER, "ex", "print(1)", submission="sub-0001"
    )  # ids are per learner
    progress = await store.get(LEARNER, "ex")
    assert (progress.attempts, progress.checks, progress.solved) == (3, 2, True)
    assert (await store.get(OTHER, "ex")).attempts == 1
    async with store.engine.connect() as conn:
        count = select(func.count()).select_from(attempts).where(attempts.c.learner_id == LEARNER)
        assert (await conn.execute(count)).scalar() == 2  # one row for sub-0001, one for run-0001


async def test_the_same_submission_at_once_on_two_nodes_counts_once(store: ProgressStore) -> None:
    """Two nodes record the same new id at the same moment: the primary key refuses the second
    insert, the write retries and finds it."""
    other = ProgressStore(store.url)
    await other.open()
    try:
        async with anyio.create_task_group() as tasks:
            for node in (store, other, store, other):
                tasks.start_soon(node.record_attempt, LEARNER, "ex", "x", None, True, "same-id-1")
        assert (await store.get(LEARNER, "ex")).attempts == 1
    finally:
        await other.close()


async def test_submission_ids_are_purged_after_their_keep(store: ProgressStore) -> None:
    from datetime import UTC, datetime, timedelta

    await store.record_attempt(LEARNER, "ex", "x", submission="old-sub-1")
    assert await store.purge_submissions(datetime.now(UTC) - timedelta(days=2)) == 0
    assert await store.purge_submissions(datetime.now(UTC) + timedelta(seconds=1)) == 1
    await store.record_attempt(LEARNER, "ex", "x", submission="old-sub-1")  # forgotten: counted
    assert (await store.get(LEARNER, "ex")).attempts == 2


async def test_an_unreachable_postgresql_is_a_store_error() -> None:
    """asyncpg's refused connection is an OSError, not SQLAlchemy's: it must still be a
    StoreError (the server then says the progress is unavailable, and stays up)."""
    from runner.cli.postgres import free_port

    store = ProgressStore(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(StoreError, match="migrate"):
        await store.open()
    await store.close()
