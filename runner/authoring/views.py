"""What the author's panel shows, as JSON-ready dicts: spec problems (file, JSON pointer, reason),
an exercise with its solution and every test, hidden ones included, and validate's table.
Never for a learner: only ``decode-runner preview`` serves these."""

from __future__ import annotations

from typing import Any

from runner.authoring.validation import (
    BASE_COLUMNS,
    TABLE_COLUMNS,
    Verdict,
    problems_line,
    table_rows,
)
from runner.exercises import Catalog, Exercise, SpecError
from runner.exercises.schema import display_path


def error_view(error: SpecError) -> dict[str, str]:
    return {
        "path": error.path,
        "pointer": error.pointer,
        "reason": error.reason,
        "text": str(error),
    }


def catalog_view(catalog: Catalog, version: int) -> dict[str, Any]:
    """The course as the author's overview shows it: every problem, then every served exercise."""
    return {
        "version": version,
        "title": catalog.course.title,
        "errors": [error_view(e) for e in catalog.errors],
        "exercises": [
            {
                "id": e.id,
                "title": e.title,
                "week": e.week,
                "language": str(e.language),
                "source": display_path(e.source),
            }
            for e in catalog.exercises.values()
        ],
    }


def author_view(exercise: Exercise) -> dict[str, Any]:
    """Everything in the spec the learner's page leaves out."""
    return {
        "id": exercise.id,
        "source": display_path(exercise.source),
        "solution": exercise.solution,
        "starter": exercise.starter,
        "hints": list(exercise.hints),
        "tests": [
            {
                "index": index,
                "name": test.name,
                "stdin": test.stdin,
                "expected": test.expected,
                "compare": str(test.compare),
                "hidden": test.hidden,
                "description": test.description,
            }
            for index, test in enumerate(exercise.tests)
        ],
    }


def validation_view(
    exercises: list[Exercise], verdicts: dict[str, Verdict], problems: list[SpecError], run: bool
) -> dict[str, Any]:
    """validate's output: its table, one line per problem, and the count."""
    return {
        "columns": list(TABLE_COLUMNS if run else BASE_COLUMNS),
        "rows": table_rows(exercises, verdicts, run),
        "problems": [error_view(p) for p in problems],
        "summary": problems_line(len(problems)),
    }
