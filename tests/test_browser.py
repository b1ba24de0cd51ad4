"""The pages in a real Chromium (Playwright), against the real server and sandbox.

Each scenario saves a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
from fixtures_server import LiveServer, free_port
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    FrameLocator,
    Page,
    expect,
    sync_playwright,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RUN_TIMEOUT_MS = 30_000

PROMPT_SOLUTION = 'prenom = input("Ton prénom ? ")\nprint("Bonjour, " + prenom + " !")\n'
SOLUTION = 'prenom = input()\nprint("Bonjour, " + prenom + " !")\n'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API holds an event loop while it lives, which would stop the
    anyio tests of later modules from running theirs."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def web_built() -> None:
    """web/dist and axe-core, from scripts/build-web (about 0.1 s when up to date)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to build the front end")
    subprocess.run(
        [str(ROOT / "scripts" / "build-web")], check=True, capture_output=True, timeout=600
    )


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, web_built: None, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    _collect_errors(opened, console_errors)
    try:
        yield opened
    finally:
        context.close()


def _collect_errors(page: Page, errors: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))


def _csp_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if "Content Security Policy" in e or "Refused to" in e]


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _open_exercise(page: Page, url: str) -> None:
    page.goto(url)
    _wait_ready(page)


def _wait_ready(scope: Page | FrameLocator) -> None:
    expect(scope.locator(".cm-content")).to_be_visible()
    expect(scope.locator("#run-button")).not_to_have_attribute(
        "aria-disabled", "true", timeout=15_000
    )


def _replace_code(
    page: Page, code: str, *, typed: bool = False, scope: FrameLocator | None = None
) -> None:
    """Select everything in the editor, then type (key by key) or insert (like a paste) ``code``."""
    (scope or page).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    if typed:
        page.keyboard.type(code)
    else:
        page.keyboard.insert_text(code)


