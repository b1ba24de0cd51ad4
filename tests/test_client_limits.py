"""Limits per client address and signed learner ids, against a real server (no sandbox needed:
every refusal happens before one is used)."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from fixtures_server import LiveServer, ws_client
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from runner.web.learners import LearnerIds, new_learner

pytestmark = pytest.mark.server


def _post_session(server: LiveServer, forwarded_for: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + "/api/session", data=b"", method="POST")
    if forwarded_for:
        request.add_header("X-Forwarded-For", forwarded_for)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_learner_ids_are_signed_and_checked_without_the_database() -> None:
    ids = LearnerIds(b"k" * 32)
    issued = ids.issue()
    assert len(issued) == 32 and int(issued, 16) >= 0
    assert ids.signed(issued)
    assert not LearnerIds(b"other key" * 4).signed(issued)
    assert not ids.signed(issued[:16] + "0" * 16)
    assert not ids.signed(new_learner())


def test_ids_the_server_never_issued_are_refused_and_mint_no_rows(live_server: LiveServer) -> None:
    database = live_server.database_url.split(":///", 1)[1]
    before = _count_learners(database)
    for _ in range(20):  # the probe grew the database by 373 MiB a minute this way
        status, body = live_server.request(
            "PUT",
            "/api/exercises/bonjour-monde/code",
            {"code": "x" * 60_000},
            learner=new_learner(),
        )
        assert (status, body["error"]) == (400, "learner")
    assert _count_learners(database) == before
    issued = live_server.request("POST", "/api/session")[1]["learner"]
    assert live_server.request("GET", "/api/progress", learner=issued)[0] == 200


def test_ids_issued_before_signing_still_work(live_server: LiveServer) -> None:
    database = live_server.database_url.split(":///", 1)[1]
    legacy = new_learner()
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO learners (id, created_at) VALUES (?, ?)", (legacy, "2026-10-01 10:00:00")
        )
    status, body = live_server.request("GET", "/api/progress", learner=legacy)
    assert (status, body["learner"]) == (200, legacy)


def _count_learners(database: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM learners").fetchone()[0])


def test_fresh_id_flood_from_one_address_is_limited(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(ip_new_learners_per_minute=5)
    answers = [_post_session(server)[0] for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]


@pytest.mark.anyio
async def test_fresh_sockets_do_not_escape_the_per_address_limits(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(ip_new_learners_per_minute=3, ip_rate_per_minute=2)
    welcomes = []
    for _ in range(3):
        async with ws_client(server.ws_url) as client:
            welcomes.append(client.received[0])
    assert all(w["issued"] for w in welcomes)
    async with connect(server.ws_url) as connection:  # a fourth fresh id: refused
        refused = json.loads(await connection.recv())
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    # runs: the per-address bucket holds whatever id each socket carries
    codes = []
    for welcome in welcomes:
        async with ws_client(server.ws(welcome["learner"])) as client:
            await client.send(
                {"type": "run", "exercise": "nope", "code": "print(1)", "mode": "run"}
            )
            codes.append((await client.recv())["code"])
    assert codes == ["unknown_exercise", "unknown_exercise", "rate_limited"]


@pytest.mark.anyio
async def test_connection_flood_from_one_address_is_capped(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(ip_max_connections=5)
    learner = _post_session(server)[1]["learner"]
    opened = [await connect(server.ws(learner)) for _ in range(5)]
    try:
        with pytest.raises(InvalidStatus) as info:
            await connect(server.ws(learner))
        assert info.value.response.status_code == 429
        assert json.loads(info.value.response.body or b"{}")["error"] == "too_many_connections"
    finally:
        for connection in opened:
            await connection.close()
    async with connect(server.ws(learner)):  # closed ones are given back
        pass


def test_slow_handshakes_are_cut(server_factory: Callable[..., LiveServer]) -> None:
    server = server_factory(header_timeout_s=1)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /ws HTTP/1.1\r\n")
        started = time.monotonic()
        try:
            for _ in range(20):  # a header line every 0.3 s, never the end of the head
                sock.sendall(f"X-Slow-{_}: 1\r\n".encode())
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sock.recv(1024) == b""  # the server closed it
    assert time.monotonic() - started < 6  # long before the 20 lines were sent


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    server_factory: Callable[..., LiveServer],
) -> None:
    untrusted = server_factory(ip_new_learners_per_minute=2)
    answers = [_post_session(untrusted, forwarded_for=f"203.0.113.{i}")[0] for i in range(3)]
    assert answers == [200, 200, 429]  # one address: the header is ignored
    trusted = server_factory(ip_new_learners_per_minute=2, trusted_proxies="127.0.0.1")
    answers = [_post_session(trusted, forwarded_for=f"203.0.113.{i}")[0] for i in range(3)]
    assert answers == [200, 200, 200]  # three clients behind the proxy
