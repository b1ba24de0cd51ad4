"""Platforms against a real uvicorn, on SQLite and PostgreSQL: signed launches and every bad
token, sessions and hand-off, the platform API, and secrets kept out of logs and metrics."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures_platform import HS_SECRET, WEBHOOK_SECRET, MoocPlatform, write_platforms
from fixtures_postgres import fresh_postgres_database
from fixtures_server import LiveServer, start_server, ws_client
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.server

HOST = "https://mooc.example.org"
OTHER_HOST = "https://other.example.org"
API_KEY = "dkp_" + "k" * 43
OTHER_KEY = "dkp_" + "o" * 43


@dataclass
class Setup:
    server: LiveServer
    mooc: MoocPlatform
    other: MoocPlatform

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data=data, method=method)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, raw = error.code, dict(error.headers), error.read()
        return status, head, (json.loads(raw) if raw.strip() else None)

    def launch(self, token: str, parent: str | None = None) -> tuple[int, Any]:
        status, _, body = self.call(
            "POST", "/api/launch", {"token": token, "parent_origin": parent}
        )
        return status, body

    def session(self, sub: str) -> str:
        status, body = self.launch(self.mooc.token(sub))
        assert status == 200, body
        session: str = body["session"]
        return session

    def api(self, path: str, key: str = API_KEY, method: str = "GET") -> tuple[int, Any]:
        status, _, body = self.call(method, path, headers={"Authorization": f"Bearer {key}"})
        return status, body

    def learner_rows(self) -> int:
        url = self.server.database_url.replace("+aiosqlite", "")
        if url.startswith("postgresql"):
            url = url.replace("postgresql://", "postgresql+psycopg2://")
            return _postgres_count(self.server.database_url)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM learners")).scalar_one())
        finally:
            engine.dispose()


def _postgres_count(url: str) -> int:
    import asyncpg

    async def count() -> int:
        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM learners"))
        finally:
            await connection.close()

    return asyncio.run(count())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def setup(
    request: pytest.FixtureRequest, instance: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("platforms")
    mooc = MoocPlatform("mooc", (HOST,), API_KEY)
    other = MoocPlatform("other", (OTHER_HOST,), OTHER_KEY, secret="t" * 40)
    path = write_platforms(workdir / "platforms.toml", mooc, other)
    database = None
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_server")
        database = asyncio.run(fresh_postgres_database(base))
    live = start_server(instance, workdir, database, platforms=str(path))
    try:
        yield Setup(live, mooc, other)
    finally:
        live.stop()


def test_launch_opens_a_session_that_follows_the_learner(setup: Setup) -> None:
    first = setup.session("alice")
    status, _, _ = setup.call(
        "PUT",
        "/api/exercises/bonjour-monde/code",
        {"code": "print('mon code')"},
        {"X-Session": first},
    )
    assert status == 204
    second = setup.session("alice")  # another page view, another device: another token
    assert second != first
    status, _, detail = setup.call(
        "GET", "/api/exercises/bonjour-monde", headers={"X-Session": second}
    )
    assert status == 200 and detail["code"] == "print('mon code')"
    _, _, mine = setup.call("GET", "/api/progress", headers={"X-Session": second})
    assert mine["learner"] is None  # an account's own id never leaves the server
    other = setup.session("bob")
    _, _, theirs = setup.call("GET", "/api/exercises/bonjour-monde", headers={"X-Session": other})
    assert theirs["code"] == theirs["starter"]


def test_launch_answer_carries_the_optional_claims(setup: Setup) -> None:
    token = setup.mooc.token("alice", name="Alice", locale="en-GB", return_url=f"{HOST}/u/1")
    status, body = setup.launch(token, parent=HOST)
    assert status == 200
    assert (body["name"], body["locale"], body["return_url"]) == ("Alice", "en", f"{HOST}/u/1")
    assert body["platform"] == {"id": "mooc", "name": "Mooc"}


BAD_TOKENS: list[tuple[str, Any, int, str]] = [
    (
        "forged",
        lambda m: MoocPlatform("mooc", m.origins, "", secret="f" * 40).token("x"),
        401,
        "token_invalid",
    ),
    ("alg_none", lambda m: _unsigned(m), 401, "token_invalid"),
    (
        "expired",
        lambda m: m.token("x", iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        401,
        "token_expired",
    ),
    (
        "not_yet_valid",
        lambda m: m.token("x", nbf=int(time.time()) + 300),
        401,
        "token_not_yet_valid",
    ),
    ("wrong_aud", lambda m: m.token("x", aud="someone-else"), 401, "token_audience"),
    (
        "unknown_iss",
        lambda m: MoocPlatform("ghost", m.origins, "").token("x"),
        401,
        "platform_unknown",
    ),
    ("too_long_lived", lambda m: m.token("x", exp=int(time.time()) + 3600), 401, "token_lifetime"),
    ("too_large", lambda m: m.token("x", name="a" * 100_000), 413, "token_too_large"),
    ("garbage", lambda m: "pas-un-jeton", 400, "token_malformed"),
]


def _unsigned(platform: MoocPlatform) -> str:
    import jwt

    good = jwt.decode(platform.token("x"), options={"verify_signature": False})
    return jwt.encode(good, None, algorithm="none")


@pytest.mark.parametrize(
    ("name", "make", "status", "code"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS]
)
def test_bad_token_is_refused_with_its_code_and_creates_no_learner(
    setup: Setup, name: str, make: Any, status: int, code: str
) -> None:
    before = setup.learner_rows()
    got, body = setup.launch(make(setup.mooc))
    assert (got, body["error"]) == (status, code)
    assert "Recharge la page du cours" in body["message"] or "instant" in body["message"]
    assert "session" not in body
    assert setup.learner_rows() == before


def test_replayed_token_is_refused(setup: Setup) -> None:
    token = setup.mooc.token("replay-victim")
    assert setup.launch(token)[0] == 200
    before = setup.learner_rows()
    status, body = setup.launch(token)
    assert (status, body["error"]) == (401, "token_replayed")
    assert "déjà servi" in body["message"]
    assert setup.learner_rows() == before


def test_token_shown_on_another_platforms_site_is_refused(setup: Setup) -> None:
    before = setup.learner_rows()
    status, body = setup.launch(setup.mooc.token("alice"), parent=OTHER_HOST)
    assert (status, body["error"]) == (403, "wrong_origin")
    assert setup.learner_rows() == before
    # and the browser is told to refuse the frame on any site but the platform's own
    _, headers, _ = _get(setup, f"/embed/bonjour-monde?token={setup.mooc.token('alice')}")
    csp = headers["content-security-policy"]
    assert f"frame-ancestors 'self' {HOST}" in csp and OTHER_HOST not in csp
    _, plain, _ = _get(setup, "/embed/bonjour-monde")
    assert (
        HOST in plain["content-security-policy"] and OTHER_HOST in plain["content-security-policy"]
    )


def _get(setup: Setup, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(setup.server.url + path, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_launch_body_errors_are_json(setup: Setup) -> None:
    for body in (None, [], {"token": 12}, "x" * 20_000):
        status, _, answer = setup.call("POST", "/api/launch", body)
        assert status in (400, 413) and answer["error"] in (
            "invalid_body",
            "token_malformed",
            "token_too_large",
        )
    deep = "[" * 5000 + "]" * 5000
    request = urllib.request.Request(
        setup.server.url + "/api/launch", data=deep.encode(), method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 400 and json.loads(error.read())["error"] == "invalid_body"


def test_unknown_or_expired_session_is_refused_never_anonymous(setup: Setup) -> None:
    for session in ("x" * 43, "short", "é" * 30):
        status, _, body = setup.call(
            "GET",
            "/api/exercises/bonjour-monde",
            headers={"X-Session": session.encode("utf-8").decode("latin-1")},
        )
        assert (status, body["error"]) == (401, "session_expired")


@pytest.mark.anyio
async def test_ws_with_a_session_acts_for_the_account_and_refuses_a_bad_one(setup: Setup) -> None:
    session = setup.session("alice")
    async with ws_client(f"{setup.server.ws_url}?session={session}") as client:
        assert client.received[0] == {
            "type": "welcome",
            "learner": None,
            "issued": False,
            "account": True,
        }
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(f"{setup.server.ws_url}?session={'z' * 43}") as connection:
        message = json.loads(await connection.recv())
        assert (message["type"], message["code"]) == ("error", "session_expired")
        with pytest.raises(ConnectionClosed) as closed:
            await connection.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_handoff_code_opens_the_same_learner_once(setup: Setup) -> None:
    session = setup.session("handoff-user")
    setup.call(
        "PUT",
        "/api/exercises/bonjour-monde/code",
        {"code": "print('à moi')"},
        {"X-Session": session},
    )
    status, _, body = setup.call("POST", "/api/session/handoff", headers={"X-Session": session})
    assert status == 200 and body["expires_in_s"] == 120
    status, _, redeemed = setup.call("POST", "/api/session/redeem", {"code": body["code"]})
    assert status == 200
    _, _, detail = setup.call(
        "GET", "/api/exercises/bonjour-monde", headers={"X-Session": redeemed["session"]}
    )
    assert detail["code"] == "print('à moi')"
    status, _, again = setup.call("POST", "/api/session/redeem", {"code": body["code"]})
    assert (status, again["error"]) == (401, "handoff_invalid")
    anonymous_id = setup.call("POST", "/api/session")[2]["learner"]
    status, _, anonymous = setup.call(
        "POST", "/api/session/handoff", headers={"X-Learner": anonymous_id}
    )
    assert (status, anonymous["error"]) == (400, "no_session")


def test_platform_api_needs_its_key(setup: Setup) -> None:
    for key in ("", "dkp_wrong", API_KEY + "x", HS_SECRET):
        status, body = setup.api("/api/platform/v1/catalog", key=key)
        assert (status, body["error"]) == (401, "unauthorized")
    status, _, body = setup.call("GET", "/api/platform/v1/catalog")
    assert (status, body["error"]) == (401, "unauthorized")
    status, _, body = setup.call(
        "GET", "/api/platform/v1/catalog", headers={"Authorization": f"Basic {API_KEY}"}
    )
    assert status == 401


def test_platform_api_catalog_lists_the_course(setup: Setup) -> None:
    status, body = setup.api("/api/platform/v1/catalog")
    assert status == 200
    ids = [e["id"] for week in body["weeks"] for e in week["exercises"]]
    assert "bonjour-monde" in ids and len(ids) == len(set(ids)) >= 20
    first = body["weeks"][0]["exercises"][0]
    assert first["embed_path"] == f"/embed/{first['id']}" and first["title"]


def test_platform_api_progress_feed_export_and_erasure(setup: Setup) -> None:
    session = setup.session("feed-user")
    status, after_start = setup.api("/api/platform/v1/progress?limit=1000")
    cursor = after_start["next_cursor"]
    for exercise in ("bonjour-monde", "bonjour-prenom", "double"):
        hint = setup.call(
            "POST", f"/api/exercises/{exercise}/hints", headers={"X-Session": session}
        )
        assert hint[0] == 200
    status, page = setup.api(f"/api/platform/v1/progress?cursor={cursor}&limit=2")
    assert status == 200 and page["has_more"] is True
    assert [c["progress"]["exercise"] for c in page["changes"]] == [
        "bonjour-monde",
        "bonjour-prenom",
    ]
    assert all(c["sub"] == "feed-user" for c in page["changes"])
    _, rest = setup.api(f"/api/platform/v1/progress?cursor={page['next_cursor']}&limit=2")
    assert [c["progress"]["exercise"] for c in rest["changes"]] == ["double"]
    assert rest["has_more"] is False
    status, mine = setup.api("/api/platform/v1/learners/feed-user/progress")
    assert status == 200 and {p["exercise"] for p in mine["exercises"]} == {
        "bonjour-monde",
        "bonjour-prenom",
        "double",
    }
    status, exported = setup.api("/api/platform/v1/learners/feed-user/export")
    assert status == 200 and exported["sub"] == "feed-user" and exported["webhook_events"] == []
    # the other platform sees nothing of this learner, exactly as for a sub nobody knows
    seen = setup.api("/api/platform/v1/learners/feed-user/progress", key=OTHER_KEY)
    unknown = setup.api("/api/platform/v1/learners/nobody-at-all/progress", key=OTHER_KEY)
    assert seen[0] == unknown[0] == 200 and seen[1]["exercises"] == unknown[1]["exercises"] == []
    assert setup.api("/api/platform/v1/progress", key=OTHER_KEY)[1]["changes"] == []
    assert (
        setup.api("/api/platform/v1/learners/feed-user", key=OTHER_KEY, method="DELETE")[0] == 204
    )
    assert setup.api("/api/platform/v1/learners/feed-user/progress")[1]["exercises"]
    assert setup.api("/api/platform/v1/learners/feed-user", method="DELETE")[0] == 204
    assert setup.api("/api/platform/v1/learners/feed-user/progress")[1]["exercises"] == []
    status, _, body = setup.call(
        "GET", "/api/exercises/bonjour-monde", headers={"X-Session": session}
    )
    assert (status, body["error"]) == (401, "session_expired")  # erasure ends the sessions too


@pytest.mark.parametrize("cursor", ["abc", "-1", "c2VxOjE=garbage", "%00"])
def test_platform_api_malformed_cursor_is_400(setup: Setup, cursor: str) -> None:
    status, body = setup.api(f"/api/platform/v1/progress?cursor={cursor}")
    assert (status, body["error"]) == (400, "invalid_cursor")
    status, body = setup.api("/api/platform/v1/progress?limit=0")
    assert (status, body["error"]) == (400, "invalid_limit")


def test_secrets_never_reach_logs_or_metrics(setup: Setup) -> None:
    token = setup.mooc.token("secret-keeper")
    session = setup.launch(token)[1]["session"]
    _get(setup, f"/embed/bonjour-monde?token={token}")
    setup.call("GET", f"/api/exercises/bonjour-monde?session={session}")
    _, _, metrics = _get(setup, "/metrics")
    text_metrics = metrics.decode()
    assert "decode_rejections_total" in text_metrics
    log = setup.server.log()
    assert "/embed/bonjour-monde?token=…" in log  # the access line is there, masked
    for secret in (token, session, API_KEY, OTHER_KEY, HS_SECRET, WEBHOOK_SECRET):
        assert secret not in log and secret not in text_metrics


def test_bad_platforms_file_stops_the_server_with_file_field_and_reason(
    instance: str, tmp_path: Path
) -> None:
    path = tmp_path / "platforms.toml"
    path.write_text("[platforms.mooc]\norigins = ['https://a.example']\nhs256_secret = 'court'\n")
    with pytest.raises(RuntimeError) as info:
        start_server(instance, tmp_path, platforms=str(path))
    assert f"{path}: platforms.mooc.hs256_secret: at least 32 bytes" in str(info.value)


@pytest.mark.anyio
async def test_open_socket_of_an_erased_learner_runs_nothing_more(setup: Setup) -> None:
    session = setup.session("leaving-learner")
    async with ws_client(f"{setup.server.ws_url}?session={session}") as client:
        assert setup.api("/api/platform/v1/learners/leaving-learner", method="DELETE")[0] == 204
        await client.send(
            {"type": "run", "exercise": "bonjour-monde", "code": "print(1)", "mode": "run"}
        )
        refused = await client.recv()
        assert (refused["type"], refused["code"]) == ("error", "session_expired")


def test_sub_with_a_slash_is_refused(setup: Setup) -> None:
    status, body = setup.launch(setup.mooc.token("group/alice"))
    assert (status, body["error"]) == (401, "token_invalid")
