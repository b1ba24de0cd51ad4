"""Grading: a submission per exercise, a TestResult per finished run, a CheckSummary at the end."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from runner.checking import messages
from runner.checking.compare import Difference, first_difference, matches
from runner.exercises.limits import limits_for, run_time_s
from runner.exercises.models import CompareMode, Exercise, TestCase
from runner.feedback import Explanation, explain, outcome_message
from runner.sandbox.models import (
    Finished,
    Language,
    Limits,
    Outcome,
    Run,
    RunFinished,
    Submission,
)
from runner.settings import Settings

MAX_PUBLIC_CHARS = 20_000  # longer outputs are cut in public(): the live stream showed them whole


class TestStatus(StrEnum):
    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    STOPPED = "stopped"
    UNAVAILABLE = "unavailable"  # the sandbox could not run the check: not the learner's fault


class CheckingError(Exception):
    """Base of the checking layer's errors."""


class UnknownTest(CheckingError, IndexError):
    """A run's index names no test of the exercise."""

    def __init__(self, exercise_id: str, index: int) -> None:
        super().__init__(exercise_id, index)
        self.exercise_id = exercise_id
        self.index = index

    def __str__(self) -> str:
        return f"exercise {self.exercise_id!r} has no test {self.index}"


_STATUS_OF: dict[Outcome, TestStatus] = {
    Outcome.ERROR: TestStatus.ERROR,
    Outcome.TIMEOUT: TestStatus.TIMEOUT,
    Outcome.MEMORY: TestStatus.MEMORY,
    Outcome.KILLED: TestStatus.ERROR,
    Outcome.IDLE: TestStatus.TIMEOUT,  # checks give their input up front: never, in practice
    Outcome.OUTPUT_LIMIT: TestStatus.OUTPUT_LIMIT,
    Outcome.STOPPED: TestStatus.ERROR,
    Outcome.UNAVAILABLE: TestStatus.ERROR,
}


@dataclass(frozen=True)
class TestResult:
    """The verdict on one test; a hidden test has no expected, actual, difference, explanation."""

    __test__ = False  # not a pytest class

    index: int
    name: str
    hidden: bool
    status: TestStatus
    expected: str | None
    actual: str | None
    difference: Difference | None
    message: str
    explanation: Explanation | None
    duration_ms: float

    def public(self) -> dict[str, Any]:
        """The WebSocket ``test`` event; a hidden test's carries nothing about its data."""
        event: dict[str, Any] = {
            "type": "test",
            "index": self.index,
            "name": self.name,
            "hidden": self.hidden,
            "status": self.status.value,
            "message": self.message,
        }
        if self.hidden:
            return event
        event["expected"] = _cut(self.expected)
        event["actual"] = _cut(self.actual)
        event["difference"] = self.difference.public() if self.difference else None
        event["explanation"] = self.explanation.public() if self.explanation else None
        return event


@dataclass(frozen=True)
class CheckSummary:
    status: CheckStatus
    passed: int
    total: int
    duration_ms: float
    exit_code: int | None
    message: str

    def public(self) -> dict[str, Any]:
        """The WebSocket ``finished`` event of a check."""
        return {
            "type": "finished",
            "status": self.status.value,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "passed": self.passed,
            "total": self.total,
            "message": self.message,
        }


def submission_for(
    exercise: Exercise, code: str, settings: Settings, *, limits: Limits | None = None
) -> Submission:
    """One run per test, in order, each with the test's stdin and time limit.

    ``limits`` are the exercise's (``limits_for``), when the caller has them already.
    """
    runs = tuple(
        Run(stdin=test.stdin, time_s=run_time_s(test.time_s, settings)) for test in exercise.tests
    )
    limits = limits or limits_for(exercise, settings)
    return Submission(exercise.language, code, runs=runs, limits=limits)


