"""Trainers' tools (domain): checking specs against the sandbox, and watching a course folder."""

from __future__ import annotations

from runner.authoring.validation import (
    TABLE_COLUMNS,
    CheckRun,
    Verdict,
    check_code,
    problems_line,
    table_rows,
    validate_exercise,
    validate_exercises,
)
from runner.authoring.watch import CourseWatcher, folder_state

__all__ = [
    "TABLE_COLUMNS",
    "CheckRun",
    "CourseWatcher",
    "Verdict",
    "check_code",
    "folder_state",
    "problems_line",
    "table_rows",
    "validate_exercise",
    "validate_exercises",
]
