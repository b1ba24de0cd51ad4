"""LTI 1.3 endpoints (docs/lti.md): OIDC login initiation, launch, the tool's JWKS, Dynamic
Registration, the deep-linking picker and the instructor's view.

A launch binds to the browser that started the login, without third-party cookies: through the
platform's postMessage storage when it offers one (``lti_storage_target``), else a partitioned
(CHIPS) cookie; when neither works, the page offers to open the exercise in a new window."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from runner.exercises import Catalog
from runner.lti import claims as c
from runner.lti.deep_linking import Pick, response_claims
from runner.lti.launch import (
    Launch,
    LtiError,
    LtiFailure,
    auth_url,
    login_request,
    new_value,
    verify_id_token,
)
from runner.lti.registration import (
    RegistrationError,
    ToolUrls,
    check_url,
    platform_configuration,
    registered,
    tool_configuration,
)
from runner.lti.services import ServiceError, roster
from runner.lti.tool import origin_of
from runner.store import (
    DuplicateRegistration,
    RegistrationRow,
    SessionKind,
    platform_of,
)
from runner.web.api import ApiError, capped_body, runtime_of
from runner.web.launch import HANDOFF_LIFETIME
from runner.web.lti_pages import Page, escape, instructor_page, picker_page, render
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
TICKET_LIFETIME = timedelta(minutes=30)
INVITE_LIFETIME = timedelta(hours=24)
MAX_FORM_BYTES = 96 * 1024
COOKIE_PREFIX = "lti_state_"

STATE, TICKET_PICK, TICKET_STAFF, INVITE = "state", "pick", "staff", "invite"

AGAIN = "Reviens à la page du cours et ouvre l'exercice de nouveau."
_MESSAGES = {
    LtiFailure.EXPIRED: "Ce lancement a expiré. " + AGAIN,
    LtiFailure.NONCE: "Ce lancement a déjà servi. " + AGAIN,
    LtiFailure.STATE: "Ce lancement a déjà servi ou a expiré. " + AGAIN,
    LtiFailure.KEYS_UNAVAILABLE: "La plateforme du cours ne répond pas pour le moment. "
    "Réessaie dans un instant.",
    LtiFailure.EXERCISE: "Cet exercice n'existe pas (ou plus). Préviens ton formateur.",
    LtiFailure.MESSAGE_TYPE: "Ce type de lien n'est pas pris en charge par l'outil d'exercices.",
    LtiFailure.UNKNOWN_REGISTRATION: "Cette plateforme n'est pas inscrite auprès de l'outil "
    "d'exercices. Préviens l'administrateur de ton cours.",
    LtiFailure.DEPLOYMENT: "Ce cours n'est pas autorisé à utiliser l'outil d'exercices. "
    "Préviens l'administrateur de ton cours.",
}
INVALID = "Ce lancement n'est pas valable. " + AGAIN
_STATUS = {LtiFailure.KEYS_UNAVAILABLE: 503, LtiFailure.EXERCISE: 404}


def urls(request: Request, runtime: Runtime) -> ToolUrls:
    base = runtime.settings.public_url.rstrip("/")
    if not base:
        base = f"{request.url.scheme}://{request.url.netloc}"
    return ToolUrls(base)


async def _ancestors(runtime: Runtime) -> tuple[str, ...]:
    return await runtime.lti.origins()


async def _page(
    runtime: Runtime, page: Page, status: int = 200, also: tuple[str, ...] = ()
) -> Response:
    ancestors = (*await _ancestors(runtime), *also)
    return render(str(runtime.settings.web_dir), page, ancestors, status)


async def _refuse(runtime: Runtime, error: LtiError) -> Response:
    logger.warning("LTI refused: %s (%s)", error.failure, error.detail)
    runtime.metrics.reject(str(error.failure))
    message = _MESSAGES.get(error.failure, INVALID)
    page = Page(
        title="Impossible d'ouvrir l'exercice",
        body=f"<p>{escape(message)}</p><p class='lti-code'>Code : {escape(error.failure)}</p>",
        config={"mode": "error", "code": str(error.failure)},
    )
    return await _page(runtime, page, _STATUS.get(error.failure, 400))


async def _form(request: Request) -> dict[str, list[str]]:
    """Query and (for POST) urlencoded form parameters, read within ``MAX_FORM_BYTES``."""
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    if request.method == "POST":
        try:
            body = await capped_body(request, MAX_FORM_BYTES)
        except ApiError:
            raise LtiError(LtiFailure.BAD_REQUEST, "form over 96 KiB") from None
        try:
            pairs = parse_qsl(body.decode("utf-8"), max_num_fields=200, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise LtiError(LtiFailure.BAD_REQUEST, f"unreadable form: {exc}") from None
        for key, value in pairs:
            found.setdefault(key, []).append(value)
    return found


async def _params(request: Request) -> dict[str, str]:
    """One value per name (the first)."""
    return {key: values[0] for key, values in (await _form(request)).items()}


def _cookie_name(state: str) -> str:
    return COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:12]


def _storage_key(state: str) -> str:
    return "state_" + state


async def login(request: Request) -> Response:
    """OIDC third-party login initiation: remember a state and its nonce, then send the browser
    to the platform's authorisation endpoint."""
    runtime = runtime_of(request)
    tool = urls(request, runtime)
    try:
        params = await _params(request)
        start = login_request(params, tool.base)
        registration = await runtime.lti.store.find_registration(start.issuer, start.client_id)
        if registration is None:
            raise LtiError(
                LtiFailure.UNKNOWN_REGISTRATION, f"iss {start.issuer[:80]!r} {start.client_id!r}"
            )
        if start.deployment_id and start.deployment_id not in registration.deployment_ids:
            raise LtiError(LtiFailure.DEPLOYMENT, f"deployment {start.deployment_id[:40]!r}")
    except LtiError as error:
        return await _refuse(runtime, error)
    state, nonce = new_value(), new_value()
    data = {"nonce": nonce, "storage": start.storage_target, "login": start.as_params()}
    await runtime.lti.store.put_state(STATE, registration.id, state, data, STATE_LIFETIME)
    target = auth_url(registration, start, tool.launch, state, nonce)
    if start.storage_target is not None:
        page = Page(
            title="Connexion au cours…",
            body="<p>Connexion au cours…</p>",
            config={
                "mode": "store",
                "target": start.storage_target,
                "origin": origin_of(registration.auth_login_url),
                "key": _storage_key(state),
                "value": state,
                "next": target,
            },
        )
        return await _page(runtime, page)
    response = RedirectResponse(target, status_code=302)
    _set_state_cookie(response, request, state)
    return response


