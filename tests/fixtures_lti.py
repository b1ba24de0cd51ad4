"""An LTI 1.3 Advantage platform (an LMS stand-in) served on http://localhost:PORT, for the LTI tests.

Real: the PyPI package ``lti1p3platform`` builds the OIDC initiation URL, checks the tool's
authentication request (nonce, state, redirect_uri, client_id), builds and signs each launch's
id_token (resource link or deep linking, with the AGS, NRPS and deep-linking claims), grants AGS
access tokens after checking the tool's client assertion against the tool's JWKS, checks the
signature of deep-linking responses, and runs the AGS and NRPS services with their bearer checks.
Added here, which the library leaves to a web framework: HTTP routing on a threaded server,
storage, the checks the library skips (registered redirect_uri, login_hint, response_type, scope,
prompt; the assertion's iss/sub/aud/jti; the deep-linking aud/nonce/deployment_id/data; score
bodies and Moodle's 409 for a timestamp that is not newer), key rotation, the Dynamic Registration
endpoint, and a course page whose script answers the LTI postMessage storage messages.

Use the ``lti_platform`` fixture (with "fixtures_lti" in conftest's ``pytest_plugins``) or the
``serve_lti_platform()`` context manager.
"""

from __future__ import annotations

import copy
import html
import http.server
import itertools
import json
import re
import secrets
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any, TypeGuard
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import (
    InvalidKeySetUrl,
    LineItemNotFoundException,
    LtiDeepLinkingResponseException,
    LtiException,
    LtiServiceException,
    MissingRequiredClaim,
    PreflightRequestValidationException,
    UnsupportedGrantType,
)
from lti1p3platform.lineitem import TLineItem
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response
from lti1p3platform.score import ActivityProgress, GradeProgress, TScore, UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
    TPage,
)

HOST = "localhost"  # the runner is on 127.0.0.1: another site for the browser
DEFAULT_USER = "learner-1"
DEFAULT_NAME = "Ada Lovelace"
DEFAULT_CONTEXT = "course-1"
LIS_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LTI_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


@dataclass
class Tool:
    """A registered tool: the library's Registration plus what the platform checks against."""

    client_id: str
    deployment_id: str
    login_url: str
    launch_url: str
    deep_link_url: str
    jwks_url: str
    redirect_uris: tuple[str, ...]
    registration: Registration

    @property
    def origins(self) -> list[str]:
        urls = (self.login_url, self.launch_url, self.deep_link_url, *self.redirect_uris)
        return sorted({_origin(url) for url in urls})


@dataclass
class ResourceLink:
    id: str
    client_id: str
    custom: dict[str, str]
    title: str = ""
    url: str | None = None  # the target_link_uri when not the tool's launch URL


@dataclass
class LaunchContext:
    """What /start decided, kept server-side under the lti_message_hint it issued."""

    client_id: str
    user: str
    name: str
    roles: list[str]
    context_id: str
    resource_link_id: str | None  # None for a deep-linking request
    deep_link_data: str | None = None


@dataclass
class LineItem:
    id: str
    client_id: str
    data: dict[str, Any]  # scoreMaximum, label, resourceId, resourceLinkId, tag
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # userId -> accepted


@dataclass(frozen=True)
class TokenRequest:
    client_id: str | None
    granted: bool
    scope: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ScorePost:
    line_item_id: str
    body: Any
    status: int


@dataclass(frozen=True)
class DeepLinkResponse:
    accepted: bool
    reason: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    resource_links: tuple[str, ...] = ()  # the links created from its ltiResourceLink items


@dataclass(frozen=True)
class SigningKey:
    kid: str  # the JWK thumbprint, as the library's Registration.get_kid computes it
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(Registration.get_jwk(public_pem)["kid"], private_pem, public_pem)

    @property
    def jwk(self) -> dict[str, Any]:
        return Registration.get_jwk(self.public_pem)


# --- the library's abstract classes, bound to this platform ---------------------------------


