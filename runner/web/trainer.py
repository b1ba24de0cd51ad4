"""The trainer's space, ``/formateur`` (French): log-in with a first-party session cookie and CSRF
tokens, the course funnel, an exercise's failures, learners at risk, a learner's timeline, and
CSV exports streamed from the database. Learners (anonymous ids, course sessions) reach none
of it: only the trainer's cookie opens it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from runner.store import AttemptStore
from runner.store.trainers import TrainerSession, TrainerStore
from runner.trainers import dashboard
from runner.trainers.accounts import login as check_login
from runner.web.api import ApiError, capped_body, runtime_of
from runner.web.runtime import Runtime
from runner.web.trainer_pages import (
    at_risk_page,
    exercise_page,
    funnel_page,
    learner_page,
    login_page,
    message_page,
    render,
)

logger = logging.getLogger(__name__)

COOKIE = "decode_trainer"
LOGIN_COOKIE = "decode_login"
CSRF_KEY = "trainer-csrf"
LOGIN_FORM_BYTES = 4096
LEARNER = re.compile(r"[0-9a-f]{32}")
MAX_DAYS = 365
PAGE_SIZE = 100


class NotAllowed(Exception):
    """No trainer session: a page sends to the log-in, an export answers 401."""


def _secure(request: Request, runtime: Runtime) -> bool:
    return request.url.scheme == "https" or runtime.settings.public_url.startswith("https://")


def _cookie_flags(request: Request, runtime: Runtime) -> str:
    return "; Secure" if _secure(request, runtime) else ""


async def _csrf_key(runtime: Runtime) -> bytes:
    return await runtime.store.secret(CSRF_KEY)


def _login_csrf(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


async def _session(request: Request) -> TrainerSession:
    runtime = runtime_of(request)
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 100:
        raise NotAllowed
    found = await TrainerStore(runtime.store).session(token)
    if found is None:
        raise NotAllowed
    return found


async def _form(request: Request) -> dict[str, str]:
    body = await capped_body(request, LOGIN_FORM_BYTES)
    try:
        return dict(parse_qsl(body.decode("utf-8"), max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_body", "Formulaire illisible.") from None


# Log-in and log-out ---------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    runtime = runtime_of(request)
    nonce = secrets.token_urlsafe(24)
    csrf = _login_csrf(await _csrf_key(runtime), nonce)
    response = render(runtime, login_page(csrf, request.query_params.get("suite", "")))
    response.headers.append(
        "set-cookie",
        f"{LOGIN_COOKIE}={nonce}; Path=/formateur/connexion; Max-Age=900; HttpOnly;"
        f" SameSite=Strict{_cookie_flags(request, runtime)}",
    )
    return response


async def login(request: Request) -> Response:
    runtime = runtime_of(request)
    form = await _form(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = _login_csrf(await _csrf_key(runtime), nonce) if nonce else ""
    if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
        runtime.metrics.reject("trainer_csrf")
        logger.warning("trainer log-in refused: CSRF token missing or forged")
        page = message_page("Session expirée", "Rechargez la page de connexion et réessayez.")
        return render(runtime, page, 403)
    now = datetime.now(UTC)
    store = TrainerStore(runtime.store)
    result = await check_login(store, form.get("email", ""), form.get("password", ""), now)
    if result.email is None:
        runtime.metrics.reject("trainer_login")
        logger.warning("trainer log-in refused for %r", form.get("email", "")[:80])
        if result.locked_until is not None and result.locked_until > now:
            wait = max(1, int((result.locked_until - now).total_seconds()))
            text = (
                "Trop d'essais : ce compte est bloqué pendant "
                f"{wait} seconde{'s' if wait > 1 else ''}. Réessayez ensuite."
            )
        else:
            text = "Adresse ou mot de passe incorrect."
        nonce = secrets.token_urlsafe(24)
        page = login_page(_login_csrf(await _csrf_key(runtime), nonce), form.get("suite", ""), text)
        response = render(runtime, page, 401)
        response.headers.append(
            "set-cookie",
            f"{LOGIN_COOKIE}={nonce}; Path=/formateur/connexion; Max-Age=900; HttpOnly;"
            f" SameSite=Strict{_cookie_flags(request, runtime)}",
        )
        return response
    lifetime = timedelta(hours=runtime.settings.trainer_session_hours)
    token, _ = await store.open_session(result.email, lifetime)
    target = form.get("suite", "")
    if not target.startswith("/formateur") or target.startswith("//"):
        target = "/formateur"  # never a redirect off the site
    response = RedirectResponse(target, status_code=303)
    response.headers.append(
        "set-cookie",
        f"{COOKIE}={token}; Path=/formateur; Max-Age={int(lifetime.total_seconds())}; HttpOnly;"
        f" SameSite=Lax{_cookie_flags(request, runtime)}",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/formateur/connexion")
    logger.info("trainer %s logged in", result.email)
    return response


async def logout(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        session = await _session(request)
    except NotAllowed:
        return RedirectResponse("/formateur/connexion", status_code=303)
    form = await _form(request)
    if not hmac.compare_digest(session.csrf, form.get("csrf", "")):
        runtime.metrics.reject("trainer_csrf")
        return render(
            runtime, message_page("Requête refusée", "Jeton de formulaire invalide."), 403
        )
    await TrainerStore(runtime.store).close_session(request.cookies[COOKIE])
    response = RedirectResponse("/formateur/connexion", status_code=303)
    response.delete_cookie(COOKIE, path="/formateur")
    return response


# Pages ----------------------------------------------------------------------------------


def _to_login(request: Request) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/formateur/connexion?suite={target}", status_code=303)


def _bounded_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(
            400, "invalid_filter", f"Filtre « {name} » invalide : un nombre de {low} à {high}."
        )
    return int(raw)


async def _page(request: Request) -> tuple[Runtime, TrainerSession] | Response:
    try:
        return runtime_of(request), await _session(request)
    except NotAllowed:
        return _to_login(request)


def _refused(runtime: Runtime, error: ApiError) -> Response:
    return render(runtime, message_page("Requête refusée", error.message), error.status)


async def overview(request: Request) -> Response:
    opened = await _page(request)
    if isinstance(opened, Response):
        return opened
    runtime, session = opened
    weeks = await dashboard.course_funnel(runtime.require_catalog(), AttemptStore(runtime.store))
    return render(runtime, funnel_page(weeks, session))


async def exercise(request: Request) -> Response:
    opened = await _page(request)
    if isinstance(opened, Response):
        return opened
    runtime, session = opened
    found = runtime.require_catalog().get(request.path_params["exercise_id"])
    if found is None:
        return render(runtime, message_page("Exercice inconnu", "Cet exercice n'existe pas."), 404)
    detail = await dashboard.exercise_detail(found, AttemptStore(runtime.store))
    return render(runtime, exercise_page(detail, session))


async def at_risk(request: Request) -> Response:
    opened = await _page(request)
    if isinstance(opened, Response):
        return opened
    runtime, session = opened
    try:
        days = _bounded_int(request, "jours", runtime.settings.at_risk_days, 1, MAX_DAYS)
        page = _bounded_int(request, "page", 1, 1, 10_000)
    except ApiError as error:
        return _refused(runtime, error)
    since = dashboard.inactive_since(datetime.now(UTC), days)
    rows = await AttemptStore(runtime.store).at_risk(since, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    return render(runtime, at_risk_page(rows[:PAGE_SIZE], days, page, more, session))


async def learner(request: Request) -> Response:
    opened = await _page(request)
    if isinstance(opened, Response):
        return opened
    runtime, session = opened
    learner_id = request.path_params["learner_id"]
    if LEARNER.fullmatch(learner_id) is None:
        return render(runtime, message_page("Apprenant inconnu", "Identifiant invalide."), 404)
    records = await runtime.store.all_for(learner_id)
    store = AttemptStore(runtime.store)
    history = await store.learner_attempts(learner_id)
    if not records and not history:
        return render(runtime, message_page("Apprenant inconnu", "Aucune activité."), 404)
    account = await store.account_of(learner_id)
    page = learner_page(runtime.require_catalog(), learner_id, account, records, history, session)
    return render(runtime, page)


async def export(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        await _session(request)
    except NotAllowed:
        return Response("Connexion formateur requise.\n", status_code=401, media_type="text/plain")
    kind = request.path_params["kind"]
    store = AttemptStore(runtime.store)
    rows: AsyncIterator[str]
    if kind == "progression":
        rows = dashboard.progress_csv(store)
    elif kind == "tentatives":
        rows = dashboard.attempts_csv(store)
    else:
        return render(runtime, message_page("Export inconnu", "Cet export n'existe pas."), 404)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return StreamingResponse(
        _encoded(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{kind}-{day}.csv"',
            "cache-control": "no-store",
        },
    )


async def _encoded(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode("utf-8")


routes = [
    Route("/formateur/connexion", login_form, methods=["GET"]),
    Route("/formateur/connexion", login, methods=["POST"]),
    Route("/formateur/deconnexion", logout, methods=["POST"]),
    Route("/formateur", overview, methods=["GET"]),
    Route("/formateur/exercices/{exercise_id}", exercise, methods=["GET"]),
    Route("/formateur/a-risque", at_risk, methods=["GET"]),
    Route("/formateur/apprenants/{learner_id}", learner, methods=["GET"]),
    Route("/formateur/export/{kind}.csv", export, methods=["GET"]),
]