def _set_state_cookie(response: Response, request: Request, state: str) -> None:
    """A partitioned (CHIPS) cookie: kept by browsers that block third-party cookies, in the
    partition of the platform's site, which is where the launch comes back."""
    response.headers.append(
        "set-cookie",
        f"{_cookie_name(state)}={state}; Path=/lti/; Max-Age={int(STATE_LIFETIME.total_seconds())};"
        " HttpOnly; Secure; SameSite=None; Partitioned",
    )


async def launch(request: Request) -> Response:
    """The platform's form_post of an id_token: verify it, then open what it asks for."""
    runtime = runtime_of(request)
    try:
        params = await _params(request)
        state, token = params.get("state", ""), params.get("id_token", "")
        if not state or not token:
            raise LtiError(LtiFailure.BAD_REQUEST, "id_token and state are required")
        found = await runtime.lti.store.take_state(STATE, state)
        if found is None:
            raise LtiError(LtiFailure.STATE, "unknown, used or expired state")
        registration_id, data = found
        registration = await runtime.lti.store.registration(registration_id)
        if registration is None:
            raise LtiError(LtiFailure.UNKNOWN_REGISTRATION, f"{registration_id} was removed")
        verified = await verify_id_token(
            token, registration, data["nonce"], runtime.keys.from_url, time.time()
        )
        target = await _target(runtime, request, verified)
    except LtiError as error:
        return await _refuse(runtime, error)
    if data.get("storage"):  # the platform's storage holds the state (no cookie was set)
        page = Page(
            title="Ouverture de l'exercice…",
            body="<p>Ouverture de l'exercice…</p>",
            config={
                "mode": "check",
                "target": data["storage"],
                "origin": origin_of(registration.auth_login_url),
                "key": _storage_key(state),
                "value": state,
                "next": target,
                "again": _again(request, runtime, data),
            },
        )
        return await _page(runtime, page)
    if request.cookies.get(_cookie_name(state)) != state:
        return await _new_window(runtime, request, data)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(_cookie_name(state), path="/lti/", secure=True, samesite="none")
    return response


def _again(request: Request, runtime: Runtime, data: dict[str, Any]) -> str:
    """The same login, to start from a new window (first-party there)."""
    return urls(request, runtime).login + "?" + urlencode(data.get("login", {}))


async def _new_window(runtime: Runtime, request: Request, data: dict[str, Any]) -> Response:
    """No storage and no cookie came back: the browser blocks both in frames. The same login,
    started from a new window, is first-party there."""
    logger.warning("LTI launch without browser binding: offering a new window")
    runtime.metrics.reject(str(LtiFailure.BROWSER))
    again = _again(request, runtime, data)
    page = Page(
        title="Ouvrir l'exercice dans une nouvelle fenêtre",
        body=(
            "<p>Ton navigateur protège ta vie privée et empêche l'exercice de s'ouvrir dans la"
            " page du cours.</p>"
            f'<p><a class="lti-button" href="{escape(again)}" target="_blank" rel="noopener">'
            "Ouvrir l'exercice dans une nouvelle fenêtre</a></p>"
            "<p>Ton travail et ta progression y sont enregistrés de la même façon.</p>"
        ),
        config={"mode": "new-window", "code": str(LtiFailure.BROWSER)},
    )
    return await _page(runtime, page, 200)


