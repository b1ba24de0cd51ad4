"""A bounded warm pool: per language, containers already started and waiting for their one submission.

A pooled container has never run learner code; ``take`` hands it out once and the pool refills in the
background. Only submissions with the default limits use it (limits are fixed when a container is made).
Its first program is prepared ahead (``programs.prepare_command``): the interpreter boots while the
container waits, and the submission's first run only opens its gate.
The fillers run in the sandbox's task group (``start`` is given its spawner); ``close`` cancels them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio

from runner.sandbox.docker_api import Container, DockerAPI
from runner.sandbox.models import Language, Limits
from runner.sandbox.programs import prepare_command

logger = logging.getLogger(__name__)

RETRY_MIN_S, RETRY_MAX_S = 0.5, 30.0
PING_TIMEOUT_S = 0.5


class Spawner(Protocol):
    """Starts ``fn(*args)`` as background work of its owner; False once the owner is closing."""

    def __call__(self, fn: Callable[..., Awaitable[None]], *args: Any, name: str) -> bool: ...


class WarmPool:
    def __init__(
        self,
        docker: DockerAPI,
        limits: Limits,
        size: int,
        discard: Callable[[Container], object],
        runtime: str,
    ) -> None:
        self._docker = docker
        self._limits = limits
        self._size = size
        self._runtime = runtime  # the program's argv depends on it (programs.program)
        self._discard = discard  # a container the pool gives up: closed and removed for it
        self._ready: dict[Language, deque[Container]] = {lang: deque() for lang in Language}
        self._wanted: dict[Language, anyio.Event] = {}
        self._fillers: list[anyio.CancelScope] = []

    def start(self, spawn: Spawner) -> None:
        """Start one filler per language as the owner's background work."""
        if self._size <= 0:
            return
        for language in Language:
            self._wanted[language] = anyio.Event()
            self._wanted[language].set()
            scope = anyio.CancelScope()
            self._fillers.append(scope)
            spawn(self._fill, language, scope, name=f"pool-{language}")

    async def take(
        self, language: Language, limits: Limits, *, refill_later: bool = False
    ) -> Container | None:
        """A started, never-used container, checked alive (an engine restart kills waiting ones).

        ``refill_later`` (a check, which ends within its time limit): the replacement is started
        by ``refill`` when the session ends, so that its creation (about 80 ms of engine, runc and
        kernel work) does not compete with the check it would only serve the next one after. A
        take that empties the pool, or finds a dead container, still refills at once: a crowd is
        served as before."""
        if limits != self._limits:
            return None
        ready = self._ready[language]
        while ready:
            container = ready.popleft()
            if not refill_later or not ready:
                self._want(language)
            try:
                alive = await _answers(container)
            except BaseException:  # cancelled while asking: the container is nobody's now
                self._discard(container)
                self._want(language)
                raise
            if alive:
                return container
            self._discard(container)
            self._want(language)
        return None

    def refill(self, language: Language) -> None:
        """A session of this language ended: top the pool up, in the background."""
        self._want(language)

    def ready(self) -> dict[str, int]:
        """How many containers wait, by language (for metrics)."""
        return {language.value: len(ready) for language, ready in self._ready.items()}

    def owns(self, container_id: str) -> bool:
        return any(c.id == container_id for ready in self._ready.values() for c in ready)

    async def close(self) -> None:
        """Cancel the fillers (their owner waits for them) and remove the waiting containers."""
        for scope in self._fillers:
            scope.cancel()
        self._fillers.clear()
        for ready in self._ready.values():
            while ready:
                container = ready.popleft()
                container.attachment.close()
                await self._docker.remove(container.id)

    def _want(self, language: Language) -> None:
        wanted = self._wanted.get(language)
        if wanted is not None:
            wanted.set()

    async def _fill(self, language: Language, scope: anyio.CancelScope) -> None:
        delay = RETRY_MIN_S
        with scope:
            while True:
                await self._wanted[language].wait()
                self._wanted[language] = anyio.Event()
                while len(self._ready[language]) < self._size:
                    try:
                        container = await self._launch(language)
                    except (
                        Exception
                    ) as exc:  # whatever broke, the pool must come back with the engine
                        logger.warning(
                            "warm pool (%s): %s; retrying in %.1f s", language, exc, delay
                        )
                        await anyio.sleep(delay)
                        delay = min(delay * 2, RETRY_MAX_S)
                        continue
                    delay = RETRY_MIN_S
                    self._ready[language].append(container)

    async def _launch(self, language: Language) -> Container:
        container = await self._docker.launch(language, self._limits)
        try:
            await container.attachment.send(prepare_command(language, self._limits, self._runtime))
        except BaseException:
            self._discard(container)
            raise
        return container


async def _answers(container: Container) -> bool:
    try:
        with anyio.fail_after(PING_TIMEOUT_S):
            await container.attachment.send({"op": "ping"})
            return await container.attachment.receive() == {"ev": "pong"}
    except (OSError, TimeoutError, ValueError):
        return False
