"""Signed launches from a platform: token → session (``POST /api/launch``), and the one-time
hand-off that opens the full page as the same learner (``/api/session/handoff``, ``…/redeem``)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runner.identity.tokens import LaunchClaims, LaunchError, LaunchFailure, verify_launch
from runner.store import Account, SessionKind
from runner.web.api import ApiError, capped_body, json_response, request_learner, runtime_of
from runner.web.connection import origin_key
from runner.web.protocol import loads_bounded
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
HANDOFF_LIFETIME = timedelta(minutes=2)
RELOAD = "Recharge la page du cours pour continuer."
_STATUS = {
    LaunchFailure.MALFORMED: 400,
    LaunchFailure.TOO_LARGE: 413,
    LaunchFailure.WRONG_ORIGIN: 403,
    LaunchFailure.KEYS_UNAVAILABLE: 503,
}
_MESSAGES = {
    LaunchFailure.EXPIRED: "Ce lien d'exercice a expiré. " + RELOAD,
    LaunchFailure.REPLAYED: "Ce lien d'exercice a déjà servi. " + RELOAD,
    LaunchFailure.WRONG_ORIGIN: "Cet exercice n'est pas ouvert depuis le site de ton cours. "
    + RELOAD,
    LaunchFailure.KEYS_UNAVAILABLE: "Connexion au cours momentanément impossible. "
    + "Réessaie dans un instant en rechargeant la page.",
}
INVALID = "Ce lien d'exercice n'est pas valable. " + RELOAD
HANDOFF_INVALID = "Ce lien a expiré ou a déjà servi. Rouvre l'exercice depuis le cours."


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await capped_body(request, MAX_BODY_BYTES)
    except ApiError as error:  # a launch's only big field is its token
        failure = LaunchError(LaunchFailure.TOO_LARGE, "body over 16 KiB")
        raise _refuse(runtime_of(request), failure) from error
    try:
        document = loads_bounded(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise ApiError(
            400, "invalid_body", "Corps de requête invalide : un objet JSON est attendu."
        )
    return document


def _refuse(runtime: Runtime, error: LaunchError) -> ApiError:
    logger.warning("launch refused: %s (%s)", error.failure, error.detail)
    runtime.metrics.reject(str(error.failure))
    status = _STATUS.get(error.failure, 401)
    return ApiError(status, str(error.failure), _MESSAGES.get(error.failure, INVALID))


async def launch(request: Request) -> Response:
    """Verify a launch token, use its ``jti`` once, and open a session for (platform, sub)."""
    runtime = runtime_of(request)
    document = await _json_body(request)
    token, parent = document.get("token"), document.get("parent_origin")
    try:
        if not isinstance(token, str):
            raise LaunchError(LaunchFailure.MALFORMED, "no token")
        claims = await verify_launch(
            token,
            runtime.platforms,
            runtime.keys.find,
            runtime.settings.token_audience,
            time.time(),
        )
        _check_parent(claims, parent)
        if not await runtime.accounts.use_token_id(
            claims.platform.id, claims.jti, claims.expires_at
        ):
            raise LaunchError(LaunchFailure.REPLAYED, f"jti {claims.jti[:40]!r}")
    except LaunchError as error:
        raise _refuse(runtime, error) from None
    account = await runtime.accounts.account(claims.platform.id, claims.subject)
    return await _session_response(runtime, account, claims)


def _check_parent(claims: LaunchClaims, parent: Any) -> None:
    """Defence in depth: the page's CSP already lets only the platform's origins frame it."""
    if parent is None:
        return
    if not isinstance(parent, str) or origin_key(parent) not in {
        origin_key(o) for o in claims.platform.origins
    }:
        raise LaunchError(LaunchFailure.WRONG_ORIGIN, f"parent {str(parent)[:80]!r}")


async def _session_response(
    runtime: Runtime, account: Account, claims: LaunchClaims | None
) -> Response:
    idle = timedelta(minutes=runtime.settings.session_idle_minutes)
    session = await runtime.accounts.open_session(account, SessionKind.SESSION, idle)
    platform = runtime.platforms.get(account.platform)
    return json_response(
        {
            "session": session,
            "idle_timeout_s": int(idle.total_seconds()),
            "platform": {"id": account.platform, "name": platform.name if platform else ""},
            "name": claims.name if claims else None,
            "locale": claims.locale if claims else None,
            "return_url": claims.return_url if claims else None,
        }
    )


async def handoff(request: Request) -> Response:
    """A one-time code (2 minutes) that opens the same account in the full page."""
    runtime = runtime_of(request)
    learner = await request_learner(request, required=True)
    if learner is None or learner.account is None:
        raise ApiError(400, "no_session", "Aucune session de cours à transmettre.")
    code = await runtime.accounts.open_session(
        learner.account, SessionKind.HANDOFF, HANDOFF_LIFETIME
    )
    return json_response({"code": code, "expires_in_s": int(HANDOFF_LIFETIME.total_seconds())})


async def redeem(request: Request) -> Response:
    runtime = runtime_of(request)
    code = (await _json_body(request)).get("code")
    account = await runtime.accounts.redeem(code) if isinstance(code, str) and code else None
    if account is None:
        runtime.metrics.reject("handoff_invalid")
        raise ApiError(401, "handoff_invalid", HANDOFF_INVALID)
    return await _session_response(runtime, account, None)


routes = [
    Route("/api/launch", launch, methods=["POST"]),
    Route("/api/session/handoff", handoff, methods=["POST"]),
    Route("/api/session/redeem", redeem, methods=["POST"]),
]