def grade(
    exercise: Exercise, event: RunFinished, *, code: str = "", limits: Limits | None = None
) -> TestResult:
    """The result of the test that ``event`` ran.

    ``code`` (the learner's program) lets error explanations suggest misspelt names; ``limits``
    (default: the exercise's under default settings) words the timeout and memory messages.
    """
    if not 0 <= event.index < len(exercise.tests):
        raise UnknownTest(exercise.id, event.index)
    test = exercise.tests[event.index]
    limits = limits or limits_for(exercise, Settings())
    # What input()'s or prompt()'s questions print is not an answer, unless the exercise says so.
    # (A result built without a transcript, by older callers and tests, falls back to stdout.)
    shown = (event.transcript or event.stdout) if exercise.check_prompts else event.stdout
    event = replace(event, stdout=shown)
    if event.outcome is Outcome.OK:
        status = _compare(test, event.stdout)
    else:
        status = _STATUS_OF[event.outcome]
    if test.hidden:
        message = _hidden_message(status, event.outcome, test, limits, exercise.language)
        return _result(event, test, status, message)
    difference = _difference(test, event.stdout) if status is TestStatus.FAILED else None
    explanation = None
    if status is TestStatus.ERROR:
        explanation = explain(exercise.language, event.stderr, code)
    message = _visible_message(status, event, test, limits, exercise, difference)
    return _result(event, test, status, message, difference, explanation)


def summarize(
    exercise: Exercise,
    results: list[TestResult],
    finished: Finished,
    *,
    limits: Limits | None = None,
) -> CheckSummary:
    """The verdict of a whole check; tests without a result count as failed.

    ``limits`` (default: the exercise's under default settings) words the outcome messages.
    """
    total = len(exercise.tests)
    passed = len({r.index for r in results if r.status is TestStatus.PASSED})
    if finished.outcome is Outcome.STOPPED:
        status, message = CheckStatus.STOPPED, messages.stopped_verdict(passed, total)
    elif finished.outcome is Outcome.UNAVAILABLE:
        limits = limits or limits_for(exercise, Settings())
        status = CheckStatus.UNAVAILABLE
        message = outcome_message(Outcome.UNAVAILABLE, limits, limits.time_s)
    else:
        status = CheckStatus.PASSED if passed == total else CheckStatus.FAILED
        message = messages.verdict(passed, total)
    return CheckSummary(status, passed, total, finished.duration_ms, finished.exit_code, message)


def _compare(test: TestCase, stdout: str) -> TestStatus:
    passed = matches(test.compare, test.expected, stdout, test.tolerance)
    return TestStatus.PASSED if passed else TestStatus.FAILED


def _difference(test: TestCase, stdout: str) -> Difference | None:
    if test.compare in (CompareMode.EXACT, CompareMode.IGNORE_CASE):
        fold = test.compare is CompareMode.IGNORE_CASE
        return first_difference(test.expected, stdout, fold_case=fold)
    return None


def _visible_message(
    status: TestStatus,
    event: RunFinished,
    test: TestCase,
    limits: Limits,
    exercise: Exercise,
    difference: Difference | None,
) -> str:
    if status is TestStatus.PASSED:
        return messages.passed_message(hidden=False)
    if status is TestStatus.FAILED:
        return messages.failure_message(test, event.stdout, difference, exercise.language)
    return outcome_message(event.outcome, limits, _time_limit(test, limits), exercise.language)


def _hidden_message(
    status: TestStatus, outcome: Outcome, test: TestCase, limits: Limits, language: Language
) -> str:
    if status is TestStatus.PASSED:
        return messages.passed_message(hidden=True)
    if status is TestStatus.FAILED:
        return messages.hidden_failure_message(test.description)
    if outcome is Outcome.ERROR:
        return messages.hidden_error_message(test.description)
    return outcome_message(outcome, limits, _time_limit(test, limits), language)


def _time_limit(test: TestCase, limits: Limits) -> float:
    return limits.time_s if test.time_s is None else test.time_s


def _result(
    event: RunFinished,
    test: TestCase,
    status: TestStatus,
    message: str,
    difference: Difference | None = None,
    explanation: Explanation | None = None,
) -> TestResult:
    return TestResult(
        index=event.index,
        name=test.name,
        hidden=test.hidden,
        status=status,
        expected=None if test.hidden else test.expected,
        actual=None if test.hidden else event.stdout,
        difference=difference,
        message=message,
        explanation=explanation,
        duration_ms=event.duration_ms,
    )


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_PUBLIC_CHARS:
        return text
    return text[:MAX_PUBLIC_CHARS] + "\n…"
