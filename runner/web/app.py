"""The Starlette application: routes, security headers, error translation, and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, WebSocketRoute

from runner.identity.keys import KeyResolver
from runner.identity.platforms import load_platforms
from runner.identity.webhooks import DeliveryPolicy, Dispatcher, Webhooks
from runner.lti.keys import KeySchedule, ToolKeys
from runner.lti.services import AccessTokens, Scores
from runner.lti.tool import LtiTool
from runner.sandbox import Sandbox
from runner.settings import Settings
from runner.store import (
    AccountStore,
    AttemptStore,
    EventType,
    LtiStore,
    OutboxStore,
    ProgressStore,
    StoreError,
)
from runner.store.store import SUBMISSION_KEEP
from runner.store.trainers import TrainerStore
from runner.web import api, launch, lti, pages, platform_api, trainer
from runner.web.api import ApiError, json_response
from runner.web.connection import websocket_endpoint
from runner.web.edges import Edges
from runner.web.outbound import Outbound
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

STORE_DOWN = "Le suivi de progression est indisponible : réessaie dans un instant."


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


def build_lti(settings: Settings, store: ProgressStore, outbound: Outbound) -> LtiTool:
    """The LTI tool's parts: its store, keys, access tokens and score delivery."""
    lti_store = LtiStore(store)
    schedule = KeySchedule(
        settings.lti_key_publish_s, settings.lti_key_keep_s, settings.lti_key_cache_s
    )
    keys = ToolKeys(lti_store, schedule)
    tokens = AccessTokens(keys, outbound.exchange)
    scores = Scores(lti_store, tokens)
    return LtiTool(lti_store, keys, tokens, scores, outbound.fetch_json, outbound.exchange)


def build_runtime(settings: Settings, outbound: Outbound) -> Runtime:
    """Compose the server's collaborators; nothing starts here. ``PlatformConfigError`` when the
    platforms file is wrong (it names the file, the field and the reason)."""
    platforms = load_platforms(settings.platforms)
    hooked = frozenset(p.id for p in platforms.by_id.values() if p.webhook_url)
    store = ProgressStore(settings.database_url, webhook_platforms=hooked)
    policy = DeliveryPolicy(
        timeout_s=settings.webhook_timeout_s,
        first_retry_s=settings.webhook_first_retry_s,
        max_retry_s=settings.webhook_max_retry_s,
        abandon_after=timedelta(hours=settings.webhook_abandon_hours),
        keep_finished=timedelta(days=settings.outbox_keep_days),
    )
    accounts = AccountStore(store)
    lti = build_lti(settings, store, outbound)
    webhooks = Webhooks(platforms, outbound.post, policy.timeout_s)
    deliverers = {kind: webhooks.deliver for kind in Webhooks.TYPES}
    deliverers[EventType.LTI_SCORE] = lti.scores.deliver
    code_days = timedelta(days=settings.attempt_code_days)

    async def purge_attempt_code() -> int:
        return await AttemptStore(store).purge_code(datetime.now(UTC) - code_days)

    async def purge_submissions() -> int:
        return await store.purge_submissions(datetime.now(UTC) - SUBMISSION_KEEP)

    maintenance = (
        lti.store.purge_expired,
        TrainerStore(store).purge_expired,
        purge_attempt_code,
        purge_submissions,
    )
    dispatcher = Dispatcher(OutboxStore(store), accounts, policy, deliverers, maintenance)
    return Runtime(
        settings,
        sandbox=Sandbox(settings),
        store=store,
        accounts=accounts,
        platforms=platforms,
        keys=KeyResolver(outbound.fetch_json, refetch_s=settings.jwks_refetch_s),
        dispatcher=dispatcher,
        lti=lti,
    )


# A background task of the lifespan, given the started runtime (cancelled at shutdown).
BackgroundTask = Callable[[Runtime], Coroutine[Any, Any, None]]


def create_app(
    settings: Settings | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    background_tasks: Sequence[BackgroundTask] = (),
) -> Starlette:
    """The ASGI app; nothing starts until the lifespan runs (``uvicorn --factory`` works too).
    ``extra_routes`` and ``background_tasks`` let a variant (``decode-runner preview``) add its
    own pages and work to the same server."""
    settings = settings if settings is not None else Settings.from_env()
    outbound = Outbound()
    runtime = build_runtime(settings, outbound)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Scopes nest: the runtime (whose sandbox owns a task group) starts before the
        # background group and closes after it.
        try:
            await runtime.start()
            async with anyio.create_task_group() as background:
                background.start_soon(runtime.dispatcher.run_forever)
                for task in background_tasks:
                    background.start_soon(task, runtime)
                try:
                    yield
                finally:
                    background.cancel_scope.cancel()
        finally:
            await runtime.close()
            await outbound.close()

    app = Starlette(
        routes=[
            *api.routes,
            *launch.routes,
            *lti.routes,
            *trainer.routes,
            *platform_api.routes,
            *extra_routes,
            WebSocketRoute("/ws", websocket_endpoint),
            *pages.routes(settings),
        ],
        middleware=[Middleware(Edges, allowed_hosts=settings.allowed_hosts)],
        exception_handlers={
            ApiError: _api_error,
            StoreError: _store_error,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
