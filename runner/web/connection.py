"""The /ws endpoint: origin check, learner id, then a Connection reading frames until it closes."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from anyio.abc import TaskGroup
from starlette.datastructures import Headers
from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1009_MESSAGE_TOO_BIG,
    WS_1013_TRY_AGAIN_LATER,
)
from starlette.websockets import WebSocket, WebSocketDisconnect

from runner.store import StoreError
from runner.web import protocol
from runner.web.edges import client_address, deny_websocket, give_memory_back
from runner.web.jobs import Job
from runner.web.learners import (
    SESSION_PARAM,
    InvalidLearner,
    Learner,
    SessionExpired,
    anonymous_learner,
    resume_session,
)
from runner.web.outgoing import Outgoing, SlowClient
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

CLOSE_TIMEOUT_S = 2.0
CROWDED = "Trop de connexions depuis ton réseau : ferme des onglets, puis réessaie."
FOREIGN_ORIGIN = "Connexion refusée : cette page n'est pas autorisée à utiliser ce serveur."
SESSION_CHECK_S = 1.0
WELCOME_WRITE_S = 1.0
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def origin_allowed(headers: Headers, allowed: tuple[str, ...], secure: bool = False) -> bool:
    """No Origin (not a browser), the page's own origin (scheme, host and port), or one of
    ``allowed``."""
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
    if scheme != ("https" if secure else "http"):
        return False
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
    secure = websocket.url.scheme == "wss"
    if not origin_allowed(websocket.headers, runtime.settings.allowed_origins, secure):
        logger.warning("refused /ws from origin %r", websocket.headers.get("origin"))
        runtime.metrics.reject("origin")
        await deny_websocket(websocket.scope, websocket.send, 403, "origin", FOREIGN_ORIGIN)
        return
    client = client_address(websocket.client)
    if not runtime.ip_connections.open(client):
        logger.warning(
            "refused /ws: %s has %d connections open", client, runtime.ip_connections.limit
        )
        runtime.metrics.reject("too_many_connections")
        await deny_websocket(websocket.scope, websocket.send, 429, "too_many_connections", CROWDED)
        return
    try:
        await websocket.accept()
        runtime.connections += 1
        try:
            await Connection(websocket, runtime, client).serve()
        finally:
            runtime.connections -= 1
    finally:
        runtime.ip_connections.close(client)
        if runtime.connections == 0:
            give_memory_back()


class Connection:
    """One learner's socket: at most one Job at a time; the Job dies with the socket."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, client: str = "") -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.client = client
        self.learner = Learner("")
        self.job: Job | None = None
        self.outgoing = Outgoing()
        self._closed = False
        self._slow = False
        self._session: str | None = None  # an account's session token
        self._tasks: TaskGroup | None = None

    async def serve(self) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self._write_loop)
                try:
                    if await self._identify():
                        await self._receive_loop()
                finally:
                    tasks.cancel_scope.cancel()  # a running job dies here: its container goes
        finally:
            if self._slow:
                await self._close(WS_1013_TRY_AGAIN_LATER, "client not reading")

    async def send(self, message: dict[str, Any]) -> None:
        """Queue a message; never waits for the client (see ``runner.web.outgoing``)."""
        if self._closed:
            return
        if not self.outgoing.put(message):
            self._cut_slow_client("its queue is full")

    async def _write_loop(self) -> None:
        try:
            await self.outgoing.drain_to(self.websocket.send_text)
        except SlowClient as exc:
            self._cut_slow_client(str(exc))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._closed = True
            self._cancel()

    def _cut_slow_client(self, reason: str) -> None:
        if not self._slow:
            logger.warning("cutting off a client that does not read: %s", reason)
            self.runtime.metrics.reject("slow_client")
        self._slow = self._closed = True
        self._cancel()

    def _cancel(self) -> None:
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()

    async def _close(self, code: int, reason: str) -> None:
        """The close frame may never get through to a client that does not read: bounded."""
        with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(code=code, reason=reason)

    async def _identify(self) -> bool:
        session = self.websocket.query_params.get(SESSION_PARAM)
        if session is not None:
            return await self._resume(session)
        raw = self.websocket.query_params.get("learner")
        try:
            learner = await anonymous_learner(self.runtime, raw)
        except InvalidLearner:
            await self._refuse(ErrorCode.LEARNER)
            return False
        issued = learner is None
        if issued and not self.runtime.ip_new_learners.allow(self.client):
            self.runtime.metrics.reject("too_many_learners")
            await self._refuse(ErrorCode.RATE_LIMITED)
            return False
        self.learner = Learner(learner or self.runtime.learner_ids.issue())
        if issued:  # the row is also created by the learner's first write: never wait long here
            try:
                with anyio.fail_after(WELCOME_WRITE_S):
                    await self.runtime.store.register_learner(self.learner.id)
            except (StoreError, TimeoutError):
                logger.warning("could not register an issued learner id", exc_info=True)
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
            await self._refuse(code)
            return False
        self._session = session
        await self.send(protocol.welcome(None, issued=False))
        return True

    async def _refuse(self, code: ErrorCode) -> None:
        """Send the error, then close 1008 once the writer has sent it."""
        await self.send(protocol.error(code))
        with anyio.move_on_after(CLOSE_TIMEOUT_S):
            await self.outgoing.flushed()
        self._closed = True
        await self._close(WS_1008_POLICY_VIOLATION, str(code))

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
                self._closed = True
                await self._close(WS_1009_MESSAGE_TOO_BIG, "frame too large")
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
            if await self._session_still_open():
                self._start(message)
            return
        job = self.job if self.job is not None and self.job.active else None
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

    async def _session_still_open(self) -> bool:
        """An account's session is checked again at each submission: one that expired or was
        erased while the socket stayed open acts no more."""
        if self._session is None:
            return True
        try:
            with anyio.fail_after(SESSION_CHECK_S):
                await resume_session(self.runtime, self._session)
        except (StoreError, TimeoutError):
            return True  # a database hiccup does not stop a learner
        except SessionExpired:
            self.runtime.metrics.reject(ErrorCode.SESSION_EXPIRED)
            await self._refuse(ErrorCode.SESSION_EXPIRED)
            return False
        return True

    def _start(self, request: RunRequest) -> None:
        if self.job is not None and self.job.active:
            raise ProtocolError(ErrorCode.BUSY)
        if self.runtime.draining:
            raise ProtocolError(ErrorCode.SHUTTING_DOWN)
        if not self.runtime.rate_limiter.allow(self.learner.id):
            raise ProtocolError(ErrorCode.RATE_LIMITED)
        if not self.runtime.ip_rate_limiter.allow(self.client):  # fresh ids do not escape it
            raise ProtocolError(ErrorCode.RATE_LIMITED, "client address")
        exercise = self.runtime.require_catalog().get(request.exercise)
        if exercise is None:
            raise ProtocolError(ErrorCode.UNKNOWN_EXERCISE, f"no exercise {request.exercise!r}")
        job = Job(
            self.runtime,
            self.learner,
            exercise,
            request.code,
            Mode(request.mode),
            self.send,
            request.submission,
        )
        self.job = job
        assert self._tasks is not None
        self._tasks.start_soon(job.run)
