"""A test platform (a MOOC): its platforms.toml, launch tokens signed as its backend would, and a
webhook receiver on loopback. Shared by the server, webhook and browser tests."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

from runner.identity.platforms import Platform, Platforms, hash_api_key, save_platforms
from runner.identity.webhooks import verify

AUDIENCE = "decode-runner"
HS_SECRET = "s" * 40
WEBHOOK_SECRET = "w" * 32


@dataclass
class MoocPlatform:
    """One configured platform with an HS256 secret and an API key."""

    id: str
    origins: tuple[str, ...]
    api_key: str
    secret: str = HS_SECRET
    webhook_url: str = ""

    def token(self, sub: str, **claims: Any) -> str:
        """A launch token as the platform's backend signs it (claims override the defaults)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.id,
            "sub": sub,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.secret, algorithm="HS256")

    def config(self) -> Platform:
        return Platform(
            id=self.id,
            origins=self.origins,
            name=self.id.title(),
            hs256_secret=self.secret,
            webhook_url=self.webhook_url,
            webhook_secret=WEBHOOK_SECRET if self.webhook_url else "",
            api_key_sha256=hash_api_key(self.api_key),
        )


def write_platforms(path: Path, *platforms: MoocPlatform | Platform) -> Path:
    configs = [p.config() if isinstance(p, MoocPlatform) else p for p in platforms]
    save_platforms(path, Platforms({p.id: p for p in configs}))
    return path


@dataclass
class Receiver:
    """A webhook receiver: ``fail_first`` deliveries answer 500; ``hang`` makes every answer
    wait that long. Records each delivery; ``effects`` counts each event id once (idempotency)."""

    port: int
    fail_first: int = 0
    hang_s: float = 0.0
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self), timeout)


def serve_receiver(receiver: Receiver) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if receiver.hang_s:
                time.sleep(receiver.hang_s)
            with receiver.arrived:
                attempt = len(receiver.deliveries)
                receiver.deliveries.append({"headers": dict(self.headers), "body": body})
                signature = self.headers.get("Decode-Signature", "")
                ok = verify(WEBHOOK_SECRET, signature, body, int(time.time()))
                status = 500 if attempt < receiver.fail_first or not ok else 204
                if not ok:
                    receiver.bad_signatures += 1
                if status == 204:
                    event = json.loads(body)
                    receiver.effects.setdefault(event["id"], event)
                receiver.arrived.notify_all()
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(receiver: Receiver) -> Receiver:
        servers.append(serve_receiver(receiver))
        return receiver

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
