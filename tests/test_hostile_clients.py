"""Hostile and broken clients against a real server (issue: reliability). Each test reproduces a
failure found by probing the server from outside, and checks that it no longer happens."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import struct
import time
import urllib.request
from collections.abc import Callable, Iterator

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
