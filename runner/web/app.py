"""The Starlette application: routes, security headers, error translation, and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runner.settings import Settings
from runner.store import StoreError
from runner.web import api, pages
from runner.web.api import ApiError, json_response
from runner.web.connection import websocket_endpoint
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

STORE_DOWN = "Le suivi de progression est indisponible : réessaie dans un instant."


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every HTTP response (pages add their CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response({"error": exc.code, "message": exc.message}, status=exc.status)


async def _store_error(request: Request, exc: Exception) -> Response:
    logger.error("store error on %s: %s", request.url.path, exc)
    return json_response({"error": "store", "message": STORE_DOWN}, status=503)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/api/"):
        return Response(exc.detail, status_code=exc.status_code, media_type="text/plain")
    messages = {404: "Adresse inconnue.", 405: "Méthode non autorisée."}
    message = messages.get(exc.status_code, "Requête refusée.")
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
    return json_response({"error": code, "message": message}, status=exc.status_code)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app; nothing starts until the lifespan runs (``uvicorn --factory`` works too)."""
    settings = settings if settings is not None else Settings.from_env()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = Starlette(
        routes=[*api.routes, WebSocketRoute("/ws", websocket_endpoint), *pages.routes(settings)],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            ApiError: _api_error,
            StoreError: _store_error,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
