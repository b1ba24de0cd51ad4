"""The course "Décoder le code" itself: it loads cleanly and meets the course's quality bar."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from runner.exercises import Catalog, CompareMode, load_catalog
from runner.sandbox.models import Language

ROOT = Path(__file__).resolve().parent.parent
MIN_EXERCISES, MIN_PYTHON, MIN_JAVASCRIPT = 24, 16, 8


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "exercises")


def test_course_loads_without_any_error(catalog: Catalog) -> None:
    assert [str(error) for error in catalog.errors] == []


def test_course_has_four_weeks_and_every_exercise_in_order(catalog: Catalog) -> None:
    assert catalog.course.title == "Décoder le code"
    assert [week.number for week in catalog.course.weeks] == [1, 2, 3, 4]
    listed = [i for week in catalog.course.weeks for i in week.exercise_ids]
    assert list(catalog.exercises) == listed


def test_course_has_enough_exercises_in_each_language(catalog: Catalog) -> None:
    languages = Counter(exercise.language for exercise in catalog.exercises.values())
    assert len(catalog.exercises) >= MIN_EXERCISES
    assert languages[Language.PYTHON] >= MIN_PYTHON
    assert languages[Language.JAVASCRIPT] >= MIN_JAVASCRIPT


def test_every_week_mixes_python_and_javascript(catalog: Catalog) -> None:
    for week in catalog.course.weeks:
        languages = {catalog.exercises[i].language for i in week.exercise_ids}
        assert languages == set(Language), week.number


def test_each_exercise_has_three_tests_one_hidden_and_two_hints(catalog: Catalog) -> None:
    for exercise in catalog.exercises.values():
        assert len(exercise.tests) >= 3, exercise.id
        assert any(test.hidden for test in exercise.tests), exercise.id
        assert any(not test.hidden for test in exercise.tests), exercise.id
        assert len(exercise.hints) >= 2, exercise.id


def test_each_exercise_has_french_instructions_with_an_example(catalog: Catalog) -> None:
    for exercise in catalog.exercises.values():
        assert exercise.instructions.startswith("# "), exercise.id
        assert "## À toi" in exercise.instructions, exercise.id
        assert "Exemple" in exercise.instructions, exercise.id
        assert exercise.starter != exercise.solution, exercise.id


def test_javascript_exercises_read_input_with_prompt(catalog: Catalog) -> None:
    for exercise in catalog.exercises.values():
        if exercise.language is Language.JAVASCRIPT:
            for text in (exercise.starter, exercise.solution, exercise.instructions):
                assert "prompt()" in text, exercise.id
                assert "readFileSync" not in text, exercise.id


def test_course_uses_several_comparison_modes(catalog: Catalog) -> None:
    modes = {test.compare for e in catalog.exercises.values() for test in e.tests}
    assert modes == set(CompareMode)


@pytest.mark.docker
@pytest.mark.anyio
async def test_every_solution_passes_and_every_starter_fails_in_the_sandbox(
    sandbox: object, settings: object, catalog: Catalog
) -> None:
    from runner.checking import TestStatus
    from runner.cli.authoring import check_code

    for exercise in catalog.exercises.values():
        solution = await check_code(sandbox, exercise, exercise.solution, settings)
        statuses = [result.status for result in solution.results]
        assert statuses == [TestStatus.PASSED] * len(exercise.tests), exercise.id
        starter = await check_code(sandbox, exercise, exercise.starter, settings)
        assert any(r.status is not TestStatus.PASSED for r in starter.results), exercise.id
