"""Shared fixtures: test settings with a unique sandbox instance, and a started Sandbox."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from runner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = [
    "fixtures_server",
    "fixtures_platform",
    "fixtures_postgres",
    "fixtures_lti",
    "fixtures_cluster",
]


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
        node_id=instance,
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


# In CI, `make test` installs every component the suite needs, so a test skipped for a missing
# component (Chromium, PostgreSQL, gVisor, Node) means the set-up is broken: fail the run.
_MISSING_COMPONENT_WORDS = ("not installed", "not registered", "are needed", "needs")
_skipped_for_missing: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if any(word in reason for word in _MISSING_COMPONENT_WORDS):
            _skipped_for_missing.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") and _skipped_for_missing and exitstatus == 0:
        print(
            "\nCI: tests skipped because a component is missing:", *_skipped_for_missing, sep="\n  "
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
