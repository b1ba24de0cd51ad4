"""An LMS course page framing the runner through LTI 1.3, in a real Chromium with third-party
cookies blocked: the platform is tests/fixtures_lti.py (the PyPI library ``lti1p3platform``) on
http://localhost, the runner on http://127.0.0.1, two sites.

- Moodle's path (no platform storage): the state comes back in a partitioned cookie;
- Canvas's path (``lti_storage_target``): the state goes through the platform's postMessage
  storage, and no cookie is set;
- each ends with the exercise solved in the frame and the score in the platform's gradebook;
- Deep Linking from the picker, in the frame; Dynamic Registration from the admin's page.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("playwright")
from fixtures_lti import LtiPlatform
from fixtures_server import LiveServer
from playwright.sync_api import Browser, Frame, Page, expect
from test_browser import RUN_TIMEOUT_MS, SOLUTION, _replace_code, _shot, _wait_ready
from test_browser_platform import STORAGE_PROBE, browser  # noqa: F401 (a fixture)
from test_lti_server import cli, register_by_hand

pytestmark = [pytest.mark.browser, pytest.mark.docker]

EXERCISE = "bonjour-prenom"


@pytest.fixture
def runner(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory(webhook_first_retry_s=0.3, webhook_max_retry_s=0.6)


@pytest.fixture
def lms(lti_platform: LtiPlatform, runner: LiveServer) -> LtiPlatform:
    register_by_hand(lti_platform, runner)
    return lti_platform


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def _tool_frame(page: Page, runner: LiveServer) -> Frame:
    for frame in page.frames:
        if frame.url.startswith(runner.url + "/embed/"):
            return frame
    raise AssertionError(f"no runner frame among {[f.url for f in page.frames]}")


def _solve_in_frame(page: Page, lms: LtiPlatform, runner: LiveServer, user: str) -> None:
    frame = page.frame_locator("#tool")
    _wait_ready(frame)
    # The frame is third-party with its storage blocked, and its URL lost the one-time code.
    runner_frame = _tool_frame(page, runner)
    assert runner_frame.evaluate(STORAGE_PROBE)["localStorage"] == "SecurityError"
    assert "handoff=" not in runner_frame.url
    _replace_code(page, SOLUTION, scope=frame)
    frame.get_by_role("button", name="Vérifier").click()
    expect(frame.locator("#result")).to_contain_text("Exercice réussi", timeout=RUN_TIMEOUT_MS)
    assert lms.wait_for(lambda p: bool(_scores(p, user)), timeout=30)
    (score,) = _scores(lms, user)
    assert (
        score["scoreGiven"] == score["scoreMaximum"] and score["gradingProgress"] == "FullyGraded"
    )


def _scores(lms: LtiPlatform, user: str) -> list[dict[str, object]]:
    try:
        return lms.scores(f"rl-{EXERCISE}", user)
    except KeyError:
        return []


def test_moodle_s_path_a_partitioned_cookie_then_solve_and_grade(
    page: Page, lms: LtiPlatform, runner: LiveServer
) -> None:
    page.goto(lms.course_url(EXERCISE, user="ada"))
    _solve_in_frame(page, lms, runner, "ada")
    cookies = page.context.cookies(runner.url)
    assert not [c for c in cookies if c["name"].startswith("lti_state_")]  # used, then dropped
    _shot(page, "lti-moodle-path")
    # Reloading the course page launches again: the same learner, solved, code kept.
    page.reload()
    frame = page.frame_locator("#tool")
    _wait_ready(frame)
    expect(frame.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")


def test_canvas_s_path_postmessage_storage_then_solve_and_grade(
    page: Page, lms: LtiPlatform, runner: LiveServer
) -> None:
    page.goto(lms.course_url(EXERCISE, user="grace", storage=True))
    _solve_in_frame(page, lms, runner, "grace")
    subjects = [m.get("subject") for m in page.evaluate("window.ltiMessages")]
    assert "lti.put_data" in subjects and "lti.get_data" in subjects
    assert not [c for c in page.context.cookies(runner.url) if c["name"].startswith("lti_state")]
    _shot(page, "lti-canvas-path")


def test_deep_linking_picker_in_the_frame(page: Page, lms: LtiPlatform, runner: LiveServer) -> None:
    page.goto(lms.course_url(deep_link=True, user="prof", roles="Instructor"))
    frame = page.frame_locator("#tool")
    expect(frame.get_by_role("heading", name="Choisir des exercices")).to_be_visible(timeout=15_000)
    frame.get_by_label("Bonjour", exact=False).first.check()
    frame.locator('input[value="double"]').check()
    _shot(page, "lti-deep-linking-picker")
    frame.get_by_role("button", name="Ajouter au cours").click()
    assert lms.wait_for(lambda p: any(r.accepted for r in p.deep_link_responses), timeout=15)
    chosen = [item["custom"]["exercise"] for item in lms.content_items]
    assert "double" in chosen and len(chosen) == 2
    assert lms.errors == []


def test_dynamic_registration_from_the_admin_s_page(
    page: Page, lti_platform: LtiPlatform, runner: LiveServer
) -> None:
    invite = cli(runner, "invite", "--base-url", runner.url).stdout.strip()
    page.goto(lti_platform.registration_page_url(invite))
    assert lti_platform.registration_closed.wait(15), "the tool never posted lti.close"
    # The admin's page closes the registration frame on lti.close, as Moodle's does.
    expect(page.locator("#status")).to_have_text("Outil enregistré")
    _shot(page, "lti-dynamic-registration")
    assert lti_platform.issuer in cli(runner, "list").stdout
