"""A throwaway PostgreSQL cluster for the tests marked ``postgres`` (one per test session), and
fresh databases in it."""

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

import pytest
from fixtures_server import free_port

from runner.store import ProgressStore


@pytest.fixture(scope="session")
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
