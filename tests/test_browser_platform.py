"""A course platform's learner in a cross-site frame, in a real Chromium with third-party storage
blocked: signed launches, the same learner across reloads, devices and the full page, refused
launches, and navigation left to the host page.

The MOOC is a small site on http://localhost:<port>; the runner is on http://127.0.0.1:<port>:
two sites, so the frame is third-party. Each scenario saves a screenshot in
test-artifacts/screenshots/.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

pytest.importorskip("playwright")
from fixtures_platform import MoocPlatform, write_platforms
from fixtures_server import ROOT, LiveServer, free_port, start_server
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Frame,
    FrameLocator,
    Page,
    WebSocketRoute,
    expect,
    sync_playwright,
)
from test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN_TIMEOUT_MS,
    SOLUTION,
    _collect_errors,
    _csp_errors,
    _replace_code,
    _shot,
    _wait_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]

# Chromium's own switch for "third-party cookies are phased out", which also denies a cross-site
# frame its localStorage and sessionStorage. Recent builds do so by default; the switch keeps it
# so on any build, and the test asserts it inside the frame rather than trusting it.
BLOCK_THIRD_PARTY = "--test-third-party-cookie-phaseout"
STORAGE_PROBE = """() => {
  const found = {};
  for (const name of ["localStorage", "sessionStorage"]) {
    try { window[name].getItem("probe"); found[name] = "readable"; }
    catch (error) { found[name] = error.name; }
  }
  return found;
}"""
EXERCISE = "bonjour-prenom"
NEXT_EXERCISE = "double"

HOST_SCRIPT = b"""// The MOOC's page: records the runner frame's events (and follows its height).
window.events = [];
const frame = document.getElementById("exercise-frame");
const runner = new URL(frame.src).origin;
window.addEventListener("message", (event) => {
  if (event.origin !== runner || event.source !== frame.contentWindow) return;
  const message = event.data;
  if (!message || message.source !== "decode-runner") return;
  window.events.push(message);
  if (message.type === "resize") frame.style.height = `${Math.max(200, message.height)}px`;
});
"""


@dataclass
class Mooc:
    """The platform as configured in the runner, its web site, and the runner it frames."""

    platform: MoocPlatform
    url: str
    runner: LiveServer
    requests: list[dict[str, Any]] = field(default_factory=list)

    def unit(self, sub: str = "", exercise: str = EXERCISE, **extra: str) -> str:
        """A course page framing ``exercise`` for learner ``sub`` (a fresh token per view), or
        for the given ``token``."""
        query = "&".join(f"{k}={quote(v)}" for k, v in {"sub": sub, **extra}.items() if v)
        return f"{self.url}/unit?exercise={exercise}&{query}"


def _host_handler(mooc: Mooc) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            parts = urlsplit(self.path)
            if parts.path == "/host.js":
                self._send(HOST_SCRIPT, "text/javascript")
            elif parts.path == "/unit":
                self._send(self._unit(parts.query), "text/html; charset=utf-8")
            else:
                self.send_error(404)

        def _unit(self, query: str) -> bytes:
            params = {k: v[0] for k, v in parse_qs(query).items()}
            exercise = params["exercise"]
            token = params.get("token") or mooc.platform.token(
                params["sub"],
                locale=params.get("locale"),
                return_url=f"{mooc.url}/unit?exercise={exercise}&sub={params['sub']}",
            )
            src = f"{mooc.runner.url}/embed/{exercise}?token={token}"
            return (
                '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Unité</title>'
                '<script src="/host.js" defer></script></head><body><h1>Unité du cours</h1>'
                f'<iframe id="exercise-frame" title="Exercice de programmation" src="{src}"'
                ' width="1200" height="700"></iframe></body></html>'
            ).encode()

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.send_header(
                "content-security-policy", f"default-src 'self'; frame-src {mooc.runner.url}"
            )
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, BLOCK_THIRD_PARTY]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def mooc(instance: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mooc]:
    """One runner and one MOOC site for the module (each test uses its own learners)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to build the front end")
    subprocess.run(
        [str(ROOT / "scripts" / "build-web")], check=True, capture_output=True, timeout=600
    )
    workdir = tmp_path_factory.mktemp("platform")
    host_port = free_port()
    platform = MoocPlatform(id="mooc", origins=(f"http://localhost:{host_port}",), api_key="k" * 20)
    path = write_platforms(workdir / "platforms.toml", platform)
    runner = start_server(instance, workdir, platforms=str(path))
    site = Mooc(platform, f"http://localhost:{host_port}", runner)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), _host_handler(site))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        runner.stop()


