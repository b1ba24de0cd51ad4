"""The Sandbox: turns a Submission into a stream of events from one throwaway container."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
from anyio.abc import TaskGroup

from runner.sandbox.attach import Attachment, HarnessProtocolError
from runner.sandbox.docker_api import Container, DockerAPI
from runner.sandbox.errors import SandboxUnavailable
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
    Stream,
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
            self.docker, Limits.defaults(settings), settings.pool_size, self._remove_soon
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
                    "removed %d orphan container(s) of instance %r", removed, self.settings.instance
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
        container = await self.pool.take(language, limits) or await self.docker.launch(
            language, limits
        )
        self._live.add(container.id)
        return container

    async def _release(self, container: Container) -> None:
        if not self._remove_soon(container):
            await self._remove(container.id)

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
    def container_id(self) -> str | None:
        """The container this session runs in, once it has one (for logs and tests)."""
        return None if self._container is None else self._container.id

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
            if result.exit_code is None:  # the container is gone (or unfit): nothing more can run
                break
        outcome = Outcome.STOPPED if self._stopped else (worst.outcome if worst else Outcome.OK)
        last_code = worst.exit_code if worst else 0
        elapsed = (time.monotonic() - started) * 1000
        yield Finished(outcome, last_code, round(elapsed, 1), completed)

    async def _run(self, index: int, run: Run) -> AsyncIterator[Event]:
        assert self._container is not None
        attachment = self._container.attachment
        command = self._run_command(index, run)
        collected = _Collected(index, self._submission.limits.output_bytes)
        deadline = anyio.current_time() + command["timeout"] + HARNESS_GRACE_S
        self._interactive = run.stdin is None
        broken: str | None = None
        try:
            await attachment.send(command)
            while (message := await _receive_before(attachment, deadline)) is not None:
                event = collected.translate(message)
                if isinstance(event, RunFinished):
                    yield replace(event, outcome=Outcome.STOPPED) if self._stopped else event
                    return
                yield event
        except TimeoutError:
            broken = "timeout"
        except (HarnessProtocolError, ValueError, KeyError, TypeError) as exc:
            broken = "protocol"
            logger.warning("sandbox harness broke its protocol (%s): killing the container", exc)
        finally:
            self._interactive = False
        # The harness is gone (container killed, OOM of PID 1, stop), hung past its grace, or lied.
        yield await self._end_early(collected, broken)

    def _run_command(self, index: int, run: Run) -> dict[str, Any]:
        sub = self._submission
        time_s = min(run.time_s or sub.limits.time_s, self._sandbox.settings.max_time_limit_s)
        file, argv = _PROGRAMS[sub.language]
        if sub.language is Language.JAVASCRIPT:
            argv = [argv[0], f"--max-old-space-size={sub.limits.memory_mib * 3 // 4}", *argv[1:]]
        if self._sandbox.settings.sandbox_runtime == "runsc":
            # gVisor's pids cgroup counts the sentry's threads, not the learner's processes:
            # the process limit is enforced inside the sandbox's own kernel instead.
            argv = ["/usr/bin/prlimit", f"--nproc={sub.limits.pids}", "--", *argv]
        return {
            "op": "run",
            "index": index,
            "code": sub.code,
            "file": file,
            "argv": argv,
            "stdin": run.stdin,
            "timeout": time_s,
            "output_bytes": sub.limits.output_bytes,
        }

    async def _end_early(self, collected: _Collected, broken: str | None) -> RunFinished:
        assert self._container is not None
        if broken == "timeout":
            outcome = Outcome.TIMEOUT
        elif self._stopped:
            outcome = Outcome.STOPPED
        elif broken is None and await self._sandbox.docker.oom_killed(self._container.id):
            outcome = Outcome.MEMORY
        elif broken == "protocol":  # only learner code forges harness messages (gVisor)
            outcome = Outcome.ERROR
        else:  # the container was killed from outside or vanished: not the learner's doing
            outcome = Outcome.UNAVAILABLE
            logger.warning(
                "sandbox harness ended early: %s", self._container.attachment.harness_stderr[-2000:]
            )
        await self._sandbox.docker.kill(self._container.id)
        return collected.finished(outcome, None, None)


async def _receive_before(attachment: Attachment, deadline: float) -> dict[str, Any] | None:
    """The harness's next message; TimeoutError past ``deadline``. (A cancel scope must not span a
    generator's yield, hence this helper.)"""
    with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
        return await attachment.receive()


class _Collected:
    """One run's output so far, and the translation of the harness's messages into events.

    Nothing the container sends is trusted: a message of the wrong shape, for another run, or
    output past the run's limit is a protocol violation (``HarnessProtocolError``).
    """

    def __init__(self, index: int, output_bytes: int) -> None:
        self.index = index
        self.budget = output_bytes  # characters never outnumber the bytes they decode from
        self.started = time.monotonic()
        self.out: dict[Stream, list[str]] = {"stdout": [], "stderr": []}

    def translate(self, message: dict[str, Any]) -> RunStarted | Output | RunFinished:
        if message.get("index") != self.index:
            raise HarnessProtocolError(
                f"message for run {message.get('index')!r}, not {self.index}"
            )
        kind = message.get("ev")
        if kind == "start":
            return RunStarted(self.index)
        if kind == "out":
            stream, data = message["stream"], message["data"]
            if stream not in self.out or not isinstance(data, str):
                raise HarnessProtocolError("malformed output message")
            self.budget -= len(data)
            if self.budget < 0:
                raise HarnessProtocolError("output past the run's limit")
            self.out[stream].append(data)
            return Output(self.index, stream, data)
        if kind == "exit":
            code = message["code"]
            if not (code is None or isinstance(code, int)):
                raise HarnessProtocolError("malformed exit code")
            return self.finished(Outcome(message["outcome"]), code, float(message["ms"]))
        raise HarnessProtocolError(f"unknown message {kind!r}")

    def finished(self, outcome: Outcome, code: int | None, ms: float | None) -> RunFinished:
        if ms is None:
            ms = round((time.monotonic() - self.started) * 1000, 1)
        return RunFinished(
            self.index, outcome, code, ms, "".join(self.out["stdout"]), "".join(self.out["stderr"])
        )
