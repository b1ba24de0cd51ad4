"""``decode-runner validate`` and ``decode-runner try``: the trainers' tools for exercises."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from runner import checking
from runner.authoring import (
    TABLE_COLUMNS,
    CheckRun,
    Verdict,
    check_code,
    problems_line,
    table_rows,
    validate_exercises,
)
from runner.authoring.validation import DEFAULT_JOBS
from runner.checking.report import result_lines, summary_line
from runner.exercises import COURSE_FILE, Catalog, Exercise, SpecError, load_catalog
from runner.exercises.schema import display_path
from runner.settings import Settings

_EXIT_FAILED = 1
_EXIT_USAGE = 2
_EXIT_UNAVAILABLE = 3
_RUN_COLUMNS = len(TABLE_COLUMNS) - 2  # the first column that needs the sandbox

__all__ = ["CheckRun", "check_code", "cli_settings", "register"]  # check_code: tests import it


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


def cli_settings(settings: Settings, **changes: Any) -> Settings:
    """The CLI's own sandbox instance: starting it must not reap a running server's containers."""
    return settings.replace(node_id=f"cli-{os.getpid()}", **changes)


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
    verdicts: dict[str, Verdict] = {}
    if not args.no_run and exercises:
        settings = Settings.from_env()
        problems += anyio.run(_run_all, exercises, settings, max(1, args.jobs), verdicts)
    console = Console()
    console.print(_table(exercises, verdicts, run=not args.no_run))
    for problem in problems:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    count = len(problems)
    console.print(problems_line(count), style="red" if count else "green")
    return 1 if problems else 0


def _course_root(target: Path) -> Path:
    if target.is_dir():
        return target
    for folder in (target.parent, target.parent.parent):
        if (folder / COURSE_FILE).is_file():
            return folder
    return target.parent


async def _run_all(
    exercises: list[Exercise], settings: Settings, jobs: int, verdicts: dict[str, Verdict]
) -> list[SpecError]:
    from runner.sandbox import Sandbox  # the Docker SDK is imported only when runs are wanted

    # Measured on the course (2 cores): a warm pool made validate slower (≈12.8 s against ≈11.6 s
    # without); its containers compete with the runs for the CPU and are thrown away at the end.
    sandbox = Sandbox(cli_settings(settings, pool_size=0))
    await sandbox.start()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("Running solutions and starters", total=len(exercises))
            return await validate_exercises(
                sandbox, exercises, settings, jobs, verdicts, lambda _: progress.advance(task)
            )
    finally:
        await sandbox.close()


def _table(exercises: list[Exercise], verdicts: dict[str, Verdict], run: bool) -> Table:
    table = Table(title="Exercises")
    for number, column in enumerate(TABLE_COLUMNS[: None if run else _RUN_COLUMNS]):
        if number == 0:
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="center" if number >= _RUN_COLUMNS else "right")
    for row in table_rows(exercises, verdicts, run):
        table.add_row(*row)
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
