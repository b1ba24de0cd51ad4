"""What ``decode-runner validate`` checks in the sandbox, shared with ``decode-runner preview``:
the reference solution must pass every test and the starter fail one; and the table of both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from runner import checking
from runner.exercises import Exercise, SpecError
from runner.exercises.schema import display_path
from runner.sandbox.models import Finished, Language, Outcome, RunFinished
from runner.settings import Settings

DEFAULT_JOBS = 3  # exercises validated at once

_SHORT_LANGUAGE = {Language.PYTHON: "py", Language.JAVASCRIPT: "js"}
_CLIP_WIDTH = 60
UNKNOWN = "?"
BASE_COLUMNS = ("id", "week", "lang", "tests", "hidden", "hints")
RUN_COLUMNS = ("solution passes", "starter fails")
TABLE_COLUMNS = BASE_COLUMNS + RUN_COLUMNS


@dataclass(frozen=True)
class Verdict:
    """The two marks of an exercise's row: ✓, ✗, or ? when the sandbox could not tell."""

    solution: str = UNKNOWN
    starter: str = UNKNOWN


@dataclass
class CheckRun:
    """A check of some code against an exercise, as the server would run it."""

    results: list[checking.TestResult] = field(default_factory=list)
    runs: list[RunFinished] = field(default_factory=list)
    summary: checking.CheckSummary | None = None
    finished: Finished | None = None

    @property
    def unavailable(self) -> str:
        """Why the sandbox could not run the check ("" when it could)."""
        if self.finished is None:
            return "the session ended without a result"
        if self.finished.outcome is Outcome.UNAVAILABLE:
            return self.finished.detail or "unavailable"
        return ""


async def check_code(
    sandbox: Any, exercise: Exercise, code: str, settings: Settings, on_result: Any = None
) -> CheckRun:
    """Run ``code`` through every test of ``exercise`` in ``sandbox`` and grade each run."""
    outcome = CheckRun()
    submission = checking.submission_for(exercise, code, settings)
    limits = submission.limits
    async with sandbox.session(submission) as session:
        async for event in session:
            if isinstance(event, RunFinished):
                result = checking.grade(exercise, event, code=code, limits=limits)
                outcome.runs.append(event)
                outcome.results.append(result)
                if on_result is not None:
                    on_result(result)
            elif isinstance(event, Finished):
                outcome.summary = checking.summarize(
                    exercise, outcome.results, event, limits=limits
                )
                outcome.finished = event
    return outcome


async def validate_exercise(
    sandbox: Any, exercise: Exercise, settings: Settings
) -> tuple[list[SpecError], Verdict]:
    """Run the solution and the starter of ``exercise``; the problems found and the row's marks."""
    shown = display_path(exercise.source)
    solution = await check_code(sandbox, exercise, exercise.solution, settings)
    starter = await check_code(sandbox, exercise, exercise.starter, settings)
    unavailable = solution.unavailable or starter.unavailable
    if unavailable:
        return [SpecError(shown, "/", f"sandbox unavailable: {unavailable}")], Verdict()
    problems = [
        SpecError(shown, "/solution", _failure(exercise, result, run))
        for result, run in zip(solution.results, solution.runs, strict=True)
        if result.status is not checking.TestStatus.PASSED
    ]
    missing = len(exercise.tests) - len(solution.results)
    if missing:
        problems.append(SpecError(shown, "/solution", f"{missing} test(s) did not run"))
    solution_passes = not problems
    starter_fails = _fails(starter, exercise)
    if not starter_fails:
        problems.append(SpecError(shown, "/starter", "passes every test; it must fail one"))
    return problems, Verdict(_mark(solution_passes), _mark(starter_fails))


async def validate_exercises(
    sandbox: Any,
    exercises: list[Exercise],
    settings: Settings,
    jobs: int,
    verdicts: dict[str, Verdict],
    on_done: Callable[[Exercise], None] | None = None,
) -> list[SpecError]:
    """``validate_exercise`` for each, ``jobs`` at a time; fills ``verdicts``, returns the
    problems sorted by file and pointer."""
    problems: list[SpecError] = []
    limiter = anyio.CapacityLimiter(max(1, jobs))

    async def one(exercise: Exercise) -> None:
        async with limiter:
            found, verdicts[exercise.id] = await validate_exercise(sandbox, exercise, settings)
        problems.extend(found)
        if on_done is not None:
            on_done(exercise)

    async with anyio.create_task_group() as group:
        for exercise in exercises:
            group.start_soon(one, exercise)
    return sorted(problems, key=lambda p: (p.path, p.pointer))


def table_rows(
    exercises: list[Exercise], verdicts: dict[str, Verdict], run: bool
) -> list[list[str]]:
    """The rows of validate's table, in the order of ``TABLE_COLUMNS`` (without the two run
    columns when ``run`` is false)."""
    rows = []
    for exercise in exercises:
        hidden = sum(test.hidden for test in exercise.tests)
        row = [exercise.id, str(exercise.week), _SHORT_LANGUAGE[exercise.language]]
        row += [str(len(exercise.tests)), str(hidden), str(len(exercise.hints))]
        if run:
            verdict = verdicts.get(exercise.id, Verdict())
            row += [verdict.solution, verdict.starter]
        rows.append(row)
    return rows


def problems_line(count: int) -> str:
    """validate's last line."""
    return f"{count} problem{'s' if count != 1 else ''}"


def _fails(run: CheckRun, exercise: Exercise) -> bool:
    passed = [r for r in run.results if r.status is checking.TestStatus.PASSED]
    return len(passed) < len(exercise.tests)


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _failure(exercise: Exercise, result: checking.TestResult, run: RunFinished) -> str:
    test = exercise.tests[result.index]
    if result.status is checking.TestStatus.FAILED:
        detail = f"printed {_clip(run.stdout)}, expected {_clip(test.expected)} ({test.compare})"
    elif result.status is checking.TestStatus.ERROR:
        lines = run.stderr.strip().splitlines()
        detail = _clip(lines[-1] if lines else f"exit code {run.exit_code}")
    else:
        detail = run.outcome.value
    return f"fails test {result.index} {test.name!r} ({result.status}): {detail}"


def _clip(text: str, width: int = _CLIP_WIDTH) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 4] + "...'"
