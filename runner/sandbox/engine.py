"""The Sandbox: owns the engine's containers (pool, removals, reaping); its sessions run submissions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

from runner.sandbox.docker_api import Container, DockerAPI
from runner.sandbox.errors import SandboxUnavailable
from runner.sandbox.models import Language, Limits, Submission
from runner.sandbox.pool import WarmPool
from runner.sandbox.session import Session
from runner.settings import Settings

logger = logging.getLogger(__name__)


class Sandbox:
    """Runs submissions in fresh containers. ``start()`` before use, ``close()`` after.

    The sandbox owns one task group for its background work (the warm pool's fillers, container
    removals): ``start()`` enters it and ``close()`` leaves it, so both must be called from the same
    task at the same cancel-scope nesting, as for any anyio task group: ``await sandbox.start()``,
    then ``try: … finally: await sandbox.close()`` (or ``async with sandbox``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.docker = DockerAPI(settings)
        self.pool = WarmPool(
            self.docker,
            Limits.defaults(settings),
            settings.pool_size,
            self._remove_soon,
            settings.sandbox_runtime,
        )
        self._live: set[str] = set()
        self._tasks: TaskGroup | None = None
        self._running = 0  # background tasks not finished yet
        self._settled: anyio.Event | None = None  # set when _running falls back to 0

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._tasks = tasks
        try:
            removed = await self.reap()
        except SandboxUnavailable as exc:
            logger.error("sandbox engine unavailable at start-up: %s", exc)
        else:
            if removed:
                logger.warning(
                    "removed %d orphan container(s) of node %r", removed, self.settings.node_id
                )
        self.pool.start(self._spawn)

    async def close(self) -> None:
        """Stop the pool, wait for every pending removal, remove what is left; idempotent."""
        tasks, self._tasks = self._tasks, None  # from now on, removals happen inline
        with anyio.CancelScope(shield=True):
            await self.pool.close()
            if self._settled is not None:
                await self._settled.wait()
        if tasks is not None:
            await tasks.__aexit__(None, None, None)  # nothing runs in it any more: at once
        with anyio.CancelScope(shield=True):
            for container_id in list(self._live):
                await self._remove(container_id)
            self.docker.close()

    async def reap(self) -> int:
        """Remove every container of this node left by an earlier process."""
        ids = [
            i for i in await self.docker.list_ids() if i not in self._live and not self.pool.owns(i)
        ]
        for container_id in ids:
            await self.docker.remove(container_id)
        return len(ids)

    async def health(self) -> dict[str, Any]:
        try:
            engine = await self.docker.ping()
            images = {lang.value: await self.docker.image_present(lang) for lang in Language}
            detail = ""
        except SandboxUnavailable as exc:
            engine, images, detail = False, {lang.value: False for lang in Language}, str(exc)
        return {"engine": engine, "images": images, "detail": detail}

    @property
    def busy(self) -> int:
        return len(self._live)

    @asynccontextmanager
    async def session(self, submission: Submission) -> AsyncIterator[Session]:
        session = Session(self, submission)
        try:
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                await session.release()

    async def _acquire(
        self, language: Language, limits: Limits, *, refill_later: bool = False
    ) -> Container:
        container = await self.pool.take(
            language, limits, refill_later=refill_later
        ) or await self.docker.launch(language, limits)
        self._live.add(container.id)
        return container

    async def _release(self, container: Container) -> None:
        if not self._remove_soon(container):
            await self._remove(container.id)
        self.pool.refill(container.language)

    def _remove_soon(self, container: Container) -> bool:
        """Close the streams now; kill and remove in the background, off the learner's critical
        path. False when the background work is closed: the caller removes it, or close() does."""
        container.attachment.close()
        self._live.add(container.id)
        return self._spawn(self._remove, container.id, name=f"remove {container.id[:12]}")

    async def _remove(self, container_id: str) -> None:
        await self.docker.remove(container_id)
        self._live.discard(container_id)

    def _spawn(self, fn: Callable[..., Awaitable[None]], *args: Any, name: str) -> bool:
        """Start ``fn(*args)`` in the background task group; False once it is closed."""
        if self._tasks is None:
            return False
        if self._running == 0:
            self._settled = anyio.Event()
        self._running += 1
        self._tasks.start_soon(self._logged, fn, args, name, name=name)
        return True

    async def _logged(
        self, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...], name: str
    ) -> None:
        """One background task: a failure is logged here, never raised into the task group (it
        would cancel the group and, with it, the task that started the sandbox)."""
        try:
            await fn(*args)
        except Exception:
            logger.exception("sandbox background task failed: %s", name)
        finally:
            self._running -= 1
            if self._running == 0 and self._settled is not None:
                self._settled.set()
