"""A Session: one submission's life in one container, as a stream of events; stdin; stop."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio

from runner.sandbox.attach import Attachment, HarnessProtocolError
from runner.sandbox.docker_api import Container
from runner.sandbox.errors import SandboxUnavailable
from runner.sandbox.models import (
    Event,
    Finished,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Stream,
    Submission,
)
from runner.sandbox.programs import prepares_alongside, program

if TYPE_CHECKING:
    from runner.sandbox.engine import Sandbox

logger = logging.getLogger(__name__)

HARNESS_GRACE_S = 3.0  # beyond a run's own limit, before the host gives up on the harness


class Session:
    """One submission's life: iterate it for events; feed stdin; stop it."""

    def __init__(self, sandbox: Sandbox, submission: Submission) -> None:
        self._sandbox = sandbox
        self._submission = submission
        self._container: Container | None = None
        self._stopped = False
        self._interactive = False
        self._deadline = math.inf  # the host's watchdog over the harness, for the current run
        self._watchdog: anyio.CancelScope | None = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def send_stdin(self, data: str) -> None:
        if self._container is not None and self._interactive:
            self._input_arrives()
            await self._container.attachment.send({"op": "stdin", "data": data})

    async def close_stdin(self) -> None:
        if self._container is not None and self._interactive:
            self._input_arrives()
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

    def _input_arrives(self) -> None:
        """The harness gives an interactive run ``idle_s`` more after each input: so does the host
        (before sending, so that its deadline is never the earlier one)."""
        self._set_deadline(self._submission.limits.idle_s)

    def _set_deadline(self, limit_s: float) -> None:
        self._deadline = anyio.current_time() + limit_s + HARNESS_GRACE_S
        if self._watchdog is not None:
            self._watchdog.deadline = self._deadline

    async def _events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        sub = self._submission
        try:
            # A check's pool refill waits for its end; an interactive run may last minutes.
            self._container = await self._sandbox._acquire(
                sub.language,
                sub.limits,
                refill_later=not any(run.interactive for run in sub.runs),
            )
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
        # Interactive: the harness limits CPU time, which the host cannot see; it follows the
        # wall clock that ends the run, idleness.
        self._set_deadline(command["idle"] if run.interactive else command["timeout"])
        self._interactive = run.interactive
        broken: str | None = None
        try:
            await attachment.send(command)
            while (message := await self._receive(attachment)) is not None:
                event = collected.translate(message)
                if isinstance(event, RunFinished):
                    yield replace(event, outcome=Outcome.STOPPED) if self._stopped else event
                    return
                yield event
        except TimeoutError:  # the harness missed its own deadline by the grace
            broken = "idle" if run.interactive else "timeout"
        except (HarnessProtocolError, ValueError, KeyError, TypeError) as exc:
            broken = "protocol"
            logger.warning("sandbox harness broke its protocol (%s): killing the container", exc)
        finally:
            self._interactive = False
        # The harness is gone (container killed, OOM of PID 1, stop), hung past its grace, or lied.
        yield await self._end_early(collected, broken)

    async def _receive(self, attachment: Attachment) -> dict[str, Any] | None:
        """The harness's next message; TimeoutError past the watchdog's deadline, which input may
        push back meanwhile. (A cancel scope must not span a generator's yield, hence this helper.)
        """
        with anyio.CancelScope(deadline=self._deadline) as self._watchdog:
            try:
                return await attachment.receive()
            finally:
                self._watchdog = None
        raise TimeoutError  # only the deadline ends the scope without a message or an exception

    def _run_command(self, index: int, run: Run) -> dict[str, Any]:
        sub = self._submission
        time_s = min(run.time_s or sub.limits.time_s, self._sandbox.settings.max_time_limit_s)
        runtime = self._sandbox.settings.sandbox_runtime
        file, argv = program(sub.language, sub.limits, runtime)
        following = sub.runs[index + 1] if index + 1 < len(sub.runs) else None
        # A check's later test: its interpreter boots while this one runs (harness.c).
        next_ahead = (
            following is not None
            and not run.interactive
            and not following.interactive
            and prepares_alongside(runtime)
        )
        return {
            "op": "run",
            "index": index,
            "code": sub.code,
            "file": file,
            "argv": argv,
            "stdin": run.stdin,
            "timeout": time_s,
            "idle": sub.limits.idle_s,
            "output_bytes": sub.limits.output_bytes,
            "next": next_ahead,
        }

    async def _end_early(self, collected: _Collected, broken: str | None) -> RunFinished:
        assert self._container is not None
        if broken in ("timeout", "idle"):
            outcome = Outcome(broken)
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


class _Collected:
    """One run's output so far, and the translation of the harness's messages into events.

    Nothing the container sends is trusted: a message of the wrong shape, for another run, or
    output past the run's limit is a protocol violation (``HarnessProtocolError``).
    """

    def __init__(self, index: int, output_bytes: int) -> None:
        self.index = index
        self.budget = output_bytes  # characters never outnumber the bytes they decode from
        self.started = time.monotonic()
        self.out: dict[Stream, list[str]] = {"stdout": [], "stderr": [], "prompt": []}
        self.shown: list[str] = []  # stdout and prompt chunks, in order

    def translate(self, message: dict[str, Any]) -> RunStarted | Output | RunFinished:
        if message.get("index") != self.index:
            raise HarnessProtocolError(
                f"message for run {message.get('index')!r}, not {self.index}"
            )
        kind = message.get("ev")
        if kind == "start":
            prepared = message.get("prepared", False)
            if not isinstance(prepared, bool):
                raise HarnessProtocolError("malformed start message")
            return RunStarted(self.index, prepared)
        if kind == "out":
            stream, data = message["stream"], message["data"]
            if stream not in self.out or not isinstance(data, str):
                raise HarnessProtocolError("malformed output message")
            self.budget -= len(data)
            if self.budget < 0:
                raise HarnessProtocolError("output past the run's limit")
            self.out[stream].append(data)
            if stream != "stderr":
                self.shown.append(data)
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
        text = {stream: "".join(chunks) for stream, chunks in self.out.items()}
        transcript = "".join(self.shown)
        return RunFinished(
            self.index,
            outcome,
            code,
            ms,
            text["stdout"],
            text["stderr"],
            text["prompt"],
            transcript,
        )
