"""Self-tests of the LTI 1.3 platform fixture (tests/fixtures_lti.py), without the runner: a stub
tool (its JWKS served on 127.0.0.1, its key signing) drives the platform over HTTP with httpx."""

from __future__ import annotations

import html
import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from fixtures_lti import (
    CLAIM,
    DL_CLAIM,
    SCORE_MEDIA_TYPE,
    TOOL_CONFIGURATION,
    LtiPlatform,
    SigningKey,
    serve_lti_platform,
)

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class Tool:
    """The tool's side, as small as the tests need: its keys (the last one signs), served as a
    JWKS at ``base/lti/jwks``, and an HTTP client to drive the platform with."""

    platform: LtiPlatform
    http: httpx.Client
    base: str = ""
    client_id: str = ""
    deployment_id: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.keys[-1]
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})

    def assertion(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.client_id, "sub": self.client_id, "aud": self.platform.token_url}
        return self.sign(body | {"iat": now, "exp": now + 60, "jti": uuid.uuid4().hex} | claims)

    def token(self, assertion: str | None = None, scope: str = SCORE_SCOPE) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion or self.assertion(),
            "scope": scope,
        }
        return self.http.post(self.platform.token_url, data=form)

    def bearer(self, scope: str = SCORE_SCOPE) -> dict[str, str]:
        answer = self.token(scope=scope)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def initiate(self, exercise: str | None = "hello", **options: Any) -> dict[str, str]:
        """GET /start as the course page's frame does: the tool's login initiation parameters."""
        answer = self.http.get(self.platform.start_url(exercise, **options))
        assert answer.status_code == 302, answer.text
        return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))

    def authenticate(self, login: dict[str, str], **changes: str) -> httpx.Response:
        """The authentication request (form_post) the runner's /lti/login sends the browser to."""
        request = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": login["client_id"],
            "redirect_uri": login["target_link_uri"],
            "login_hint": login["login_hint"],
            "lti_message_hint": login["lti_message_hint"],
            "state": "state-1",
            "nonce": "nonce-1",
        }
        return self.http.post(self.platform.auth_url, data=request | changes)

    def launch(self, exercise: str | None = "hello", **options: Any) -> dict[str, str]:
        """The auto-submitted launch form's fields and ``action``."""
        page = self.authenticate(self.initiate(exercise, **options))
        assert page.status_code == 200, page.text
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
        action = re.search(r'action="([^"]*)"', page.text)
        assert action is not None
        return {k: html.unescape(v) for k, v in fields.items()} | {"action": action[1]}

    def verified(self, id_token: str) -> dict[str, Any]:
        keys = self.http.get(self.platform.jwks_url).json()["keys"]
        kid = jwt.get_unverified_header(id_token)["kid"]
        key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid)).key
        claims: dict[str, Any] = jwt.decode(
            id_token, key, algorithms=["RS256"], audience=self.client_id
        )
        return claims

    def post_score(
        self, lineitem: str, headers: dict[str, str], timestamp: str, given: float = 1
    ) -> httpx.Response:
        score = {
            "userId": "learner-1",
            "scoreGiven": given,
            "scoreMaximum": 1,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": timestamp,
        }
        headers = headers | {"Content-Type": SCORE_MEDIA_TYPE}
        return self.http.post(f"{lineitem}/scores", content=json.dumps(score), headers=headers)


@pytest.fixture
def platform() -> Iterator[LtiPlatform]:
    with serve_lti_platform() as served:
        yield served


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as shared:  # httpx.get would build an SSL context each time
        yield shared


