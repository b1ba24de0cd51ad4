"""A bounded warm pool: per language, containers already started and waiting for their one submission.

A pooled container has never run learner code; ``take`` hands it out once and the pool refills in the
background. Only submissions with the default limits use it (limits are fixed when a container is made).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import anyio

from runner.sandbox.docker_api import Container, DockerAPI
from runner.sandbox.models import Language, Limits

logger = logging.getLogger(__name__)

RETRY_MIN_S, RETRY_MAX_S = 0.5, 30.0
PING_TIMEOUT_S = 0.5


class WarmPool:
    def __init__(self, docker: DockerAPI, limits: Limits, size: int) -> None:
        self._docker = docker
        self._limits = limits
        self._size = size
        self._ready: dict[Language, deque[Container]] = {lang: deque() for lang in Language}
        self._wanted: dict[Language, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._discarding: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._size <= 0:
            return
        for language in Language:
            self._wanted[language] = asyncio.Event()
            self._wanted[language].set()
            self._tasks.append(asyncio.create_task(self._fill(language), name=f"pool-{language}"))

    async def take(self, language: Language, limits: Limits) -> Container | None:
        """A started, never-used container, checked alive (an engine restart kills waiting ones)."""
        if limits != self._limits:
            return None
        ready = self._ready[language]
        while ready:
            container = ready.popleft()
            self._wanted[language].set()
            try:
                alive = await _answers(container)
            except BaseException:  # cancelled while asking: the container is nobody's now
                self._discard(container)
                raise
            if alive:
                return container
            self._discard(container)
        return None

    def _discard(self, container: Container) -> None:
        container.attachment.close()
        task = asyncio.create_task(self._docker.remove(container.id))
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)

    def ready(self) -> dict[str, int]:
        """How many containers wait, by language (for metrics)."""
        return {language.value: len(ready) for language, ready in self._ready.items()}

    def owns(self, container_id: str) -> bool:
        return any(c.id == container_id for ready in self._ready.values() for c in ready)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for ready in self._ready.values():
            while ready:
                container = ready.popleft()
                container.attachment.close()
                await self._docker.remove(container.id)

    async def _fill(self, language: Language) -> None:
        delay = RETRY_MIN_S
        wanted = self._wanted[language]
        while True:
            await wanted.wait()
            wanted.clear()
            while len(self._ready[language]) < self._size:
                try:
                    container = await self._docker.launch(language, self._limits)
                except Exception as exc:  # whatever broke, the pool must come back with the engine
                    logger.warning("warm pool (%s): %s; retrying in %.1f s", language, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                delay = RETRY_MIN_S
                self._ready[language].append(container)


async def _answers(container: Container) -> bool:
    try:
        with anyio.fail_after(PING_TIMEOUT_S):
            await container.attachment.send({"op": "ping"})
            return await container.attachment.receive() == {"ev": "pong"}
    except (OSError, TimeoutError, ValueError):
        return False
