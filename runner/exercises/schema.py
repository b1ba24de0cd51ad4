"""The JSON Schemas of specs and of the course plan; reading a JSON file into SpecErrors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from runner.exercises.errors import SpecError

SPEC_SCHEMA = "schema.json"
COURSE_SCHEMA = "course.schema.json"
ROOT_POINTER = "/"


def schema_text(name: str) -> str:
    """The text of one packaged schema (``schema.json`` or ``course.schema.json``)."""
    return resources.files("runner.exercises").joinpath(name).read_text(encoding="utf-8")


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads(schema_text(name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def pointer(parts: Iterable[str | int]) -> str:
    """The JSON pointer (RFC 6901) of ``parts``; ``/`` for the root."""
    escaped = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "/" + "/".join(escaped) if escaped else ROOT_POINTER


def read_json(path: Path, shown: str) -> tuple[Any, list[SpecError]]:
    """The parsed content of ``path``, or None and the one error that prevented it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [SpecError(shown, ROOT_POINTER, "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecError(shown, ROOT_POINTER, f"cannot read the file: {exc}")]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None, [SpecError(shown, ROOT_POINTER, reason)]


def schema_errors(document: Any, schema: str, shown: str) -> list[SpecError]:
    """One SpecError per schema violation in ``document``, in document order."""
    found = sorted(_validator(schema).iter_errors(document), key=_order)
    return [SpecError(shown, pointer(error.absolute_path), error.message) for error in found]


def _order(error: ValidationError) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in error.absolute_path)
