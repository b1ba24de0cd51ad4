"""Guessing the name a learner meant, from the identifiers of their own code (difflib)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_STRING = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

PYTHON_NAMES = frozenset(
    {"print", "input", "int", "float", "str", "len", "range", "list", "dict", "sum", "min"}
    | {"max", "abs", "round", "sorted", "True", "False", "None", "return", "import"}
)
JAVASCRIPT_NAMES = frozenset(
    {"console", "log", "require", "parseInt", "parseFloat", "Number", "String", "Math"}
    | {"length", "push", "let", "const", "function", "return", "true", "false", "null"}
)


def identifiers(code: str, comment: str) -> set[str]:
    """The names used in ``code``, outside strings and comments starting with ``comment``."""
    without_strings = _STRING.sub('""', code)
    without_comments = re.sub(re.escape(comment) + r"[^\n]*", "", without_strings)
    return set(_IDENTIFIER.findall(without_comments))


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``name`` (never ``name`` itself), if one is close enough."""
    pool = sorted({candidate for candidate in candidates if candidate != name})
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, code: str, comment: str, builtins: Iterable[str]) -> str:
    """A French sentence suggesting a close name, or "" when none is close."""
    guess = closest(name, identifiers(code, comment) | set(builtins))
    return f" Tu voulais peut-être dire `{guess}` ?" if guess else ""
