"""The HTTP API and pages, against a real uvicorn (no sandbox needed)."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures_server import LiveServer, assert_no_secret, secrets_of, start_server
from prometheus_client.parser import text_string_to_metric_families

from runner.exercises import Catalog, load_catalog
from runner.web.api import BODY_OVERHEAD_BYTES

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
EMBED_ORIGIN = "https://lms.example.org"
MAX_BODY = 64 * 1024 * 2 + BODY_OVERHEAD_BYTES
HASHED_ASSET = "exercise-page-AB12CD34.js"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "exercises")


@pytest.fixture(scope="module")
def server(instance: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("http")
    dist = workdir / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>index</title>")
    (dist / "exercise.html").write_text("<!doctype html><title>exercise</title>")
    (dist / "assets" / "app.js").write_text("export {};\n")
    (dist / "assets" / HASHED_ASSET).write_text("export {};\n")
    live = start_server(instance, workdir, web_dir=dist, embed_origins=EMBED_ORIGIN)
    try:
        yield live
    finally:
        live.stop()


def new_learner(server: LiveServer) -> str:
    status, body = server.request("POST", "/api/session")
    assert status == 200
    learner: str = body["learner"]
    return learner


def fetch(url: str | urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_http_session_issues_distinct_learner_ids(server: LiveServer) -> None:
    first, second = new_learner(server), new_learner(server)
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_http_config(server: LiveServer) -> None:
    assert server.get_json("/api/config") == (
        200,
        {"embed_origins": [EMBED_ORIGIN], "languages": ["fr", "en"], "max_code_bytes": 65536},
    )


def test_http_courses_follow_the_course_plan(server: LiveServer, catalog: Catalog) -> None:
    status, body = server.get_json("/api/courses")
    assert status == 200 and body["title"] == catalog.course.title
    assert [w["number"] for w in body["weeks"]] == [w.number for w in catalog.course.weeks]
    listed = [e["id"] for w in body["weeks"] for e in w["exercises"]]
    assert listed == [
        i for w in catalog.course.weeks for i in w.exercise_ids if i in catalog.exercises
    ]
    first = body["weeks"][0]["exercises"][0]
    assert set(first) == {"id", "title", "language", "status"} and first["status"] == "todo"


def test_http_exercise_detail_shape(server: LiveServer, catalog: Catalog) -> None:
    exercise = next(e for e in catalog.exercises.values() if any(t.hidden for t in e.tests))
    status, body = server.get_json(f"/api/exercises/{exercise.id}")
    assert status == 200
    assert body["id"] == exercise.id and body["code"] == body["starter"] == exercise.starter
    assert body["language"] == exercise.language.value and body["week"] == exercise.week
    assert body["instructions_html"].startswith("<") and "<script" not in body["instructions_html"]
    visible = [t for t in exercise.tests if not t.hidden]
    assert body["examples"] == [
        {"name": t.name, "stdin": t.stdin, "expected": t.expected} for t in visible
    ]
    assert (body["hints_total"], body["hints"]) == (len(exercise.hints), [])
    assert (body["status"], body["attempts"]) == ("todo", 0)
    assert body["next"] == catalog.next_id(exercise.id)
    assert body["previous"] == catalog.previous_id(exercise.id)
    assert body["solution"] is None and body["solution_offered"] is False and "tests" not in body


def test_http_unknown_exercise_is_404(server: LiveServer) -> None:
    status, body = server.get_json("/api/exercises/nope")
    assert status == 404 and body["error"] == "not_found" and body["message"]


def test_http_hints_are_revealed_one_by_one(server: LiveServer, catalog: Catalog) -> None:
    exercise = next(e for e in catalog.exercises.values() if len(e.hints) >= 2)
    learner = new_learner(server)
    path = f"/api/exercises/{exercise.id}/hints"
    assert server.request("POST", path)[1]["error"] == "learner"
    revealed = [
        server.request("POST", path, learner=learner)[1] for _ in range(len(exercise.hints) + 1)
    ]
    assert [len(r["hints"]) for r in revealed] == [
        *range(1, len(exercise.hints) + 1),
        len(exercise.hints),
    ]
    assert revealed[-1] == {"hints": list(exercise.hints), "hints_total": len(exercise.hints)}
    _, detail = server.get_json(f"/api/exercises/{exercise.id}", learner=learner)
    assert detail["hints"] == list(exercise.hints) and detail["status"] == "started"


def test_http_saved_code_is_restored(server: LiveServer, catalog: Catalog) -> None:
    exercise_id = next(iter(catalog.exercises))
    learner = new_learner(server)
    path = f"/api/exercises/{exercise_id}/code"
    assert server.request("PUT", path, {"code": "print('brouillon')"}, learner=learner)[0] == 204
    _, detail = server.get_json(f"/api/exercises/{exercise_id}", learner=learner)
    assert detail["code"] == "print('brouillon')" and detail["status"] == "started"
    _, anonymous = server.get_json(f"/api/exercises/{exercise_id}")
    assert anonymous["code"] == anonymous["starter"]
    _, courses = server.get_json("/api/courses", learner=learner)
    statuses = {e["id"]: e["status"] for w in courses["weeks"] for e in w["exercises"]}
    assert statuses[exercise_id] == "started"
    status, body = server.request("PUT", path, {"code": "x" * (64 * 1024 + 1)}, learner=learner)
    assert (status, body["error"]) == (413, "too_large")
    status, body = server.request("PUT", path, {"text": 1}, learner=learner)
    assert (status, body["error"]) == (400, "invalid_body")


def _put_code(server: LiveServer, learner: str, exercise_id: str) -> http.client.HTTPConnection:
    """A PUT of the code whose headers are sent; the caller sends the body (or not)."""
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
    connection.putrequest("PUT", f"/api/exercises/{exercise_id}/code")
    connection.putheader("X-Learner", learner)
    connection.putheader("Content-Type", "application/json")
    return connection


def test_http_oversized_code_is_refused_before_its_body_is_read(
    server: LiveServer, catalog: Catalog
) -> None:
    learner = new_learner(server)
    connection = _put_code(server, learner, next(iter(catalog.exercises)))
    try:
        connection.putheader("Content-Length", str(100 * 1024 * 1024))
        connection.endheaders()  # and no body: only an early answer arrives within the timeout
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"] == "too_large"
    finally:
        connection.close()


def test_http_streamed_code_is_cut_off_at_the_limit(server: LiveServer, catalog: Catalog) -> None:
    learner = new_learner(server)
    connection = _put_code(server, learner, next(iter(catalog.exercises)))
    body = json.dumps({"code": "x" * MAX_BODY}).encode()
    try:
        connection.putheader("Transfer-Encoding", "chunked")  # no Content-Length to trust
        connection.endheaders()
        for start in range(0, len(body), 16 * 1024):
            chunk = body[start : start + 16 * 1024]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"] == "too_large"
    finally:
        connection.close()
    _, detail = server.get_json(f"/api/exercises/{next(iter(catalog.exercises))}", learner=learner)
    assert detail["status"] == "todo"


def test_http_progress_needs_a_well_formed_learner(server: LiveServer, catalog: Catalog) -> None:
    assert server.get_json("/api/progress")[0] == 400
    status, body = server.get_json("/api/progress", learner="not-an-id")
    assert (status, body["error"]) == (400, "learner")
    learner = new_learner(server)
    assert server.get_json("/api/progress", learner=learner) == (
        200,
        {"learner": learner, "exercises": {}},
    )
    exercise = next(e for e in catalog.exercises.values() if e.hints)
    server.request("POST", f"/api/exercises/{exercise.id}/hints", learner=learner)
    _, body = server.get_json("/api/progress", learner=learner)
    assert body["exercises"] == {
        exercise.id: {
            "attempts": 0,
            "checks": 0,
            "runs": 0,
            "solved": False,
            "solved_at": None,
            "hints_revealed": 1,
            "status": "started",
        }
    }


def test_http_pages_carry_a_strict_csp(server: LiveServer) -> None:
    for path, body in (("/", b"index"), ("/exercise/bonjour-monde", b"exercise")):
        status, headers, content = fetch(server.url + path)
        assert status == 200 and body in content
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert csp.endswith("frame-ancestors 'none'")
        assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = fetch(server.url + "/embed/bonjour-monde")
    assert status == 200
    assert headers["content-security-policy"].endswith(f"frame-ancestors 'self' {EMBED_ORIGIN}")
    assert "x-frame-options" not in {k.lower() for k in headers}


def test_http_assets_and_api_are_nosniff(server: LiveServer) -> None:
    status, headers, content = fetch(server.url + "/assets/app.js")
    assert status == 200 and content == b"export {};\n"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-cache"  # no hash in its name: it may change
    _, headers, _ = fetch(server.url + "/api/config")
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
    assert fetch(server.url + "/assets/missing.js")[0] == 404


def test_http_hashed_assets_are_cached_for_good_and_pages_revalidated(server: LiveServer) -> None:
    status, headers, _ = fetch(server.url + f"/assets/{HASHED_ASSET}")
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    request = urllib.request.Request(
        server.url + f"/assets/{HASHED_ASSET}", headers={"If-None-Match": headers["etag"]}
    )
    status, revalidated, _ = fetch(request)
    assert status == 304 and revalidated["cache-control"] == headers["cache-control"]
    for path in ("/", "/exercise/bonjour-monde", "/embed/bonjour-monde"):
        assert fetch(server.url + path)[1]["cache-control"] == "no-cache"


def test_http_healthz_and_metrics(server: LiveServer) -> None:
    status, body = server.get_json("/healthz")
    assert set(body) >= {"status", "engine", "images", "database", "failing"}
    assert body["database"] is True
    assert (status == 200) == (body["failing"] == []) == (body["status"] == "ok")
    status, headers, text = fetch(server.url + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    for family in ("decode_runs_total", "decode_queue_length", "decode_sandboxes_busy"):
        assert f"# TYPE {family} " in text.decode()
    # The test server runs without a warm pool: both languages report zero waiting containers.
    families = {family.name: family for family in text_string_to_metric_families(text.decode())}
    ready = {s.labels["language"]: s.value for s in families["decode_pool_ready"].samples}
    assert ready["python"] == 0 and ready["javascript"] == 0


def test_http_no_response_carries_a_solution_or_hidden_data(
    server: LiveServer, catalog: Catalog
) -> None:
    learner = new_learner(server)
    courses = server.get_json("/api/courses", learner=learner)[1]
    for exercise in catalog.exercises.values():
        secrets = secrets_of(exercise)
        path = f"/api/exercises/{exercise.id}"
        for _ in exercise.hints:
            server.request("POST", path + "/hints", learner=learner)
        for payload in (
            courses,
            server.get_json(path)[1],
            server.get_json(path, learner=learner)[1],
        ):
            assert_no_secret(payload, secrets, f"GET {path}")
    assert_no_secret(server.get_json("/api/progress", learner=learner)[1], [], "progress")


def test_http_pages_without_a_build_answer_503(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    live = server_factory(web_dir=tmp_path / "missing")
    status, headers, content = fetch(live.url + "/exercise/bonjour-monde")
    assert status == 503 and b"make web" in content and content.count(b"\n") == 1
    assert "content-security-policy" in {k.lower() for k in headers}


def test_http_progress_survives_a_restart(
    server_factory: Callable[..., LiveServer], catalog: Catalog, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/kept.sqlite3"
    exercise = next(e for e in catalog.exercises.values() if e.hints)
    first = server_factory(database_url=database_url)
    learner = new_learner(first)
    first.request("PUT", f"/api/exercises/{exercise.id}/code", {"code": "gardé"}, learner=learner)
    first.request("POST", f"/api/exercises/{exercise.id}/hints", learner=learner)
    first.stop()
    second = server_factory(database_url=database_url)
    _, detail = second.get_json(f"/api/exercises/{exercise.id}", learner=learner)
    assert (detail["code"], detail["hints"]) == ("gardé", [exercise.hints[0]])


def test_http_broken_specs_are_logged_and_left_out(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    course = tmp_path / "exercises"
    shutil.copytree(ROOT / "exercises", course)
    broken = course / "semaine-1" / "double.json"
    broken.write_text('{"id": "double", "title": 3}')
    live = server_factory(exercises_dir=course)
    _, body = live.get_json("/api/courses")
    listed = {e["id"] for w in body["weeks"] for e in w["exercises"]}
    assert "double" not in listed and "bonjour-monde" in listed
    assert live.get_json("/api/exercises/double")[0] == 404
    broken_lines = [line for line in live.log().splitlines() if "BROKEN EXERCISE SPEC" in line]
    assert any("double.json" in line for line in broken_lines)
    assert any(line.startswith("ERROR") for line in broken_lines)
