"""What a learner reads about an error: a title, a kind explanation, where, the original."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Explanation:
    """A French explanation of an error for a beginner.

    ``line`` is the line of the learner's own file (1-based) or None; ``original`` is the
    interpreter's error line, e.g. ``NameError: name 'x' is not defined``.
    """

    title: str
    text: str
    line: int | None
    original: str

    def public(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "text": self.text,
            "line": self.line,
            "original": self.original,
        }