@pytest.fixture
def console_errors() -> list[str]:
    return []


def _context(
    browser: Browser, mooc: Mooc, errors: list[str], locale: str = "fr-FR"
) -> BrowserContext:
    """A browser profile (a device); every request it makes is recorded in ``mooc.requests``."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.on(
        "request",
        lambda request: mooc.requests.append(
            {
                "url": request.url,
                "method": request.method,
                "headers": request.headers,
                "body": request.post_data,
            }
        ),
    )
    context.on("page", lambda page: _collect_errors(page, errors))
    return context


@pytest.fixture
def context(browser: Browser, mooc: Mooc, console_errors: list[str]) -> Iterator[BrowserContext]:
    mooc.requests.clear()
    opened = _context(browser, mooc, console_errors)
    try:
        yield opened
    finally:
        opened.close()


def _runner_frame(page: Page) -> Frame:
    frame = next((f for f in page.frames if "/embed/" in f.url), None)
    assert frame is not None, [f.url for f in page.frames]
    return frame


def _event(page: Page, kind: str, timeout: float = RUN_TIMEOUT_MS) -> dict[str, Any]:
    """The host page's first recorded event of this type (waits for it)."""
    handle = page.wait_for_function(
        "kind => (window.events || []).find((e) => e.type === kind)", arg=kind, timeout=timeout
    )
    event: dict[str, Any] = handle.json_value()
    return event


def _editor_lines(scope: Page | FrameLocator) -> list[str]:
    return [line.replace("\u200b", "") for line in scope.locator(".cm-line").all_inner_texts()]


def _solve(page: Page, frame: FrameLocator) -> None:
    _replace_code(page, SOLUTION, scope=frame)
    frame.get_by_role("button", name="Vérifier").click()
    expect(frame.locator("#result")).to_contain_text("Exercice réussi", timeout=RUN_TIMEOUT_MS)


def _assert_never_anonymous(mooc: Mooc) -> None:
    """No anonymous id was asked for or sent by the frames: a launch never falls back to one."""
    runner = [r for r in mooc.requests if r["url"].startswith(mooc.runner.url)]
    assert runner, "the runner was never called"
    assert not [r for r in runner if urlsplit(r["url"]).path == "/api/session"]
    assert not [r for r in runner if "x-learner" in r["headers"]]
    assert not [r for r in runner if "learner=" in (urlsplit(r["url"]).query or "")]


