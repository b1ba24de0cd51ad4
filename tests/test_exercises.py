"""Loading specs: each fault in tests/fixtures/specs gives its exact error; models, limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.exercises import (
    Catalog,
    CompareMode,
    Course,
    SpecError,
    Week,
    limits_for,
    load_catalog,
    load_spec,
)
from runner.exercises.schema import COURSE_SCHEMA, SPEC_SCHEMA, schema_text
from runner.sandbox.models import Language, Limits
from runner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path("tests/fixtures/specs")

# One broken spec per fault: the file name, then the exact errors it must give.
FILE_FAULTS: dict[str, list[str]] = {
    "missing-field": ["/tests/1: 'expected' is a required property"],
    "wrong-type": ["/week: '1' is not of type 'integer'"],
    "unknown-language": ["/language: 'ruby' is not one of ['python', 'javascript']"],
    "bad-regex": [
        "/tests/0/expected: invalid regular expression: missing ), unterminated subpattern "
        "at position 0"
    ],
    "no-tests": ["/tests: [] should be non-empty"],
    "no-hints": ["/hints: [] should be non-empty"],
    "unknown-compare": [
        "/tests/0/compare: 'fuzzy' is not one of ['exact', 'ignore_case', "
        "'ignore_whitespace', 'contains', 'regex', 'numbers']"
    ],
    "limit-above-maximum": ["/limits/time_s: 60 is greater than the maximum of 30"],
    "unknown-limit": ["/limits: Additional properties are not allowed ('disk_mib' was unexpected)"],
    "typo-in-test": ["/tests/1: Additional properties are not allowed ('hiden' was unexpected)"],
    "bad-id": ["/id: 'Bad_Id' does not match '^[a-z0-9]+(-[a-z0-9]+)*$'"],
    "id-file-mismatch": [
        "/id: id 'autre-nom' does not match the file name 'id-file-mismatch.json'"
    ],
    "visible-after-hidden": [
        "/tests/2/hidden: a visible test cannot follow a hidden one: put the hidden tests last"
    ],
    "hidden-name-reveals-input": [
        "/tests/1/name: a hidden test's name is shown to learners: it must not reveal its input '-12'"
    ],
    "hidden-description-reveals-input": [
        "/tests/1/description: a hidden test's description is shown to learners: it must not "
        "reveal its input '-12'"
    ],
    "tolerance-without-numbers": [
        "/tests/0/tolerance: 'tolerance' applies only to compare 'numbers', not 'exact'"
    ],
    "week-out-of-range": ["/week: 5 is greater than the maximum of 4"],
    "bad-line-array": ["/starter/1: 3 is not of type 'string'"],
    "bad-json": ["/: invalid JSON at line 6, column 3: Expecting ',' delimiter"],
    "several-faults": [
        "/: 'title' is a required property",
        "/language: 'python3' is not one of ['python', 'javascript']",
        "/tests/0/hidden: 'oui' is not of type 'boolean'",
    ],
}

# One small course folder per catalog-level fault: the exact errors of load_catalog.
F = "tests/fixtures/specs"
COURSE_FAULTS: dict[str, list[str]] = {
    "duplicate-id": [
        f"{F}/duplicate-id/semaine-2/bonjour.json: /id: duplicate id 'bonjour', "
        f"also in {F}/duplicate-id/semaine-1/bonjour.json"
    ],
    "missing-exercise": [
        f"{F}/missing-exercise/course.json: /weeks/0/exercises/1: no exercise with id 'fantome'"
    ],
    "not-in-course": [
        f"{F}/not-in-course/semaine-1/oublie.json: /id: exercise 'oublie' is not listed in "
        f"{F}/not-in-course/course.json"
    ],
    "week-mismatch": [
        f"{F}/week-mismatch/semaine-2/au-revoir.json: /week: week 1, but "
        f"{F}/week-mismatch/course.json lists 'au-revoir' in week 2"
    ],
    "listed-twice": [
        f"{F}/listed-twice/course.json: /weeks/1/exercises/0: 'bonjour' is already listed at "
        "/weeks/0/exercises/0"
    ],
    "week-twice": [f"{F}/week-twice/course.json: /weeks/1/number: week 1 is listed twice"],
    "no-course": [f"{F}/no-course/course.json: /: file not found"],
    "bad-course": [
        f"{F}/bad-course/course.json: /: invalid JSON at line 1, column 86: Expecting property "
        "name enclosed in double quotes"
    ],
    "broken-spec-in-course": [
        f"{F}/broken-spec-in-course/semaine-1/casse.json: /: 'solution' is a required property"
    ],
}


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error paths are relative to the current directory: run from the repository root."""
    monkeypatch.chdir(ROOT)


