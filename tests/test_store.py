"""ProgressStore on real SQLite files and, marked ``postgres``, a throwaway PostgreSQL cluster."""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fixtures_server import free_port
from sqlalchemy import event, inspect, text

from runner.store import ExerciseProgress, ProgressStore, StoreError, revisions

pytestmark = pytest.mark.anyio

LEARNER = "a" * 32
OTHER = "b" * 32


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port; yields its base URL (no database name)."""
    initdb = shutil.which("initdb") or _pg_tool("initdb")
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (scripts/bootstrap --postgres)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user and shutil.which("runuser") is None:
        pytest.skip("running as root: initdb needs `runuser` to run as the postgres user")
    try:
        if as_user:
            pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root: initdb needs a `postgres` user, and there is none")
    datadir = Path(tempfile.mkdtemp(prefix="decode-pg-"))
    if as_user:
        shutil.chown(datadir, "postgres")
    port = free_port()
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=60)
    run([*as_user, initdb, "-D", str(datadir), "-A", "trust", "-U", "postgres"])
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    options = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = datadir / "server.log"
    # The server inherits pg_ctl's stdout: no pipe, or run() would wait for the server to exit.
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(datadir), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run([*as_user, pg_ctl, "-D", str(datadir), "-m", "immediate", "stop"])
        shutil.rmtree(datadir, ignore_errors=True)


def _pg_tool(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else None


async def _fresh_postgres_database(base_url: str) -> str:
    import asyncpg

    name = f"progress_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(f"{base_url}/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{base_url}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProgressStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/progress.sqlite3"
    else:
        url = await _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    store = ProgressStore(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_store_open_creates_directory_and_migrates_to_head(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "db.sqlite3"
    store = ProgressStore(f"sqlite+aiosqlite:///{path}")
    await store.open()
    try:
        assert path.exists()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(revisions.current) == revisions.head() == "0002"
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert {"learners", "progress", "alembic_version"} <= tables
        assert mode == "wal"
    finally:
        await store.close()


async def test_store_migrate_twice_is_a_no_op(store: ProgressStore) -> None:
    await store.record_attempt(LEARNER, "ex", "print(1)")
    await store.migrate()
    assert (await store.get(LEARNER, "ex")).attempts == 1


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
