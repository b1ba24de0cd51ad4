"""The sandbox's vocabulary: languages, limits, submissions, outcomes and the events a session streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from runner.settings import Settings

Stream = Literal["stdout", "stderr", "prompt"]
"""Where output comes from: "prompt" is the question a program asks for its input (Python's
``input(question)``, JavaScript's ``prompt(question)``), apart from what it prints."""


class Language(StrEnum):
    PYTHON = "python"
    JAVASCRIPT = "javascript"


class Outcome(StrEnum):
    """How one run (or a whole submission) ended."""

    OK = "ok"
    ERROR = "error"  # non-zero exit
    TIMEOUT = "timeout"  # a check's wall time, or an interactive run's CPU time, reached the limit
    MEMORY = "memory"  # the cgroup's OOM counter says so (or, without one, a SIGKILL)
    KILLED = "killed"  # a SIGKILL that is not the OOM killer's
    OUTPUT_LIMIT = "output_limit"
    STOPPED = "stopped"
    UNAVAILABLE = "unavailable"  # engine down or image missing
    IDLE = "idle"  # an interactive run got no input for Limits.idle_s


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission.

    ``time_s`` is each run's time limit: wall time for a run given its stdin (a check), CPU time
    for an interactive run (``Run(stdin=None)``), whose waits for the learner's input do not
    count. ``idle_s`` ends an interactive run that has had no input for that long (``IDLE``).
    """

    time_s: float = 10.0
    cpus: float = 1.0
    memory_mib: int = 256
    pids: int = 64
    output_bytes: int = 64 * 1024
    tmp_mib: int = 16
    idle_s: float = 300.0

    @classmethod
    def defaults(cls, settings: Settings) -> Limits:
        """The server's default limits of a submission."""
        return cls(
            time_s=settings.time_limit_s,
            cpus=settings.cpus,
            memory_mib=settings.memory_mib,
            pids=settings.pids,
            output_bytes=settings.output_bytes,
            tmp_mib=settings.tmp_mib,
        )

    @classmethod
    def maxima(cls, settings: Settings) -> Limits:
        """The most an exercise may ask for."""
        return cls(
            time_s=settings.max_time_limit_s,
            cpus=settings.max_cpus,
            memory_mib=settings.max_memory_mib,
            pids=settings.max_pids,
            output_bytes=settings.max_output_bytes,
            tmp_mib=settings.max_tmp_mib,
        )

    def clamp(self, maxima: Limits) -> Limits:
        """These limits, none above ``maxima``."""
        return Limits(
            time_s=min(self.time_s, maxima.time_s),
            cpus=min(self.cpus, maxima.cpus),
            memory_mib=min(self.memory_mib, maxima.memory_mib),
            pids=min(self.pids, maxima.pids),
            output_bytes=min(self.output_bytes, maxima.output_bytes),
            tmp_mib=min(self.tmp_mib, maxima.tmp_mib),
            idle_s=min(self.idle_s, maxima.idle_s),
        )


@dataclass(frozen=True)
class Run:
    """One process inside the submission's container.

    ``stdin=None`` makes the run interactive: its input comes from ``Session.send_stdin``.
    A string is its whole input, after which stdin is closed.
    """

    stdin: str | None = None
    time_s: float | None = None  # overrides Limits.time_s for this run

    @property
    def interactive(self) -> bool:
        return self.stdin is None


@dataclass(frozen=True)
class Submission:
    language: Language
    code: str
    runs: tuple[Run, ...] = (Run(),)
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class RunStarted:
    """A run began; ``prepared``: in the process its warm container started ahead of it."""

    index: int
    prepared: bool = False


@dataclass(frozen=True)
class Output:
    index: int
    stream: Stream
    data: str


@dataclass(frozen=True)
class RunFinished:
    """The end of one run, with everything it printed (up to the output limit, which its three
    streams share); ``prompts`` holds the questions it asked for input, never in ``stdout``;
    ``transcript`` is both in their order (what an exercise that checks its questions compares)."""

    index: int
    outcome: Outcome
    exit_code: int | None
    duration_ms: float
    stdout: str
    stderr: str
    prompts: str = ""
    transcript: str = ""  # stdout and prompts interleaved, as a terminal would show them


@dataclass(frozen=True)
class Finished:
    """The end of the whole submission; always the last event of a session.

    ``outcome`` is the first run's outcome that was not ``ok``, else ``ok``;
    ``detail`` is an operator-facing English reason (e.g. which image is missing).
    """

    outcome: Outcome
    exit_code: int | None
    duration_ms: float
    runs_completed: int
    detail: str = ""


Event = RunStarted | Output | RunFinished | Finished
