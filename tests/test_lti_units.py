"""LTI 1.3 rules as pure units: the id_token validation cases of LTI Core §5.1.3 and the 1EdTech
certification suite's "invalid launch" cases that can be reproduced without a platform, the OIDC
login initiation, the tool keys' schedule, scores and deep-linking answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from runner.identity.tokens import LaunchError, LaunchFailure
from runner.lti import claims as c
from runner.lti.deep_linking import Pick, response_claims
from runner.lti.keys import KeySchedule, new_key, plan, public_jwk
from runner.lti.launch import LtiError, LtiFailure, auth_url, login_request, verify_id_token
from runner.lti.registration import (
    RegistrationError,
    ToolUrls,
    platform_configuration,
    registered,
    tool_configuration,
)
from runner.lti.services import score_document, scores_url
from runner.store import RegistrationRow

pytestmark = pytest.mark.anyio

ISSUER = "https://lms.example"
CLIENT = "client-1"
KID = "platform-key-1"
NONCE = "n" * 43
TOOL = "https://runner.example"


def _key() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private, pem


PRIVATE, PEM = _key()
OTHER, OTHER_PEM = _key()
REGISTRATION = RegistrationRow(
    id="lms-1",
    issuer=ISSUER,
    client_id=CLIENT,
    deployment_ids=("dep-1",),
    auth_login_url=ISSUER + "/auth",
    auth_token_url=ISSUER + "/token",
    jwks_url=ISSUER + "/jwks",
    name="LMS",
    created_at=datetime.now(UTC),
)


async def _find(url: str, label: str, kid: str | None, algorithm: str) -> Any:
    if kid != KID:
        raise LaunchError(LaunchFailure.INVALID, f"unknown kid {kid!r}")
    return PRIVATE.public_key()


async def _keys_down(url: str, label: str, kid: str | None, algorithm: str) -> Any:
    raise LaunchError(LaunchFailure.KEYS_UNAVAILABLE, "connection refused")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "user-1",
        "iat": now,
        "exp": now + 60,
        "nonce": NONCE,
        "name": "Ada Lovelace",
        c.VERSION: "1.3.0",
        c.MESSAGE_TYPE: c.RESOURCE_LINK_REQUEST,
        c.DEPLOYMENT_ID: "dep-1",
        c.TARGET_LINK_URI: TOOL + "/lti/launch",
        c.RESOURCE_LINK: {"id": "link-1", "title": "Bonjour"},
        c.ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        c.CONTEXT: {"id": "course-1", "title": "Décoder le code"},
        c.CUSTOM: {"exercise": "bonjour"},
        c.AGS_ENDPOINT: {"scope": [c.SCOPE_SCORE], "lineitem": ISSUER + "/lineitems/7"},
        c.NRPS: {"context_memberships_url": ISSUER + "/memberships", "service_versions": ["2.0"]},
    }
    for name, value in changes.items():
        key = {
            "version": c.VERSION,
            "message_type": c.MESSAGE_TYPE,
            "deployment_id": c.DEPLOYMENT_ID,
            "resource_link": c.RESOURCE_LINK,
            "roles": c.ROLES,
            "target_link_uri": c.TARGET_LINK_URI,
        }.get(name, name)
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _token(
    claims: dict[str, Any], key: str = PEM, kid: str | None = KID, alg: str = "RS256"
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


async def _verify(token: str, nonce: str = NONCE, find: Any = _find) -> Any:
    return await verify_id_token(token, REGISTRATION, nonce, find, time.time())


async def test_a_valid_resource_link_launch_gives_its_learner_link_and_services() -> None:
    launch = await _verify(_token(_claims()))
    assert (launch.subject, launch.resource_link_id, launch.custom) == (
        "user-1",
        "link-1",
        {"exercise": "bonjour"},
    )
    assert launch.lineitem == ISSUER + "/lineitems/7"
    assert launch.memberships_url == ISSUER + "/memberships"
    assert not launch.staff


def _now() -> int:
    return int(time.time())


# Each case: (what the 1EdTech suite or LTI Core §5.1.3 calls it, the token, the failure).
BAD_LAUNCHES = [
    ("no KID in the header", lambda: _token(_claims(), kid=None), LtiFailure.SIGNATURE),
    ("incorrect KID", lambda: _token(_claims(), kid="someone-else"), LtiFailure.SIGNATURE),
    ("signed by another key", lambda: _token(_claims(), key=OTHER_PEM), LtiFailure.SIGNATURE),
    (
        "alg none",
        lambda: jwt.encode(_claims(), "", algorithm="none", headers={"kid": KID}),
        LtiFailure.SIGNATURE,
    ),
    (
        "HS256 with the public key as secret",
        lambda: jwt.encode(_claims(), "x" * 64, algorithm="HS256", headers={"kid": KID}),
        LtiFailure.SIGNATURE,
    ),
    ("invalid JSON web token", lambda: "not.a.token", LtiFailure.SIGNATURE),
    ("expired", lambda: _token(_claims(iat=_now() - 600, exp=_now() - 300)), LtiFailure.EXPIRED),
    (
        "issued in the future",
        lambda: _token(_claims(iat=_now() + 600, exp=_now() + 660)),
        LtiFailure.EXPIRED,
    ),
    ("lifetime over an hour", lambda: _token(_claims(exp=_now() + 7200)), LtiFailure.EXPIRED),
    ("wrong aud", lambda: _token(_claims(aud="another-tool")), LtiFailure.AUDIENCE),
    (
        "several aud without azp",
        lambda: _token(_claims(aud=[CLIENT, "other"])),
        LtiFailure.AUDIENCE,
    ),
    ("azp not ours", lambda: _token(_claims(azp="other")), LtiFailure.AUDIENCE),
    ("wrong iss", lambda: _token(_claims(iss="https://evil.example")), LtiFailure.AUDIENCE),
    ("no nonce", lambda: _token(_claims(nonce=None)), LtiFailure.CLAIMS),
    ("another nonce", lambda: _token(_claims(nonce="x" * 43)), LtiFailure.NONCE),
    ("no LTI version", lambda: _token(_claims(version=None)), LtiFailure.VERSION),
    ("wrong LTI version", lambda: _token(_claims(version="1.1")), LtiFailure.VERSION),
    ("no message type", lambda: _token(_claims(message_type=None)), LtiFailure.MESSAGE_TYPE),
    (
        "unknown message type",
        lambda: _token(_claims(message_type="LtiSubmissionReviewRequest")),
        LtiFailure.MESSAGE_TYPE,
    ),
    ("no deployment id", lambda: _token(_claims(deployment_id=None)), LtiFailure.CLAIMS),
    ("unknown deployment", lambda: _token(_claims(deployment_id="dep-9")), LtiFailure.DEPLOYMENT),
    ("no roles claim", lambda: _token(_claims(roles=None)), LtiFailure.CLAIMS),
    (
        "no resource link id",
        lambda: _token(_claims(resource_link={"title": "x"})),
        LtiFailure.CLAIMS,
    ),
    ("no sub", lambda: _token(_claims(sub=None)), LtiFailure.CLAIMS),
    ("no target link uri", lambda: _token(_claims(target_link_uri=None)), LtiFailure.CLAIMS),
    (
        "deep linking without a return URL",
        lambda: _token(_claims(message_type=c.DEEP_LINKING_REQUEST)),
        LtiFailure.CLAIMS,
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "failure"), BAD_LAUNCHES, ids=[b[0] for b in BAD_LAUNCHES]
)
async def test_every_bad_launch_is_refused_with_its_reason(
    case: str, make: Any, failure: LtiFailure
) -> None:
    with pytest.raises(LtiError) as refused:
        await _verify(make())
    assert refused.value.failure is failure, refused.value.detail


async def test_platform_keys_out_of_reach_is_its_own_failure() -> None:
    with pytest.raises(LtiError) as refused:
        await _verify(_token(_claims()), find=_keys_down)
    assert refused.value.failure is LtiFailure.KEYS_UNAVAILABLE


async def test_an_oversized_token_is_refused_before_any_work() -> None:
    with pytest.raises(LtiError) as refused:
        await _verify("x" * (64 * 1024 + 1))
    assert refused.value.failure is LtiFailure.BAD_REQUEST


async def test_instructor_roles_and_a_deep_linking_request() -> None:
    settings = {
        "deep_link_return_url": ISSUER + "/dl",
        "data": "opaque",
        "accept_multiple": True,
        "accept_types": ["ltiResourceLink"],
    }
    claims = _claims(
        message_type=c.DEEP_LINKING_REQUEST,
        resource_link=None,
        roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    )
    claims[c.DEEP_LINKING_SETTINGS] = settings
    launch = await _verify(_token(claims))
    assert launch.staff
    assert launch.deep_linking is not None and launch.deep_linking.data == "opaque"
    sub_role = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
    assert not c.is_staff([sub_role])


def test_login_initiation_is_checked_and_never_an_open_redirect() -> None:
    params = {
        "iss": ISSUER,
        "login_hint": "u1",
        "target_link_uri": TOOL + "/lti/launch",
        "lti_message_hint": "m",
        "client_id": CLIENT,
        "lti_storage_target": "_parent",
    }
    login = login_request(params, TOOL)
    url = auth_url(REGISTRATION, login, TOOL + "/lti/launch", "S", "N")
    assert url.startswith(ISSUER + "/auth?")
    for part in ("response_mode=form_post", "prompt=none", "state=S", "nonce=N", "scope=openid"):
        assert part in url
    bad = [
        {**params, "target_link_uri": "https://evil.example/steal"},
        {k: v for k, v in params.items() if k != "login_hint"},
        {**params, "lti_storage_target": "x'; alert(1)"},
        {**params, "login_hint": "x" * 3000},
    ]
    for case in bad:
        with pytest.raises(LtiError) as refused:
            login_request(case, TOOL)
        assert refused.value.failure is LtiFailure.BAD_REQUEST


def test_a_new_key_is_published_before_it_signs_and_kept_after() -> None:
    schedule = KeySchedule(publish_s=100, keep_s=50)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = new_key(t0)
    second = new_key(t0 + timedelta(seconds=1000))
    keys = [first, second]
    # Just rotated: both published, the old one still signs.
    signing, published, expired = plan(keys, t0 + timedelta(seconds=1010), schedule)
    assert signing == first and published == keys and expired == []
    # After the publish delay the new one signs; the old one stays published for keep_s.
    signing, published, expired = plan(keys, t0 + timedelta(seconds=1120), schedule)
    assert signing == second and published == keys
    # Then the old one goes.
    signing, published, expired = plan(keys, t0 + timedelta(seconds=1160), schedule)
    assert signing == second and published == [second] and expired == [first]
    jwk = public_jwk(first)
    assert jwk["kid"] == first.kid and "d" not in jwk and jwk["alg"] == "RS256"
    assert first.private_pem not in repr(first)


def test_score_is_fully_graded_and_completed_only_once_solved() -> None:
    body = {
        "user": "u1",
        "given": 2,
        "maximum": 5,
        "solved": False,
        "timestamp": "2026-11-30T12:00:00.001Z",
    }
    score = score_document(body)
    assert score["gradingProgress"] == "FullyGraded"
    assert score["activityProgress"] == "Submitted"
    assert score_document({**body, "given": 5, "solved": True})["activityProgress"] == "Completed"
    assert scores_url("https://lms/mod/lti/services.php/2/lineitems/7/lineitem?type_id=1") == (
        "https://lms/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=1"
    )


def test_deep_linking_answer_names_each_exercise_with_a_line_item() -> None:
    claims = response_claims(
        REGISTRATION, "dep-1", "opaque", [Pick("bonjour", "Bonjour", 3)], TOOL + "/lti/launch"
    )
    assert claims["iss"] == CLIENT and claims["aud"] == ISSUER
    assert claims[c.DL_DATA] == "opaque"
    (item,) = claims[c.CONTENT_ITEMS]
    assert item["custom"] == {"exercise": "bonjour"}
    assert item["lineItem"]["scoreMaximum"] == 3


def test_dynamic_registration_documents() -> None:
    urls = ToolUrls(TOOL)
    config = tool_configuration(urls)
    assert config["initiate_login_uri"] == TOOL + "/lti/login"
    assert config["redirect_uris"] == [TOOL + "/lti/launch"]
    assert config["jwks_uri"] == TOOL + "/lti/jwks"
    openid = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/jwks",
        "registration_endpoint": ISSUER + "/register",
    }
    platform = platform_configuration(openid, ISSUER + "/.well-known/openid-configuration")
    answer = {"client_id": "new", c.TOOL_CONFIGURATION: {"deployment_id": "d9"}}
    row = registered(answer, platform)
    assert (row.client_id, row.deployment_ids, row.jwks_url) == ("new", ("d9",), ISSUER + "/jwks")
    # A configuration URL may not speak for another issuer.
    with pytest.raises(RegistrationError):
        platform_configuration(openid, "https://evil.example/.well-known/openid-configuration")
    with pytest.raises(RegistrationError):
        registered({"client_id": "new"}, platform)  # no deployment id
