"""OIDC login initiation and id_token validation (LTI Core 1.3 §5.1.3, 1EdTech Security
Framework §5.1.3), strict: RS256 only, a ``kid`` required, ``iss``/``aud``/``azp``, ``exp``/``iat``
with 60 s of skew and a bounded lifetime, the ``nonce`` of the login's own state (each state
works once, so each nonce does too), a known deployment, and the message types and version this
tool handles. The claims are typed and bounded before anything uses them."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt

from runner.identity.tokens import LaunchError, LaunchFailure
from runner.lti import claims as c
from runner.store import RegistrationRow

MAX_ID_TOKEN_CHARS = 64 * 1024
CLOCK_SKEW_S = 60
MAX_LIFETIME_S = 3600  # Moodle issues 60 s, Open edX and Canvas up to one hour
MAX_TEXT = 255
ALGORITHMS = ("RS256",)


class LtiFailure(StrEnum):
    """Why a login or launch is refused: the code in the page and in the operator's log."""

    BAD_REQUEST = "lti_bad_request"
    UNKNOWN_REGISTRATION = "lti_unknown_registration"
    KEYS_UNAVAILABLE = "lti_platform_keys_unavailable"
    SIGNATURE = "lti_signature"
    EXPIRED = "lti_expired"
    AUDIENCE = "lti_audience"
    CLAIMS = "lti_claims"
    NONCE = "lti_nonce"
    STATE = "lti_state"
    DEPLOYMENT = "lti_deployment"
    MESSAGE_TYPE = "lti_message_type"
    VERSION = "lti_version"
    EXERCISE = "lti_exercise_unknown"
    BROWSER = "lti_browser_check"


