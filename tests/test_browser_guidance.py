"""What guides the learner, in a real Chromium against the real server and sandbox: running an
example's input, the reference solution (after success, or offered after failed checks), the
weeks' introductions and the "Reprendre" link.

Each scenario saves a screenshot in test-artifacts/screenshots/ (prefix ``guidance-``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from fixtures_server import LiveServer
from playwright.sync_api import Browser, Page, expect
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

ROOT = Path(__file__).resolve().parent.parent
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 900}
SOLUTION_TITLE = "Voir une solution de référence"


@pytest.fixture
def desktop(browser: Browser, web_built: None) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="fr-FR", viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser, web_built: None) -> Iterator[Page]:  # noqa: F811
    # axe is injected as an inline script: only this context bypasses the page's CSP.
    context = browser.new_context(locale="fr-FR", viewport=PHONE, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _check(page: Page) -> None:
    page.locator("#check-button").click()
    expect(page.locator("#tests-summary")).to_contain_text("Tests réussis", timeout=RUN_TIMEOUT_MS)


def test_guidance_example_runs_with_its_input(desktop: Page, live_server: LiveServer) -> None:
    page = desktop
    _, detail = live_server.get_json("/api/exercises/bonjour-prenom")
    example = detail["examples"][0]
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-prenom")
    _replace_code(page, SOLUTION)
    page.locator("#examples summary").click()
    page.get_by_role("button", name=f"Tester avec l'exemple « {example['name']} »").click()

    console = page.locator("#console")
    expect(console).to_contain_text(example["expected"].strip(), timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-status")).to_have_class(re.compile("run-status--ok"))
    # The input went with the run: the answer field was never needed.
    expect(page.locator("#stdin-form")).to_be_hidden()
    expect(page.locator("#tests-panel")).to_be_hidden()
    _shot(page, "guidance-example-run")


def test_guidance_solution_after_success(phone: Page, live_server: LiveServer) -> None:
    page = phone
    _open_exercise(page, f"{live_server.url}/exercise/bonjour-monde")
    expect(page.locator("#solution-panel")).to_be_hidden()
    _replace_code(page, 'print("Bonjour, le monde !")\n')
    _check(page)
    expect(page.locator("#result")).to_contain_text("Exercice réussi")

    summary = page.locator("#solution-panel summary")
    expect(summary).to_have_text(SOLUTION_TITLE)
    code = page.get_by_role("region", name="Solution de référence")
    expect(code).to_be_hidden()  # folded until asked for
    summary.click()
    expect(code).to_contain_text('print("Bonjour, le monde !")')
    expect(page.locator("#solution-panel")).to_contain_text("tout aussi juste")
    _shot(page, "guidance-solution-phone")

    violations = _axe(page)
    assert violations == [], _describe(violations)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Solved on an earlier visit: the detail carries it.
    page.reload()
    expect(page.locator("#solution-panel summary")).to_have_text(SOLUTION_TITLE)


def test_guidance_index_intro_and_resume(desktop: Page, live_server: LiveServer) -> None:
    page = desktop
    page.goto(f"{live_server.url}/")
    expect(page.locator(".week-intro").first).to_contain_text("tes premiers programmes")
    expect(page.locator("#resume")).to_be_hidden()  # nothing submitted yet

    _open_exercise(page, f"{live_server.url}/exercise/double")
    _check(page)  # the starter fails: "double" is where the learner left off

    page.goto(f"{live_server.url}/")
    _, detail = live_server.get_json("/api/exercises/double")
    resume = page.get_by_role("link", name=re.compile("^Reprendre :"))
    expect(resume).to_contain_text(detail["title"])
    _shot(page, "guidance-index-resume")
    resume.click()
    expect(page).to_have_url(re.compile(r"/exercise/double$"))
    expect(page.locator("h1")).to_have_text(detail["title"])


@pytest.fixture
def offering_server(server_factory: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    """A course where bonjour-monde offers its solution after one failed check."""
    course = tmp_path / "exercises"
    shutil.copytree(ROOT / "exercises", course)
    spec_path = course / "semaine-1" / "bonjour-monde.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["solution_after_failures"] = 1
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return server_factory(exercises_dir=course)


def test_guidance_solution_offered_after_failed_check(
    desktop: Page, offering_server: LiveServer
) -> None:
    page = desktop
    _open_exercise(page, f"{offering_server.url}/exercise/bonjour-monde")
    offer = page.get_by_role("button", name="Voir la solution")
    expect(offer).to_have_count(0)
    _replace_code(page, 'print("Au revoir")\n')
    _check(page)
    expect(page.locator("#tests-summary")).to_contain_text("0 sur")

    offer.click()
    page.get_by_role("button", name="Non, je continue").click()
    expect(offer).to_be_focused()
    offer.click()
    page.get_by_role("button", name="Oui, montrer la solution").click()
    code = page.get_by_role("region", name="Solution de référence")
    expect(code).to_contain_text('print("Bonjour, le monde !")')
    expect(page.locator("#solution-panel summary")).to_be_focused()
    _shot(page, "guidance-solution-offered")
