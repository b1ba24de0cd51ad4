"""Errors of the exercises layer; each carries the file, the JSON pointer and the fault."""

from __future__ import annotations


class ExerciseError(Exception):
    """Base of the exercises layer's errors."""


class SpecError(ExerciseError):
    """One problem in one file: ``str()`` is ``"<path>: <pointer>: <reason>"``.

    ``pointer`` is a JSON pointer into the file (RFC 6901); ``/`` stands for the whole file.
    """

    def __init__(self, path: str, pointer: str, reason: str) -> None:
        super().__init__(path, pointer, reason)
        self.path = path
        self.pointer = pointer
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.pointer}: {self.reason}"

    def __repr__(self) -> str:
        return f"SpecError({self.path!r}, {self.pointer!r}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecError) and self.args == other.args

    def __hash__(self) -> int:
        return hash(self.args)
