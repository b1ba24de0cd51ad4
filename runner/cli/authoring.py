"""``decode-runner validate`` and ``decode-runner try``: the trainers' tools for exercises."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from runner import checking
from runner.checking.report import result_lines, summary_line
from runner.exercises import COURSE_FILE, Catalog, Exercise, SpecError, load_catalog
from runner.exercises.schema import display_path
from runner.sandbox.models import Finished, Language, Outcome, RunFinished
from runner.settings import Settings

DEFAULT_JOBS = 3
_SHORT_LANGUAGE = {Language.PYTHON: "py", Language.JAVASCRIPT: "js"}
_EXIT_FAILED = 1
_EXIT_USAGE = 2
_EXIT_UNAVAILABLE = 3


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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = subparsers.add_parser("validate", help="check exercise specs (and run them)")
    validate.add_argument("path", nargs="?", type=Path, default=Path("exercises"))
    validate.add_argument("--no-run", action="store_true", help="skip the sandbox runs")
    validate.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="exercises at once")
    validate.set_defaults(handler=_validate)
    try_ = subparsers.add_parser("try", help="check a file against an exercise's tests")
    try_.add_argument("exercise_id")
    try_.add_argument("file", type=Path)
    try_.add_argument("--exercises", type=Path, help="course folder (default: settings)")
    try_.set_defaults(handler=_try)


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


def cli_settings(settings: Settings, **changes: Any) -> Settings:
    """The CLI's own sandbox instance: starting it must not reap a running server's containers."""
    return settings.replace(instance=f"cli-{os.getpid()}", **changes)


# --------------------------------------------------------------------------- validate
def _validate(args: argparse.Namespace) -> int:
    target: Path = args.path
    if not target.exists():
        print(f"{display_path(target)}: /: file not found", file=sys.stderr)
        return _EXIT_USAGE
    root = _course_root(target)
    catalog = load_catalog(root)
    only = display_path(target) if target.is_file() else None
    problems = [e for e in catalog.errors if only is None or e.path == only]
    exercises = [e for e in catalog.exercises.values() if only in (None, display_path(e.source))]
    verdicts: dict[str, tuple[str, str]] = {}
    if not args.no_run and exercises:
        settings = Settings.from_env()
        problems += anyio.run(_run_all, exercises, settings, max(1, args.jobs), verdicts)
    console = Console()
    console.print(_table(exercises, verdicts, run=not args.no_run))
    for problem in problems:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    count = len(problems)
    console.print(f"{count} problem{'s' if count != 1 else ''}", style="red" if count else "green")
    return 1 if problems else 0


def _course_root(target: Path) -> Path:
    if target.is_dir():
        return target
    for folder in (target.parent, target.parent.parent):
        if (folder / COURSE_FILE).is_file():
            return folder
    return target.parent


async def _run_all(
    exercises: list[Exercise], settings: Settings, jobs: int, verdicts: dict[str, tuple[str, str]]
) -> list[SpecError]:
    from runner.sandbox import Sandbox  # the Docker SDK is imported only when runs are wanted

    problems: list[SpecError] = []
    # Measured on the course (2 cores): a warm pool made validate slower (≈12.8 s against ≈11.6 s
    # without); its containers compete with the runs for the CPU and are thrown away at the end.
    sandbox = Sandbox(cli_settings(settings, pool_size=0))
    await sandbox.start()
    limiter = anyio.CapacityLimiter(jobs)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("Running solutions and starters", total=len(exercises))

            async def one(exercise: Exercise) -> None:
                async with limiter:
                    found, verdicts[exercise.id] = await _run_exercise(sandbox, exercise, settings)
                problems.extend(found)
                progress.advance(task)

            async with anyio.create_task_group() as group:
                for exercise in exercises:
                    group.start_soon(one, exercise)
    finally:
        await sandbox.close()
    return sorted(problems, key=lambda p: (p.path, p.pointer))


async def _run_exercise(
    sandbox: Any, exercise: Exercise, settings: Settings
) -> tuple[list[SpecError], tuple[str, str]]:
    shown = display_path(exercise.source)
    solution = await check_code(sandbox, exercise, exercise.solution, settings)
    starter = await check_code(sandbox, exercise, exercise.starter, settings)
    unavailable = solution.unavailable or starter.unavailable
    if unavailable:
        return [SpecError(shown, "/", f"sandbox unavailable: {unavailable}")], ("?", "?")
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
    return problems, (_mark(solution_passes), _mark(starter_fails))


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


def _clip(text: str, width: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 4] + "...'"


def _table(exercises: list[Exercise], verdicts: dict[str, tuple[str, str]], run: bool) -> Table:
    table = Table(title="Exercises")
    table.add_column("id", no_wrap=True)
    for column in ("week", "lang", "tests", "hidden", "hints"):
        table.add_column(column, justify="right")
    if run:
        table.add_column("solution passes", justify="center")
        table.add_column("starter fails", justify="center")
    for exercise in exercises:
        hidden = sum(test.hidden for test in exercise.tests)
        row = [exercise.id, str(exercise.week), _SHORT_LANGUAGE[exercise.language]]
        row += [str(len(exercise.tests)), str(hidden), str(len(exercise.hints))]
        table.add_row(*row, *(verdicts.get(exercise.id, ("?", "?")) if run else ()))
    return table


# --------------------------------------------------------------------------- try
def _try(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    catalog = load_catalog(args.exercises or settings.exercises_dir)
    exercise = catalog.get(args.exercise_id)
    if exercise is None:
        _explain_missing(catalog, args.exercise_id)
        return _EXIT_USAGE
    try:
        code = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"decode-runner try: cannot read {args.file}: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    return anyio.run(_try_run, exercise, code, settings)


def _explain_missing(catalog: Catalog, exercise_id: str) -> None:
    print(f"decode-runner try: no valid exercise with id {exercise_id!r}", file=sys.stderr)
    for error in catalog.errors:
        if exercise_id in error.path or repr(exercise_id) in error.reason:
            print(str(error), file=sys.stderr)


async def _try_run(exercise: Exercise, code: str, settings: Settings) -> int:
    from runner.sandbox import Sandbox

    console = Console(highlight=False)
    console.print(f"{exercise.title} ({exercise.id}) : {len(exercise.tests)} tests", markup=False)
    sandbox = Sandbox(cli_settings(settings, pool_size=0))
    await sandbox.start()

    def show(result: checking.TestResult) -> None:
        style = "green" if result.status is checking.TestStatus.PASSED else "red"
        for number, line in enumerate(result_lines(result)):
            console.print(line, style=style if number == 0 else None, markup=False, soft_wrap=True)

    try:
        outcome = await check_code(sandbox, exercise, code, settings, on_result=show)
    finally:
        await sandbox.close()
    summary = outcome.summary
    if summary is None or summary.status is checking.CheckStatus.UNAVAILABLE:
        if summary is not None:
            console.print(summary_line(summary), style="yellow", markup=False, soft_wrap=True)
        console.print(f"Bac à sable indisponible : {outcome.unavailable}", markup=False)
        return _EXIT_UNAVAILABLE
    passed = summary.status is checking.CheckStatus.PASSED
    verdict = summary_line(summary)
    console.print(verdict, style="green" if passed else "red", markup=False, soft_wrap=True)
    return 0 if passed else _EXIT_FAILED
