"""The dashboard's figures, assembled from the store's queries and the catalog's order."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from runner.exercises import Catalog, Exercise
from runner.store import AttemptStore, FunnelRow, iso
from runner.store.tables import accounts, attempts, progress

# Excel and LibreOffice read a UTF-8 file with this mark as UTF-8 (accents intact).
BOM = "\ufeff"


@dataclass(frozen=True)
class ExerciseFunnel:
    exercise: Exercise
    row: FunnelRow
    median_checks: int | None
    median_seconds: int | None

    @property
    def solve_rate(self) -> float | None:
        """Solved among those who attempted."""
        return self.row.solved / self.row.attempted if self.row.attempted else None


@dataclass(frozen=True)
class WeekFunnel:
    number: int
    title: str
    exercises: list[ExerciseFunnel] = field(default_factory=list)


async def course_funnel(catalog: Catalog, attempts_store: AttemptStore) -> list[WeekFunnel]:
    rows = {r.exercise_id: r for r in await attempts_store.funnel()}
    weeks = []
    for week in catalog.course.weeks:
        funnel = WeekFunnel(week.number, week.title)
        for exercise_id in week.exercise_ids:
            exercise = catalog.get(exercise_id)
            if exercise is None:
                continue
            row = rows.get(exercise_id, FunnelRow(exercise_id, 0, 0, 0, 0))
            median_checks = await attempts_store.median(exercise_id, "checks_to_solve")
            median_seconds = await attempts_store.median(exercise_id, "solve_seconds")
            funnel.exercises.append(ExerciseFunnel(exercise, row, median_checks, median_seconds))
        weeks.append(funnel)
    return weeks


@dataclass(frozen=True)
class TestFailures:
    __test__ = False  # not a pytest class

    index: int
    name: str
    hidden: bool
    expected: str | None
    failures: int
    wrong_outputs: list[tuple[str, int]]


@dataclass(frozen=True)
class ExerciseDetail:
    exercise: Exercise
    checks: int
    tests: list[TestFailures]
    error_kinds: list[tuple[str, int]]
    recent: list[dict[str, Any]]


async def exercise_detail(exercise: Exercise, attempts_store: AttemptStore) -> ExerciseDetail:
    failures = await attempts_store.failures_by_test(exercise.id)
    outputs = await attempts_store.wrong_outputs(exercise.id)
    tests = [
        TestFailures(
            index=i,
            name=t.name,
            hidden=t.hidden,
            expected=None if t.hidden else t.expected,
            failures=failures.get(i, 0),
            wrong_outputs=[] if t.hidden else outputs.get(i, []),
        )
        for i, t in enumerate(exercise.tests)
    ]
    return ExerciseDetail(
        exercise=exercise,
        checks=await attempts_store.checks_count(exercise.id),
        tests=tests,
        error_kinds=await attempts_store.error_kinds(exercise.id),
        recent=await attempts_store.recent_failures(exercise.id),
    )


def inactive_since(now: datetime, days: int) -> datetime:
    """Learners whose last activity is before this are "inactive for ``days`` days or more"."""
    return now - timedelta(days=days)


# CSV exports -------------------------------------------------------------------------------

PROGRESS_COLUMNS = [
    "apprenant",
    "plateforme",
    "identifiant_plateforme",
    "exercice",
    "statut",
    "essais",
    "executions",
    "indices",
    "premier_essai",
    "dernier_essai",
    "reussi_le",
    "essais_pour_reussir",
    "secondes_pour_reussir",
]
ATTEMPT_COLUMNS = [
    "apprenant",
    "exercice",
    "mode",
    "date",
    "duree_ms",
    "statut",
    "tests_reussis",
    "tests",
    "premier_test_echoue",
    "type_erreur",
    "sortie",
    "code_sha256",
    "code",
]


def _cell(value: Any) -> Any:
    return "" if value is None else iso(value) if isinstance(value, datetime) else value


def _lines(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def progress_csv(attempts_store: AttemptStore) -> AsyncIterator[str]:
    yield BOM + _lines([PROGRESS_COLUMNS])
    query = (
        select(progress, accounts.c.platform_id, accounts.c.subject)
        .outerjoin(accounts, accounts.c.learner_id == progress.c.learner_id)
        .order_by(progress.c.learner_id, progress.c.exercise_id)
    )
    async for batch in attempts_store.stream(query):
        yield _lines(
            [
                [
                    r["learner_id"],
                    _cell(r["platform_id"]),
                    _cell(r["subject"]),
                    r["exercise_id"],
                    "solved" if r["solved"] else "started" if r["attempts"] else "todo",
                    r["checks"],
                    r["runs"],
                    r["hints_revealed"],
                    _cell(r["first_attempt_at"]),
                    _cell(r["last_attempt_at"]),
                    _cell(r["solved_at"]),
                    _cell(r["checks_to_solve"]),
                    _cell(r["solve_seconds"]),
                ]
                for r in batch
            ]
        )


async def attempts_csv(attempts_store: AttemptStore) -> AsyncIterator[str]:
    yield BOM + _lines([ATTEMPT_COLUMNS])
    query = select(attempts).order_by(attempts.c.id)
    async for batch in attempts_store.stream(query):
        yield _lines(
            [
                [
                    r["learner_id"],
                    r["exercise_id"],
                    r["mode"],
                    iso(r["created_at"]),
                    r["duration_ms"],
                    r["status"],
                    _cell(r["passed"]),
                    _cell(r["total"]),
                    _cell(r["first_failed"]),
                    _cell(r["error_kind"]),
                    _cell(r["wrong_output"]),
                    r["code_sha256"],
                    _cell(r["code"]),
                ]
                for r in batch
            ]
        )
