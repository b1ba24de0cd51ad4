"""The exercise vocabulary: comparison modes, test cases, exercises, course plan, catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from runner.exercises.errors import SpecError
from runner.sandbox.models import Language

DEFAULT_TOLERANCE = 1e-6


class CompareMode(StrEnum):
    """How a test compares the program's output with ``expected`` (see docs/guide-formateur.md)."""

    EXACT = "exact"
    IGNORE_CASE = "ignore_case"
    IGNORE_WHITESPACE = "ignore_whitespace"
    CONTAINS = "contains"
    REGEX = "regex"
    NUMBERS = "numbers"


@dataclass(frozen=True)
class TestCase:
    """One test: the program's stdin and what its output must match."""

    __test__ = False  # not a pytest class

    name: str
    stdin: str = ""
    expected: str = ""
    compare: CompareMode = CompareMode.EXACT
    hidden: bool = False
    time_s: float | None = None
    tolerance: float = DEFAULT_TOLERANCE
    description: str = ""  # what the test checks, shown when a hidden test fails


@dataclass(frozen=True)
class Exercise:
    """One exercise spec, loaded and checked. ``solution`` reaches a learner only once they have
    solved the exercise, or failed ``solution_after_failures`` checks and asked for it."""

    id: str
    title: str
    language: Language
    instructions: str
    starter: str
    solution: str
    hints: tuple[str, ...]
    tests: tuple[TestCase, ...]
    limits: dict[str, float | int] = field(default_factory=dict)
    week: int = 1
    source: Path = Path()
    solution_after_failures: int | None = None
    check_prompts: bool = False  # compare input()/prompt() questions too (off: answers only)


@dataclass(frozen=True)
class Week:
    number: int
    title: str
    exercise_ids: tuple[str, ...]
    intro: str = ""


@dataclass(frozen=True)
class Course:
    title: str
    weeks: tuple[Week, ...]

    def week_of(self, exercise_id: str) -> int | None:
        """The number of the first week listing ``exercise_id``, if any."""
        for week in self.weeks:
            if exercise_id in week.exercise_ids:
                return week.number
        return None


@dataclass
class Catalog:
    """Every exercise that loaded without error, in course order, and every problem found."""

    course: Course
    exercises: dict[str, Exercise]
    errors: list[SpecError] = field(default_factory=list)

    def get(self, exercise_id: str) -> Exercise | None:
        return self.exercises.get(exercise_id)

    def next_id(self, exercise_id: str) -> str | None:
        """The id of the exercise after ``exercise_id`` in course order, or None at the end."""
        return self._neighbour(exercise_id, 1)

    def previous_id(self, exercise_id: str) -> str | None:
        """The id of the exercise before ``exercise_id`` in course order, or None at the start."""
        return self._neighbour(exercise_id, -1)

    def _neighbour(self, exercise_id: str, step: int) -> str | None:
        ids = list(self.exercises)
        if exercise_id not in self.exercises:
            return None
        position = ids.index(exercise_id) + step
        return ids[position] if 0 <= position < len(ids) else None
