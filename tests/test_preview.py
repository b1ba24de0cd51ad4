"""``decode-runner preview``: the watcher and the author's views (units), then a real preview server
on a copy of the course, in a real Chromium: live updates without a reload, spec problems shown
and cleared, the solution and hidden tests in the author's panel, and "Valider".

Each browser scenario saves a screenshot in test-artifacts/screenshots/ (prefix ``preview-``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("playwright")
from fixtures_server import LiveServer, _wait_ready, free_port
from playwright.sync_api import Browser, Page, expect
from test_browser import (  # noqa: F401  (browser, web_built: fixtures used here)
    _collect_errors,
    _csp_errors,
    _replace_code,
    _shot,
    browser,
    web_built,
)
from test_browser import _wait_ready as _wait_editor

from runner.authoring import CourseWatcher, Verdict, folder_state, table_rows
from runner.authoring.validation import TABLE_COLUMNS
from runner.authoring.views import author_view, validation_view
from runner.cli import build_parser
from runner.exercises import Catalog, Course, SpecError, load_catalog

ROOT = Path(__file__).resolve().parent.parent
# The feature's promise: a saved spec shows in the open page within 2 s.
UPDATE_WITHIN_MS = 2_000
VALIDATE_TIMEOUT_MS = 60_000


# --------------------------------------------------------------------------- units (fast)
def _empty_catalog(root: Path) -> Catalog:
    return Catalog(course=Course(title=str(root), weeks=()), exercises={}, errors=[])


def _course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", course)
    return course


@pytest.mark.anyio
async def test_course_watcher_reloads_once_per_change(tmp_path: Path) -> None:
    spec = tmp_path / "a.json"
    spec.write_text("{}", encoding="utf-8")
    loads: list[Path] = []

    def load(root: Path) -> Catalog:
        loads.append(root)
        return _empty_catalog(root)

    published: list[Catalog] = []
    watcher = CourseWatcher(tmp_path, load=load)
    assert await watcher.poll(published.append)
    assert not await watcher.poll(published.append)
    spec.write_text('{"changed": true}', encoding="utf-8")
    assert await watcher.poll(published.append)
    assert (len(loads), len(published), watcher.version) == (2, 2, 2)
    assert watcher.catalog is published[-1]


@pytest.mark.anyio
async def test_course_watcher_wakes_a_waiter_on_a_change_and_on_release(tmp_path: Path) -> None:
    watcher = CourseWatcher(tmp_path, load=_empty_catalog)
    seen: list[int] = []

    async def wait() -> None:
        seen.append(await watcher.wait_past(watcher.version))

    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        (tmp_path / "new.json").write_text("{}", encoding="utf-8")
        await watcher.poll(lambda catalog: None)
    assert seen == [1]
    watcher.release()
    with anyio.fail_after(5):
        assert await watcher.wait_past(watcher.version) == 1


def test_folder_state_sees_an_atomic_save(tmp_path: Path) -> None:
    spec = tmp_path / "week" / "a.json"
    spec.parent.mkdir()
    spec.write_text("{}", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a spec", encoding="utf-8")
    before = folder_state(tmp_path)
    assert list(before) == [str(spec)]
    temporary = tmp_path / "week" / ".a.json.swp"
    temporary.write_text("{}", encoding="utf-8")  # same content, saved as editors do: a rename
    os.replace(temporary, spec)
    assert folder_state(tmp_path) != before


def test_author_view_and_validation_view_show_what_validate_prints() -> None:
    catalog = load_catalog(ROOT / "exercises")
    double = catalog.exercises["double"]
    view = author_view(double)
    assert view["solution"] == double.solution
    hidden = [t for t in view["tests"] if t["hidden"]]
    assert hidden and hidden[0]["stdin"] == double.tests[-1].stdin
    problem = SpecError("x.json", "/starter", "passes every test; it must fail one")
    result = validation_view([double], {"double": Verdict("✓", "✗")}, [problem], run=True)
    assert result["columns"] == list(TABLE_COLUMNS)
    assert result["rows"] == table_rows([double], {"double": Verdict("✓", "✗")}, run=True)
    assert result["rows"][0][-2:] == ["✓", "✗"]
    assert result["problems"][0]["pointer"] == "/starter"
    assert result["summary"] == "1 problem"


def test_preview_listens_on_loopback_by_default() -> None:
    args = build_parser().parse_args(["preview"])
    assert (args.host, args.path) == ("127.0.0.1", Path("exercises"))


# --------------------------------------------------------------------------- in Chromium
# --------------------------------------------------------------------------- in Chromium
def start_preview(instance: str, course: Path, workdir: Path) -> LiveServer:
    """``python -m runner preview COURSE`` on a free port, ready once /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "DECODE_PORT": str(port),
        "DECODE_NODE_ID": instance,
        "DECODE_POOL_SIZE": "0",
        "DECODE_WEB_DIR": str(ROOT / "web" / "dist"),
        "DECODE_LOG_LEVEL": "info",
    }
    log_path = workdir / f"preview-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "preview", str(course)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(url, f"ws://127.0.0.1:{port}/ws", process, env, log_path, "")
    _wait_ready(server)
    _watching(server)
    return server


