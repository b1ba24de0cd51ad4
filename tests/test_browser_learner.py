"""The learner's side of the exercise page, in a real Chromium against the real server and sandbox:
a program waiting for input, an output flood, offline and cut connections, the saved indicator,
touch screens, the English interface and what screen readers are told.

Each scenario saves a screenshot in test-artifacts/screenshots/ (prefix ``learner-``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("playwright")
from fixtures_server import LiveServer
from playwright.sync_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Route,
    WebSocketRoute,
    expect,
)
from test_browser import (  # noqa: F401  (browser, web_built: fixtures used here)
    RUN_TIMEOUT_MS,
    SOLUTION,
    _axe,
    _describe,
    _open_exercise,
    _replace_code,
    _shot,
    browser,
    web_built,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 900}
WAITING = "Ton programme attend que tu écrives quelque chose."
CUT = "La connexion au serveur a été coupée ; relance ton programme."
ANNOUNCER = "div.sr-only[role=status]"

# 5,000 lines of 13 bytes: 65,000 bytes, just under the default 64 KiB output limit.
FLOOD_LINES = 5000
FLOOD = f'for i in range({FLOOD_LINES}):\n    print(f"Ligne {{i:06d}}")\n'
# About 10,000 lines a second until stopped (or until the server's output limit).
STREAM = (
    "import time\ni = 0\nwhile True:\n    print(f'Flot {i:07d}')\n    i += 1\n"
    "    if i % 100 == 0:\n        time.sleep(0.01)\n"
)
# The page renders a flood once per animation frame, and the server joins output into one message
# per 20 ms at most (runner.web.outgoing): measured 39-73 ms here, the flood in 2-3 messages. When
# the server sent one message per write, a loaded machine sent 440-1052 messages and the page spent
# 116-306 ms, once over this budget; drawing every line as it came cost thousands of ms.
MAIN_THREAD_BUDGET_MS = 300.0
STOP_BUDGET_MS = 100.0

# Test-side probe (never in the product): when the page starts handling a click on Stop, and when
# the next frame after that click is produced, both measured from the input event's own timestamp.
STOP_PROBE = """() => {
  window.__stopTiming = null;
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#stop-button")) return;
    const handled = performance.now() - event.timeStamp;
    requestAnimationFrame(() => setTimeout(() => {
      window.__stopTiming = {handled, frame: performance.now() - event.timeStamp};
    }));
  }, true);
}"""
OUTPUT_MESSAGE = re.compile(r'"type":\s*"output"')
# Waits in the page, without polling, for the end of the run, then two more frames (the last output
# on screen). Playwright's own waiting (expect) would poll the whole console on the very main
# thread being measured.
RUN_ENDED = """(timeout) => new Promise((done, fail) => {
  const status = document.querySelector("#run-status");
  const ended = () => status.matches(".run-status--ok, .run-status--error");
  const finish = () => requestAnimationFrame(() => requestAnimationFrame(done));
  if (ended()) return finish();
  const timer = setTimeout(() => fail(new Error("the run did not end")), timeout);
  new MutationObserver((changes, observer) => {
    if (!ended()) return;
    observer.disconnect();
    clearTimeout(timer);
    finish();
  }).observe(status, {attributes: true, attributeFilter: ["class"]});
})"""
NEXT_FRAMES = (
    "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
)


@pytest.fixture
def contexts(
    browser: Browser,  # noqa: F811
    web_built: None,  # noqa: F811
) -> Iterator[Callable[..., BrowserContext]]:
    """New browser contexts (French, desktop unless told), all closed at the end. axe-core is
    injected as an inline script: only these test contexts bypass the page's CSP."""
    opened: list[BrowserContext] = []

    def open_context(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {"locale": "fr-FR", "viewport": DESKTOP, "bypass_csp": True}
        settings.update(options)
        context = browser.new_context(**settings)
        opened.append(context)
        return context

    try:
        yield open_context
    finally:
        for context in opened:
            # A route handler may still be fetching for a page whose test is over (the page
            # refreshes its counts after a run): closing would fail it, and Playwright would raise
            # that failure inside the next test's first call.
            for page in context.pages:
                page.unroute_all(behavior="ignoreErrors")
            context.close()


def _assert_accessible(page: Page) -> None:
    violations = _axe(page)
    assert violations == [], _describe(violations)
    viewport = page.viewport_size
    assert viewport is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def _main_thread_ms(cdp: CDPSession) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"]) * 1000


@pytest.mark.parametrize("width", [375, 1280])
def test_learner_input_without_question_waits_and_takes_the_focus(
    contexts: Callable[..., BrowserContext], live_server: LiveServer, width: int
) -> None:
    phone = width == 375
    page = contexts(viewport=PHONE if phone else DESKTOP).new_page()
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    _replace_code(page, SOLUTION)  # input() without a question
    if phone:
        page.get_by_role("button", name="Exécuter").click()
    else:
        page.keyboard.press("Control+Enter")  # from the editor, as a keyboard user does
    waiting = page.locator("#stdin-waiting")
    expect(waiting).to_have_text(WAITING, timeout=RUN_TIMEOUT_MS)
    field = page.get_by_label("Répondre à ton programme")
    expect(field).to_be_focused()
    expect(field).to_be_in_viewport()
    expect(waiting).to_be_in_viewport()
    # While it waits, the console does not say that nothing happens.
    placeholder = page.locator("#console .console-placeholder")
    expect(placeholder).not_to_have_text("Ce que ton programme affiche apparaîtra ici.")
    expect(placeholder).to_contain_text("il attend que tu écrives")
    _shot(page, f"learner-waiting-{width}")
    if phone:
        _assert_accessible(page)

    page.keyboard.type("Ada")  # where the focus is: the field, not the code
    page.keyboard.press("Enter")
    console = page.locator("#console")
    expect(console.locator(".console-stdin")).to_contain_text("Ada")
    expect(console.locator(".console-stdout")).to_have_text(
        "Bonjour, Ada !\n", timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator("#stdin-form")).to_be_hidden(timeout=RUN_TIMEOUT_MS)
    expect(page.locator(".cm-content")).not_to_contain_text("Ada")
    if not phone:
        expect(page.locator(".cm-content")).to_be_focused()  # back where the run was started


def test_learner_question_is_shown_as_asked(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    page = contexts().new_page()
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    _replace_code(page, 'prenom = input("Ton prénom ? ")\nprint("Bonjour, " + prenom + " !")\n')
    page.keyboard.press("Control+Enter")
    # input()'s question comes as the stream "prompt": inline, set apart, and named near the field.
    expect(page.locator("#console .console-prompt")).to_have_text(
        "Ton prénom ? ", timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator("#stdin-waiting")).to_have_text(
        "Ton programme attend ta réponse à « Ton prénom ? »."
    )
    field = page.get_by_label("Répondre à ton programme")
    expect(field).to_be_focused()
    page.keyboard.type("Léa")
    page.keyboard.press("Enter")
    expect(page.locator("#console .console-stdout")).to_have_text(
        "Bonjour, Léa !\n", timeout=RUN_TIMEOUT_MS
    )
    _shot(page, "learner-question")


def test_learner_output_flood_stays_within_budget_and_stop_answers(
    contexts: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    """Main-thread time is measured by Chromium itself (DevTools ``Performance.getMetrics``):
    ``TaskDuration`` sums every task the page's main thread ran (scripts, style, layout, paint
    recording) and, with ``timeDomain: threadTicks``, counts that thread's CPU time, so another
    process busy on this shared 2-CPU machine does not inflate it. The window runs from just
    before Ctrl+Entrée to two frames after the run ended on screen, so it holds the whole run as
    the page lives it (receiving, parsing, rendering; about 12 ms of it is the idle page over
    the ~2 s the container takes), and nothing of the test's own waiting (see RUN_ENDED).
    Stop is timed by STOP_PROBE, from the click's own timestamp, while ~10,000 lines a second
    still arrive."""
    server = server_factory(output_bytes=1024 * 1024)  # room for a flood that lasts (STREAM)
    context = contexts()
    page = context.new_page()
    outputs: list[int] = []  # output messages, to tell how the flood arrived
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: outputs.append(1) if OUTPUT_MESSAGE.search(str(payload)) else None,
        ),
    )
    _open_exercise(page, f"{server.url}/exercise/bonjour-monde")
    _replace_code(page, FLOOD)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    before = _main_thread_ms(cdp)
    page.keyboard.press("Control+Enter")  # from the editor: no actionability polling in the page
    page.evaluate(RUN_ENDED, RUN_TIMEOUT_MS)
    spent = _main_thread_ms(cdp) - before
    console = page.locator("#console")
    expect(console.locator(".console-stdout").last).to_contain_text(f"Ligne {FLOOD_LINES - 1:06d}")
    expect(page.locator("#run-status")).to_have_class(re.compile("run-status--ok"))
    kept = console.evaluate("el => el.textContent.split('\\n').length")
    print(
        f"\nflood: {FLOOD_LINES} lines (65,000 bytes) in {len(outputs)} output messages: "
        f"{spent:.0f} ms of main-thread time (budget {MAIN_THREAD_BUDGET_MS:.0f} ms), "
        f"{kept} lines left in the DOM"
    )
    expect(console.locator(".console-hidden")).to_have_text(
        re.compile(r"^… [\d\s]+ lignes masquées$")
    )
    assert kept <= 1010
    assert spent <= MAIN_THREAD_BUDGET_MS
    _shot(page, "learner-flood")

    page.evaluate(STOP_PROBE)
    _replace_code(page, STREAM)
    page.get_by_role("button", name="Exécuter").click()
    # Over 1,000 lines already: the flood is on (it lasts about 7 s before the output limit).
    expect(console.locator(".console-hidden")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    streaming = _main_thread_ms(cdp)
    # Not a wait for something: the window over which the page's load is measured.
    page.evaluate("() => new Promise((done) => setTimeout(done, 1000))")
    load = (_main_thread_ms(cdp) - streaming) / 10  # ms per second → per cent
    page.get_by_role("button", name="Arrêter").click()
    timing = page.wait_for_function("window.__stopTiming").json_value()
    print(
        f"during a flood of ~10,000 lines/s: main thread busy {load:.0f} % of the time; "
        f"Stop handled {timing['handled']:.0f} ms after the click, next frame at "
        f"{timing['frame']:.0f} ms (budget {STOP_BUDGET_MS:.0f} ms)"
    )
    assert timing["frame"] <= STOP_BUDGET_MS
    expect(page.locator("#run-status")).to_contain_text(
        "Exécution arrêtée.", timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator("#stop-button")).to_have_attribute("aria-disabled", "true")


def test_learner_offline_says_it_waits_then_goes_on(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    context = contexts(viewport=PHONE)
    page = context.new_page()
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    indicator = page.locator("#save-indicator")
    expect(indicator).to_have_text("✓ Enregistré")
    banner = page.locator("#conn-banner")

    context.set_offline(True)
    # At once: within 4 s, where a retry would come 5 s later.
    expect(banner).to_contain_text("Tu es hors ligne.", timeout=4_000)
    _replace_code(page, 'print("Bonjour, le monde !")\n')
    expect(indicator).to_have_text("• Non enregistré")
    run = page.get_by_role("button", name="Exécuter")
    expect(run).to_have_attribute("aria-disabled", "true")  # said unavailable, yet it answers:
    run.click(force=True)
    status = page.locator("#run-status")
    expect(status).to_have_text(
        "Pas de connexion pour l'instant : ton programme partira dès qu'elle reviendra."
    )
    page.get_by_role("button", name="Afficher un indice").click()
    expect(page.locator("#hints-status")).to_contain_text("l'indice s'affichera")
    _shot(page, "learner-offline")
    _assert_accessible(page)

    context.set_offline(False)
    expect(banner).to_have_text("Connexion rétablie.")  # shown for a few seconds
    expect(page.locator("#console .console-stdout")).to_have_text(
        "Bonjour, le monde !\n", timeout=RUN_TIMEOUT_MS
    )
    expect(status).to_have_class(re.compile("run-status--ok"))
    expect(page.locator(".hint")).to_have_count(1)
    expect(page.locator("#hints-status")).to_be_empty()
    expect(indicator).to_have_text("✓ Enregistré")


def test_learner_run_cut_by_a_server_stop_says_so(
    contexts: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory(shutdown_grace_s=1)
    page = contexts(viewport=PHONE).new_page()
    _open_exercise(page, f"{server.url}/exercise/bonjour-prenom")
    _replace_code(page, SOLUTION)
    page.get_by_role("button", name="Exécuter").click()
    expect(page.locator("#stdin-waiting")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    server.stop()  # SIGTERM: the run is stopped after the grace, then the server exits
    status = page.locator("#run-status")
    expect(status).to_have_text(CUT, timeout=10_000)
    expect(page.locator("#console .console-note").last).to_have_text(CUT)
    expect(page.locator("#console")).not_to_contain_text("Exécution arrêtée.")
    expect(page.locator("#stdin-form")).to_be_hidden()
    expect(page.locator("#conn-banner")).to_have_text("Connexion perdue — reconnexion…")
    _shot(page, "learner-cut")
    _assert_accessible(page)


def test_learner_run_lost_in_a_silent_socket_is_sent_again(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    """A socket that looks open but carries nothing (a phone between two networks): the page
    does not say "Envoi…" for ever, it connects again and sends the run once more."""
    context = contexts()
    swallowed: list[str | bytes] = []

    def through(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if not swallowed and '"type":"run"' in str(message):
                swallowed.append(message)  # lost on the way: the server never hears of it
            else:
                server.send(message)

        ws.on_message(from_page)

    context.route_web_socket(re.compile(r"/ws\?"), through)
    page = context.new_page()
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    _replace_code(page, 'print("Bonjour, le monde !")\n')
    page.get_by_role("button", name="Exécuter").click()
    expect(page.locator("#run-status")).to_have_text("Envoi…")
    expect(page.locator("#console .console-stdout")).to_have_text(
        "Bonjour, le monde !\n", timeout=25_000
    )
    assert len(swallowed) == 1


def _hold(page: Page, pattern: str) -> list[Route]:
    """Requests matching ``pattern`` wait (unanswered) in the returned list."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(pattern, hold)
    return held


def _first_held(page: Page, held: list[Route]) -> Route:
    """The first held request, once its route event has reached this side (the page may show
    the request started a little before)."""
    deadline = time.monotonic() + 10
    while not held:  # each Playwright call dispatches pending events, the route's among them
        assert time.monotonic() < deadline, "the request was never held"
        page.wait_for_timeout(20)
    return held[0]


def test_learner_saved_indicator_and_counts(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    page = contexts().new_page()

    def with_counts(route: Route) -> None:  # the server does not send them yet
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "checks": 2, "runs": 5})

    page.route(re.compile(r"/api/exercises/double$"), with_counts)
    _open_exercise(page, f"{live_server.url}/exercise/double")
    counts = page.locator("#ex-attempts")
    expect(counts).to_have_text("Essais : 2 · Exécutions : 5")
    indicator = page.locator("#save-indicator")
    expect(indicator).to_have_text("✓ Enregistré")

    held = _hold(page, "**/api/exercises/double/code")
    _replace_code(page, "x = 21\nprint(x * 2)\n", typed=True)
    expect(indicator).to_have_text("• Non enregistré")
    expect(indicator).to_have_text("↻ Enregistrement…", timeout=5_000)  # the PUT, 2 s later
    _shot(page, "learner-saving")
    request = _first_held(page, held)
    page.unroute("**/api/exercises/double/code")
    request.continue_()
    expect(indicator).to_have_text("✓ Enregistré")
    learner = page.evaluate("localStorage.getItem('decode-runner:learner')")
    assert (
        live_server.get_json("/api/exercises/double", learner)[1]["code"]
        == "x = 21\nprint(x * 2)\n"
    )

    held = _hold(page, "**/api/exercises/double/code")  # from now on, only a run can save
    _replace_code(page, "print(42)\n")
    page.get_by_role("button", name="Exécuter").click()
    expect(page.locator("#console .console-stdout")).to_have_text("42\n", timeout=RUN_TIMEOUT_MS)
    expect(indicator).to_have_text("✓ Enregistré")  # `started` said saved: true
    expect(counts).to_have_text("Essais : 2 · Exécutions : 6")
    _shot(page, "learner-saved")

    check = page.get_by_role("button", name="Vérifier")
    check.click()
    expect(page.locator("#tests-summary")).not_to_be_empty(timeout=RUN_TIMEOUT_MS)
    expect(check).to_be_focused()  # a wide screen shows the results in place: the focus stays
    # The check's `progress` carries the server's own counts (the ones above were made up).
    expect(counts).to_have_text("Essais : 1 · Exécutions : 1")


def test_learner_touch_screen_has_no_shortcut_help(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    touch = contexts(viewport=PHONE, has_touch=True, is_mobile=True).new_page()
    _open_exercise(touch, f"{live_server.url}/exercise/bonjour-monde")
    assert touch.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches")
    expect(touch.locator(".shortcut-help")).to_be_hidden()
    expect(touch.get_by_text("Ctrl+Entrée")).to_have_count(1)  # in the DOM, never shown
    expect(touch.get_by_text("Ctrl+Entrée")).to_be_hidden()
    _shot(touch, "learner-touch")

    mouse = contexts(viewport=PHONE).new_page()
    _open_exercise(mouse, f"{live_server.url}/exercise/bonjour-monde")
    expect(mouse.locator(".shortcut-help")).to_be_visible()


def test_learner_english_interface_marks_french_and_speaks_explanations(
    contexts: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    page = contexts(viewport=PHONE, locale="en-GB").new_page()
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for selector in ("#ex-title", "#instructions"):
        expect(page.locator(selector)).to_have_attribute("lang", "fr")
    page.get_by_role("button", name="Show a hint").click()
    expect(page.locator(".hint .hint-text")).to_have_attribute("lang", "fr")

    _replace_code(page, 'prenom = input()\nprnt("Bonjour")\n')
    page.get_by_role("button", name="Run").click()
    field = page.get_by_label("Answer your program")
    expect(field).to_be_focused(timeout=RUN_TIMEOUT_MS)
    field.fill("Ada")
    field.press("Enter")
    title = page.locator("#result .explanation-title")
    expect(title).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(title).to_have_attribute("lang", "fr")
    expect(page.locator("#run-status span[lang=fr]")).not_to_be_empty()
    spoken = page.locator(ANNOUNCER)
    expect(spoken.locator("span[lang=fr]")).to_contain_text(title.inner_text().strip())
    expect(spoken).not_to_contain_text("Traceback")

    _replace_code(page, 'prenom = input()\nprint("Bonjour " + prenom)\n')
    page.get_by_role("button", name="Check").click()
    summary = page.locator("#tests-summary")
    expect(summary).to_be_focused(timeout=RUN_TIMEOUT_MS)  # narrow screen: the results come to you
    expect(summary).to_be_in_viewport()
    first = page.locator("#tests-list > li.test--failed").first
    name = first.locator(".test-name").inner_text()  # "Hidden test" if a hidden one ended first
    expect(first.locator(".test-message")).to_have_attribute("lang", "fr")
    expect(page.locator("#tests-list .test-name[lang=fr]", has_text="Léa")).to_have_count(1)
    expect(spoken).to_contain_text(f"First failed test: {name}.")
    expect(spoken.locator("span[lang=fr]")).to_contain_text(
        first.locator(".test-message").inner_text().strip()
    )
    _shot(page, "learner-english-check")

    page.goto(f"{live_server.url}/?lang=en")  # the course index: its titles are French too
    expect(page.locator(".exercise-link").first).to_have_attribute("lang", "fr")
    expect(page.locator("#course-title")).to_have_attribute("lang", "fr")