def test_every_fixture_file_has_its_expected_errors() -> None:
    on_disk = {path.stem for path in FIXTURES.glob("*.json")}
    assert on_disk == set(FILE_FAULTS)
    folders = {path.name for path in FIXTURES.iterdir() if path.is_dir()}
    assert folders == set(COURSE_FAULTS)


@pytest.mark.parametrize("name", sorted(FILE_FAULTS))
def test_load_spec_reports_the_exact_fault(name: str) -> None:
    path = FIXTURES / f"{name}.json"
    exercise, errors = load_spec(path)
    assert exercise is None
    assert [str(error) for error in errors] == [f"{path}: {fault}" for fault in FILE_FAULTS[name]]


@pytest.mark.parametrize("name", sorted(COURSE_FAULTS))
def test_load_catalog_reports_the_exact_fault(name: str) -> None:
    catalog = load_catalog(FIXTURES / name)
    assert [str(error) for error in catalog.errors] == COURSE_FAULTS[name]


def test_load_catalog_keeps_the_valid_exercises_beside_a_broken_one() -> None:
    catalog = load_catalog(FIXTURES / "broken-spec-in-course")
    assert list(catalog.exercises) == ["bonjour"]


def test_load_catalog_keeps_the_first_of_two_duplicate_ids() -> None:
    catalog = load_catalog(FIXTURES / "duplicate-id")
    exercise = catalog.get("bonjour")
    assert exercise is not None
    assert exercise.source.as_posix().endswith("duplicate-id/semaine-1/bonjour.json")


def test_spec_error_str_and_fields() -> None:
    error = SpecError(
        "exercises/semaine-2/compter.json", "/tests/3", "'expected' is a required property"
    )
    assert (
        str(error)
        == "exercises/semaine-2/compter.json: /tests/3: 'expected' is a required property"
    )
    assert (error.path, error.pointer) == ("exercises/semaine-2/compter.json", "/tests/3")
    assert error == SpecError(error.path, error.pointer, error.reason)


def test_error_paths_are_absolute_outside_the_current_directory(tmp_path: Path) -> None:
    path = tmp_path / "ailleurs.json"
    path.write_text("{", encoding="utf-8")
    _, errors = load_spec(path)
    assert [str(e) for e in errors] == [
        f"{path}: /: invalid JSON at line 1, column 2: Expecting property name enclosed in "
        "double quotes"
    ]


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": "exemple",
        "title": "Exemple",
        "language": "javascript",
        "week": 2,
        "instructions": ["# Titre", "", "Texte."],
        "starter": "console.log(1);",
        "solution": ["const x = 2;", "console.log(x);"],
        "hints": ["Un", ["Deux", "lignes"]],
        "tests": [
            {"name": "a", "expected": "2"},
            {
                "name": "b",
                "stdin": ["3", "4"],
                "expected": "2.0",
                "compare": "numbers",
                "hidden": True,
                "time_s": 2,
                "tolerance": 0.5,
            },
        ],
    }
    spec.update(changes)
    return spec


