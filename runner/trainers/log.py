"""What the attempt log keeps of a check or a run."""

from __future__ import annotations

from runner.checking import CheckStatus, CheckSummary, TestResult, TestStatus
from runner.store import AttemptLog

# A failure with no error explanation is named by its test status (French: trainers read it).
_STATUS_KIND = {
    TestStatus.FAILED: "Sortie différente",
    TestStatus.TIMEOUT: "Temps dépassé",
    TestStatus.MEMORY: "Mémoire dépassée",
    TestStatus.OUTPUT_LIMIT: "Trop d'affichage",
    TestStatus.ERROR: "Erreur",
}


def check_log(
    exercise_id: str, code: str, summary: CheckSummary, results: list[TestResult]
) -> AttemptLog:
    failing = next((r for r in results if r.status is not TestStatus.PASSED), None)
    kind = None
    if failing is not None:
        kind = failing.explanation.title if failing.explanation else _STATUS_KIND[failing.status]
    wrong = None
    if failing is not None and not failing.hidden and failing.status is TestStatus.FAILED:
        wrong = (failing.actual or "")[:200]
    passed = summary.total if summary.status is CheckStatus.PASSED else summary.passed
    return AttemptLog(
        exercise_id=exercise_id,
        mode="check",
        duration_ms=int(summary.duration_ms),
        status=summary.status.value,
        code=code,
        passed=passed,
        total=summary.total,
        first_failed=failing.index if failing is not None else None,
        error_kind=kind,
        wrong_output=wrong,
    )


def run_log(exercise_id: str, code: str, outcome: str, duration_ms: float) -> AttemptLog:
    return AttemptLog(
        exercise_id=exercise_id,
        mode="run",
        duration_ms=int(duration_ms),
        status=outcome,
        code=code,
    )
