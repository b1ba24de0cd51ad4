"""Plain-text renderings of check results for terminals (``decode-runner try``), in French."""

from __future__ import annotations

from runner.checking.compare import Difference, visible
from runner.checking.grading import CheckStatus, CheckSummary, TestResult, TestStatus

MAX_SHOWN_LINES = 12
_LABEL_EXPECTED = "  Attendu : "
_LABEL_ACTUAL = "  Obtenu  : "
_MARKS = {
    CheckStatus.PASSED: "✓",
    CheckStatus.FAILED: "✗",
    CheckStatus.STOPPED: "■",
    CheckStatus.UNAVAILABLE: "⚠",
}


def result_lines(result: TestResult) -> list[str]:
    """What a learner sees for one test: a ✓/✗ line, then for a visible failure the details."""
    passed = result.status is TestStatus.PASSED
    hidden = " (test caché)" if result.hidden else ""
    lines = [f"{'✓' if passed else '✗'} Test {result.index + 1} : {result.name}{hidden}"]
    if passed:
        return lines
    lines.append(f"  {result.message}")
    if result.difference is not None:
        lines += difference_lines(result.difference)
    elif result.status is TestStatus.FAILED and not result.hidden:
        lines += _block("Attendu", result.expected or "") + _block("Obtenu", result.actual or "")
    if result.explanation is not None:
        explanation = result.explanation
        where = f" (ligne {explanation.line})" if explanation.line else ""
        lines.append(f"  → {explanation.title}{where}")
        lines.append(f"    {explanation.text}")
        lines.append(f"    Message d'origine : {explanation.original}")
    return lines


def difference_lines(difference: Difference) -> list[str]:
    """The first differing line of each side, spaces made visible, a caret under the column."""
    expected = _shown(difference.expected_line, "(pas de ligne)")
    actual = _shown(difference.actual_line, "(pas de ligne)")
    caret = " " * (len(_LABEL_ACTUAL) + difference.column - 1) + "^"
    where = f" ligne {difference.line}, colonne {difference.column}"
    return [_LABEL_EXPECTED + expected, _LABEL_ACTUAL + actual, caret + where]


def summary_line(summary: CheckSummary) -> str:
    return f"{_MARKS[summary.status]} {summary.message}"


def _shown(line: str | None, missing: str) -> str:
    return missing if line is None else visible(line)


def _block(label: str, text: str) -> list[str]:
    shown = visible(text).split("\n")
    if shown and shown[-1] == "":
        shown.pop()
    cut = len(shown) > MAX_SHOWN_LINES
    body = [f"    {line}" for line in shown[:MAX_SHOWN_LINES]] or ["    (rien)"]
    return [f"  {label} :", *body, *(["    …"] if cut else [])]
