"""Throwaway Docker sandboxes: one container per submission, streamed, limited, always removed."""

from runner.sandbox.engine import Sandbox
from runner.sandbox.errors import (
    Conflict,
    ContainerGone,
    EngineError,
    EngineUnreachable,
    ImageMissing,
    SandboxError,
    SandboxUnavailable,
)
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
from runner.sandbox.session import Session

__all__ = [
    "Conflict",
    "ContainerGone",
    "EngineError",
    "EngineUnreachable",
    "Event",
    "Finished",
    "ImageMissing",
    "Language",
    "Limits",
    "Outcome",
    "Output",
    "Run",
    "RunFinished",
    "RunStarted",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "Session",
    "Stream",
    "Submission",
]
