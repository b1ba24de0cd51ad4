"""The learner's page through the cluster (HAProxy, two nodes, PostgreSQL): the node under a
running check is killed; the page says the check was cut, reconnects to the other node by
itself, keeps the code, and the next check passes there."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from fixtures_cluster import (
    connected_node,
    wait_for,
)
from playwright.sync_api import Browser, Page, expect
from test_browser import (  # noqa: F401  (browser, web_built: fixtures used here)
    RUN_TIMEOUT_MS,
    SOLUTION,
    _open_exercise,
    _replace_code,
    _shot,
    browser,
    web_built,
)

from runner.cli.cluster import LocalCluster

pytestmark = [
    pytest.mark.usefixtures("whole_cluster"),
    pytest.mark.browser,
    pytest.mark.docker,
    pytest.mark.postgres,
    pytest.mark.server,
    pytest.mark.timeout(300),  # the test also starts the cluster
]

CUT = "La connexion au serveur a été coupée ; relance ton programme."
# Each of the exercise's tests sleeps: the check is still running when its node is killed.
SLOW_SOLUTION = "import time\ntime.sleep(2)\n" + SOLUTION


@pytest.fixture
def page(browser: Browser, web_built: None) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 667})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_node_killed_under_the_page_s_check(cluster: LocalCluster, page: Page) -> None:
    _open_exercise(page, f"{cluster.url}/exercise/bonjour-prenom")
    _replace_code(page, SLOW_SOLUTION)
    page.get_by_role("button", name="Vérifier").click()
    expect(page.locator("#run-button")).to_have_attribute("aria-disabled", "true")
    wait_for(lambda: any(_serving(cluster)), "the page's socket on a node")
    victim = cluster.node(connected_node(cluster))
    assert victim.process is not None
    victim.process.send_signal(signal.SIGKILL)

    status = page.locator("#run-status")
    expect(status).to_have_text(CUT, timeout=10_000)
    expect(page.locator("#conn-banner")).to_have_text("Connexion rétablie.", timeout=20_000)
    expect(page.locator(".cm-content")).to_contain_text("time.sleep(2)")  # the code is kept
    _shot(page, "cluster-failover")

    _replace_code(page, SOLUTION)
    page.get_by_role("button", name="Vérifier").click()
    expect(page.locator("#result")).to_contain_text("Exercice réussi", timeout=RUN_TIMEOUT_MS)
    page.reload()  # the code the other node ran is the learner's, from the shared database
    expect(page.locator(".cm-content")).to_contain_text('print("Bonjour, " + prenom + " !")')
    expect(page.locator("#ex-status [data-status]")).to_have_attribute("data-status", "solved")


def _serving(cluster: LocalCluster) -> list[str]:
    try:
        return [connected_node(cluster)]
    except AssertionError:
        return []
