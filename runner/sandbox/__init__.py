"""Throwaway Docker sandboxes: one container per submission, streamed, limited, always removed."""

from runner.sandbox.docker_api import SandboxUnavailable
from runner.sandbox.engine import Sandbox, Session
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
    "Event",
    "Finished",
    "Language",
    "Limits",
    "Outcome",
    "Output",
    "Run",
    "RunFinished",
    "RunStarted",
    "Sandbox",
    "SandboxUnavailable",
    "Session",
    "Stream",
    "Submission",
]