def test_platform_frame_keeps_the_learner_and_leaves_navigation_to_the_host(
    context: BrowserContext, mooc: Mooc, console_errors: list[str]
) -> None:
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(mooc.unit("ada"))
    frame = page.frame_locator("#exercise-frame")
    _wait_ready(frame)
    runner_frame = _runner_frame(page)
    # The frame really is third-party with its storage blocked, and its URL lost the token.
    assert runner_frame.evaluate(STORAGE_PROBE) == {
        "localStorage": "SecurityError",
        "sessionStorage": "SecurityError",
    }
    location = urlsplit(runner_frame.evaluate("location.href"))
    assert location.path == f"/embed/{EXERCISE}"
    assert parse_qs(location.query) == {"launched": ["1"]}
    assert _event(page, "ready")["exercise"] == EXERCISE
    launch = next(r for r in mooc.requests if r["url"] == f"{mooc.runner.url}/api/launch")
    assert json.loads(launch["body"])["parent_origin"] == mooc.url
    expect(frame.locator("#ex-status [data-status]")).to_have_attribute("data-status", "todo")

    _solve(page, frame)
    result, progress = _event(page, "result"), _event(page, "progress")
    assert result["status"] == "passed" and result["passed"] == result["total"] >= 2
    assert progress == {
        "source": "decode-runner",
        "type": "progress",
        "exercise": EXERCISE,
        "solved": True,
        "attempts": 1,
    }
    # "Exercice suivant" asks the host to move on; the frame stays where it is.
    frame.locator("#result").get_by_role("button", name="Exercice suivant").click()
    navigate = _event(page, "navigate", timeout=5_000)
    assert navigate == {
        "source": "decode-runner",
        "type": "navigate",
        "exercise": EXERCISE,
        "next": NEXT_EXERCISE,
        "direction": "next",
    }
    assert urlsplit(runner_frame.evaluate("location.href")).path == f"/embed/{EXERCISE}"
    expect(frame.locator("h1")).to_have_text("Dire bonjour à quelqu'un")
    _shot(page, "platform-frame-solved")

    page.reload()  # the course page again: a new token, a new session, the same learner
    _wait_ready(frame)
    expect(frame.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
    assert _editor_lines(frame)[:2] == SOLUTION.splitlines()
    _shot(page, "platform-frame-relaunched")
    assert all("session=" in url and "learner=" not in url for url in sockets), sockets
    assert len(sockets) == 2
    _assert_never_anonymous(mooc)
    assert _csp_errors(console_errors) == []


def test_platform_learner_is_the_same_on_another_device_and_in_the_full_page(
    browser: Browser, context: BrowserContext, mooc: Mooc, console_errors: list[str]
) -> None:
    first = context.new_page()
    first.goto(mooc.unit("grace"))
    frame = first.frame_locator("#exercise-frame")
    _wait_ready(frame)
    _solve(first, frame)
    _event(first, "progress")

    # Another device: another browser profile, its own token for the same learner, in English.
    device = _context(browser, mooc, console_errors, locale="en-GB")
    try:
        page = device.new_page()
        page.goto(mooc.unit("grace", locale="en"))
        frame = page.frame_locator("#exercise-frame")
        _wait_ready(frame)
        expect(frame.locator("html")).to_have_attribute("lang", "en")
        expect(frame.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
        assert _editor_lines(frame)[:2] == SOLUTION.splitlines()
        _shot(page, "platform-other-device")

        # The full page: a first-party tab, opened as the same learner through a hand-off code.
        with device.expect_page() as opened:
            frame.get_by_role("button", name="Open full page").click()
        full = opened.value
        _wait_ready(full)
        location = urlsplit(full.url)
        assert location.path == f"/exercise/{EXERCISE}"
        assert "handoff" not in parse_qs(location.query)
        assert full.evaluate("window.opener") is None
        expect(full.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
        assert _editor_lines(full)[:2] == SOLUTION.splitlines()
        back = full.locator("#return-link")
        expect(back).to_be_visible()
        assert back.get_attribute("href") == f"{mooc.url}/unit?exercise={EXERCISE}&sub=grace"
        _shot(full, "platform-full-page")

        full.reload()  # this tab keeps its session (sessionStorage: first-party here)
        _wait_ready(full)
        expect(full.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
        assert _editor_lines(full)[:2] == SOLUTION.splitlines()
        assert full.evaluate("localStorage.getItem('decode-runner:learner')") is None
    finally:
        device.close()
    _assert_never_anonymous(mooc)
    assert _csp_errors(console_errors) == []


def _assert_refused(page: Page, code: str, text: str) -> None:
    frame = page.frame_locator("#exercise-frame")
    error = frame.locator("#page-error")
    expect(error).to_be_visible(timeout=15_000)
    expect(error).to_contain_text(text)
    expect(error).to_contain_text("Recharge la page du cours")
    assert _event(page, "error", timeout=5_000)["code"] == code
    expect(frame.locator("#exercise")).to_be_hidden()
    expect(frame.locator(".cm-content")).to_have_count(0)
    expect(frame.locator("#page-retry")).to_be_hidden()


def test_platform_refused_launches_show_why_and_never_an_anonymous_editor(
    context: BrowserContext, mooc: Mooc
) -> None:
    page = context.new_page()
    token = mooc.platform.token("linus")
    page.goto(mooc.unit(token=token))
    _wait_ready(page.frame_locator("#exercise-frame"))

    page.goto(mooc.unit(token=token))  # the same link twice
    _assert_refused(page, "token_replayed", "Ce lien d'exercice a déjà servi.")
    _shot(page, "platform-token-replayed")

    now = int(time.time())
    page.goto(mooc.unit(token=mooc.platform.token("linus", iat=now - 400, exp=now - 100)))
    _assert_refused(page, "token_expired", "Ce lien d'exercice a expiré.")

    page.goto(mooc.unit("linus"))  # a good launch, then the frame alone is reloaded
    _wait_ready(page.frame_locator("#exercise-frame"))
    page.evaluate("window.events = []")
    _runner_frame(page).evaluate("location.reload()")
    _assert_refused(page, "session_lost", "Cet exercice a été rechargé sans passer par le cours.")
    _shot(page, "platform-session-lost")
    _assert_never_anonymous(mooc)


def _erase(mooc: Mooc, sub: str) -> None:
    """The platform erases the learner (GDPR): every session of theirs ends at once."""
    request = urllib.request.Request(
        f"{mooc.runner.url}/api/platform/v1/learners/{sub}",
        method="DELETE",
        headers={"Authorization": f"Bearer {mooc.platform.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def test_platform_expired_session_stops_for_good_and_says_what_to_do(
    context: BrowserContext, mooc: Mooc
) -> None:
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        ws.connect_to_server()

    context.route_web_socket(re.compile(r"/ws\?"), through)
    page = context.new_page()
    page.goto(mooc.unit("margaret"))
    frame = page.frame_locator("#exercise-frame")
    _wait_ready(frame)
    frame_socket = sockets[-1]
    _replace_code(page, "# mon travail\n", scope=frame)
    with context.expect_page() as opened:
        frame.get_by_role("button", name="Ouvrir en plein écran").click()
    full = opened.value
    _wait_ready(full)
    before = len(sockets)

    _erase(mooc, "margaret")
    frame_socket.close(code=1012)  # the frame's socket drops and connects again
    error = frame.locator("#page-error")
    expect(error).to_contain_text("Ta session de cours a expiré.", timeout=15_000)
    expect(error).to_contain_text("Recharge la page du cours")
    assert _event(page, "error", timeout=5_000)["code"] == "session_expired"
    # The code stays in sight; nothing runs, and the socket does not try again.
    expect(frame.locator(".cm-content")).to_contain_text("# mon travail")
    expect(frame.locator("#run-button")).to_have_attribute("aria-disabled", "true")
    expect(frame.locator("#conn-banner")).to_be_hidden()
    assert len(sockets) == before + 1
    page.bring_to_front()  # a background tab's cross-site frame is not repainted
    _shot(page, "platform-session-expired")

    full.reload()  # the full page's tab: its session is gone too
    full_error = full.locator("#page-error")
    expect(full_error).to_contain_text("rouvre l'exercice depuis la page du cours")
    expect(full_error.get_by_role("link", name="Retour au cours")).to_have_attribute(
        "href", f"{mooc.url}/unit?exercise={EXERCISE}&sub=margaret"
    )
    expect(full.locator("#exercise")).to_be_hidden()
    full.reload()  # and it stays a course tab: never an anonymous learner
    expect(full.locator("#page-error")).to_contain_text("rouvre l'exercice depuis la page du cours")
    expect(full.locator(".cm-content")).to_have_count(0)
    _shot(full, "platform-full-page-expired")
    _assert_never_anonymous(mooc)