def _exercise_id(catalog: Catalog, verified: Launch) -> str:
    exercise = verified.custom.get("exercise") or verified.custom.get("exercice")
    if not exercise or catalog.get(exercise) is None:
        raise LtiError(LtiFailure.EXERCISE, f"exercise {str(exercise)[:60]!r}")
    return exercise


async def _target(runtime: Runtime, request: Request, verified: Launch) -> str:
    """Where the verified launch leads: the exercise (a learner), the instructor's view, or the
    deep-linking picker. Accounts, links and tickets are written here."""
    catalog = runtime.require_catalog()
    registration = verified.registration
    if verified.message_type == c.DEEP_LINKING_REQUEST:
        if not verified.staff:
            raise LtiError(LtiFailure.MESSAGE_TYPE, "deep linking by a non-instructor")
        assert verified.deep_linking is not None
        ticket = new_value()
        data = {
            "deployment": verified.deployment_id,
            "return_url": verified.deep_linking.return_url,
            "data": verified.deep_linking.data,
            "multiple": verified.deep_linking.accept_multiple,
        }
        await runtime.lti.store.put_state(
            TICKET_PICK, registration.id, ticket, data, TICKET_LIFETIME
        )
        return "/lti/pick?" + urlencode({"ticket": ticket})
    exercise = _exercise_id(catalog, verified)
    account = await runtime.accounts.account(platform_of(registration.id), verified.subject)
    # Staff get no grades: Moodle refuses a score for a user without a gradebook role.
    scored = c.SCOPE_SCORE in verified.ags_scopes and not verified.staff
    graded = verified.lineitem if scored else None
    total = len(catalog.exercises[exercise].tests)
    await runtime.lti.store.link(
        account, exercise, graded, total, verified.context_id, verified.staff
    )
    code = await runtime.accounts.open_session(account, SessionKind.HANDOFF, HANDOFF_LIFETIME)
    query = {"handoff": code}
    if verified.return_url:
        query["return"] = verified.return_url
    exercise_url = f"/embed/{exercise}?" + urlencode(query)
    if not verified.staff:
        return exercise_url
    ticket = new_value()
    data = {
        "context": verified.context_id,
        "context_title": verified.context_title,
        "memberships": verified.memberships_url,
        "exercise": exercise,
        "exercise_url": exercise_url,
    }
    await runtime.lti.store.put_state(TICKET_STAFF, registration.id, ticket, data, TICKET_LIFETIME)
    return "/lti/instructor?" + urlencode({"ticket": ticket})


async def jwks(request: Request) -> Response:
    runtime = runtime_of(request)
    return JSONResponse(
        await runtime.lti.keys.jwks(), headers={"cache-control": "public, max-age=300"}
    )


# The deep-linking picker --------------------------------------------------------------------


