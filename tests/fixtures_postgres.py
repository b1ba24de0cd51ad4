"""A throwaway PostgreSQL cluster for the tests marked ``postgres`` (one per test session), and
fresh databases in it."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from runner.cli.postgres import ClusterError, LocalPostgres, free_port
from runner.store import ProgressStore


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port; yields its base URL (no database name)."""
    try:
        server = LocalPostgres(Path(tempfile.mkdtemp(prefix="decode-pg-")), free_port())
    except ClusterError as exc:
        pytest.skip(str(exc))
    server.init()
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop("immediate")
        shutil.rmtree(server.datadir, ignore_errors=True)


async def fresh_postgres_database(base_url: str) -> str:
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
        url = await fresh_postgres_database(request.getfixturevalue("postgres_server"))
    store = ProgressStore(url, webhook_platforms=frozenset({"mooc"}))
    await store.open()
    try:
        yield store
    finally:
        await store.close()
