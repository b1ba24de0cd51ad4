"""The sandbox layer's errors: one small hierarchy, each carrying what its handler branches on.

``SandboxUnavailable`` is the domain error (the engine cannot run a submission now). The engine's
answers are translated at the Docker boundary (docker_api.py, attach.py) into ``EngineError`` with
the HTTP status, refined by status into the cases callers handle: a container that is gone (404),
an image that is missing (404 on create), a conflict with the container's state (409).
"""

from __future__ import annotations

from http import HTTPStatus


class SandboxError(RuntimeError):
    """Base of every error the sandbox layer raises."""


class SandboxUnavailable(SandboxError):
    """The engine cannot be reached or an image is missing; the message says which."""


class EngineUnreachable(SandboxUnavailable):
    """The engine's socket did not answer (down, restarting, wrong path)."""

    def __init__(self, socket: str, reason: str) -> None:
        super().__init__(socket, reason)
        self.socket = socket
        self.reason = reason

    def __str__(self) -> str:
        return f"Docker engine unreachable at {self.socket}: {self.reason}"


class EngineError(SandboxUnavailable):
    """The engine answered with an HTTP error ``status``; ``message`` is its own explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"Docker engine error: {self.status} {self.message}"


class ContainerGone(EngineError):
    """404 for a container: it was removed (or never existed)."""


class ImageMissing(EngineError):
    """404 for an image: the sandbox images are not built."""

    def __str__(self) -> str:
        return f"sandbox image missing ({self.message}): run `make images`"


class Conflict(EngineError):
    """409: the container's state forbids the call now (not running, removal in progress)."""


def engine_error(
    status: int, message: str, not_found: type[EngineError] = ContainerGone
) -> EngineError:
    """The error for an engine answer ``status``; ``not_found`` names what a 404 means here."""
    if status == HTTPStatus.NOT_FOUND:
        return not_found(status, message)
    if status == HTTPStatus.CONFLICT:
        return Conflict(status, message)
    return EngineError(status, message)
