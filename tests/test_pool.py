"""The warm pool against the real engine: bounded, single-use, drained on close, self-healing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from runner.sandbox import (
    Finished,
    Language,
    Limits,
    Outcome,
    Run,
    RunFinished,
    RunStarted,
    Sandbox,
    Submission,
)
from runner.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

POOL = 2
HELLO = Submission(Language.PYTHON, "print('bonjour')", (Run(stdin=""),), Limits())


@pytest.fixture
async def pooled(settings: Settings) -> AsyncIterator[Sandbox]:
    box = Sandbox(settings.replace(pool_size=POOL))
    await box.start()
    try:
        yield box
    finally:
        await box.close()


def instance_containers(docker_client, instance: str) -> set[str]:
    """Running containers of this instance (one listing call: no race with removals)."""
    found = docker_client.api.containers(filters={"label": f"decode-runner.node={instance}"})
    return {c["Id"] for c in found if c["State"] == "running"}


async def wait_for(predicate, timeout: float = 20.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.1)


async def run(box: Sandbox, submission: Submission = HELLO) -> tuple[str, list[object]]:
    async with box.session(submission) as session:
        events = [event async for event in session]
        assert session.container_id is not None
        return session.container_id, events


async def test_pool_fills_to_its_bound_and_no_further(
    pooled: Sandbox, docker_client, instance: str
) -> None:
    await wait_for(
        lambda: len(instance_containers(docker_client, instance)) == POOL * len(Language)
    )
    await anyio.sleep(1.5)
    assert len(instance_containers(docker_client, instance)) == POOL * len(Language)


async def test_a_submission_takes_a_pooled_container_once(
    pooled: Sandbox, docker_client, instance: str
) -> None:
    full = POOL * len(Language)
    await wait_for(lambda: len(instance_containers(docker_client, instance)) == full)
    warm = instance_containers(docker_client, instance)
    first, events = await run(pooled)
    assert first in warm  # how fast that is, the benchmark measures
    assert isinstance(events[-1], Finished) and events[-1].outcome is Outcome.OK
    second, _ = await run(pooled)
    assert second != first  # never reused
    await wait_for(lambda: first not in instance_containers(docker_client, instance))
    # It refills with new containers, back to the bound.
    await wait_for(lambda: len(instance_containers(docker_client, instance)) == full)
    assert first not in instance_containers(docker_client, instance)


async def test_a_check_refills_the_pool_when_it_ends_an_interactive_run_at_once(
    pooled: Sandbox, docker_client, instance: str
) -> None:
    """A check's replacement container is started when the check ends (its creation would
    compete with the check for the CPU); an interactive run, which may last minutes, and a take
    that empties the pool, refill at once. Observed on the filler's wake-up event itself, so the
    test waits on no clock."""
    full = POOL * len(Language)
    await wait_for(lambda: len(instance_containers(docker_client, instance)) == full)
    await wait_for(lambda: not pooled.pool._wanted[Language.PYTHON].is_set())  # idle filler
    wanted = pooled.pool._wanted

    async with pooled.session(HELLO) as session:
        events = [event async for event in session]
        assert isinstance(events[-1], Finished)
        assert not wanted[Language.PYTHON].is_set()  # taken, not yet asked to refill
        assert pooled.pool.ready()["python"] == POOL - 1
    assert wanted[Language.PYTHON].is_set() or pooled.pool.ready()["python"] == POOL  # released
    await wait_for(lambda: pooled.pool.ready()["python"] == POOL)

    await wait_for(lambda: not wanted[Language.PYTHON].is_set())
    interactive = Submission(Language.PYTHON, "print(input())", (Run(stdin=None),), Limits())
    async with pooled.session(interactive) as session:
        async for event in session:
            if isinstance(event, RunStarted):  # refilled while the program waits for input
                await wait_for(lambda: pooled.pool.ready()["python"] == POOL)
                await session.close_stdin()
    await wait_for(lambda: pooled.pool.ready()["python"] == POOL)


async def test_other_limits_bypass_the_pool(pooled: Sandbox, docker_client, instance: str) -> None:
    await wait_for(
        lambda: len(instance_containers(docker_client, instance)) == POOL * len(Language)
    )
    warm = instance_containers(docker_client, instance)
    custom = Submission(Language.PYTHON, "print(1)", (Run(stdin=""),), Limits(memory_mib=128))
    container, events = await run(pooled, custom)
    assert container not in warm
    assert [e.stdout for e in events if isinstance(e, RunFinished)] == ["1\n"]


async def test_pool_is_drained_on_close(settings: Settings, docker_client, instance: str) -> None:
    box = Sandbox(settings.replace(pool_size=POOL))
    await box.start()
    await wait_for(
        lambda: len(instance_containers(docker_client, instance)) == POOL * len(Language)
    )
    await box.close()
    assert (
        docker_client.containers.list(all=True, filters={"label": f"decode-runner.node={instance}"})
        == []
    )


async def test_pool_recovers_when_its_containers_die(
    pooled: Sandbox, docker_client, instance: str
) -> None:
    """What an engine restart does to a pool: every waiting container is gone at once."""
    full = POOL * len(Language)
    await wait_for(lambda: len(instance_containers(docker_client, instance)) == full)
    dead = instance_containers(docker_client, instance)
    for container_id in dead:
        docker_client.containers.get(container_id).kill()
    container, events = await run(pooled)
    assert container not in dead
    assert isinstance(events[-1], Finished) and events[-1].outcome is Outcome.OK
    await wait_for(lambda: len(instance_containers(docker_client, instance) - dead) >= POOL)
