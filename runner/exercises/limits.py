"""An exercise's resource limits: the server's defaults, its overrides, the server's maxima."""

from __future__ import annotations

import dataclasses
from typing import Any

from runner.exercises.models import Exercise
from runner.sandbox.models import Limits
from runner.settings import Settings


def default_limits(settings: Settings) -> Limits:
    return Limits(
        time_s=settings.time_limit_s,
        cpus=settings.cpus,
        memory_mib=settings.memory_mib,
        pids=settings.pids,
        output_bytes=settings.output_bytes,
        tmp_mib=settings.tmp_mib,
    )


def max_limits(settings: Settings) -> Limits:
    return Limits(
        time_s=settings.max_time_limit_s,
        cpus=settings.max_cpus,
        memory_mib=settings.max_memory_mib,
        pids=settings.max_pids,
        output_bytes=settings.max_output_bytes,
        tmp_mib=settings.max_tmp_mib,
    )


def limits_for(exercise: Exercise, settings: Settings) -> Limits:
    """The limits of ``exercise``: defaults, then its overrides, clamped to the maxima."""
    overrides: dict[str, Any] = dict(exercise.limits)
    wanted = dataclasses.replace(default_limits(settings), **overrides)
    return wanted.clamp(max_limits(settings))


def run_time_s(requested: float | None, settings: Settings) -> float | None:
    """A test's own time limit, clamped to the server's maximum (None: the exercise's limit)."""
    return None if requested is None else min(requested, settings.max_time_limit_s)
