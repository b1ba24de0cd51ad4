"""Loading a course folder into a Catalog, collecting every problem rather than stopping at one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.exercises.errors import SpecError
from runner.exercises.models import Catalog, Course, Exercise, Week
from runner.exercises.schema import (
    COURSE_SCHEMA,
    ROOT_POINTER,
    SPEC_SCHEMA,
    display_path,
    read_json,
    schema_errors,
    schema_text,
)
from runner.exercises.spec import load_spec, spec_id

COURSE_FILE = "course.json"
_NOT_SPECS = frozenset({COURSE_FILE, SPEC_SCHEMA, COURSE_SCHEMA})


def spec_paths(root: Path) -> list[Path]:
    """Every spec file below ``root``, in path order (the schemas and course plan excluded)."""
    return sorted(
        path
        for path in root.rglob("*.json")
        if not (path.parent == root and path.name in _NOT_SPECS)
    )


def load_catalog(root: Path) -> Catalog:
    """The course in ``root``: ``course.json`` and every spec below it, with every problem found."""
    errors = _schema_copy_errors(root)
    course, course_errors = load_course(root / COURSE_FILE)
    errors += course_errors
    loaded: dict[str, Exercise] = {}
    seen: dict[str, Path] = {}  # id -> first file declaring it, broken files included
    for path in spec_paths(root):
        exercise, spec_errors = load_spec(path)
        errors += spec_errors
        declared = exercise.id if exercise else spec_id(path)
        if declared is None:
            continue
        if declared in seen:
            reason = f"duplicate id {declared!r}, also in {display_path(seen[declared])}"
            errors.append(SpecError(display_path(path), "/id", reason))
            continue
        seen[declared] = path
        if exercise is not None:
            loaded[declared] = exercise
    errors += _course_errors(course, root / COURSE_FILE, loaded, set(seen))
    ordered = _in_course_order(course, loaded, errors)
    return Catalog(course=course, exercises=ordered, errors=sorted(errors, key=_by_file))


def load_course(path: Path) -> tuple[Course, list[SpecError]]:
    """The course plan in ``path``; an empty course when the file is unusable."""
    shown = display_path(path)
    document, errors = read_json(path, shown)
    if not errors:
        errors = schema_errors(document, COURSE_SCHEMA, shown)
    if errors:
        return Course(title="", weeks=()), errors
    return _course(document), _week_errors(document, shown)


def _course(document: dict[str, Any]) -> Course:
    weeks = tuple(
        Week(
            number=week["number"],
            title=week["title"],
            exercise_ids=tuple(week["exercises"]),
            intro=week.get("intro", ""),
        )
        for week in document["weeks"]
    )
    return Course(title=document["title"], weeks=weeks)


def _week_errors(document: dict[str, Any], shown: str) -> list[SpecError]:
    errors: list[SpecError] = []
    numbers: set[int] = set()
    listed: dict[str, str] = {}
    for w, week in enumerate(document["weeks"]):
        if week["number"] in numbers:
            reason = f"week {week['number']} is listed twice"
            errors.append(SpecError(shown, f"/weeks/{w}/number", reason))
        numbers.add(week["number"])
        for e, exercise_id in enumerate(week["exercises"]):
            where = f"/weeks/{w}/exercises/{e}"
            if exercise_id in listed:
                reason = f"{exercise_id!r} is already listed at {listed[exercise_id]}"
                errors.append(SpecError(shown, where, reason))
            listed.setdefault(exercise_id, where)
    return errors


def _course_errors(
    course: Course, course_path: Path, loaded: dict[str, Exercise], declared: set[str]
) -> list[SpecError]:
    if not course.weeks:
        return []  # the course file itself is broken: its error says so
    shown = display_path(course_path)
    errors: list[SpecError] = []
    for w, week in enumerate(course.weeks):
        for e, exercise_id in enumerate(week.exercise_ids):
            if exercise_id not in declared:
                reason = f"no exercise with id {exercise_id!r}"
                errors.append(SpecError(shown, f"/weeks/{w}/exercises/{e}", reason))
    for exercise in loaded.values():
        week_number = course.week_of(exercise.id)
        if week_number is None:
            reason = f"exercise {exercise.id!r} is not listed in {shown}"
            errors.append(SpecError(display_path(exercise.source), "/id", reason))
        elif week_number != exercise.week:
            listed = f"{shown} lists {exercise.id!r} in week {week_number}"
            reason = f"week {exercise.week}, but {listed}"
            errors.append(SpecError(display_path(exercise.source), "/week", reason))
    return errors


def _in_course_order(
    course: Course, loaded: dict[str, Exercise], errors: list[SpecError]
) -> dict[str, Exercise]:
    faulty = {error.path for error in errors}
    ordered: dict[str, Exercise] = {}
    for week in course.weeks:
        for exercise_id in week.exercise_ids:
            exercise = loaded.get(exercise_id)
            if exercise and display_path(exercise.source) not in faulty:
                ordered.setdefault(exercise_id, exercise)
    return ordered


def _schema_copy_errors(root: Path) -> list[SpecError]:
    """The course folder's schema copies (for editors) must equal the runner's own."""
    errors = []
    for name in (SPEC_SCHEMA, COURSE_SCHEMA):
        copy = root / name
        if copy.is_file() and copy.read_text(encoding="utf-8") != schema_text(name):
            reason = f"differs from the runner's schema: copy runner/exercises/{name} over it"
            errors.append(SpecError(display_path(copy), ROOT_POINTER, reason))
    return errors


def _by_file(error: SpecError) -> str:
    return error.path
