"""Reading a Node.js error report: the learner's line, the error, and its French explanation."""

from __future__ import annotations

import re

from runner.feedback.javascript_rules import RULES
from runner.feedback.models import Explanation
from runner.feedback.rules import fallback, first_match, quote_hint
from runner.feedback.suggest import JAVASCRIPT_NAMES, did_you_mean

LEARNER_FILE = "/tmp/main.js"
_FILE = re.escape(LEARNER_FILE)
_FRAME = re.compile(r"^\s+at (?:.*\()?" + _FILE + r":(\d+):\d+\)?$", re.MULTILINE)
_HEADER = re.compile(r"^" + _FILE + r":(\d+)$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^(?P<name>(?:[A-Z]\w*)?Error)(?:: (?P<message>.*))?$", re.MULTILINE)


def learner_line(stderr: str) -> int | None:
    """The line of the innermost stack frame in the learner's file, else the report's header."""
    frame = _FRAME.search(stderr)  # Node lists the innermost frame first
    if frame:
        return int(frame[1])
    header = _HEADER.search(stderr)
    return int(header[1]) if header else None


def error_line(stderr: str) -> tuple[str, str, str] | None:
    """``(name, message, original line)`` of the uncaught error."""
    found = _ERROR_LINE.search(stderr)
    if found is None:
        return None
    return found["name"], found["message"] or "", found[0]


def explain_javascript(stderr: str, code: str) -> Explanation | None:
    """A French explanation of the Node.js error in ``stderr``, or None if there is none."""
    found = error_line(stderr)
    if found is None:
        return None
    name, message, original = found
    line = learner_line(stderr)
    title, text = first_match(RULES, name, message, line) or fallback(name, line)
    return Explanation(title, text + _extra(name, message, code), line, original)


def _extra(name: str, message: str, code: str) -> str:
    unknown = re.fullmatch(r"([\w$]+) is not defined", message)
    if name != "ReferenceError" or unknown is None:
        return ""
    return did_you_mean(unknown[1], code, "//", JAVASCRIPT_NAMES) or quote_hint(unknown[1])
