"""Reading a CPython traceback: the learner's line, the error, and its French explanation."""

from __future__ import annotations

import re

from runner.feedback.models import Explanation
from runner.feedback.python_rules import RULES
from runner.feedback.rules import fallback, first_match, quote_hint
from runner.feedback.suggest import PYTHON_NAMES, did_you_mean

LEARNER_FILE = "/tmp/main.py"
_FRAME = re.compile(r'^\s*File "' + re.escape(LEARNER_FILE) + r'", line (\d+)', re.MULTILINE)
_ERROR_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_PYTHON_SUGGESTION = re.compile(r"\. Did you mean: '(?P<name>\w+)'\?$")
# Methods of other languages that beginners try on Python values.
_METHOD_HINTS = {
    "push": "append",
    "length": "len(...)",
    "toUpperCase": "upper",
    "toLowerCase": "lower",
    "size": "len(...)",
    "add": "append",
    "trim": "strip",
    "contains": "in",
    "includes": "in",
}


def learner_line(stderr: str) -> int | None:
    """The line of the learner's file in the innermost frame that belongs to it."""
    lines = _FRAME.findall(stderr)
    return int(lines[-1]) if lines else None


def error_line(stderr: str) -> tuple[str, str, str] | None:
    """``(name, message, original line)`` of the exception that ended the program."""
    for raw in reversed(stderr.splitlines()):
        found = _ERROR_LINE.match(raw.rstrip())
        if found and _looks_like_exception(found["name"]):
            return found["name"].rsplit(".", 1)[-1], found["message"] or "", raw.rstrip()
    return None


def _looks_like_exception(name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return short.endswith(("Error", "Exception", "Interrupt", "Exit", "Warning"))


def explain_python(stderr: str, code: str) -> Explanation | None:
    """A French explanation of the Python error in ``stderr``, or None if there is none."""
    found = error_line(stderr)
    if found is None:
        return None
    name, message, original = found
    line = learner_line(stderr)
    title, text = first_match(RULES, name, message, line) or fallback(name, line)
    return Explanation(title, text + _extra(name, message, code), line, original)


def _extra(name: str, message: str, code: str) -> str:
    """A suggestion for a misspelt name or method, when one comes to mind."""
    python_guess = _PYTHON_SUGGESTION.search(message)
    if name == "NameError":
        if python_guess:
            return f" Tu voulais peut-être dire `{python_guess['name']}` ?"
        unknown = re.match(r"name '(\w+)'", message)
        if unknown is None:
            return ""
        return did_you_mean(unknown[1], code, "#", PYTHON_NAMES) or quote_hint(unknown[1])
    if name == "AttributeError":
        method = re.search(r"has no attribute '(\w+)'", message)
        if python_guess:
            return f" Tu voulais peut-être dire `{python_guess['name']}` ?"
        if method and method[1] in _METHOD_HINTS:
            return f" En Python, on utilise plutôt `{_METHOD_HINTS[method[1]]}`."
    return ""