def _write(folder: Path, spec: dict[str, Any]) -> Path:
    path = folder / f"{spec['id']}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def test_load_spec_builds_the_exercise_with_defaults_and_line_arrays(tmp_path: Path) -> None:
    path = _write(tmp_path, _spec(limits={"time_s": 3, "memory_mib": 128}))
    exercise, errors = load_spec(path)
    assert errors == []
    assert exercise is not None
    assert exercise.language is Language.JAVASCRIPT
    assert exercise.instructions == "# Titre\n\nTexte.\n"
    assert exercise.starter == "console.log(1);"
    assert exercise.solution == "const x = 2;\nconsole.log(x);\n"
    assert exercise.hints == ("Un", "Deux\nlignes\n")
    first, second = exercise.tests
    assert (first.stdin, first.compare, first.hidden, first.time_s) == (
        "",
        CompareMode.EXACT,
        False,
        None,
    )
    assert first.tolerance == 1e-6
    assert (second.stdin, second.compare, second.hidden) == ("3\n4\n", CompareMode.NUMBERS, True)
    assert (second.time_s, second.tolerance) == (2.0, 0.5)
    assert exercise.limits == {"time_s": 3.0, "memory_mib": 128}
    assert exercise.week == 2 and exercise.source == path


def test_limits_for_uses_defaults_overrides_and_clamps_to_the_maxima(tmp_path: Path) -> None:
    exercise, _ = load_spec(_write(tmp_path, _spec(limits={"time_s": 20, "memory_mib": 512})))
    assert exercise is not None
    settings = Settings.from_env({}, max_time_limit_s=15.0, memory_mib=100)
    assert limits_for(exercise, settings) == Limits(time_s=15.0, memory_mib=512)
    plain, _ = load_spec(_write(tmp_path, _spec(id="plain")))
    assert plain is not None
    assert limits_for(plain, settings) == Limits(time_s=10.0, memory_mib=100)


def test_schema_maxima_match_the_default_settings() -> None:
    limits = json.loads(schema_text(SPEC_SCHEMA))["$defs"]["limits"]["properties"]
    settings = Settings()
    assert {key: value["maximum"] for key, value in limits.items()} == {
        "time_s": settings.max_time_limit_s,
        "memory_mib": settings.max_memory_mib,
        "output_bytes": settings.max_output_bytes,
        "pids": settings.max_pids,
        "cpus": settings.max_cpus,
        "tmp_mib": settings.max_tmp_mib,
    }


@pytest.mark.parametrize("name", [SPEC_SCHEMA, COURSE_SCHEMA])
def test_course_folder_schema_copies_equal_the_packaged_schemas(name: str) -> None:
    assert (ROOT / "exercises" / name).read_text(encoding="utf-8") == schema_text(name)


def test_a_stale_schema_copy_is_reported(tmp_path: Path) -> None:
    (tmp_path / "course.json").write_text('{"title": "C", "weeks": []}', encoding="utf-8")
    (tmp_path / "schema.json").write_text("{}", encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert [str(e) for e in catalog.errors] == [
        f"{tmp_path}/course.json: /weeks: [] should be non-empty",
        f"{tmp_path}/schema.json: /: differs from the runner's schema: copy "
        "runner/exercises/schema.json over it",
    ]


def _catalog(*ids: str) -> Catalog:
    course = Course("C", (Week(1, "S1", ids[:2]), Week(2, "S2", ids[2:])))
    exercises = {i: object() for i in ids}
    return Catalog(course=course, exercises=exercises)  # type: ignore[arg-type]


def test_catalog_navigation_follows_course_order_across_weeks() -> None:
    catalog = _catalog("a", "b", "c")
    assert [catalog.next_id(i) for i in ("a", "b", "c", "zzz")] == ["b", "c", None, None]
    assert [catalog.previous_id(i) for i in ("a", "b", "c", "zzz")] == [None, "a", "b", None]
    assert catalog.get("zzz") is None


def test_course_week_of_names_the_listing_week() -> None:
    course = Course("C", (Week(1, "S1", ("a",)), Week(2, "S2", ("b",))))
    assert (course.week_of("a"), course.week_of("b"), course.week_of("c")) == (1, 2, None)
