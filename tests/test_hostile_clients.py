"""Hostile and broken clients against a real server (issue: reliability). Each test reproduces a
failure found by probing the server from outside, and checks that it no longer happens."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from fixtures_server import LiveServer, ws_client

pytestmark = [pytest.mark.docker]

FLOOD = "print('x' * 1_000_000)\n"
# 1 MiB of output per run (the server maximum): a few runs fill the kernel's socket buffers
# (about 4 MiB on loopback here), which the probe filled with about 14 runs of 64 KiB.
BIG_OUTPUT = {"output_bytes": 1024 * 1024 + 1024}
HELLO_CHECK = 'print("Bonjour, le monde !")\n'


class RawSocket:
    """A WebSocket client that does the handshake, sends frames, and never reads again, with
    a 4 KiB receive buffer: the server's sends to it stall as soon as that buffer is full."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(1)  # the handshake only, byte by byte: nothing more
        assert answer.startswith(b"HTTP/1.1 101"), answer

    def send(self, message: dict[str, object]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def attackers() -> Iterator[list[RawSocket]]:
    opened: list[RawSocket] = []
    try:
        yield opened
    finally:
        for raw in opened:
            raw.close()


def _metric(server: LiveServer, name: str) -> float:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Waits for a condition of another process that cannot notify the test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_clients_that_never_read_hold_no_sandbox(
    server_factory: Callable[..., LiveServer], attackers: list[RawSocket]
) -> None:
    server = server_factory(max_concurrent=4, rate_per_minute=0, **BIG_OUTPUT)
    attackers.extend(RawSocket(server.url) for _ in range(4))
    _flood(server, attackers, runs=40)

    async def victim() -> list[dict[str, object]]:
        with anyio.fail_after(30):  # was 150 s: the attackers' slots were never given back
            async with ws_client(server.ws_url) as client:
                return await client.run(
                    "bonjour-monde", HELLO_CHECK, mode="check", until=("progress",)
                )

    messages = _run(victim)
    assert messages[-1]["type"] == "progress" and messages[-1]["solved"] is True
    _until(lambda: _metric(server, "decode_sandboxes_busy") == 0)


def _flood(server: LiveServer, sockets: list[RawSocket], runs: int) -> None:
    """Each socket asks for a 64 KiB run again and again without reading: a run asked while the
    previous one is on goes nowhere (``busy``), the others pile their output up in the kernel's
    buffers until the server's sends stall (about 14 runs did it in the probe)."""
    run = {"type": "run", "exercise": "bonjour-monde", "code": FLOOD, "mode": "run"}
    for _ in range(runs):
        for raw in sockets:
            raw.send(run)
        time.sleep(0.2)


def _run(coroutine: Callable[[], object]) -> list[dict[str, object]]:
    result: list[dict[str, object]] = anyio.run(coroutine)  # type: ignore[arg-type]
    return result


def test_sigterm_ends_in_bounded_time_with_clients_that_never_read(
    server_factory: Callable[..., LiveServer], attackers: list[RawSocket]
) -> None:
    server = server_factory(max_concurrent=2, rate_per_minute=0, shutdown_grace_s=2, **BIG_OUTPUT)
    attackers.extend(RawSocket(server.url) for _ in range(4))
    _flood(server, attackers, runs=40)
    server.process.send_signal(signal.SIGTERM)
    # grace (2 s) + the documented bound (5 s) + start-up slack; the old server hung past 90 s
    server.process.wait(timeout=30)
    assert "Application shutdown complete" in server.log()


@pytest.mark.anyio
async def test_run_right_after_a_checks_finished_is_accepted(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(rate_per_minute=0)
    async with ws_client(server.ws_url) as client:
        for mode in ["check", "run"] * 10:
            messages = await client.run("bonjour-monde", HELLO_CHECK, mode=mode)
            assert messages[-1]["type"] == "finished", messages
        # and at once, in the tightest loop: the next run is sent the moment finished arrives
        errors = [m for m in client.received if m["type"] == "error"]
        assert errors == []


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.anyio
async def test_deep_nesting_on_ws_is_invalid_json_and_a_running_job_still_finishes(
    live_server: LiveServer,
) -> None:
    async with ws_client(live_server.ws_url) as client:
        await client.send(
            {"type": "run", "exercise": "bonjour-monde", "code": "input()", "mode": "run"}
        )
        await client.until("started")
        for frame in (DEEP, '{"type": "stdin", "data": ' + "[" * 960 + "]" * 960 + "}"):
            await client.send(frame)
            refused = await client.until("error")
            assert refused[-1]["code"] == "invalid_json"
        await client.send({"type": "stdin_eof"})
        finished = await client.until("finished")
        assert finished[-1]["type"] == "finished"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/exercises/bonjour-monde/code", '{"code": ' + DEEP + "}"),
        ("POST", "/api/launch", '{"token": ' + DEEP + "}"),
        ("POST", "/api/session/redeem", DEEP),
    ],
)
def test_deep_nesting_in_http_bodies_is_invalid_body(
    live_server: LiveServer, method: str, path: str, body: str
) -> None:
    learner = live_server.request("POST", "/api/session")[1]["learner"]
    request = urllib.request.Request(
        live_server.url + path,
        data=body.encode(),
        method=method,
        headers={"X-Learner": learner, "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    answer = info.value
    assert answer.code in (400, 413)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert json.loads(answer.read())["error"] in ("invalid_body", "token_too_large")


def test_forged_host_is_refused_on_http_and_ws(live_server: LiveServer) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    request = urllib.request.Request(
        live_server.url + "/api/config", headers={"Host": f"rebind.evil.example:{port}"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400 and json.loads(info.value.read())["error"] == "host"
    status, headers, body = _handshake(live_server, host=f"rebind.evil.example:{port}")
    assert status == 400 and b'"host"' in body
    assert headers.get("x-content-type-options") == "nosniff"


def test_handshake_from_a_foreign_origin_gets_a_json_403(live_server: LiveServer) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    for origin in ("http://evil.example", f"https://127.0.0.1:{port}"):  # scheme counts too
        status, headers, body = _handshake(live_server, origin=origin)
        assert status == 403, body
        assert headers.get("x-content-type-options") == "nosniff"
        assert headers.get("cache-control") == "no-store"
        assert json.loads(body)["error"] == "origin"


def _handshake(
    server: LiveServer, host: str | None = None, origin: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    address, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        lines = [
            "GET /ws HTTP/1.1",
            f"Host: {host or f'{address}:{port}'}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_locked_database_delays_no_sandbox(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = server_factory(max_concurrent=1, rate_per_minute=0)
    learner = server.request("POST", "/api/session")[1]["learner"]
    path = server.database_url.split(":///", 1)[1]
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        health = json.loads(urllib.request.urlopen(server.url + "/healthz", timeout=10).read())
        assert health["status"] == "degraded" and health["degraded"] == ["database"]

        async def checks() -> list[list[dict[str, object]]]:
            results: list[list[dict[str, object]]] = []

            async def one() -> None:
                async with ws_client(server.ws(learner)) as client:
                    results.append(
                        await client.run(
                            "bonjour-monde", HELLO_CHECK, mode="check", until=("progress",)
                        )
                    )

            # Before: each check held the only slot through two 5 s lock waits (30 s and more
            # for 3); now about 2.5 s each in the slot, then one result write outside it.
            with anyio.fail_after(25):
                async with anyio.create_task_group() as tasks:
                    for _ in range(3):
                        tasks.start_soon(one)
            return results

        for messages in _run(checks):  # type: ignore[arg-type]
            finished = next(m for m in messages if m["type"] == "finished")
            assert finished["status"] == "passed"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # whatever the lock let through, a solve never stands with 0 attempts
    status, progress = server.request("GET", "/api/progress", learner=learner)
    assert status == 200
    for record in progress["exercises"].values():
        assert not record["solved"] or record["attempts"] >= 1


@pytest.mark.anyio
async def test_check_of_a_container_killed_from_outside_is_unavailable_not_failed(
    live_server: LiveServer, docker_client: object, instance: str
) -> None:
    code = "import time\nprint('prêt', flush=True)\ntime.sleep(8)\n"
    async with ws_client(live_server.ws_url) as client:
        await client.send(
            {"type": "run", "exercise": "bonjour-monde", "code": code, "mode": "check"}
        )
        await client.until("started")
        labels = {"label": [f"decode-runner.node={instance}"]}
        with anyio.fail_after(10):
            while not (found := docker_client.containers.list(filters=labels)):  # type: ignore[attr-defined]
                await anyio.sleep(0.05)
        await anyio.to_thread.run_sync(found[0].kill)
        finished = (await client.until("finished"))[-1]
    assert finished["status"] == "unavailable", finished
    assert "Ton code n'est pas en cause" in finished["message"]
