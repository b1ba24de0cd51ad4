"""Job: one accepted submission, from the queue to ``finished`` and ``progress``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from enum import StrEnum
from functools import partial
from typing import Any

import anyio

from runner import checking, feedback
from runner.exercises import Exercise, limits_for
from runner.sandbox import (
    Finished,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Session,
    Submission,
)
from runner.store import AttemptLog, ExerciseProgress, StoreError
from runner.trainers.log import check_log, run_log
from runner.web import protocol
from runner.web.capacity import QueueFull
from runner.web.learners import Learner
from runner.web.protocol import ErrorCode, Mode
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_PENDING_STDIN = 64 * 1024
# Store writes are bounded: the attempt holds a sandbox slot, the result a learner's wait.
ATTEMPT_WRITE_S = 2.0
RESULT_WRITE_S = 10.0


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Job:
    """Waits for a sandbox, runs the submission, streams its events, records progress."""

    def __init__(
        self,
        runtime: Runtime,
        learner: Learner,
        exercise: Exercise,
        code: str,
        mode: Mode,
        send: Send,
        submission: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.submission = submission  # the client's id: sent again, counted once
        self.learner = learner
        self.exercise = exercise
        self.code = code
        self.mode = mode
        self.limits = limits_for(exercise, runtime.settings)
        self.state = JobState.QUEUED
        self._send = send
        self._session: Session | None = None
        self._saved = False  # the attempt and its code are in the store
        self._results: list[checking.TestResult] = []
        self._run_log: AttemptLog | None = None
        self._finished_sent = False
        self._stop_requested = False
        self._stopped_by_server = False
        self._waiting = anyio.CancelScope()
        self._live = False  # the interactive program has started: stdin goes straight to it
        self._pending: list[str | None] = []  # stdin typed before that; None is end of input

    @property
    def interactive(self) -> bool:
        return self.mode is Mode.RUN

    @property
    def active(self) -> bool:
        """Whether the client still talks to this job: until its ``finished`` (the protocol's
        promise), even if its progress write is still under way."""
        return self.state is not JobState.DONE and not self._finished_sent

    async def run(self) -> None:
        self.runtime.jobs.add(self)
        try:
            summary: checking.CheckSummary | None = None
            async with AsyncExitStack() as stack:
                with self._waiting:
                    await stack.enter_async_context(self.runtime.capacity.slot(self._on_position))
                if self._waiting.cancelled_caught:
                    await self._finish(self._stopped_while_queued())
                    return
                self.state = JobState.RUNNING
                self._saved = await self._record_attempt()
                if self.mode is Mode.CHECK:
                    summary = await self._check()
                else:
                    await self._interactive_run()
            if summary is not None:  # the slot is free: a slow database holds no sandbox
                await self._report_progress(summary)
            elif self._run_log is not None:
                await self._log_run(self._run_log)
        except QueueFull:
            self.runtime.metrics.reject(ErrorCode.OVERLOADED)
            await self._send(protocol.error(ErrorCode.OVERLOADED))
        except Exception:
            logger.exception("submission failed (%s, %s)", self.exercise.id, self.mode)
            await self._send(protocol.error(ErrorCode.INTERNAL))
            if not self._finished_sent:  # an accepted run always ends with one `finished`
                await self._finish(self._after_fault())
        finally:
            self.state = JobState.DONE
            self.runtime.jobs.discard(self)

    async def stop(self, by_server: bool = False) -> None:
        """Leave the queue, or kill the container at once; ``by_server``: the server is shutting
        down (the learner did not ask), which the ``finished`` says (``"reason": "shutdown"``)."""
        self._stop_requested = True
        self._stopped_by_server = self._stopped_by_server or by_server
        if self.state is JobState.QUEUED:
            self._waiting.cancel()
        elif self._session is not None:
            await _quietly(self._session.stop)

    async def send_stdin(self, data: str) -> None:
        """Typed-ahead input waits until the program runs, then goes in order."""
        session = self._session
        if session is not None and self._live:
            await _quietly(lambda: session.send_stdin(data))
        elif sum(len(d or "") for d in self._pending) + len(data) <= MAX_PENDING_STDIN:
            self._pending.append(data)

    async def close_stdin(self) -> None:
        session = self._session
        if session is not None and self._live:
            await _quietly(session.close_stdin)
        else:
            self._pending.append(None)

    async def _go_live(self, session: Session) -> None:
        """Flush typed-ahead input in order; only then does new input bypass the buffer."""
        while self._pending:
            pending, self._pending = self._pending, []
            for data in pending:
                action = session.close_stdin if data is None else partial(session.send_stdin, data)
                await _quietly(action)
        self._live = True

    async def _on_position(self, position: int) -> None:
        await self._send(protocol.queued(position))

    async def _interactive_run(self) -> None:
        submission = Submission(self.exercise.language, self.code, (Run(stdin=None),), self.limits)
        finished: Finished | None = None
        last: RunFinished | None = None
        async with self.runtime.sandbox.session(submission) as session:
            await self._open(session, total=1)
            async for event in session:
                if isinstance(event, Output):
                    await self._send(protocol.output(event.stream, event.data))
                elif isinstance(event, RunStarted):
                    await self._go_live(session)
                elif isinstance(event, RunFinished):
                    last = event
                elif isinstance(event, Finished):
                    finished = event
            self._session = None
        assert finished is not None
        self._observe(finished, str(finished.outcome))
        await self._finish(self._run_payload(finished, last))
        self._run_log = run_log(
            self.exercise.id, self.code, str(finished.outcome), finished.duration_ms
        )

    async def _check(self) -> checking.CheckSummary:
        settings = self.runtime.settings
        submission = checking.submission_for(self.exercise, self.code, settings, limits=self.limits)
        finished: Finished | None = None
        async with self.runtime.sandbox.session(submission) as session:
            await self._open(session, total=len(submission.runs))
            async for event in session:
                if isinstance(event, RunFinished):
                    result = checking.grade(
                        self.exercise, event, code=self.code, limits=self.limits
                    )
                    self._results.append(result)
                    await self._send({**result.public(), "type": "test"})
                elif isinstance(event, Finished):
                    finished = event
            self._session = None
        assert finished is not None
        summary = self._summary(finished)
        self._observe(finished, str(summary.status))
        await self._finish(self._check_payload(summary))  # the verdict first, then the progress
        return summary

    async def _report_progress(self, summary: checking.CheckSummary) -> None:
        progress = await self._record_result(summary)
        if progress is not None:
            await self._send(protocol.progress(self.exercise.id, progress))

    async def _open(self, session: Session, total: int) -> None:
        self._session = session
        if self._stop_requested:
            await _quietly(session.stop)
        await self._send(protocol.started(self.mode, self.exercise.id, total, self._saved))

    async def _finish(self, payload: dict[str, Any]) -> None:
        self._finished_sent = True
        if self._stopped_by_server and payload.get("status") == str(Outcome.STOPPED):
            payload = {**payload, "reason": "shutdown"}
        await self._send(payload)

    def _summary(self, finished: Finished) -> checking.CheckSummary:
        return checking.summarize(self.exercise, self._results, finished, limits=self.limits)

    def _check_payload(self, summary: checking.CheckSummary) -> dict[str, Any]:
        return {"explanation": None, **summary.public(), "mode": str(Mode.CHECK)}

    def _run_payload(self, finished: Finished, last: RunFinished | None) -> dict[str, Any]:
        outcome = finished.outcome
        message = feedback.outcome_message(
            outcome, self.limits, self.limits.time_s, self.exercise.language, interactive=True
        )
        explanation = None
        if last is not None and last.stderr and outcome is not Outcome.STOPPED:
            found = feedback.explain(self.exercise.language, last.stderr, self.code)
            explanation = found.public() if found is not None else None
        return {
            "type": "finished",
            "mode": str(Mode.RUN),
            "status": str(outcome),
            "exit_code": finished.exit_code,
            "duration_ms": finished.duration_ms,
            "passed": None,
            "total": None,
            "message": message,
            "explanation": explanation,
        }

    def _after_fault(self) -> dict[str, Any]:
        """The ``finished`` that ends a submission an internal fault broke: "unavailable"."""
        fault = Finished(Outcome.UNAVAILABLE, None, 0.0, len(self._results))
        if self.mode is Mode.CHECK:
            return self._check_payload(self._summary(fault))
        return self._run_payload(fault, None)

    def _stopped_while_queued(self) -> dict[str, Any]:
        return {
            "type": "finished",
            "mode": str(self.mode),
            "status": str(Outcome.STOPPED),
            "exit_code": None,
            "duration_ms": 0.0,
            "passed": 0 if self.mode is Mode.CHECK else None,
            "total": len(self.exercise.tests) if self.mode is Mode.CHECK else None,
            "message": "Exécution annulée avant son démarrage.",
            "explanation": None,
        }

    def _observe(self, finished: Finished, status: str) -> None:
        if finished.outcome is Outcome.UNAVAILABLE:
            logger.error("sandbox unavailable: %s", finished.detail)
        language = str(self.exercise.language)
        self.runtime.metrics.observe_run(
            language, str(self.mode), status, finished.duration_ms / 1000
        )

    async def _record_attempt(self) -> bool:
        """Counted when the sandbox is ours; shielded so a disconnect cannot lose it.

        Returns whether the code is saved: the page keeps its draft unsynced otherwise.
        """
        with anyio.CancelScope(shield=True), anyio.move_on_after(ATTEMPT_WRITE_S) as timer:
            try:
                await self.runtime.store.record_attempt(
                    self.learner.id,
                    self.exercise.id,
                    self.code,
                    self.learner.account,
                    check=self.mode is Mode.CHECK,
                    submission=self.submission,
                )
            except StoreError:
                logger.exception("progress not recorded (attempt) for %s", self.exercise.id)
                return False
        if timer.cancelled_caught:
            logger.error(
                "progress not recorded (attempt) for %s: the database is slow", self.exercise.id
            )
            return False
        self._changed()
        return True

    def _changed(self) -> None:
        """A platform learner's change queued webhook events: deliver them now, elsewhere."""
        if self.learner.account is not None:
            self.runtime.dispatcher.wake()

    async def _record_result(self, summary: checking.CheckSummary) -> ExerciseProgress | None:
        """Solved or not, and for an LMS learner (LTI) the score its gradebook gets."""
        store, exercise_id = self.runtime.store, self.exercise.id
        passed = summary.total if summary.status is checking.CheckStatus.PASSED else summary.passed
        result: ExerciseProgress | None = None
        with anyio.CancelScope(shield=True), anyio.move_on_after(RESULT_WRITE_S):
            try:
                log = check_log(exercise_id, self.code, summary, self._results)
                result = await store.record_result(
                    self.learner.id,
                    exercise_id,
                    passed,
                    summary.total,
                    self.learner.account,
                    log,
                    self.submission,
                )
                self._changed()
            except StoreError:
                logger.exception("progress not recorded (result) for %s", exercise_id)
            try:  # a failed write (a full disk) still lets the store be read
                result = result or await store.get(self.learner.id, exercise_id)
            except StoreError:
                logger.exception("progress not readable for %s", exercise_id)
        return result

    async def _log_run(self, log: AttemptLog) -> None:
        """A run's row in the attempt log, after its sandbox is released."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(RESULT_WRITE_S):
            try:
                await self.runtime.store.log_attempt(self.learner.id, log, self.submission)
            except StoreError:
                logger.exception("attempt not logged (run) for %s", self.exercise.id)


async def _quietly(action: Callable[[], Awaitable[None]]) -> None:
    """Stop and stdin race with the program's end; a container already gone is not an error."""
    try:
        await action()
    except Exception:
        logger.debug("sandbox call failed (submission probably over)", exc_info=True)
