"""The /ws endpoint: origin check, learner id, then a Connection reading frames until it closes."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from anyio.abc import TaskGroup
from starlette.datastructures import Headers
from starlette.status import WS_1008_POLICY_VIOLATION, WS_1009_MESSAGE_TOO_BIG
from starlette.websockets import WebSocket, WebSocketDisconnect

from runner.store import StoreError
from runner.web import protocol
from runner.web.jobs import Job, JobState
from runner.web.learners import (
    SESSION_PARAM,
    InvalidLearner,
    Learner,
    SessionExpired,
    new_learner,
    parse_learner,
    resume_session,
)
from runner.web.protocol import (
    ClientMessage,
    ErrorCode,
    Mode,
    ProtocolError,
    RunRequest,
    StdinData,
    StdinEof,
    StopRequest,
)
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def origin_allowed(headers: Headers, allowed: tuple[str, ...]) -> bool:
    """No Origin (not a browser), the page's own origin, or one of ``allowed``."""
    origin = headers.get("origin")
    if origin is None:
        return True
    normalized = origin_key(origin)
    if normalized is None:
        return False
    if normalized in {origin_key(entry) for entry in allowed}:
        return True
    host = headers.get("host", "").lower()
    scheme, _, netloc = normalized.partition("://")
    return netloc in {host, _strip_default_port(host, scheme)}


def origin_key(origin: str) -> str | None:
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{parts.scheme}://{_strip_default_port(parts.netloc, parts.scheme)}"


def _strip_default_port(netloc: str, scheme: str) -> str:
    suffix = ":" + _DEFAULT_PORTS.get(scheme, "")
    return netloc[: -len(suffix)] if netloc.endswith(suffix) else netloc


async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not origin_allowed(websocket.headers, runtime.settings.allowed_origins):
        logger.warning("refused /ws from origin %r", websocket.headers.get("origin"))
        await websocket.close(code=WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
        return
    await websocket.accept()
    runtime.connections += 1
    try:
        await Connection(websocket, runtime).serve()
    finally:
        runtime.connections -= 1


class Connection:
    """One learner's socket: at most one Job at a time; the Job dies with the socket."""

    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.learner = Learner("")
        self.job: Job | None = None
        self._send_lock = anyio.Lock()
        self._closed = False
        self._tasks: TaskGroup | None = None

    async def serve(self) -> None:
        if not await self._identify():
            return
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                await self._receive_loop()
            finally:
                tasks.cancel_scope.cancel()  # a job still running dies here: its container goes

    async def send(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            async with self._send_lock:
                await self.websocket.send_json(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._closed = True
            if self._tasks is not None:
                self._tasks.cancel_scope.cancel()

    async def _identify(self) -> bool:
        session = self.websocket.query_params.get(SESSION_PARAM)
        if session is not None:
            return await self._resume(session)
        raw = self.websocket.query_params.get("learner")
        try:
            learner = parse_learner(raw)
        except InvalidLearner:
            await self.send(protocol.error(ErrorCode.LEARNER))
            await self.websocket.close(code=WS_1008_POLICY_VIOLATION)
            return False
        issued = learner is None
        self.learner = Learner(learner or new_learner())
        if issued:
            try:
                await self.runtime.store.register_learner(self.learner.id)
            except StoreError:
                logger.exception("could not register an issued learner id")
        await self.send(protocol.welcome(self.learner.id, issued))
        return True

    async def _resume(self, session: str) -> bool:
        """A platform account's socket; an expired session is told, then closed (never
        downgraded to an anonymous learner)."""
        try:
            self.learner = await resume_session(self.runtime, session)
        except (SessionExpired, StoreError) as exc:
            code = (
                ErrorCode.SESSION_EXPIRED if isinstance(exc, SessionExpired) else ErrorCode.INTERNAL
            )
            await self.send(protocol.error(code))
            await self.websocket.close(code=WS_1008_POLICY_VIOLATION)
            return False
        await self.send(protocol.welcome(None, issued=False))
        return True

    async def _receive_loop(self) -> None:
        while not self._closed:
            frame = await self.websocket.receive()
            if frame["type"] == "websocket.disconnect":
                self._closed = True
                return
            if frame.get("bytes") is not None:
                await self.send(protocol.error(ErrorCode.BINARY))
                continue
            text = frame.get("text") or ""
            if len(text) > self.runtime.settings.max_frame_bytes:  # uvicorn enforces it first
                await self.websocket.close(code=WS_1009_MESSAGE_TOO_BIG)
                self._closed = True
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            message = protocol.parse(text, self.runtime.settings.max_code_bytes)
            await self._dispatch(message)
        except ProtocolError as exc:
            self.runtime.metrics.reject(exc.code)
            await self.send(protocol.from_protocol_error(exc))

    async def _dispatch(self, message: ClientMessage) -> None:
        if isinstance(message, RunRequest):
            self._start(message)
            return
        job = self.job if self.job is not None and self.job.state is not JobState.DONE else None
        if job is None:
            raise ProtocolError(ErrorCode.NOT_RUNNING)
        if isinstance(message, StopRequest):
            await job.stop()
        elif not job.interactive:
            raise ProtocolError(ErrorCode.NOT_INTERACTIVE)
        elif isinstance(message, StdinData):
            await job.send_stdin(message.data)
        elif isinstance(message, StdinEof):
            await job.close_stdin()

    def _start(self, request: RunRequest) -> None:
        if self.job is not None and self.job.state is not JobState.DONE:
            raise ProtocolError(ErrorCode.BUSY)
        if self.runtime.draining:
            raise ProtocolError(ErrorCode.SHUTTING_DOWN)
        exercise = self.runtime.require_catalog().get(request.exercise)
        if exercise is None:
            raise ProtocolError(ErrorCode.UNKNOWN_EXERCISE, f"no exercise {request.exercise!r}")
        if not self.runtime.rate_limiter.allow(self.learner.id):
            raise ProtocolError(ErrorCode.RATE_LIMITED)
        job = Job(self.runtime, self.learner, exercise, request.code, Mode(request.mode), self.send)
        self.job = job
        assert self._tasks is not None
        self._tasks.start_soon(job.run)