@pytest.fixture
def tool(platform: LtiPlatform, client: httpx.Client) -> Iterator[Tool]:
    """A stub tool, registered by hand on the platform."""
    stub = Tool(platform, client)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"keys": [k.jwk for k in stub.keys]}).encode()
            self.send_response(200 if self.path == "/lti/jwks" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    stub.base = f"http://127.0.0.1:{server.server_address[1]}"
    stub.client_id, stub.deployment_id = platform.register_tool(stub.base)
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def test_platform_serves_openid_configuration_and_jwks(
    platform: LtiPlatform, client: httpx.Client
) -> None:
    assert platform.issuer.startswith("http://localhost:")
    config = client.get(platform.openid_configuration_url).json()
    assert config["issuer"] == platform.issuer
    assert config["authorization_endpoint"] == platform.auth_url
    assert config["token_endpoint"] == platform.token_url
    assert config["registration_endpoint"] == platform.registration_endpoint
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    lti = config["https://purl.imsglobal.org/spec/lti-platform-configuration"]
    assert [m["type"] for m in lti["messages_supported"]] == [
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    ]
    keys = client.get(config["jwks_uri"]).json()["keys"]
    assert [k["kid"] for k in keys] == [platform.current_key.kid]
    assert keys[0]["alg"] == "RS256" and "d" not in keys[0]


def test_platform_launch_carries_the_exercise_ags_and_nrps(
    platform: LtiPlatform, tool: Tool
) -> None:
    login = tool.initiate("hello", user="learner-7", roles="Instructor")
    assert (login["iss"], login["login_hint"]) == (platform.issuer, "learner-7")
    assert login["target_link_uri"] == f"{tool.base}/lti/launch"
    assert (login["client_id"], login["lti_deployment_id"]) == (tool.client_id, tool.deployment_id)
    form = tool.launch("hello", user="learner-7", roles="Instructor")
    assert form["action"] == f"{tool.base}/lti/launch" and form["state"] == "state-1"
    claims = tool.verified(form["id_token"])
    assert claims["nonce"] == "nonce-1" and claims["sub"] == "learner-7"
    assert claims["name"] == "Ada Lovelace"
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    assert claims[CLAIM + "deployment_id"] == tool.deployment_id
    assert claims[CLAIM + "custom"] == {"exercise": "hello"}
    assert claims[CLAIM + "resource_link"]["id"] == "rl-hello"
    assert claims[CLAIM + "roles"] == [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
    ]
    assert claims[AGS_CLAIM]["lineitem"] == platform.lineitem_url("1")
    assert platform.line_item("rl-hello")["scoreMaximum"] == 1
    nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
    assert nrps["context_memberships_url"] == platform.memberships_url
    assert platform.launches == [claims]
    assert platform.errors == []


def test_platform_auth_refuses_an_unregistered_redirect_uri_or_another_user(
    platform: LtiPlatform, tool: Tool
) -> None:
    login = tool.initiate()
    assert tool.authenticate(login, redirect_uri="http://127.0.0.1:9/x").status_code == 400
    assert tool.authenticate(login, login_hint="someone-else").status_code == 400
    assert tool.authenticate(login, nonce="").status_code == 400
    assert platform.auth_refusals[:2] == [
        "bad or missing redirect_uri",
        "bad or missing login_hint",
    ]
    assert platform.launches == []


def test_platform_course_page_frames_the_tool_and_asks_for_storage(
    platform: LtiPlatform, tool: Tool, client: httpx.Client
) -> None:
    page = client.get(platform.course_url("hello", storage=True))
    assert f"frame-src 'self' {tool.base}" in page.headers["Content-Security-Policy"]
    assert f'data-tool-origins="{tool.base}"' in page.text
    frame = re.search(r'<iframe id="tool"[^>]* data-src="([^"]*)"', page.text)
    assert frame is not None
    src = html.unescape(frame[1])
    assert src.startswith(platform.url("/start?"))
    assert "lti.get_data" in client.get(platform.url("/course.js")).text
    login = dict(parse_qsl(urlsplit(client.get(src).headers["Location"]).query))
    assert login["lti_storage_target"] == "_parent"


def test_platform_token_accepts_the_tool_assertion_and_refuses_bad_ones(
    platform: LtiPlatform, tool: Tool
) -> None:
    granted = tool.token(scope=f"{SCORE_SCOPE} {NRPS_SCOPE}")
    assert granted.status_code == 200, granted.text
    assert granted.json()["scope"] == f"{SCORE_SCOPE} {NRPS_SCOPE}"
    claims = jwt.decode(tool.assertion(), options={"verify_signature": False})
    assert tool.token(tool.sign(claims, SigningKey.generate())).status_code == 401
    assert tool.token(tool.assertion(aud="http://elsewhere")).status_code == 401
    replayed = tool.assertion()
    assert tool.token(replayed).status_code == 200
    assert tool.token(replayed).status_code == 401
    assert [r.granted for r in platform.token_requests] == [True, False, False, True, False]


def test_platform_token_fetches_the_tool_jwks_again_after_a_tool_key_rotation(
    tool: Tool,
) -> None:
    assert tool.token().status_code == 200
    tool.keys.append(SigningKey.generate())
    assert tool.token().status_code == 200


def test_platform_scores_need_a_token_and_a_newer_timestamp(
    platform: LtiPlatform, tool: Tool
) -> None:
    lineitem = tool.verified(tool.launch()["id_token"])[AGS_CLAIM]["lineitem"]
    assert tool.post_score(lineitem, {}, "2026-01-01T10:00:00Z").status_code == 401
    headers = tool.bearer()
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:00Z", 0.5).status_code == 200
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:00+00:00").status_code == 409
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:01Z").status_code == 200
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:02Z", 2).status_code == 400
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:02").status_code == 400
    json_typed = tool.http.post(f"{lineitem}/scores", json={}, headers=headers)
    assert json_typed.status_code == 415
    assert [s["scoreGiven"] for s in platform.scores("rl-hello", "learner-1")] == [0.5, 1]
    assert [p.status for p in platform.score_posts] == [401, 200, 409, 200, 400, 400, 415]


def test_platform_ags_down_answers_503_then_comes_back(platform: LtiPlatform, tool: Tool) -> None:
    lineitem = tool.verified(tool.launch()["id_token"])[AGS_CLAIM]["lineitem"]
    headers = tool.bearer()
    platform.ags_down = True
    assert tool.token().status_code == 503
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:00Z").status_code == 503
    platform.ags_down = False
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:00Z").status_code == 200


def test_platform_key_rotation_publishes_both_keys_and_signs_with_the_new(
    platform: LtiPlatform, tool: Tool
) -> None:
    headers = tool.bearer()
    old = platform.current_key.kid
    new = platform.rotate_key()
    assert {k["kid"] for k in tool.http.get(platform.jwks_url).json()["keys"]} == {old, new}
    id_token = tool.launch()["id_token"]
    assert jwt.get_unverified_header(id_token)["kid"] == new
    lineitem = tool.verified(id_token)[AGS_CLAIM]["lineitem"]
    # An access token issued before the rotation stays valid, as on a real platform.
    assert tool.post_score(lineitem, headers, "2026-01-01T10:00:00Z").status_code == 200
    crafted = platform.sign({"iss": platform.issuer, "aud": tool.client_id}, kid=old)
    assert jwt.get_unverified_header(crafted)["kid"] == old
    assert tool.verified(crafted) == {"iss": platform.issuer, "aud": tool.client_id}


def test_platform_lists_line_items_and_members(platform: LtiPlatform, tool: Tool) -> None:
    tool.launch(user="learner-1")
    platform.add_member("learner-2", "Grace Hopper", ["Learner"])
    headers = tool.bearer(f"{NRPS_SCOPE} https://purl.imsglobal.org/spec/lti-ags/scope/lineitem")
    members = tool.http.get(platform.memberships_url, headers=headers).json()["members"]
    assert {m["user_id"]: m["name"] for m in members} == {
        "learner-1": "Ada Lovelace",
        "learner-2": "Grace Hopper",
    }
    assert tool.http.get(platform.memberships_url).status_code == 401
    query = {"resource_link_id": "rl-hello"}
    items = tool.http.get(platform.lineitems_url, headers=headers, params=query).json()
    assert [i["id"] for i in items] == [platform.lineitem_url("1")]


def test_platform_deep_linking_round_trip(platform: LtiPlatform, tool: Tool) -> None:
    request = tool.verified(tool.launch(None, deep_link=True, roles="Instructor")["id_token"])
    assert request[CLAIM + "message_type"] == "LtiDeepLinkingRequest"
    settings = request[DL_CLAIM + "deep_linking_settings"]
    assert settings["deep_link_return_url"] == platform.deep_link_return_url
    assert settings["accept_types"] == ["ltiResourceLink"]
    now = int(time.time())
    item = {
        "type": "ltiResourceLink",
        "title": "Bonjour",
        "url": f"{tool.base}/lti/launch",
        "custom": {"exercise": "hello"},
        "lineItem": {"scoreMaximum": 4, "label": "Bonjour", "resourceId": "hello"},
    }
    response = {
        "iss": tool.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 60,
        "nonce": "n-1",
        CLAIM + "deployment_id": tool.deployment_id,
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        DL_CLAIM + "content_items": [item],
        DL_CLAIM + "data": settings["data"],
    }

    def send(claims: dict[str, Any]) -> httpx.Response:
        return tool.http.post(platform.deep_link_return_url, data={"JWT": tool.sign(claims)})

    assert send(response | {"aud": "http://elsewhere"}).status_code == 400
    answer = send(response)
    assert answer.status_code == 200 and "Contenu ajouté" in answer.text
    assert send(response).status_code == 400  # the data was for one response
    assert [r.accepted for r in platform.deep_link_responses] == [False, True, False]
    (link,) = platform.deep_link_responses[1].resource_links
    assert platform.resource_links[link].custom == {"exercise": "hello"}
    assert platform.line_item(link)["scoreMaximum"] == 4
    relaunch = tool.verified(tool.launch(None, resource_link=link)["id_token"])
    assert relaunch[CLAIM + "custom"] == {"exercise": "hello"}
    assert relaunch[AGS_CLAIM]["lineitem"] == platform.line_item(link)["id"]


def test_platform_dynamic_registration(platform: LtiPlatform, client: httpx.Client) -> None:
    opened = platform.registration_launch_url("http://127.0.0.1:9/lti/register?invite=abc")
    query = dict(parse_qsl(urlsplit(opened).query))
    assert query["invite"] == "abc"
    config = client.get(query["openid_configuration"]).json()
    base = "http://127.0.0.1:9"
    body = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [f"{base}/lti/launch"],
        "client_name": "Exercices",
        "jwks_uri": f"{base}/lti/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        TOOL_CONFIGURATION: {"domain": "127.0.0.1:9", "target_link_uri": f"{base}/lti/launch"},
    }
    auth = {"Authorization": f"Bearer {query['registration_token']}"}
    endpoint = config["registration_endpoint"]
    bad = client.post(endpoint, json=body | {"jwks_uri": "nope"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata"
    answer = client.post(endpoint, json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    registered = platform.tools[answer.json()["client_id"]]
    assert registered.deployment_id == answer.json()[TOOL_CONFIGURATION]["deployment_id"]
    assert registered.login_url == f"{base}/lti/login"
    assert platform.registrations == [body]
    assert client.post(endpoint, json=body, headers=auth).status_code == 401  # single use
    page = client.get(platform.registration_page_url(f"{base}/lti/register"))
    assert "frame-src http://127.0.0.1:9" in page.headers["Content-Security-Policy"]
