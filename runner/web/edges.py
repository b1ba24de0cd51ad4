"""The HTTP edges every request crosses: the Host allow-list (DNS rebinding), security headers,
and errors as JSON with ``nosniff`` and ``no-store`` (a 500 and a refused handshake included)."""

from __future__ import annotations

import ctypes
import gc
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: nothing to trim
    _LIBC = None

_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_JSON = (b"content-type", b"application/json")
WRONG_HOST = "Adresse de serveur inconnue."
INTERNAL = "Erreur interne du serveur : réessaie dans un instant."


def client_address(client: Any) -> str:
    """The client's IP (uvicorn has already replaced it by X-Forwarded-For's when the peer is a
    trusted proxy: ``DECODE_TRUSTED_PROXIES``)."""
    return str(client.host) if client is not None and client.host else "unknown"


def give_memory_back() -> None:
    """Hand freed heap back to the system once no connection is open: glibc keeps the arenas
    that thousands of short connections grew, and the RSS would stay at its peak."""
    gc.collect()  # closed connections leave reference cycles (tasks, frames) behind
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """``Host`` (port ignored) is one of ``allowed``; ``*`` allows any, ``*.example.org`` its
    subdomains."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def json_error(status: int, code: str, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode()
    headers = [_JSON, _NO_STORE, _NOSNIFF, (b"content-length", str(len(body)).encode())]
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


async def deny_websocket(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """Refuse a WebSocket handshake with an HTTP answer of our own (the ASGI denial-response
    extension), or a bare 403 where the server lacks it."""
    if "websocket.http.response" in scope.get("extensions", {}):
        start, body = json_error(status, code, message)
        await send({**start, "type": "websocket.http.response.start"})
        await send({**body, "type": "websocket.http.response.body"})
    else:
        await send({"type": "websocket.close", "code": 1008})


class Edges:
    """Outermost middleware: refuse foreign ``Host``s, add ``nosniff`` to every answer, and turn
    an unhandled exception into a JSON 500 (the socket of a WebSocket just closes)."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        if not host_allowed(host, self.allowed_hosts):
            logger.warning("refused Host %r", host[:100])
            if scope["type"] == "websocket":
                await deny_websocket(scope, send, 400, "host", WRONG_HOST)
            else:
                for message in json_error(400, "host", WRONG_HOST):
                    await send(message)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), _NOSNIFF]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            for message in json_error(500, "internal", INTERNAL):
                await send(message)
