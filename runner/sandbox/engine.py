"""The Sandbox: turns a Submission into a stream of events from one throwaway container."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from runner.sandbox.docker_api import Container, DockerAPI, SandboxUnavailable
from runner.sandbox.models import (
    Event,
    Finished,
    Language,
    Limits,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Submission,
)
from runner.sandbox.pool import WarmPool
from runner.settings import Settings

logger = logging.getLogger(__name__)

HARNESS_GRACE_S = 3.0  # beyond a run's own limit, before the host gives up on the harness
_PROGRAMS = {
    Language.PYTHON: ("main.py", ["/usr/bin/python3", "-u", "/tmp/main.py"]),
    Language.JAVASCRIPT: ("main.js", ["/usr/bin/node", "/tmp/main.js"]),
}


class Sandbox:
    """Runs submissions in fresh containers. ``start()`` before use, ``close()`` after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.docker = DockerAPI(settings)
        self.pool = WarmPool(self.docker, Limits.defaults(settings), settings.pool_size)
        self._live: set[str] = set()
        self._removals: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            removed = await self.reap()
        except SandboxUnavailable as exc:
            logger.error("sandbox engine unavailable at start-up: %s", exc)
        else:
            if removed:
                logger.warning(
                    "removed %d orphan container(s) of instance %r", removed, self.settings.instance
                )
        await self.pool.start()

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.pool.close()
            await asyncio.gather(*self._removals, return_exceptions=True)
            for container_id in list(self._live):
                await self.docker.remove(container_id)
            self.docker.close()

    async def reap(self) -> int:
        """Remove every container of this instance left by an earlier process."""
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

    async def _acquire(self, language: Language, limits: Limits) -> Container:
        container = self.pool.take(language, limits) or await self.docker.launch(language, limits)
        self._live.add(container.id)
        return container

    async def _release(self, container: Container) -> None:
        """Close the streams now; kill and remove in the background, off the learner's critical path."""
        container.attachment.close()
        task = asyncio.create_task(self._remove(container.id))
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    async def _remove(self, container_id: str) -> None:
        await self.docker.remove(container_id)
        self._live.discard(container_id)


class Session:
    """One submission's life: iterate it for events; feed stdin; stop it."""

    def __init__(self, sandbox: Sandbox, submission: Submission) -> None:
        self._sandbox = sandbox
        self._submission = submission
        self._container: Container | None = None
        self._stopped = False
        self._interactive = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def send_stdin(self, data: str) -> None:
        if self._container is not None and self._interactive:
            await self._container.attachment.send({"op": "stdin", "data": data})

    async def close_stdin(self) -> None:
        if self._container is not None and self._interactive:
            await self._container.attachment.send({"op": "eof"})

    @property
    def running(self) -> bool:
        return self._container is not None

    @property
    def accepts_stdin(self) -> bool:
        return self._container is not None and self._interactive

    async def stop(self) -> None:
        """End the submission at once: the container is killed, the stream ends with STOPPED."""
        self._stopped = True
        if self._container is not None:
            await self._sandbox.docker.kill(self._container.id)

    async def release(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            await self._sandbox._release(container)

    async def _events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        sub = self._submission
        try:
            self._container = await self._sandbox._acquire(sub.language, sub.limits)
        except SandboxUnavailable as exc:
            yield Finished(Outcome.UNAVAILABLE, None, 0.0, 0, detail=str(exc))
            return
        worst: RunFinished | None = None
        completed = 0
        for index, run in enumerate(sub.runs):
            if self._stopped:
                break
            result: RunFinished | None = None
            async for event in self._run(index, run):
                yield event
                if isinstance(event, RunFinished):
                    result = event
            if result is None:
                break
            completed += 1
            if worst is None and result.outcome is not Outcome.OK:
                worst = result
            if result.exit_code is None:  # the container is gone: nothing more can run
                break
        outcome = Outcome.STOPPED if self._stopped else (worst.outcome if worst else Outcome.OK)
        last_code = worst.exit_code if worst else 0
        elapsed = (time.monotonic() - started) * 1000
        yield Finished(outcome, last_code, round(elapsed, 1), completed)

    async def _run(self, index: int, run: Run) -> AsyncIterator[Event]:
        assert self._container is not None
        sub = self._submission
        attachment = self._container.attachment
        time_s = min(run.time_s or sub.limits.time_s, self._sandbox.settings.max_time_limit_s)
        file, argv = _PROGRAMS[sub.language]
        if sub.language is Language.JAVASCRIPT:
            argv = [argv[0], f"--max-old-space-size={sub.limits.memory_mib * 3 // 4}", *argv[1:]]
        if self._sandbox.settings.sandbox_runtime == "runsc":
            # gVisor's pids cgroup counts the sentry's threads, not the learner's processes:
            # the process limit is enforced inside the sandbox's own kernel instead.
            argv = ["/usr/bin/prlimit", f"--nproc={sub.limits.pids}", "--", *argv]
        self._interactive = run.stdin is None
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        started = time.monotonic()
        await attachment.send(
            {
                "op": "run",
                "index": index,
                "code": sub.code,
                "file": file,
                "argv": argv,
                "stdin": run.stdin,
                "timeout": time_s,
                "output_bytes": sub.limits.output_bytes,
            }
        )
        deadline = anyio.current_time() + time_s + HARNESS_GRACE_S
        timed_out = False
        try:
            while True:
                # The scope must not span a yield: one short scope per receive.
                with anyio.move_on_after(deadline - anyio.current_time()) as watchdog:
                    event = await attachment.receive()
                if watchdog.cancelled_caught:
                    timed_out = True
                    break
                if event is None:
                    break
                kind = event.get("ev")
                if kind == "start":
                    yield RunStarted(index)
                elif kind == "out":
                    out[event["stream"]].append(event["data"])
                    yield Output(index, event["stream"], event["data"])
                elif kind == "exit":
                    outcome = Outcome.STOPPED if self._stopped else Outcome(event["outcome"])
                    yield RunFinished(
                        index,
                        outcome,
                        event["code"],
                        event["ms"],
                        "".join(out["stdout"]),
                        "".join(out["stderr"]),
                    )
                    return
        finally:
            self._interactive = False
        # The harness is gone (container killed, OOM of PID 1, stop) or hung past its grace.
        if timed_out:
            outcome = Outcome.TIMEOUT
        elif self._stopped:
            outcome = Outcome.STOPPED
        elif await self._sandbox.docker.oom_killed(self._container.id):
            outcome = Outcome.MEMORY
        else:
            outcome = Outcome.ERROR
            logger.warning("sandbox harness ended early: %s", attachment.harness_stderr[-2000:])
        await self._sandbox.docker.kill(self._container.id)
        elapsed = round((time.monotonic() - started) * 1000, 1)
        yield RunFinished(
            index, outcome, None, elapsed, "".join(out["stdout"]), "".join(out["stderr"])
        )
