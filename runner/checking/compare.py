"""Comparing a program's output with a test's expected output: normalisation, modes, differences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runner.exercises.models import DEFAULT_TOLERANCE, CompareMode

_LINE_END = re.compile(r"\r\n?")
_TRAILING_BLANKS = re.compile(r"[ \t]+$", re.MULTILINE)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Difference:
    """Where two texts first differ; 1-based. A line missing on one side is None."""

    line: int
    column: int
    expected_line: str | None
    actual_line: str | None

    def public(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "expected_line": self.expected_line,
            "actual_line": self.actual_line,
        }


def normalize(text: str) -> str:
    """Line ends as LF, no spaces or tabs at the end of a line, no trailing blank lines.

    The result never ends with a line break: ``"a \\r\\nb\\n\\n"`` gives ``"a\\nb"``.
    """
    text = _LINE_END.sub("\n", text)
    text = _TRAILING_BLANKS.sub("", text)
    return text.rstrip("\n")


def is_number(token: str) -> bool:
    """Whether ``token`` is a decimal number such as ``-3``, ``2.50``, ``.5`` or ``1e-3``."""
    return _NUMBER.fullmatch(token) is not None


def numbers_close(expected: float, actual: float, tolerance: float) -> bool:
    """Kattis' rule: equal within ``tolerance`` absolutely OR relatively to ``expected``."""
    difference = abs(actual - expected)
    return difference <= tolerance or difference <= tolerance * abs(expected)


def matches(
    mode: CompareMode, expected: str, actual: str, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """Whether the output ``actual`` satisfies ``expected`` under ``mode``."""
    out = normalize(actual)
    if mode is CompareMode.REGEX:
        return re.fullmatch(expected.rstrip("\n"), out) is not None
    want = normalize(expected)
    if mode is CompareMode.EXACT:
        return out == want
    if mode is CompareMode.IGNORE_CASE:
        return out.casefold() == want.casefold()
    if mode is CompareMode.IGNORE_WHITESPACE:
        return out.split() == want.split()
    if mode is CompareMode.CONTAINS:
        return want in out
    return _numbers_match(want.split(), out.split(), tolerance)


def _numbers_match(expected: list[str], actual: list[str], tolerance: float) -> bool:
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual, strict=True):
        if is_number(want) and is_number(got):
            if not numbers_close(float(want), float(got), tolerance):
                return False
        elif want != got:
            return False
    return True


def first_number_mismatch(
    expected: str, actual: str, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[str, str] | None:
    """The first pair of tokens ``(expected, actual)`` that differ in numbers mode, if any.

    When every common token agrees but the counts differ, the missing side is ``""``.
    """
    want_tokens, got_tokens = normalize(expected).split(), normalize(actual).split()
    for want, got in zip(want_tokens, got_tokens, strict=False):
        if not _numbers_match([want], [got], tolerance):
            return want, got
    if len(want_tokens) == len(got_tokens):
        return None
    count = min(len(want_tokens), len(got_tokens))
    return [*want_tokens, ""][count], [*got_tokens, ""][count]


def first_difference(expected: str, actual: str, *, fold_case: bool = False) -> Difference | None:
    """Where the normalised texts first differ (None when equal); ``fold_case`` ignores case."""
    want_lines = normalize(expected).split("\n")
    got_lines = normalize(actual).split("\n")
    for index in range(max(len(want_lines), len(got_lines))):
        want = want_lines[index] if index < len(want_lines) else None
        got = got_lines[index] if index < len(got_lines) else None
        column = _first_column(want, got, fold_case)
        if column is not None:
            return Difference(index + 1, column, want, got)
    return None


def _first_column(want: str | None, got: str | None, fold_case: bool) -> int | None:
    if want is None or got is None:
        return 1
    for column, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if a != b and not (fold_case and a.casefold() == b.casefold()):
            return column
    if len(want) == len(got):
        return None
    return min(len(want), len(got)) + 1


def visible(text: str) -> str:
    """``text`` with spaces shown as ``·``, tabs as ``→``, line ends as ``↵`` (then the break)."""
    return text.replace(" ", "·").replace("\t", "→").replace("\r", "␍").replace("\n", "↵\n")
