"""One spec file into an Exercise: schema validation, then the checks a schema cannot express."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runner.exercises.errors import SpecError
from runner.exercises.models import DEFAULT_TOLERANCE, CompareMode, Exercise, TestCase
from runner.exercises.schema import SPEC_SCHEMA, display_path, read_json, schema_errors
from runner.sandbox.models import Language

_FLOAT_LIMITS = frozenset({"time_s", "cpus"})


def text(value: str | list[str]) -> str:
    """A spec text: a string as is, or a list of lines, each followed by a line break."""
    if isinstance(value, str):
        return value
    return "".join(line + "\n" for line in value)


def load_spec(path: Path) -> tuple[Exercise | None, list[SpecError]]:
    """The exercise in ``path``, or None with every problem found in that file."""
    shown = display_path(path)
    document, errors = read_json(path, shown)
    if errors:
        return None, errors
    errors = schema_errors(document, SPEC_SCHEMA, shown)
    if errors:
        return None, errors
    errors = _semantic_errors(document, path, shown)
    if errors:
        return None, errors
    return _exercise(document, path), []


def spec_id(path: Path) -> str | None:
    """The ``id`` a spec file declares, even when the file is otherwise broken."""
    document, errors = read_json(path, "")
    if errors or not isinstance(document, dict):
        return None
    value = document.get("id")
    return value if isinstance(value, str) else None


def _semantic_errors(document: dict[str, Any], path: Path, shown: str) -> list[SpecError]:
    errors: list[SpecError] = []
    if document["id"] != path.stem:
        reason = f"id {document['id']!r} does not match the file name {path.name!r}"
        errors.append(SpecError(shown, "/id", reason))
    seen_hidden = False
    for index, test in enumerate(document["tests"]):
        errors.extend(_test_errors(test, f"/tests/{index}", shown))
        if seen_hidden and not test.get("hidden", False):
            # Runs share one container: whatever a hidden test's run leaves behind must only
            # ever be seen by runs whose output stays on the server.
            reason = "a visible test cannot follow a hidden one: put the hidden tests last"
            errors.append(SpecError(shown, f"/tests/{index}/hidden", reason))
        seen_hidden = seen_hidden or test.get("hidden", False)
    return errors


def _test_errors(test: dict[str, Any], where: str, shown: str) -> list[SpecError]:
    errors: list[SpecError] = []
    mode = CompareMode(test.get("compare", CompareMode.EXACT))
    if mode is CompareMode.REGEX:
        try:
            re.compile(text(test["expected"]))
        except re.error as exc:
            reason = f"invalid regular expression: {exc}"
            errors.append(SpecError(shown, f"{where}/expected", reason))
    for field in ("name", "description"):
        revealed = _revealed_in(test, field)
        if revealed:
            reason = (
                f"a hidden test's {field} is shown to learners: "
                f"it must not reveal its input {revealed!r}"
            )
            errors.append(SpecError(shown, f"{where}/{field}", reason))
    if "tolerance" in test and mode is not CompareMode.NUMBERS:
        reason = f"'tolerance' applies only to compare 'numbers', not {mode.value!r}"
        errors.append(SpecError(shown, f"{where}/tolerance", reason))
    return errors


def _revealed_in(test: dict[str, Any], field: str) -> str | None:
    """The first input value (a number, or a word of 3+ letters) that a hidden test's ``field``
    (its name, its description: both shown to learners) repeats."""
    if not test.get("hidden") or not test.get(field):
        return None
    shown_text: str = test[field]
    name_words = set(re.findall(r"-?\d+(?:[.,]\d+)?|\w{3,}", shown_text.casefold()))
    for value in re.findall(r"-?\d+(?:[.,]\d+)?|\w{3,}", text(test.get("stdin", "")).casefold()):
        if value in name_words:
            return str(value)
    return None


def _exercise(document: dict[str, Any], path: Path) -> Exercise:
    return Exercise(
        id=document["id"],
        title=document["title"],
        language=Language(document["language"]),
        instructions=text(document["instructions"]),
        starter=text(document["starter"]),
        solution=text(document["solution"]),
        hints=tuple(text(hint) for hint in document["hints"]),
        tests=tuple(_test_case(test) for test in document["tests"]),
        limits=_limits(document.get("limits", {})),
        week=document["week"],
        source=path,
        solution_after_failures=document.get("solution_after_failures"),
        check_prompts=document.get("check_prompts", False),
    )


def _limits(raw: dict[str, float | int]) -> dict[str, float | int]:
    return {key: float(value) if key in _FLOAT_LIMITS else int(value) for key, value in raw.items()}


def _test_case(test: dict[str, Any]) -> TestCase:
    time_s = test.get("time_s")
    return TestCase(
        name=test["name"],
        stdin=text(test.get("stdin", "")),
        expected=text(test["expected"]),
        compare=CompareMode(test.get("compare", CompareMode.EXACT)),
        hidden=test.get("hidden", False),
        time_s=None if time_s is None else float(time_s),
        tolerance=float(test.get("tolerance", DEFAULT_TOLERANCE)),
        description=test.get("description", ""),
    )
