"""A trainer in a real Chromium: logs in through the form, reads the funnel and an exercise's
failures at 1280 px and on a tablet, and finds a learner; keyboard and landmarks work."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("playwright")
from fixtures_server import ROOT, LiveServer
from playwright.sync_api import Browser, Page, expect
from test_browser import _shot
from test_browser_platform import browser  # noqa: F401 (a fixture)
from test_trainer_server import EMAIL, EXERCISE, PASSWORD, _learner, _seed

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def trainer_server(live_server: LiveServer) -> LiveServer:
    subprocess.run(
        [sys.executable, "-m", "runner", "trainer", "add", EMAIL, "--password-stdin"],
        cwd=ROOT,
        env=live_server.env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _seed(live_server.database_url)).result()
    return live_server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_a_trainer_logs_in_and_finds_where_learners_get_stuck(
    page: Page, trainer_server: LiveServer
) -> None:
    page.goto(trainer_server.url + f"/formateur/exercices/{EXERCISE}")
    expect(page).to_have_url(
        f"{trainer_server.url}/formateur/connexion?suite=/formateur/exercices/{EXERCISE}"
    )
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")
    # Back where the trainer wanted to go, logged in.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Exercice")
    expect(page.get_by_role("navigation", name="Espace formateur")).to_be_visible()
    expect(page.get_by_text("Nom inconnu").first).to_be_visible()
    _shot(page, "trainer-exercise")
    page.get_by_role("link", name="Parcours du cours").click()
    expect(page.get_by_role("heading", name="Semaine 1", exact=False).first).to_be_visible()
    expect(page.locator("svg.trainer-chart").first).to_be_visible()
    # Nothing wider than the window at 1280 px or on a tablet.
    for width in (1280, 820):
        page.set_viewport_size({"width": width, "height": 1000})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than {width}px"
    _shot(page, "trainer-funnel-tablet")
    page.get_by_role("link", name="Apprenants à risque").click()
    page.locator(f'a[href="/formateur/apprenants/{_learner(6)}"]').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Apprenant")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(trainer_server.url + "/formateur/connexion")
    page.goto(trainer_server.url + "/formateur")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
