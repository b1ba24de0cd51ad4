"""Learner ids: unguessable 128-bit tokens, 32 lowercase hex characters; no accounts."""

from __future__ import annotations

import re
import secrets

LEARNER_HEADER = "x-learner"
_LEARNER = re.compile(r"[0-9a-f]{32}")


class InvalidLearner(ValueError):
    """A learner id that is not 32 lowercase hex characters."""


def new_learner() -> str:
    return secrets.token_hex(16)


def parse_learner(value: str | None) -> str | None:
    """``value`` as a learner id; None when absent; ``InvalidLearner`` when malformed."""
    if value is None or value == "":
        return None
    if _LEARNER.fullmatch(value) is None:
        raise InvalidLearner(value[:40])
    return value
