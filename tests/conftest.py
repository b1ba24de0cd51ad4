"""Shared fixtures: test settings with a unique sandbox instance, and a started Sandbox."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from runner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["fixtures_server"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def instance() -> str:
    """A label value unique to this test session, so parallel suites never reap each other."""
    return f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def settings(instance: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {},
        instance=instance,
        exercises_dir=ROOT / "exercises",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3",
        pool_size=0,
    )


@pytest.fixture
async def sandbox(settings: Settings) -> AsyncIterator[object]:
    from runner.sandbox import Sandbox

    box = Sandbox(settings)
    await box.start()
    try:
        yield box
    finally:
        await box.close()


@pytest.fixture
def docker_client() -> Iterator[object]:
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()
