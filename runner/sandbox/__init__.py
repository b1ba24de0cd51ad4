"""Throwaway Docker sandboxes: one container per submission, streamed, limited, always removed."""

from runner.sandbox.docker_api import SandboxUnavailable
from runner.sandbox.engine import Sandbox, Session, default_limits, max_limits
from runner.sandbox.models import (
    Event,
    Finished,
    Language,
    Limits,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Stream,
    Submission,
)

__all__ = [
    "Sandbox",
    "SandboxUnavailable",
    "Session",
    "default_limits",
    "max_limits",
    "Event",
    "Finished",
    "Language",
    "Limits",
    "Outcome",
    "Output",
    "Run",
    "RunFinished",
    "RunStarted",
    "Stream",
    "Submission",
]
