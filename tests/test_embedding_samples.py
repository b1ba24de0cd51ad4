"""The backend samples of docs/embedding.md, run as a MOOC developer would run them, against a
real server: their tokens launch, their webhook checks accept ours and refuse tampering."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_platform import HS_SECRET, WEBHOOK_SECRET, MoocPlatform, write_platforms
from fixtures_server import LiveServer, start_server

from runner.identity.webhooks import sign

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "docs" / "examples"
API_KEY = "dkp_" + "s" * 43


@pytest.fixture(scope="module")
def server(instance: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("samples")
    platform = MoocPlatform("solerni", ("https://solerni.example.org",), API_KEY)
    live = start_server(
        instance, workdir, platforms=str(write_platforms(workdir / "p.toml", platform))
    )
    try:
        yield live
    finally:
        live.stop()


def _env(server: LiveServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RUNNER_URL": server.url,
        "PLATFORM_ID": "solerni",
        "PLATFORM_SECRET": HS_SECRET,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "API_KEY": API_KEY,
        **extra,
    }


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php-cli is not installed (scripts/bootstrap --php)")
    return php


def _sample(
    server: LiveServer, language: str, *args: str, stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[bytes]:
    program = [sys.executable, str(SAMPLES / "mooc_backend.py")]
    if language == "php":
        program = [_php(), str(SAMPLES / "mooc_backend.php")]
    return subprocess.run(
        [*program, *args], input=stdin, env=_env(server, **env), capture_output=True, timeout=30
    )


@pytest.mark.parametrize("language", ["python", "php"])
def test_sample_token_launches_once(server: LiveServer, language: str) -> None:
    done = _sample(server, language, "token", f"{language}-learner")
    assert done.returncode == 0, done.stderr
    token = done.stdout.decode().strip()
    status, body = server.request("POST", "/api/launch", {"token": token})
    assert status == 200 and body["locale"] == "fr", body
    status, body = server.request("POST", "/api/launch", {"token": token})
    assert (status, body["error"]) == (401, "token_replayed")


@pytest.mark.parametrize("language", ["python", "php"])
def test_sample_webhook_check_accepts_ours_and_refuses_tampering(
    server: LiveServer, language: str
) -> None:
    body = b'{"id":"evt_1","type":"exercise.solved"}'
    header = sign(WEBHOOK_SECRET, int(time.time()), body)
    ok = _sample(server, language, "verify", stdin=body, DECODE_SIGNATURE=header)
    assert (ok.returncode, ok.stdout.strip()) == (0, b"ok"), ok.stderr
    tampered = _sample(server, language, "verify", stdin=body + b" ", DECODE_SIGNATURE=header)
    old = sign(WEBHOOK_SECRET, int(time.time()) - 3600, body)
    replayed = _sample(server, language, "verify", stdin=body, DECODE_SIGNATURE=old)
    for refused in (tampered, replayed):
        assert (refused.returncode, refused.stdout.strip()) == (1, b"refused")


def test_sample_resync_reads_the_feed(server: LiveServer) -> None:
    token = _sample(server, "python", "token", "sync-learner").stdout.decode().strip()
    session = server.request("POST", "/api/launch", {"token": token})[1]["session"]
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/exercises/bonjour-monde/hints",
        method="POST",
        headers={"X-Session": session},
    )
    urllib.request.urlopen(request, timeout=10).close()
    done = _sample(server, "python", "sync")
    assert done.returncode == 0, done.stderr
    assert b"sync-learner bonjour-monde started" in done.stdout
    assert b"next cursor: " in done.stdout