class LtiError(Exception):
    """A refused LTI message; ``detail`` is for the operator's log, never for the learner."""

    def __init__(self, failure: LtiFailure, detail: str = "") -> None:
        super().__init__(failure, detail)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class LoginRequest:
    """A platform's third-party login initiation (OIDC), checked."""

    issuer: str
    login_hint: str
    target_link_uri: str
    message_hint: str | None
    client_id: str | None
    deployment_id: str | None
    storage_target: str | None

    def as_params(self) -> dict[str, str]:
        """The parameters again, to start the same login from a new window."""
        pairs = {
            "iss": self.issuer,
            "login_hint": self.login_hint,
            "target_link_uri": self.target_link_uri,
            "lti_message_hint": self.message_hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        return {k: v for k, v in pairs.items() if v is not None}


def login_request(params: Mapping[str, str], own_origin: str) -> LoginRequest:
    """Check the initiation's parameters; ``target_link_uri`` must be this tool's own URL (the
    launch lands there, so anything else would make the login an open redirect)."""
    for name, value in params.items():
        if len(value) > 2048:
            raise LtiError(LtiFailure.BAD_REQUEST, f"{name} longer than 2048 characters")
    missing = [n for n in ("iss", "login_hint", "target_link_uri") if not params.get(n)]
    if missing:
        raise LtiError(LtiFailure.BAD_REQUEST, f"missing {', '.join(missing)}")
    target = params["target_link_uri"]
    parts = urlsplit(target)
    if f"{parts.scheme}://{parts.netloc}".lower() != own_origin.lower():
        raise LtiError(LtiFailure.BAD_REQUEST, f"target_link_uri {target[:80]!r} is not ours")
    storage = params.get("lti_storage_target") or None
    if storage is not None and not _frame_name(storage):
        raise LtiError(LtiFailure.BAD_REQUEST, "lti_storage_target is not a frame name")
    return LoginRequest(
        issuer=params["iss"],
        login_hint=params["login_hint"],
        target_link_uri=target,
        message_hint=params.get("lti_message_hint") or None,
        client_id=params.get("client_id") or None,
        deployment_id=params.get("lti_deployment_id") or None,
        storage_target=storage,
    )


def _frame_name(value: str) -> bool:
    return len(value) <= 64 and all(ch.isalnum() or ch in "_-." for ch in value)


def new_value() -> str:
    """A state or a nonce: 256 random bits."""
    return secrets.token_urlsafe(32)


def auth_url(
    registration: RegistrationRow, login: LoginRequest, redirect_uri: str, state: str, nonce: str
) -> str:
    """The platform's OIDC authorisation request (form_post of an id_token to ``redirect_uri``)."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if login.message_hint is not None:
        params["lti_message_hint"] = login.message_hint
    separator = "&" if urlsplit(registration.auth_login_url).query else "?"
    return registration.auth_login_url + separator + urlencode(params)


@dataclass(frozen=True)
class DeepLinking:
    return_url: str
    data: str | None
    accept_multiple: bool


@dataclass(frozen=True)
class Launch:
    """A verified launch: who, from which deployment and context, for what."""

    registration: RegistrationRow
    message_type: str
    subject: str
    roles: tuple[str, ...]
    deployment_id: str
    name: str | None = None
    locale: str | None = None
    context_id: str | None = None
    context_title: str | None = None
    resource_link_id: str | None = None
    resource_link_title: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    target_link_uri: str = ""
    return_url: str | None = None
    lineitem: str | None = None
    ags_scopes: tuple[str, ...] = ()
    memberships_url: str | None = None
    deep_linking: DeepLinking | None = None

    @property
    def staff(self) -> bool:
        return c.is_staff(list(self.roles))


# (jwks url, label, kid, alg) -> the key; raises LaunchError (KEYS_UNAVAILABLE or INVALID).
KeyFinder = Callable[[str, str, str | None, str], Awaitable[Any]]


async def verify_id_token(
    token: str, registration: RegistrationRow, nonce: str, find_key: KeyFinder, now: float
) -> Launch:
    """Every rule of an id_token, for the registration its login state names."""
    if len(token) > MAX_ID_TOKEN_CHARS:
        raise LtiError(LtiFailure.BAD_REQUEST, f"id_token of {len(token)} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise LtiError(LtiFailure.SIGNATURE, f"not a JWT: {exc}") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        raise LtiError(LtiFailure.SIGNATURE, f"algorithm {str(algorithm)[:20]!r} not allowed")
    if not isinstance(kid, str) or not kid:
        raise LtiError(LtiFailure.SIGNATURE, "no kid in the header")
    try:
        key = await find_key(registration.jwks_url, f"LTI {registration.id}", kid, algorithm)
    except LaunchError as error:
        failure = (
            LtiFailure.KEYS_UNAVAILABLE
            if error.failure is LaunchFailure.KEYS_UNAVAILABLE
            else LtiFailure.SIGNATURE
        )
        raise LtiError(failure, error.detail) from None
    payload = _decode(token, key, algorithm, registration, now)
    if payload.get("nonce") != nonce:
        raise LtiError(LtiFailure.NONCE, "nonce is not the login state's")
    return _launch(registration, payload)


def _decode(
    token: str, key: Any, algorithm: str, registration: RegistrationRow, now: float
) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=registration.client_id,
            issuer=registration.issuer,
            leeway=CLOCK_SKEW_S,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise LtiError(LtiFailure.EXPIRED) from None
    except jwt.ImmatureSignatureError:
        raise LtiError(LtiFailure.EXPIRED, "issued in the future") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
        raise LtiError(LtiFailure.AUDIENCE, str(exc)) from None
    except jwt.MissingRequiredClaimError as exc:
        raise LtiError(LtiFailure.CLAIMS, str(exc)) from None
    except jwt.PyJWTError as exc:
        raise LtiError(LtiFailure.SIGNATURE, f"{type(exc).__name__}: {exc}") from None
    audience = payload["aud"]
    audiences = audience if isinstance(audience, list) else [audience]
    azp = payload.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != registration.client_id:
        raise LtiError(LtiFailure.AUDIENCE, "azp missing or not our client id")
    issued, expires = payload["iat"], payload["exp"]
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise LtiError(LtiFailure.CLAIMS, "iat and exp must be numbers")
    if expires - issued > MAX_LIFETIME_S or issued < now - MAX_LIFETIME_S - CLOCK_SKEW_S:
        raise LtiError(LtiFailure.EXPIRED, f"lifetime {expires - issued:.0f} s too long")
    return payload


def _launch(registration: RegistrationRow, p: dict[str, Any]) -> Launch:
    if p.get(c.VERSION) != c.LTI_VERSION:
        raise LtiError(LtiFailure.VERSION, f"version {str(p.get(c.VERSION))[:20]!r}")
    message_type = p.get(c.MESSAGE_TYPE)
    if message_type not in (c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST):
        raise LtiError(LtiFailure.MESSAGE_TYPE, f"message type {str(message_type)[:40]!r}")
    deployment = p.get(c.DEPLOYMENT_ID)
    if not isinstance(deployment, str) or not deployment:
        raise LtiError(LtiFailure.CLAIMS, "no deployment_id")
    if deployment not in registration.deployment_ids:
        raise LtiError(LtiFailure.DEPLOYMENT, f"deployment {deployment[:40]!r} not registered")
    subject = _text(p, "sub", required=True)
    assert subject is not None
    roles = p.get(c.ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise LtiError(LtiFailure.CLAIMS, "roles must be a list of strings")
    context = _object(p, c.CONTEXT)
    link = _object(p, c.RESOURCE_LINK)
    presentation = _object(p, c.LAUNCH_PRESENTATION)
    ags = _object(p, c.AGS_ENDPOINT)
    nrps = _object(p, c.NRPS)
    custom = {
        str(k)[:64]: str(v)[:MAX_TEXT]
        for k, v in _object(p, c.CUSTOM).items()
        if isinstance(v, str | int | float)
    }
    target = p.get(c.TARGET_LINK_URI)
    if message_type == c.RESOURCE_LINK_REQUEST:
        if not isinstance(link.get("id"), str) or not link["id"]:
            raise LtiError(LtiFailure.CLAIMS, "a resource link launch needs resource_link.id")
        if not isinstance(target, str) or not target:
            raise LtiError(LtiFailure.CLAIMS, "no target_link_uri")
    deep_linking = None
    if message_type == c.DEEP_LINKING_REQUEST:
        settings = _object(p, c.DEEP_LINKING_SETTINGS)
        return_url = settings.get("deep_link_return_url")
        if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
            raise LtiError(LtiFailure.CLAIMS, "no deep_link_return_url")
        data = settings.get("data")
        deep_linking = DeepLinking(
            return_url=return_url,
            data=data if isinstance(data, str) else None,
            accept_multiple=settings.get("accept_multiple") is not False,
        )
    scopes = ags.get("scope", [])
    return Launch(
        registration=registration,
        message_type=message_type,
        subject=subject,
        roles=tuple(roles),
        deployment_id=deployment,
        name=_text(p, "name"),
        locale=p["locale"][:2].lower() if isinstance(p.get("locale"), str) else None,
        context_id=_bounded(context.get("id")),
        context_title=_bounded(context.get("title")),
        resource_link_id=_bounded(link.get("id")),
        resource_link_title=_bounded(link.get("title")),
        custom=custom,
        target_link_uri=target if isinstance(target, str) else "",
        return_url=_url(presentation.get("return_url")),
        lineitem=_url(ags.get("lineitem")),
        ags_scopes=tuple(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list)
        else (),
        memberships_url=_url(nrps.get("context_memberships_url")),
        deep_linking=deep_linking,
    )


def _object(p: dict[str, Any], name: str) -> dict[str, Any]:
    value = p.get(name, {})
    if not isinstance(value, dict):
        raise LtiError(LtiFailure.CLAIMS, f"{name.rsplit('/', 1)[-1]} must be an object")
    return value


def _text(p: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = p.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise LtiError(LtiFailure.CLAIMS, f"{name} must be a string of 1-255 characters")
    return value


def _bounded(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 1024:
        return value
    return None
