"""Pure French feedback for beginners: explaining Python and Node.js errors, and outcomes."""

from __future__ import annotations

from runner.feedback.javascript import explain_javascript
from runner.feedback.models import Explanation
from runner.feedback.outcomes import outcome_message
from runner.feedback.python import explain_python
from runner.sandbox.models import Language


def explain(language: Language, stderr: str, code: str) -> Explanation | None:
    """A French explanation of the error the program reported in ``stderr``, if any.

    ``code`` is the learner's program: misspelt names are matched against its identifiers.
    """
    if language is Language.PYTHON:
        return explain_python(stderr, code)
    return explain_javascript(stderr, code)


__all__ = ["Explanation", "explain", "explain_javascript", "explain_python", "outcome_message"]