@dataclass
class _Incoming:
    method: str
    path: str
    query: dict[str, str]
    headers: Message[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def bearer(self) -> str | None:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()


class _LibraryRequest(Request):
    """The library's view of one HTTP request."""

    def build_metadata(self, request: _Incoming) -> TRequest:
        # The library adds 1 to "page" and slices by "limit": they must be numbers.
        query: dict[str, Any] = {
            k: int(v) if k in ("page", "limit") and v.isdigit() else v
            for k, v in request.query.items()
        }
        content_type = request.headers.get("Content-Type", "")
        return {
            "method": request.method,
            "form_data": request.form if content_type.startswith("application/x-www-form") else {},
            "get_data": query,
            "headers": request.headers,
            "content_type": content_type,
            "path": request.path,
            "json": request.json() if "json" in content_type else None,
        }


class _PlatformConf(LTI1P3PlatformConfAbstract):
    """The library's platform configuration, bound to one tool for one request."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._platform: LtiPlatform = kwargs["platform"]
        tool: Tool | None = kwargs.get("tool")
        if tool is not None:
            self._registration = tool.registration
        self.set_accepted_deeplinking_types(["ltiResourceLink"])

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        raise LookupError("no tool chosen for this request")

    def get_tool_public_key(self) -> bytes:
        # The library caches the tool's key set for good: a tool that rotated its keys would be
        # refused forever. Fetch the set again when the JWT names a kid it lacks.
        kid = (self._jwt.get("header") or {}).get("kid")
        registration = self._registration
        cached = registration.get_tool_key_set() if registration else None
        if registration and cached and kid not in {k.get("kid") for k in cached.get("keys", [])}:
            url = registration.get_tool_key_set_url()
            registration.set_tool_key_set(self.fetch_public_key(str(url)))
        return super().get_tool_public_key()

    def validate_token(
        self, token: str, allowed_scopes: list[str] | None = None, audience: str | None = None
    ) -> bool:
        # The library checks access tokens against the current key only (and signs them without
        # a kid); a real platform keeps accepting a token issued before a rotation. The tool is
        # the token's subject.
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            client_id = jwt.decode(token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            return False
        tool = self._platform.tool(str(client_id))
        if tool is None:
            return False
        for key in self._platform.published_keys(kid):
            self._registration = copy.copy(tool.registration).set_platform_public_key(
                key.public_pem
            )
            try:
                return super().validate_token(token, allowed_scopes, audience)
            except (jwt.PyJWTError, LtiException):
                continue
        return False


class _Login(OIDCLoginAbstract):
    storage_target: str | None = None

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        if self.storage_target:
            url += "&" + urlencode({"lti_storage_target": self.storage_target})
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    """One launch: the library checks the tool's authentication request and signs the id_token;
    ``prepare_launch`` adds the checks it skips and the claims of the stored launch context."""

    def __init__(
        self, request: Request, conf: _PlatformConf, platform: LtiPlatform, ctx: LaunchContext
    ) -> None:
        super().__init__(request, conf)
        self._platform = platform
        self._ctx = ctx

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        ctx, platform, tool = self._ctx, self._platform, self._platform.tools[self._ctx.client_id]
        _require(preflight_response.get("redirect_uri") in tool.redirect_uris, "redirect_uri")
        _require(preflight_response.get("response_type") == "id_token", "response_type")
        _require(preflight_response.get("response_mode") == "form_post", "response_mode")
        _require("openid" in preflight_response.get("scope", "").split(), "scope")
        _require(preflight_response.get("prompt") == "none", "prompt")
        _require(preflight_response.get("login_hint") == ctx.user, "login_hint")
        self.set_user_data(ctx.user, ctx.roles, ctx.name, f"{ctx.user}@example.org", ctx.user)
        self.set_launch_context_claim(ctx.context_id, [COURSE_OFFERING], "Cours de test", "TEST")
        self.set_launch_presentation_claim("iframe", platform.url("/return"))
        self.set_nrps(platform.memberships_url)
        if ctx.deep_link_data is not None:
            self.set_ags(platform.lineitems_url)
            # The library types `data` as a dict; the spec's examples and the LMSs send a string.
            data: Any = ctx.deep_link_data
            self.set_dl(
                platform.deep_link_return_url,
                "Ajouter des exercices",
                "",
                {"ltiResourceLink"},
                data,
            )
        else:
            link = platform.resource_links[str(ctx.resource_link_id)]
            item = platform.gradebook.for_link(link.id) or platform.gradebook.create(
                link.client_id,
                {"scoreMaximum": 1, "label": link.title, "resourceLinkId": link.id}
                | ({"resourceId": link.custom["exercise"]} if "exercise" in link.custom else {}),
            )
            self.set_resource_link_claim(link.id, title=link.title)
            self.set_custom_parameters_claim(link.custom)
            self.set_ags(platform.lineitems_url, platform.lineitem_url(item.id))
            if link.url:
                self.set_launch_url(link.url)
        self.set_extra_claims(copy.deepcopy(platform.launch_claim_overrides))
        platform.add_member(ctx.user, ctx.name, ctx.roles)

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> _Reply:
        self._platform.launches.append(
            jwt.decode(launch_data["id_token"], options={"verify_signature": False})
        )
        action = launch_data["launch_url"]
        fields = "".join(
            f'<input type="hidden" name="{n}" value="{html.escape(launch_data[n])}">'
            for n in ("id_token", "state")
        )
        body = (
            f'<form id="launch" method="post" action="{html.escape(action)}">{fields}'
            "<noscript><button>Continuer</button></noscript></form>"
        )
        csp = f"default-src 'none'; script-src 'self'; form-action {_origin(action)}"
        return _page(200, "Lancement", body, csp, script="/autosubmit.js")


def _require(condition: bool, parameter: str) -> None:
    if not condition:
        raise PreflightRequestValidationException(f"bad or missing {parameter}")


class _Grades(AssignmentsGradesService):
    """AGS over the platform's gradebook."""

    def __init__(self, request: _Incoming, platform: LtiPlatform, item: str | None = None) -> None:
        item_url = platform.lineitem_url(item) if item else None
        conf = _PlatformConf(platform=platform)  # validate_token picks the tool from the token
        super().__init__(_LibraryRequest(request), conf, platform.lineitems_url, item_url)
        self._book = platform.gradebook
        self._platform = platform
        self._client_id = str(_unverified(request.bearer() or "").get("sub", ""))

    def find_lineitems(
        self,
        page: int = 1,
        limit: int | None = None,
        line_item_id: str | None = None,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
        **ignored: Any,  # the library passes every query parameter along
    ) -> TPage:
        wanted = {"resourceLinkId": resource_link_id, "resourceId": resource_id, "tag": tag}
        items = [
            self._book.json(i)
            for i in self._book.items.values()
            if all(v is None or i.data.get(k) == v for k, v in wanted.items())
        ]
        return _paged(items, page, limit)

    def find_lineitem(self, line_item_id: str) -> TLineItem:
        return self._book.json(self._book.get(line_item_id))

    def create_lineitem(self, creation_data: TLineItem) -> TLineItem:
        item = self._book.create(self._client_id, creation_data)
        return self._book.json(item)

    def update_lineitem(self, update_data: TLineItem) -> TLineItem:
        item = self._book.get(update_data["id"])
        _check_line_item({**item.data, **update_data})
        item.data.update({k: v for k, v in update_data.items() if k != "id"})
        return self._book.json(item)

    def delete_lineitem(self, line_item_id: str) -> None:
        self._book.get(line_item_id)
        del self._book.items[line_item_id]

    def update_score(self, line_item_id: str, score: TScore) -> UpdateScoreStatus:
        assert self.request is not None
        if self.request.content_type.split(";")[0].strip() != SCORE_MEDIA_TYPE:
            raise LtiServiceException(f"the score must be sent as {SCORE_MEDIA_TYPE}", 415)
        return self._book.record_score(line_item_id, score)

    def get_results(self, line_item_id: str, *args: Any, **kwargs: Any) -> TPage:
        raise LtiServiceException("the result service is not served here", 404)


class _Members(NamesRoleProvisioningService):
    """NRPS: the users who launched plus those added with ``add_member``, in one context."""

    def __init__(self, request: _Incoming, platform: LtiPlatform) -> None:
        conf = _PlatformConf(platform=platform)  # validate_token picks the tool from the token
        super().__init__(_LibraryRequest(request), conf, platform.memberships_url)
        self._platform = platform

    def get_member_data_page(
        self,
        page: int = 1,
        limit: int | None = None,
        role: str | None = None,
        since: str | None = None,
        **ignored: Any,  # the library passes every query parameter along (rlid too)
    ) -> TPage:
        members = [
            dict(m)
            for m in self._platform.members.values()
            if role is None or role in m["roles"] or LIS_ROLE + role in m["roles"]
        ]
        return _paged(members, page, limit)

    def get_context_by_id(self) -> Context:
        return Context(id=DEFAULT_CONTEXT, label="TEST", title="Cours de test")

    def is_resource_link_valid(self, context_id: str, resource_link_id: str) -> bool:
        return resource_link_id in self._platform.resource_links


def _paged(content: list[Any], page: int, limit: int | None) -> TPage:
    if not limit:
        return {"content": content, "has_next": False, "next": None}
    start = (max(page, 1) - 1) * limit
    return {
        "content": content[start : start + limit],
        "has_next": start + limit < len(content),
        "next": None,
    }


# --- storage ----------------------------------------------------------------------------------


class Gradebook:
    """Line items and the scores accepted for them, with Moodle's rule: a score whose timestamp
    is not strictly newer than the last accepted one for that (line item, user) is refused."""

    def __init__(self, platform: LtiPlatform) -> None:
        self.items: dict[str, LineItem] = {}
        self._platform = platform
        self._ids = itertools.count(1)

    def create(self, client_id: str, data: Any) -> LineItem:
        _check_line_item(data)
        item = LineItem(
            str(next(self._ids)), client_id, {k: v for k, v in data.items() if k != "id"}
        )
        self.items[item.id] = item
        return item

    def get(self, line_item_id: str) -> LineItem:
        try:
            return self.items[line_item_id]
        except KeyError:
            raise LineItemNotFoundException(line_item_id) from None

    def for_link(self, resource_link_id: str) -> LineItem | None:
        found = [i for i in self.items.values() if i.data.get("resourceLinkId") == resource_link_id]
        return found[0] if found else None

    def json(self, item: LineItem) -> dict[str, Any]:
        return {"id": self._platform.lineitem_url(item.id), **item.data}

    def record_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        item = self.get(line_item_id)
        problem = _score_problem(score)
        if problem:
            raise LtiServiceException(problem, 400)
        accepted = item.scores.setdefault(score["userId"], [])
        if accepted and _timestamp(score) <= _timestamp(accepted[-1]):
            return UpdateScoreStatus.OLD_TIMESTAMP
        accepted.append(score)
        return UpdateScoreStatus.SUCCESS


def _check_line_item(data: Any) -> None:
    if not isinstance(data, dict):
        raise LtiServiceException("a line item is a JSON object", 400)
    maximum = data.get("scoreMaximum")
    if not _is_number(maximum) or maximum <= 0:
        raise LtiServiceException("scoreMaximum must be a positive number", 400)
    if not isinstance(data.get("label", ""), str):
        raise LtiServiceException("label must be a string", 400)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(score: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(score["timestamp"])


def _score_problem(score: Any) -> str | None:
    if not isinstance(score, dict):
        return "the score must be a JSON object"
    if not isinstance(score.get("userId"), str) or not score["userId"]:
        return "userId must be a non-empty string"
    given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
    in_range = _is_number(given) and _is_number(maximum) and 0 <= given <= maximum and maximum > 0
    if given is not None and not in_range:
        return "scoreGiven needs a scoreMaximum > 0, and 0 <= scoreGiven <= scoreMaximum"
    if score.get("activityProgress") not in {p.value for p in ActivityProgress}:
        return "bad activityProgress"
    if score.get("gradingProgress") not in {p.value for p in GradeProgress}:
        return "bad gradingProgress"
    try:
        if _timestamp(score).tzinfo is None:
            return "timestamp needs a time zone"
    except (TypeError, ValueError, KeyError):
        return "timestamp must be ISO 8601"
    return None


# --- the platform -----------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, data: Any, content_type: str = "application/json") -> _Reply:
    return _Reply(status, json.dumps(data).encode(), content_type)


def _page(status: int, title: str, body: str, csp: str, script: str | None = None) -> _Reply:
    head = f'<script src="{script}" defer></script>' if script else ""
    page = (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": csp}
    return _Reply(status, page.encode(), "text/html; charset=utf-8", headers)


def _refusal_page(reason: str) -> _Reply:
    return _page(400, "Refusé", f'<p id="reason">{html.escape(reason)}</p>', "default-src 'none'")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _unverified(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _audience_has(claims: Mapping[str, Any], audience: str) -> bool:
    aud = claims.get("aud")
    return aud == audience or (isinstance(aud, list) and audience in aud)


Route = tuple[str, re.Pattern[str], Callable[..., _Reply]]


class LtiPlatform:
    """The platform: start() serves it on localhost; every record below is for assertions."""

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}
        self.resource_links: dict[str, ResourceLink] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.gradebook = Gradebook(self)
        self.ags_down = False  # /token, /lineitems… and /memberships answer 503
        self.refused_while_down = 0  # requests answered 503 because of ags_down
        self.launch_claim_overrides: dict[str, Any] = {}  # merged into every id_token
        self.launches: list[dict[str, Any]] = []  # claims of every id_token issued
        self.auth_refusals: list[str] = []
        self.token_requests: list[TokenRequest] = []
        self.score_posts: list[ScorePost] = []
        self.deep_link_responses: list[DeepLinkResponse] = []
        self.content_items: list[dict[str, Any]] = []
        self.registrations: list[dict[str, Any]] = []  # registration bodies accepted
        self.registration_refusals: list[str] = []
        self.registration_closed = threading.Event()  # the admin page saw lti.close
        self.errors: list[str] = []  # unexpected exceptions (tracebacks)
        self._keys = [SigningKey.generate()]
        self._hints: dict[str, LaunchContext] = {}
        self._deep_link_data: dict[str, str] = {}  # data issued -> client_id
        self._registration_tokens: set[str] = set()
        self._assertion_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._changed = threading.Condition(threading.RLock())
        self._server: http.server.ThreadingHTTPServer | None = None
        self._routes = self._route_table()

    # -- life cycle and URLs --

    def start(self) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def issuer(self) -> str:
        assert self._server is not None, "the platform is not started"
        return f"http://{HOST}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.issuer + path

    auth_url = property(lambda self: self.url("/auth"))
    token_url = property(lambda self: self.url("/token"))
    jwks_url = property(lambda self: self.url("/jwks"))
    registration_endpoint = property(lambda self: self.url("/register"))
    openid_configuration_url = property(lambda self: self.url("/.well-known/openid-configuration"))
    lineitems_url = property(lambda self: self.url("/lineitems"))
    memberships_url = property(lambda self: self.url("/memberships"))
    deep_link_return_url = property(lambda self: self.url("/deep-link-return"))

    def lineitem_url(self, line_item_id: str) -> str:
        return f"{self.lineitems_url}/{line_item_id}"

    # -- keys --

    @property
    def current_key(self) -> SigningKey:
        return self._keys[-1]

    @property
    def private_key_pem(self) -> str:
        return self.current_key.private_pem

    def published_keys(self, kid: str | None = None) -> list[SigningKey]:
        """The published key named ``kid``, or all of them, newest first, if ``kid`` is None."""
        return [k for k in self._keys[::-1] if kid is None or k.kid == kid]

    def rotate_key(self) -> str:
        """Sign from now on with a new key; /jwks publishes the old and the new. Returns its kid."""
        with self._changed:
            self._keys.append(SigningKey.generate())
            for tool in self.tools.values():
                tool.registration.set_platform_private_key(self.private_key_pem)
                tool.registration.set_platform_public_key(self.current_key.public_pem)
        return self.current_key.kid

    def sign(
        self, payload: dict[str, Any], headers: dict[str, Any] | None = None, kid: str | None = None
    ) -> str:
        """A JWT signed RS256 by the current key (or the published key ``kid``); an unknown
        ``kid`` goes into the header as is, the current key signing."""
        key = next(iter(self.published_keys(kid)), self.current_key) if kid else self.current_key
        return Registration.encode_and_sign(
            dict(payload), key.private_pem, {"kid": kid or key.kid, **(headers or {})}
        )

    # -- tools, links, members --

    def tool(self, client_id: str | None) -> Tool | None:
        return self.tools.get(client_id or "")

    def register_tool(
        self,
        tool_base_url: str,
        login_path: str = "/lti/login",
        launch_path: str = "/lti/launch",
        jwks_path: str = "/lti/jwks",
    ) -> tuple[str, str]:
        """Manual registration; returns (client_id, deployment_id)."""
        base = tool_base_url.rstrip("/")
        launch = base + launch_path
        tool = self._add_tool(base + login_path, launch, launch, base + jwks_path, (launch,))
        return tool.client_id, tool.deployment_id

    def _add_tool(
        self, login: str, launch: str, deep_link: str, jwks: str, redirects: tuple[str, ...]
    ) -> Tool:
        with self._changed:
            n = next(self._ids)
            client_id, deployment_id = f"tool-{n}-{secrets.token_hex(3)}", f"deployment-{n}"
            registration = (
                Registration()
                .set_iss(self.issuer)
                .set_client_id(client_id)
                .set_deployment_id(deployment_id)
                .set_oidc_login_url(login)
                .set_launch_url(launch)
                .set_deeplink_launch_url(deep_link)
                .set_tool_key_set_url(jwks)
                .set_platform_private_key(self.private_key_pem)
                .set_platform_public_key(self.current_key.public_pem)
            )
            tool = Tool(
                client_id, deployment_id, login, launch, deep_link, jwks, redirects, registration
            )
            self.tools[client_id] = tool
            return tool

    def add_member(self, user_id: str, name: str, roles: Sequence[str] = ("Learner",)) -> None:
        with self._changed:
            self.members[user_id] = {
                "user_id": user_id,
                "name": name,
                "roles": _roles(roles),
                "status": "Active",
            }

    def line_item(self, key: str) -> dict[str, Any]:
        """A line item's JSON by id, URL or resource link id."""
        with self._changed:
            return self.gradebook.json(self._line_item(key))

    def scores(self, key: str, user: str) -> list[dict[str, Any]]:
        """The scores accepted for ``user`` on a line item (by id, URL or resource link id)."""
        with self._changed:
            return list(self._line_item(key).scores.get(user, []))

    def _line_item(self, key: str) -> LineItem:
        key = key.removeprefix(self.lineitems_url + "/")
        item = self.gradebook.items.get(key) or self.gradebook.for_link(key)
        if item is None:
            raise KeyError(f"no line item {key!r}")
        return item

    def wait_for(self, predicate: Callable[[LtiPlatform], bool], timeout: float = 30.0) -> bool:
        """Wait until ``predicate(platform)`` holds (checked after each request)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    # -- URLs for the tests --

    def start_url(
        self,
        exercise: str | None = None,
        *,
        user: str = DEFAULT_USER,
        name: str = DEFAULT_NAME,
        roles: str | Sequence[str] = "Learner",
        resource_link: str | None = None,
        context: str = DEFAULT_CONTEXT,
        deep_link: bool = False,
        storage: bool = False,
        client_id: str | None = None,
    ) -> str:
        """The platform's /start URL: it 302-redirects to the tool's OIDC login initiation."""
        params = {
            "exercise": exercise,
            "user": user,
            "name": name,
            "roles": roles if isinstance(roles, str) else ",".join(roles),
            "resource_link": resource_link,
            "context": context,
            "deep_link": "1" if deep_link else None,
            "storage": "1" if storage else None,
            "client_id": client_id,
        }
        return self.url("/start?" + urlencode({k: v for k, v in params.items() if v}))

    def course_url(self, exercise: str | None = None, **options: Any) -> str:
        """The course page framing the tool; same parameters as ``start_url``."""
        return self.url("/course?" + urlsplit(self.start_url(exercise, **options)).query)

    def registration_launch_url(self, tool_registration_url: str) -> str:
        """The tool's registration URL with openid_configuration and a new single-use
        registration_token appended (its own query kept)."""
        token = secrets.token_urlsafe(16)
        with self._changed:
            self._registration_tokens.add(token)
        return _with_query(
            tool_registration_url,
            openid_configuration=self.openid_configuration_url,
            registration_token=token,
        )

    def registration_page_url(self, tool_registration_url: str) -> str:
        """An admin page framing ``registration_launch_url(...)``; it sets
        ``registration_closed`` when the tool posts org.imsglobal.lti.close."""
        target = self.registration_launch_url(tool_registration_url)
        return self.url("/admin/register?" + urlencode({"target": target}))

    # -- HTTP --

    def _route_table(self) -> list[Route]:
        table: list[tuple[str, str, Callable[..., _Reply]]] = [
            ("GET", r"/\.well-known/openid-configuration", self._openid_configuration),
            ("GET", r"/jwks", lambda req: _json(200, {"keys": [k.jwk for k in self._keys]})),
            ("POST", r"/register", self._register),
            ("GET", r"/course", self._course),
            ("GET", r"/course\.js", lambda req: _script(COURSE_JS)),
            ("GET", r"/autosubmit\.js", lambda req: _script(AUTOSUBMIT_JS)),
            ("GET", r"/start", self._start),
            ("GET POST", r"/auth", self._auth),
            ("POST", r"/token", self._token),
            ("GET POST", r"/lineitems", self._lineitems),
            ("GET PUT DELETE", r"/lineitems/(?P<item>[^/]+)", self._lineitem),
            ("POST", r"/lineitems/(?P<item>[^/]+)/scores", self._scores),
            ("GET", r"/memberships", self._memberships),
            ("POST", r"/deep-link-return", self._deep_link_return),
            ("GET", r"/admin/register", self._admin_register),
            ("GET", r"/admin\.js", lambda req: _script(ADMIN_JS)),
            ("POST", r"/admin/closed", self._admin_closed),
            (
                "GET",
                r"/return",
                lambda req: _page(200, "Cours", "<p>Retour au cours</p>", "default-src 'none'"),
            ),
        ]
        return [(methods, re.compile(path), handler) for methods, path, handler in table]

    def handle(self, req: _Incoming) -> _Reply:
        with self._changed:
            try:
                for methods, pattern, handler in self._routes:
                    match = pattern.fullmatch(req.path)
                    if match is None:
                        continue
                    if req.method not in methods.split():
                        return _Reply(
                            405,
                            b"method not allowed",
                            headers={"Allow": methods.replace(" ", ", ")},
                        )
                    return handler(req, **match.groupdict())
                return _Reply(404, b"not found")
            except Exception:
                self.errors.append(traceback.format_exc())
                return _Reply(500, b"platform error")
            finally:
                self._changed.notify_all()

    def _openid_configuration(self, req: _Incoming) -> _Reply:
        return _json(
            200,
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.auth_url,
                "token_endpoint": self.token_url,
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                "jwks_uri": self.jwks_url,
                "registration_endpoint": self.registration_endpoint,
                "scopes_supported": ["openid", *LTI_SCOPES],
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public", "pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
                PLATFORM_CONFIGURATION: {
                    "product_family_code": "decode-test-lms",
                    "version": "1.0",
                    "messages_supported": [
                        {"type": "LtiResourceLinkRequest"},
                        {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
                    ],
                    "variables": ["ResourceLink.id", "Context.id", "User.id", "Person.name.full"],
                },
            },
        )

    def _register(self, req: _Incoming) -> _Reply:
        token = req.bearer()
        if token not in self._registration_tokens:
            self.registration_refusals.append("bad registration token")
            return _json(401, {"error": "invalid_token"})
        body = req.json()
        problem = _registration_problem(body)
        if problem:
            self.registration_refusals.append(problem)
            return _json(400, {"error": "invalid_client_metadata", "error_description": problem})
        self._registration_tokens.discard(token)
        config = body[TOOL_CONFIGURATION]
        deep_link = next(
            (
                m["target_link_uri"]
                for m in config.get("messages", [])
                if m.get("type") == "LtiDeepLinkingRequest" and m.get("target_link_uri")
            ),
            config["target_link_uri"],
        )
        tool = self._add_tool(
            body["initiate_login_uri"],
            config["target_link_uri"],
            deep_link,
            body["jwks_uri"],
            tuple(body["redirect_uris"]),
        )
        self.registrations.append(body)
        configuration = {**config, "deployment_id": tool.deployment_id}
        return _json(200, {**body, "client_id": tool.client_id, TOOL_CONFIGURATION: configuration})

    def _course(self, req: _Incoming) -> _Reply:
        tool = self._chosen_tool(req.query)
        if tool is None:
            return _refusal_page("no tool registered")
        start = self.url("/start?" + urlencode(req.query))
        origins = " ".join(tool.origins)
        body = (
            "<h1>Cours de test</h1>"
            f'<iframe id="tool" title="Exercice" data-src="{html.escape(start)}" '
            f'data-tool-origins="{html.escape(origins)}" width="1100" height="760"></iframe>'
        )
        csp = f"default-src 'none'; script-src 'self'; frame-src 'self' {origins}"
        return _page(200, "Cours de test", body, csp, script="/course.js")

    def _chosen_tool(self, query: Mapping[str, str]) -> Tool | None:
        if query.get("client_id"):
            return self.tool(query["client_id"])
        return list(self.tools.values())[-1] if self.tools else None

    def _start(self, req: _Incoming) -> _Reply:
        q, tool = req.query, self._chosen_tool(req.query)
        if tool is None:
            return _refusal_page("no tool registered")
        ctx = LaunchContext(
            tool.client_id,
            q.get("user", DEFAULT_USER),
            q.get("name", DEFAULT_NAME),
            _roles(q.get("roles", "Learner").split(",")),
            q.get("context", DEFAULT_CONTEXT),
            None,
        )
        login = _Login(_LibraryRequest(req), _PlatformConf(platform=self, tool=tool))
        if q.get("deep_link") == "1":
            ctx.deep_link_data = secrets.token_urlsafe(12)
            self._deep_link_data[ctx.deep_link_data] = tool.client_id
            login.set_deeplinking_launch_url()
        else:
            link = self._resource_link(tool, q.get("resource_link"), q.get("exercise"))
            if link is None:
                return _refusal_page("exercise or resource_link needed")
            ctx.resource_link_id = link.id
            if link.url:
                login.set_launch_url(link.url)
        hint = secrets.token_urlsafe(16)
        self._hints[hint] = ctx
        login.set_lti_message_hint(hint=hint)
        login.storage_target = "_parent" if q.get("storage") == "1" else None
        return _Reply(302, headers={"Location": login.initiate_login(ctx.user)})

    def _resource_link(
        self, tool: Tool, link_id: str | None, exercise: str | None
    ) -> ResourceLink | None:
        link_id = link_id or (f"rl-{exercise}" if exercise else None)
        if link_id is None:
            return None
        link = self.resource_links.get(link_id)
        if link is None:
            custom = {"exercise": exercise} if exercise else {}
            link = ResourceLink(link_id, tool.client_id, custom, f"Exercice {exercise or link_id}")
            self.resource_links[link_id] = link
        elif exercise:
            link.custom["exercise"] = exercise
        return link

    def _auth(self, req: _Incoming) -> _Reply:
        params = req.query if req.method == "GET" else req.form
        ctx = self._hints.get(params.get("lti_message_hint", ""))
        if ctx is None:
            self.auth_refusals.append("unknown lti_message_hint")
            return _refusal_page("unknown lti_message_hint")
        conf = _PlatformConf(platform=self, tool=self.tools[ctx.client_id])
        try:
            reply: _Reply = _Launch(_LibraryRequest(req), conf, self, ctx).lti_launch()
        except PreflightRequestValidationException as exc:
            reason = str(exc) or "missing nonce, state or redirect_uri, or another client_id"
            self.auth_refusals.append(reason)
            return _refusal_page(reason)
        return reply

    def _token(self, req: _Incoming) -> _Reply:
        if self.ags_down:
            self.refused_while_down += 1
            return _json(503, {"error": "temporarily_unavailable"})
        form = req.form
        claims = _unverified(form.get("client_assertion", ""))
        tool = self.tool(str(claims.get("iss")))

        def refuse(status: int, error: str, reason: str) -> _Reply:
            client_id = tool.client_id if tool else None
            self.token_requests.append(TokenRequest(client_id, False, reason=reason))
            return _json(status, {"error": error, "error_description": reason})

        if tool is None:
            return refuse(401, "invalid_client", "unknown client (the assertion's iss)")
        try:
            granted = _PlatformConf(platform=self, tool=tool).get_access_token(form)
        except MissingRequiredClaim as exc:
            return refuse(400, "invalid_request", str(exc))
        except UnsupportedGrantType:
            return refuse(400, "unsupported_grant_type", "grant_type must be client_credentials")
        except (LtiException, InvalidKeySetUrl, jwt.PyJWTError, KeyError, TypeError) as exc:
            return refuse(401, "invalid_client", f"client assertion: {exc!r}")
        problem = self._assertion_problem(form, claims, tool)
        if problem:
            return refuse(401, "invalid_client", problem)
        if not granted["scope"]:
            return refuse(400, "invalid_scope", "no supported scope asked for")
        self.token_requests.append(TokenRequest(tool.client_id, True, granted["scope"]))
        return _json(200, dict(granted))

    def _assertion_problem(
        self, form: Mapping[str, str], claims: Mapping[str, Any], tool: Tool
    ) -> str | None:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return "bad client_assertion_type"
        if claims.get("sub") != tool.client_id:
            return "the assertion's sub must be the client_id"
        if not _audience_has(claims, self.token_url):
            return "the assertion's aud must be the token URL"
        if "exp" not in claims or "iat" not in claims:
            return "the assertion needs exp and iat"
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or jti in self._assertion_ids:
            return "the assertion's jti is missing or reused"
        self._assertion_ids.add(jti)
        return None

    def _lineitems(self, req: _Incoming) -> _Reply:
        if self.ags_down:
            self.refused_while_down += 1
            return _json(503, {"error": "temporarily_unavailable"})
        grades = _Grades(req, self)
        if req.method == "POST":
            return _service_reply(grades.handle_resp(grades.handle_create_lineitem))
        return _service_reply(grades.handle_resp(grades.handle_get_lineitems), container=True)

    def _lineitem(self, req: _Incoming, item: str) -> _Reply:
        if self.ags_down:
            self.refused_while_down += 1
            return _json(503, {"error": "temporarily_unavailable"})
        grades = _Grades(req, self, item)
        handler = {
            "GET": grades.handle_get_lineitem,
            "PUT": grades.handle_update_lineitem,
            "DELETE": grades.handle_delete_lineitem,
        }[req.method]
        return _service_reply(grades.handle_resp(handler, line_item_id=item))

    def _scores(self, req: _Incoming, item: str) -> _Reply:
        if self.ags_down:
            self.refused_while_down += 1
            reply = _json(503, {"error": "temporarily_unavailable"})
        else:
            grades = _Grades(req, self, item)
            reply = _service_reply(
                grades.handle_resp(grades.handle_update_score, line_item_id=item)
            )
        self.score_posts.append(ScorePost(item, req.json(), reply.status))
        return reply

    def _memberships(self, req: _Incoming) -> _Reply:
        if self.ags_down:
            self.refused_while_down += 1
            return _json(503, {"error": "temporarily_unavailable"})
        members = _Members(req, self)
        return _service_reply(members.handle_resp(members.handle_get_members))

    def _deep_link_return(self, req: _Incoming) -> _Reply:
        token = req.form.get("JWT", "")
        claims = _unverified(token)
        tool = self.tool(str(claims.get("iss")))

        def refuse(reason: str) -> _Reply:
            self.deep_link_responses.append(DeepLinkResponse(False, reason, claims))
            return _refusal_page(reason)

        if tool is None:
            return refuse("unknown issuer (the tool's client_id)")
        try:
            items = _PlatformConf(platform=self, tool=tool).validate_deeplinking_resp(
                {"JWT": token}
            )
        except (
            LtiException,
            LtiDeepLinkingResponseException,
            InvalidKeySetUrl,
            jwt.PyJWTError,
            KeyError,
            TypeError,
        ) as exc:
            return refuse(f"deep-linking response: {exc!r}")
        problem = self._deep_link_problem(claims, tool, items)
        if problem:
            return refuse(problem)
        links = tuple(self._add_deep_linked(tool, item) for item in items)
        self.content_items.extend(items)
        self.deep_link_responses.append(DeepLinkResponse(True, "", claims, links))
        return _page(200, "Contenu ajouté", '<p id="done">Contenu ajouté</p>', "default-src 'none'")

    def _deep_link_problem(
        self, claims: Mapping[str, Any], tool: Tool, items: list[dict[str, Any]]
    ) -> str | None:
        if not _audience_has(claims, self.issuer):
            return "aud must be the platform's issuer"
        if not claims.get("nonce"):
            return "nonce missing"
        if "exp" not in claims:
            return "exp missing"
        if claims.get(CLAIM + "deployment_id") != tool.deployment_id:
            return "bad deployment_id"
        if claims.get(CLAIM + "version") != "1.3.0":
            return "bad version"
        for item in items:
            try:
                if "lineItem" in item:
                    _check_line_item(item["lineItem"])
            except LtiServiceException as exc:
                return f"lineItem: {exc}"
        data = claims.get(DL_CLAIM + "data")
        if not isinstance(data, str) or self._deep_link_data.get(data) != tool.client_id:
            return "data is not the one this platform issued to this tool"
        del self._deep_link_data[data]
        return None

    def _add_deep_linked(self, tool: Tool, item: Mapping[str, Any]) -> str:
        link_id = f"dl-{next(self._ids)}"
        custom = {str(k): str(v) for k, v in (item.get("custom") or {}).items()}
        self.resource_links[link_id] = ResourceLink(
            link_id, tool.client_id, custom, item.get("title", ""), item.get("url")
        )
        line_item = item.get("lineItem")
        if isinstance(line_item, dict):
            self.gradebook.create(tool.client_id, {**line_item, "resourceLinkId": link_id})
        return link_id

    def _admin_register(self, req: _Incoming) -> _Reply:
        target = req.query.get("target", "")
        body = (
            '<h1>Enregistrer un outil</h1><p id="status">En attente…</p>'
            f'<iframe id="tool" title="Outil" src="{html.escape(target)}" width="900" height="600"></iframe>'
        )
        csp = f"default-src 'none'; script-src 'self'; connect-src 'self'; frame-src {_origin(target)}"
        return _page(200, "Enregistrer un outil", body, csp, script="/admin.js")

    def _admin_closed(self, req: _Incoming) -> _Reply:
        self.registration_closed.set()
        return _Reply(204)


def _service_reply(response: Response, container: bool = False) -> _Reply:
    if response.code >= 400:
        return _json(response.code, {"error": response.message})
    if response.result is None:
        return _Reply(response.code)
    result = response.result
    if container:  # the library answers a page object where the AGS wants a JSON array
        result = result["content"]
    return _json(response.code, result, response.media_type)


def _roles(roles: Sequence[str]) -> list[str]:
    return [r if ":" in r else LIS_ROLE + r for r in (r.strip() for r in roles) if r]


def _registration_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the registration must be a JSON object"
    checks = {
        "application_type must be web": body.get("application_type") == "web",
        "grant_types must hold implicit and client_credentials": {"implicit", "client_credentials"}
        <= set(body.get("grant_types") or []),
        "response_types must hold id_token": "id_token" in (body.get("response_types") or []),
        "token_endpoint_auth_method must be private_key_jwt": body.get("token_endpoint_auth_method")
        == "private_key_jwt",
        "initiate_login_uri must be a URL": _is_url(body.get("initiate_login_uri")),
        "redirect_uris must be URLs": bool(body.get("redirect_uris"))
        and all(_is_url(u) for u in body.get("redirect_uris") or []),
        "jwks_uri must be a URL": _is_url(body.get("jwks_uri")),
        "client_name missing": bool(body.get("client_name")),
    }
    for problem, ok in checks.items():
        if not ok:
            return problem
    config = body.get(TOOL_CONFIGURATION)
    if not isinstance(config, dict) or not _is_url(config.get("target_link_uri")):
        return f"{TOOL_CONFIGURATION} needs a target_link_uri"
    target = urlsplit(config["target_link_uri"])
    if config.get("domain") not in (target.netloc, target.hostname):
        return "the tool's domain must be its target_link_uri's host"
    return None


def _is_url(value: Any) -> bool:
    return (
        isinstance(value, str)
        and urlsplit(value).scheme in ("http", "https")
        and bool(urlsplit(value).netloc)
    )


def _script(source: str) -> _Reply:
    return _Reply(200, source.encode(), "text/javascript; charset=utf-8")


def _handler(platform: LtiPlatform) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            reply = platform.handle(_Incoming(self.command, parts.path, query, self.headers, body))
            self.send_response(reply.status)
            headers = {"Content-Type": reply.content_type, "Cache-Control": "no-store"}
            for name, value in {**headers, **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


AUTOSUBMIT_JS = 'document.getElementById("launch").submit();\n'

# The course page's side of the 1EdTech Client Side postMessages: lti.capabilities and the LTI
# postMessage Storage (lti.put_data / lti.get_data), values kept per origin; window.ltiMessages
# lists what arrived (for the browser tests). The script sets the frame's src (from data-src).
COURSE_JS = """\
const frame = document.getElementById("tool");
const toolOrigins = new Set((frame.dataset.toolOrigins || "").split(" ").filter(Boolean));
const stores = new Map();
window.ltiMessages = [];

window.addEventListener("message", (event) => {
  const data = event.data;
  if (typeof data !== "object" || data === null || typeof data.subject !== "string") return;
  window.ltiMessages.push({ subject: data.subject, origin: event.origin });
  if (!toolOrigins.has(event.origin)) return;
  const subject = data.subject.replace(/^org\\.imsglobal\\./, "");
  const reply = (fields) => event.source.postMessage(
    { subject: `${data.subject}.response`, message_id: data.message_id, ...fields }, event.origin);
  const error = (code, message) => reply({ error: { code, message } });
  if (subject === "lti.capabilities") {
    reply({ supported_messages: [{ subject: "lti.put_data" }, { subject: "lti.get_data" }] });
    return;
  }
  if (subject !== "lti.put_data" && subject !== "lti.get_data") {
    error("unsupported_subject", `unsupported subject ${data.subject}`);
    return;
  }
  if (typeof data.key !== "string" || data.key === "") {
    error("bad_request", "a key is needed");
    return;
  }
  if (!stores.has(event.origin)) stores.set(event.origin, new Map());
  const store = stores.get(event.origin);
  if (subject === "lti.put_data") {
    store.set(data.key, data.value);
    reply({ key: data.key, value: data.value });
  } else if (store.has(data.key)) {
    reply({ key: data.key, value: store.get(data.key) });
  } else {
    error("bad_request", `no value for ${data.key}`);
  }
});
frame.src = frame.dataset.src; // only now: the tool's first message must find the listener
"""

# The admin page: Dynamic Registration ends when the tool posts org.imsglobal.lti.close.
ADMIN_JS = """\
const frame = document.getElementById("tool");
const toolOrigin = new URL(frame.src).origin;
window.addEventListener("message", async (event) => {
  if (event.origin !== toolOrigin || event.data?.subject !== "org.imsglobal.lti.close") return;
  await fetch("/admin/closed", { method: "POST" });
  document.getElementById("status").textContent = "Outil enregistré";
  frame.remove();
});
"""


@contextmanager
def serve_lti_platform() -> Iterator[LtiPlatform]:
    platform = LtiPlatform()
    platform.start()
    try:
        yield platform
    finally:
        platform.close()


@pytest.fixture
def lti_platform() -> Iterator[LtiPlatform]:
    """A started LTI 1.3 platform on http://localhost:PORT, closed at teardown."""
    with serve_lti_platform() as platform:
        yield platform
