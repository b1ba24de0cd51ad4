"""An exercise's resource limits: the server's defaults, its overrides, the server's maxima."""

from __future__ import annotations

import dataclasses
from typing import Any

from runner.exercises.models import Exercise
from runner.sandbox.models import Limits
from runner.settings import Settings


def limits_for(exercise: Exercise, settings: Settings) -> Limits:
    """The limits of ``exercise``: defaults, then its overrides, clamped to the maxima."""
    overrides: dict[str, Any] = dict(exercise.limits)
    wanted = dataclasses.replace(Limits.defaults(settings), **overrides)
    return wanted.clamp(Limits.maxima(settings))


def run_time_s(requested: float | None, settings: Settings) -> float | None:
    """A test's own time limit, clamped to the server's maximum (None: the exercise's limit)."""
    return None if requested is None else min(requested, settings.max_time_limit_s)