def test_browser_run_shows_live_output(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    expect(page.locator("h1")).to_have_text("Bonjour, le monde !")
    _replace_code(page, 'print("Bonjour,", "le monde !")', typed=True)
    run = page.get_by_role("button", name="Exécuter")
    run.click()
    console = page.locator("#console")
    expect(console.locator(".console-stdout")).to_have_text(
        "Bonjour, le monde !\n", timeout=RUN_TIMEOUT_MS
    )
    expect(console.locator(".console-note--ok")).to_be_visible()
    page.wait_for_timeout(400)
    expect(run).to_be_focused()  # output arriving in pieces is not taken for a question
    expect(page.locator("#run-status")).to_have_class("run-status run-status--ok")
    _shot(page, "run-live-output")
    assert _csp_errors(console_errors) == []


def test_browser_run_answers_input_in_console(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    _replace_code(page, PROMPT_SOLUTION)
    page.keyboard.press("Control+Enter")
    console = page.locator("#console")
    expect(console).to_contain_text("Ton prénom ?", timeout=RUN_TIMEOUT_MS)
    field = page.get_by_label("Répondre à ton programme")
    expect(field).to_be_focused()
    _shot(page, "run-input-waiting")
    field.type("Ada")
    field.press("Enter")
    expect(console.locator(".console-stdin")).to_contain_text("Ada")
    expect(console).to_contain_text("Bonjour, Ada !", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#stdin-form")).to_be_hidden(timeout=RUN_TIMEOUT_MS)
    _shot(page, "run-input-prompt")


def test_browser_check_passes_and_marks_progress(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    expect(page.locator("#ex-status [data-status]")).to_have_attribute("data-status", "todo")
    _replace_code(page, SOLUTION)
    page.get_by_role("button", name="Vérifier").click()
    result = page.locator("#result")
    expect(result).to_contain_text("Exercice réussi", timeout=RUN_TIMEOUT_MS)
    tests = page.locator("#tests-list > li")
    total = tests.count()
    assert total >= 2
    expect(page.locator("#tests-list > li.test--passed")).to_have_count(total)
    expect(page.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
    expect(result.get_by_role("link", name="Exercice suivant")).to_have_attribute(
        "href", "/exercise/double"
    )
    _shot(page, "check-passed")
    page.goto(f"{live_server.url}/")
    item = page.locator(".exercise-item", has=page.locator('a[href="/exercise/bonjour-prenom"]'))
    expect(item.locator("[data-status]")).to_have_attribute("data-status", "solved")
    expect(item).to_contain_text("réussi")
    _shot(page, "index-after-success")


JS_SOLUTION = 'const prenom = prompt("Ton prénom ?");\nconsole.log("Bonjour, " + prenom + " !");\n'


def test_browser_first_javascript_exercise_runs_and_passes(
    page: Page, live_server: LiveServer
) -> None:
    """The first JavaScript exercise, as a newcomer would do it: `prompt()` run with a typed
    answer (no end of input needed), then checked (its question does not count)."""
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-js")
    expect(page.locator("h1")).to_have_text("Bonjour en JavaScript")
    _replace_code(page, JS_SOLUTION)
    page.get_by_role("button", name="Exécuter").click()
    field = page.get_by_label("Répondre à ton programme")
    expect(field).to_be_visible(timeout=RUN_TIMEOUT_MS)
    field.type("Léa")
    field.press("Enter")
    console = page.locator("#console")
    expect(console.locator(".console-stdout")).to_have_text(
        "Bonjour, Léa !\n", timeout=RUN_TIMEOUT_MS
    )
    page.get_by_role("button", name="Vérifier").click()
    expect(page.locator("#result")).to_contain_text("Exercice réussi", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")
    _shot(page, "javascript-first-exercise")


def test_browser_wrong_solution_shows_the_difference(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    _replace_code(page, 'prenom = input()\nprint("Bonjour " + prenom + "!")\n')
    page.get_by_role("button", name="Vérifier").click()
    failed = page.locator("#tests-list > li.test--failed").first
    expect(failed).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(failed.locator(".test-status")).to_have_text("échoué")
    expected = failed.locator(".compare-block--expected pre")
    actual = failed.locator(".compare-block--actual pre")
    expect(expected).to_have_text("Bonjour,·Léa·!")
    expect(actual).to_have_text("Bonjour·Léa!")
    expect(expected.locator("mark.diff")).to_have_text(",")
    expect(actual.locator("mark.diff")).to_have_text("·")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#run-status")).to_have_class("run-status run-status--failed")
    _shot(page, "check-difference")


def test_browser_reload_restores_the_code(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/double")
    _replace_code(page, "# mon brouillon\nx = 21\nprint(x * 2)\n")
    page.wait_for_timeout(400)  # the local copy is written within 300 ms
    page.reload()
    _wait_ready(page)
    assert page.locator(".cm-line").all_inner_texts()[:3] == [
        "# mon brouillon",
        "x = 21",
        "print(x * 2)",
    ]
    _shot(page, "reload-restored")


def test_browser_local_copy_the_server_never_got_wins(page: Page, live_server: LiveServer) -> None:
    # As if the last edits were typed offline: a local draft never acknowledged by the server.
    draft = json.dumps({"code": "# hors connexion\nprint(2)\n", "at": 0, "synced": False})
    page.add_init_script(f"localStorage.setItem('decode-runner:draft:double', {json.dumps(draft)})")
    _open_exercise(page, f"{live_server.url}/exercise/double")
    assert page.locator(".cm-line").all_inner_texts()[:2] == ["# hors connexion", "print(2)"]
    expect(page.locator("#save-state")).to_have_text("Ton dernier code a été restauré.")


def test_browser_reset_asks_then_can_be_undone(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/double")
    _replace_code(page, "print('mon code')\n")
    page.get_by_role("button", name="Réinitialiser").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Garder mon code").click()
    expect(page.locator(".cm-content")).to_contain_text("mon code")
    page.get_by_role("button", name="Réinitialiser").click()
    page.get_by_role("dialog").get_by_role("button", name="Réinitialiser").click()
    expect(page.locator(".cm-content")).not_to_contain_text("mon code")
    page.get_by_role("button", name="Annuler").click()
    expect(page.locator(".cm-content")).to_contain_text("mon code")


def test_browser_error_is_explained_with_its_line(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    _replace_code(page, '# mon programme\nprnt("Bonjour")\n')
    page.get_by_role("button", name="Exécuter").click()
    explanation = page.locator("#result .explanation")
    expect(explanation).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#console .console-stderr")).to_contain_text("NameError")
    expect(page.locator(".cm-error-line")).to_have_text('prnt("Bonjour")')
    explanation.get_by_role("button", name="Voir la ligne 2 dans l'éditeur").click()
    expect(page.locator(".cm-content")).to_be_focused()
    _shot(page, "run-error-explained")


def test_browser_queue_position_then_stop(
    browser: Browser, web_built: None, server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory(max_concurrent=1)
    first = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    second = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        busy, waiting = first.new_page(), second.new_page()
        for page in (busy, waiting):
            _open_exercise(page, f"{server.url}/exercise/bonjour-monde")
            _replace_code(page, "while True:\n    pass\n")
        busy.get_by_role("button", name="Exécuter").click()
        expect(busy.locator("#run-status")).to_have_text(
            "Exécution en cours…", timeout=RUN_TIMEOUT_MS
        )
        waiting.get_by_role("button", name="Exécuter").click()
        expect(waiting.locator("#run-status")).to_have_text("En attente — position 1")
        _shot(waiting, "queue-position")
        busy.get_by_role("button", name="Arrêter").click()
        expect(busy.locator("#run-status")).not_to_have_text(
            "Exécution en cours…", timeout=RUN_TIMEOUT_MS
        )
        expect(waiting.locator("#run-status")).to_have_text(
            "Exécution en cours…", timeout=RUN_TIMEOUT_MS
        )
        waiting.get_by_role("button", name="Arrêter").click()
        expect(waiting.locator("#stdin-form")).to_be_hidden(timeout=RUN_TIMEOUT_MS)
        expect(waiting.locator("#run-button")).not_to_have_attribute("aria-disabled", "true")
    finally:
        first.close()
        second.close()


def test_browser_connection_loss_is_announced(page: Page, live_server: LiveServer) -> None:
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    live_server.stop()
    banner = page.locator("#conn-banner")
    expect(banner).to_have_text("Connexion perdue — reconnexion…", timeout=10_000)
    expect(page.locator("#run-button")).to_have_attribute("aria-disabled", "true")
    _shot(page, "connection-lost")


def test_browser_english_is_available_and_remembered(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.locator(".exercise-item").first).to_contain_text("à faire")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".exercise-item").first).to_contain_text("to do")
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    expect(page.get_by_role("button", name="Run")).to_be_visible()
    expect(page.get_by_role("button", name="Passer en français")).to_be_visible()
    _shot(page, "english")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def host_site() -> Iterator[str]:
    """docs/ served on another port: another origin than the runner's."""
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(ROOT / "docs"))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_browser_embed_posts_events_to_the_host(
    page: Page, server_factory: Callable[..., LiveServer], host_site: str, console_errors: list[str]
) -> None:
    server = server_factory(embed_origins=host_site)
    page.goto(f"{host_site}/embed-host-example.html?runner={server.url}&exercise=bonjour-prenom")
    frame = page.frame_locator("#exercise-frame")
    expect(page.locator('#events li[data-type="ready"]')).to_have_count(1, timeout=15_000)
    expect(page.locator('#events li[data-type="resize"]').first).to_be_visible()
    expect(frame.locator(".site-header")).to_be_hidden()
    _wait_ready(frame)
    _replace_code(page, SOLUTION, scope=frame)
    frame.get_by_role("button", name="Vérifier").click()
    expect(page.locator('#events li[data-type="progress"]')).to_have_count(
        1, timeout=RUN_TIMEOUT_MS
    )
    # A solve also brings the reference solution's panel, which grows the page once more: the
    # heights are compared once it is there.
    expect(frame.locator("#solution-panel summary")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    events = page.evaluate("window.decodeRunnerEvents")
    types = [e["type"] for e in events]
    assert {"ready", "resize", "run-started", "result", "progress"} <= set(types)
    assert all(e["source"] == "decode-runner" for e in events)
    result = next(e for e in events if e["type"] == "result")
    assert result["exercise"] == "bonjour-prenom"
    assert result["status"] == "passed"
    assert result["passed"] == result["total"] >= 2
    progress = next(e for e in events if e["type"] == "progress")
    assert progress["solved"] is True
    frame_box = page.locator("#exercise-frame")
    last_height = "() => window.decodeRunnerEvents.filter(e => e.type === 'resize').at(-1).height"
    page.wait_for_function(  # the host follows the frame's last resize
        f"() => Math.abs(document.querySelector('#exercise-frame').clientHeight"
        f" - Math.max(200, ({last_height})())) <= 1",
        timeout=5_000,
    )
    assert frame_box.evaluate("f => f.clientHeight") >= 200
    _shot(page, "embed-host")
    assert _csp_errors(console_errors) == []


def _axe(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag',"
        " values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


def _describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
    )


@pytest.mark.parametrize("width", [1280, 360])
def test_browser_axe_finds_no_serious_violation(
    browser: Browser, web_built: None, live_server: LiveServer, width: int
) -> None:
    # axe is injected as an inline script: only this context bypasses the page's CSP.
    context = browser.new_context(
        locale="fr-FR", viewport={"width": width, "height": 900}, bypass_csp=True
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        expect(page.locator(".exercise-item").first).to_be_visible()
        violations = _axe(page)
        assert violations == [], _describe(violations)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        _shot(page, f"axe-index-{width}")

        _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
        page.get_by_role("button", name="Afficher un indice").click()
        expect(page.locator(".hint")).to_have_count(1)
        page.get_by_role("button", name="Vérifier").click()
        expect(page.locator("#tests-list > li.test--failed").first).to_be_visible(
            timeout=RUN_TIMEOUT_MS
        )
        expect(page.locator("#run-button")).not_to_have_attribute("aria-disabled", "true")
        violations = _axe(page)
        assert violations == [], _describe(violations)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        _shot(page, f"axe-exercise-{width}")
    finally:
        context.close()