def _watching(server: LiveServer) -> None:
    """Wait for the watcher's first look at the folder (version 1): a write made before it could
    otherwise be taken for the course as it started, and its reload for the one after the write."""
    with urllib.request.urlopen(server.url + "/preview/events", timeout=10) as events:
        while True:
            line = events.readline()
            if line.startswith(b"data:") and json.loads(line[5:])["version"] >= 1:
                return


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return _course_copy(tmp_path)


@pytest.fixture
def preview(instance: str, course: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_preview(instance, course, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, web_built: None, errors: list[str]) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="fr-FR", viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    _collect_errors(opened, errors)
    try:
        yield opened
    finally:
        context.close()


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    change(spec)
    path.write_text(json.dumps(spec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _saved(server: LiveServer, write: Callable[[], None]) -> None:
    """``write()``, then return once the server has reloaded the course (its next event)."""
    with urllib.request.urlopen(server.url + "/preview/events", timeout=10) as events:
        _next_event(events)  # the current version: the stream is open before the write
        write()
        _next_event(events)


def _next_event(events: Any) -> None:
    while not events.readline().startswith(b"data:"):
        pass


def _open_live(page: Page, url: str) -> None:
    """Open the exercise page; ready once the editor works and the panel follows the folder."""
    page.goto(url)
    _wait_editor(page)
    expect(page.locator("#author-panel")).to_have_attribute("data-live", "true")
    page.evaluate("window.previewMarker = 'same page'")


def _same_page(page: Page) -> bool:
    return bool(page.evaluate("window.previewMarker === 'same page'"))


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.docker
def test_preview_page_updates_on_save_without_a_reload(
    page: Page, preview: LiveServer, course: Path, errors: list[str]
) -> None:
    _open_live(page, f"{preview.url}/exercise/double")
    _replace_code(page, "print('mon essai')")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    def change(spec: dict[str, Any]) -> None:
        spec["title"] = "Le double, version 2"
        spec["instructions"] = ["# Le double", "", "Consigne réécrite pendant l'aperçu."]
        spec["tests"][0]["stdin"] = "21\n"
        spec["tests"][0]["expected"] = "42"

    _edit(course / "semaine-1" / "double.json", change)
    instructions = page.locator("#instructions")
    expect(instructions).to_contain_text("Consigne réécrite", timeout=UPDATE_WITHIN_MS)
    expect(page.locator("#ex-title")).to_have_text("Le double, version 2")
    expect(page.locator("#examples-list")).to_contain_text("42")
    expect(page.locator("#author-tests")).to_contain_text("21")
    assert _same_page(page) and navigations == []
    expect(page.locator(".cm-content")).to_contain_text("print('mon essai')")
    assert not _csp_errors(errors) and not errors
    _shot(page, "preview-live-update")


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.docker
def test_preview_shows_a_broken_spec_with_file_and_pointer_until_fixed(
    page: Page, preview: LiveServer, course: Path
) -> None:
    _open_live(page, f"{preview.url}/exercise/double")
    spec = course / "semaine-1" / "double.json"
    original = spec.read_text(encoding="utf-8")
    _edit(spec, lambda s: s.update(language="ruby"))
    problem = page.locator('#author-problems .preview-problem[data-pointer="/language"]')
    expect(problem).to_contain_text("semaine-1/double.json", timeout=UPDATE_WITHIN_MS)
    expect(problem).to_contain_text("'ruby' is not one of")
    assert str(problem.get_attribute("data-path")).endswith("semaine-1/double.json")
    expect(page.locator("#author-missing")).to_be_visible()
    expect(page.locator("#ex-title")).to_have_text("Le double d'un nombre")  # last good version
    _shot(page, "preview-broken-spec")

    spec.write_text(original.replace('"title": "', '"title": "Réparé : ', 1), encoding="utf-8")
    expect(page.locator("#author-problems .preview-problem")).to_have_count(
        0, timeout=UPDATE_WITHIN_MS
    )
    expect(page.locator("#author-problems")).to_contain_text("Aucun problème")
    expect(page.locator("#ex-title")).to_have_text("Réparé : Le double d'un nombre")
    expect(page.locator("#author-missing")).to_be_hidden()
    assert _same_page(page)


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.docker
def test_preview_page_of_a_broken_exercise_loads_once_fixed(
    page: Page, preview: LiveServer, course: Path
) -> None:
    spec = course / "semaine-1" / "double.json"
    original = spec.read_text(encoding="utf-8")
    broken = original.replace('"id": "double",', '"id": "double"', 1)
    _saved(preview, lambda: spec.write_text(broken, encoding="utf-8"))
    page.goto(f"{preview.url}/exercise/double")
    problem = page.locator('#author-problems .preview-problem[data-pointer="/"]')
    expect(problem).to_contain_text("invalid JSON")
    expect(page.locator("#page-error")).to_be_visible()
    expect(page.locator("#author-panel")).to_have_attribute("data-live", "true")
    page.evaluate("window.previewMarker = 'same page'")

    spec.write_text(original, encoding="utf-8")
    expect(page.locator("#ex-title")).to_have_text(
        "Le double d'un nombre", timeout=UPDATE_WITHIN_MS
    )
    _wait_editor(page)
    expect(page.locator("#author-problems .preview-problem")).to_have_count(0)
    assert _same_page(page)


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.docker
def test_preview_panel_shows_solution_hidden_tests_and_validates(
    page: Page, preview: LiveServer, errors: list[str]
) -> None:
    _open_live(page, f"{preview.url}/exercise/double")
    panel = page.locator("#author-panel")
    expect(panel.locator("#author-solution")).to_have_text("n = int(input())\nprint(n * 2)\n")
    hidden = panel.locator('#author-tests li[data-hidden="true"]')
    expect(hidden).to_contain_text("Un nombre négatif")
    expect(hidden).to_contain_text("-14")
    expect(hidden).to_contain_text("en dessous de zéro")

    panel.get_by_role("button", name="Valider").click()
    table = panel.locator("#author-validation table")
    expect(table).to_be_visible(timeout=VALIDATE_TIMEOUT_MS)
    headers = table.locator("thead th").all_inner_texts()
    assert headers == list(TABLE_COLUMNS)
    cells = table.locator("tbody tr").first.locator("th, td").all_inner_texts()
    assert cells == ["double", "1", "py", "3", "1", "2", "✓", "✓"]
    expect(panel.locator("#author-validation")).to_contain_text("0 problems")
    assert not _csp_errors(errors)
    _shot(page, "preview-validate")


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.docker
def test_preview_overview_lists_exercises_and_problems_live(
    page: Page, preview: LiveServer, course: Path, errors: list[str]
) -> None:
    page.goto(f"{preview.url}/preview")
    expect(page.locator("body")).to_have_attribute("data-live", "true")
    expect(page.locator("#author-problems")).to_contain_text("Aucun problème")
    link = page.locator('#preview-exercises a[href="/exercise/double"]')
    expect(link).to_have_text("Le double d'un nombre")
    page.evaluate("window.previewMarker = 'same page'")

    _edit(course / "semaine-1" / "double.json", lambda s: s["tests"][0].update(hiden=True))
    problem = page.locator('#author-problems .preview-problem[data-pointer="/tests/0"]')
    expect(problem).to_contain_text("'hiden' was unexpected", timeout=UPDATE_WITHIN_MS)
    expect(link).to_have_count(0)
    assert _same_page(page) and not _csp_errors(errors)
    _shot(page, "preview-overview")


@pytest.mark.server
@pytest.mark.docker
def test_learners_server_has_no_preview_routes(live_server: LiveServer) -> None:
    for path in ("/preview/api/exercises/double", "/preview/api/course", "/preview"):
        status, _ = live_server.get_json(path)
        assert status == 404, path
    status, body = live_server.request("GET", "/exercise/double")
    assert status == 200 and b"preview-panel" not in body