async def pick(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        form = await _form(request)
        ticket = form.get("ticket", [""])[0]
        take = request.method == "POST"
        store = runtime.lti.store
        found = await (store.take_state if take else store.peek_state)(TICKET_PICK, ticket)
        if found is None:
            raise LtiError(LtiFailure.STATE, "unknown, used or expired picker ticket")
        registration = await store.registration(found[0])
        if registration is None:
            raise LtiError(LtiFailure.UNKNOWN_REGISTRATION, f"{found[0]} was removed")
    except LtiError as error:
        return await _refuse(runtime, error)
    catalog = runtime.require_catalog()
    if not take:
        return await _page(runtime, picker_page(catalog, ticket, found[1]["multiple"]))
    chosen = [e for e in form.get("exercise", []) if catalog.get(e) is not None]
    if not found[1]["multiple"]:
        chosen = chosen[:1]
    picks = [Pick(e, catalog.exercises[e].title, len(catalog.exercises[e].tests)) for e in chosen]
    claims = response_claims(
        registration, found[1]["deployment"], found[1]["data"], picks, urls(request, runtime).launch
    )
    jwt = await runtime.lti.keys.sign(claims)
    page = Page(
        title="Retour au cours…",
        body=(
            f'<form method="post" action="{escape(found[1]["return_url"])}" data-autosubmit>'
            f'<input type="hidden" name="JWT" value="{escape(jwt)}">'
            f"<p>{len(picks)} exercice(s) choisi(s).</p>"
            '<button class="lti-button" type="submit">Revenir au cours</button></form>'
        ),
        config={"mode": "post"},
        form_action=origin_of(found[1]["return_url"]),
    )
    return await _page(runtime, page)


# The instructor's view ---------------------------------------------------------------------


async def instructor(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        found = await runtime.lti.store.peek_state(
            TICKET_STAFF, request.query_params.get("ticket", "")
        )
        if found is None:
            raise LtiError(LtiFailure.STATE, "unknown or expired instructor ticket")
        registration = await runtime.lti.store.registration(found[0])
        if registration is None:
            raise LtiError(LtiFailure.UNKNOWN_REGISTRATION, f"{found[0]} was removed")
    except LtiError as error:
        return await _refuse(runtime, error)
    data = found[1]
    rows = []
    if data.get("context"):
        platform = platform_of(registration.id)
        rows = await runtime.lti.store.context_progress(platform, data["context"])
    names, note = await _roster(runtime, registration, data.get("memberships"))
    page = instructor_page(runtime.require_catalog(), data, rows, names, note)
    return await _page(runtime, page)


async def _roster(
    runtime: Runtime, registration: RegistrationRow, url: str | None
) -> tuple[dict[str, tuple[str | None, bool]], str]:
    """NRPS: the context's members (names are shown, never stored)."""
    if not url:
        return {}, "La plateforme ne fournit pas la liste des inscrits."
    try:
        members = await roster(runtime.lti.tokens, registration, url)
    except (ServiceError, OSError, TimeoutError) as exc:
        logger.warning("NRPS roster of %s unavailable: %s", registration.id, exc)
        return {}, "La liste des inscrits est momentanément indisponible."
    staff = {m.user_id: (m.name, c.is_staff(list(m.roles))) for m in members}
    return staff, ""


# Dynamic Registration ------------------------------------------------------------------------


async def register(request: Request) -> Response:
    """LTI Dynamic Registration 1.0, opened by a platform's administrator with an invitation
    the operator created (``decode-runner lti invite``)."""
    runtime = runtime_of(request)
    params = request.query_params
    invite = params.get("invite", "")
    configuration_url = params.get("openid_configuration", "")
    token = params.get("registration_token", "")
    if not invite or await runtime.lti.store.peek_state(INVITE, invite) is None:
        return await _registration_page(
            runtime, "invitation inconnue, déjà utilisée ou expirée", 403
        )
    # The registering platform shows this page in its own frame (Moodle does): let it.
    framer = (origin_of(configuration_url),) if configuration_url.startswith("http") else ()
    try:
        check_url("openid_configuration", configuration_url)
        document = await runtime.lti.fetch_json(configuration_url)
        platform = platform_configuration(document, configuration_url)
        body = tool_configuration(urls(request, runtime))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, answer = await runtime.lti.exchange(
            "POST", platform.registration_endpoint, headers, json.dumps(body).encode(), 10.0
        )
        if not 200 <= status < 300:
            raise RegistrationError("registration_endpoint", f"the platform answered HTTP {status}")
        row = registered(json.loads(answer), platform)
        await runtime.lti.store.add_registration(row)
    except (RegistrationError, DuplicateRegistration) as error:
        logger.warning("LTI dynamic registration refused: %s", error)
        return await _registration_page(runtime, str(error), 400, framer)
    except (OSError, TimeoutError, ValueError) as error:
        logger.warning("LTI dynamic registration failed: %s", error)
        reason = f"la plateforme ne répond pas : {error}"
        return await _registration_page(runtime, reason, 502, framer)
    await runtime.lti.store.take_state(INVITE, invite)
    runtime.lti.forget_origins()
    logger.warning("LTI registration %s added for %s (dynamic)", row.id, row.issuer)
    page = Page(
        title="Outil inscrit",
        body=f"<p>L'outil d'exercices est inscrit auprès de {escape(row.name)}.</p>",
        config={"mode": "registered"},
    )
    return await _page(runtime, page, also=framer)


async def _registration_page(
    runtime: Runtime, reason: str, status: int, framer: tuple[str, ...] = ()
) -> Response:
    page = Page(
        title="Inscription impossible",
        body=f"<p>L'inscription de l'outil a échoué : {escape(reason)}.</p>",
        config={"mode": "error", "code": "lti_registration"},
    )
    return await _page(runtime, page, status, also=framer)


routes = [
    Route("/lti/login", login, methods=["GET", "POST"]),
    Route("/lti/launch", launch, methods=["POST"]),
    Route("/lti/jwks", jwks, methods=["GET"]),
    Route("/lti/pick", pick, methods=["GET", "POST"]),
    Route("/lti/instructor", instructor, methods=["GET"]),
    Route("/lti/register", register, methods=["GET"]),
]
