"""Pure checking: comparison modes and normalisation, and grading runs into French verdicts."""

from __future__ import annotations

from runner.checking.compare import (
    Difference,
    first_difference,
    first_number_mismatch,
    is_number,
    matches,
    normalize,
    numbers_close,
    visible,
)
from runner.checking.grading import (
    CheckingError,
    CheckStatus,
    CheckSummary,
    TestResult,
    TestStatus,
    UnknownTest,
    grade,
    submission_for,
    summarize,
)

__all__ = [
    "CheckStatus",
    "CheckSummary",
    "CheckingError",
    "Difference",
    "TestResult",
    "TestStatus",
    "UnknownTest",
    "first_difference",
    "first_number_mismatch",
    "grade",
    "is_number",
    "matches",
    "normalize",
    "numbers_close",
    "submission_for",
    "summarize",
    "visible",
]
