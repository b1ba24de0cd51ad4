"""The trainer's space against a real server, on SQLite and PostgreSQL: log-in (CSRF, wrong
password, lock-out), access control on every route, a funnel whose numbers the test computes from
the data it wrote, an exercise's failures with escaped code, learners at risk around the N-day
boundary, a learner's timeline, and the CSV exports with accents."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fixtures_postgres import fresh_postgres_database
from fixtures_server import ROOT, LiveServer, ws_client
from sqlalchemy import update

from runner.store import AttemptLog, ProgressStore
from runner.store.tables import progress

pytestmark = pytest.mark.server

EMAIL = "anne@simplon.co"
PASSWORD = "un mot de passe très solide"
EXERCISE = "bonjour-prenom"  # 3 tests in the course; index 2 is hidden
OTHER = "double"
HOSTILE = 'print("</script><script>alert(1)</script>")  # éàç'


def cli(server: LiveServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class Space:
    server: LiveServer
    client: httpx.Client

    def url(self, path: str) -> str:
        return self.server.url + path

    def csrf_form(self) -> str:
        page = self.client.get(self.url("/formateur/connexion"))
        assert page.status_code == 200
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def log_in(self, password: str = PASSWORD, email: str = EMAIL) -> httpx.Response:
        csrf = self.csrf_form()
        return self.client.post(
            self.url("/formateur/connexion"),
            data={"email": email, "password": password, "csrf": csrf, "suite": "/formateur"},
        )


def _learner(n: int) -> str:
    return f"{n:032x}"


async def _seed(database_url: str) -> dict[str, object]:
    """Known data, written through the store as the server would: returns what the funnel must
    show for EXERCISE."""
    store = ProgressStore(database_url)
    await store.open()
    try:
        expected = {"opened": 0, "attempted": 0, "solved": 0, "hinted": 0}
        checks_to_solve = []
        for n in range(1, 11):
            learner = _learner(n)
            await store.record_opened(learner, EXERCISE)
            expected["opened"] += 1
            if n > 8:  # opened only
                continue
            expected["attempted"] += 1
            failures = n % 3  # 0, 1 or 2 failed checks before any success
            for _ in range(failures):
                await store.record_attempt(learner, EXERCISE, HOSTILE)
                log = AttemptLog(
                    EXERCISE, "check", 40, "failed", HOSTILE, 0, 3, 0, "Sortie différente", "Salut"
                )
                await store.record_result(learner, EXERCISE, 0, 3, None, log)
            if n <= 5:  # solvers
                await store.record_attempt(learner, EXERCISE, "ok")
                log = AttemptLog(EXERCISE, "check", 40, "passed", "ok", 3, 3)
                await store.record_result(learner, EXERCISE, 3, 3, None, log)
                expected["solved"] += 1
                checks_to_solve.append(failures + 1)
            else:  # fail on the hidden test, with a NameError
                await store.record_attempt(learner, EXERCISE, "prnt(1)")
                log = AttemptLog(EXERCISE, "check", 40, "failed", "prnt(1)", 2, 3, 2, "Nom inconnu")
                await store.record_result(learner, EXERCISE, 2, 3, None, log)
            if n in (1, 2):
                await store.reveal_hint(learner, EXERCISE, total=2)
                expected["hinted"] += 1
        checks_to_solve.sort()
        expected["median_checks"] = checks_to_solve[len(checks_to_solve) // 2]
        # At risk around the boundary: learner 6 left 7 days and 1 hour ago (at risk), learner 7
        # 6 days and 23 hours ago (not yet), learner 8 long ago but solved everything it tried?
        # no: learner 8 did not solve, 30 days ago (at risk); learner 1 solved (never at risk).
        now = datetime.now(UTC)
        moves = {
            _learner(6): now - timedelta(days=7, hours=1),
            _learner(7): now - timedelta(days=6, hours=23),
            _learner(8): now - timedelta(days=30),
            _learner(1): now - timedelta(days=30),
        }
        async with store.engine.begin() as conn:
            for learner, moment in moves.items():
                await conn.execute(
                    update(progress)
                    .where(progress.c.learner_id == learner)
                    .values(last_attempt_at=moment)
                )
        return expected
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def space(
    request: pytest.FixtureRequest, server_factory: Callable[..., LiveServer]
) -> Iterator[tuple[Space, dict[str, object]]]:
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_server")
        database = asyncio.run(fresh_postgres_database(base))
        server = server_factory(database_url=database)
    else:
        server = server_factory()
    added = cli(server, "trainer", "add", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    expected = asyncio.run(_seed(server.database_url))
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield Space(server, client), expected


ROUTES = [
    "/formateur",
    f"/formateur/exercices/{EXERCISE}",
    "/formateur/a-risque",
    f"/formateur/apprenants/{_learner(1)}",
]


def test_nobody_but_a_logged_in_trainer_sees_anything(
    space: tuple[Space, dict[str, object]],
) -> None:
    s, _ = space
    learner_session = {"x-learner": _learner(1)}
    for route in ROUTES:
        for headers in ({}, learner_session):
            answer = s.client.get(s.url(route), headers=headers)
            assert answer.status_code == 303, route
            assert answer.headers["location"].startswith("/formateur/connexion?suite=")
            assert "Ada" not in answer.text and _learner(1) not in answer.text
        # A learner's id or session in the URL opens nothing either.
        assert s.client.get(s.url(route + f"?session={_learner(1)}")).status_code == 303
    for export in ("/formateur/export/progression.csv", "/formateur/export/tentatives.csv"):
        answer = s.client.get(s.url(export), headers=learner_session)
        assert answer.status_code == 401 and "apprenant" not in answer.text
    # A forged session cookie is no session.
    s.client.cookies.set("decode_trainer", "x" * 43)
    assert s.client.get(s.url("/formateur")).status_code == 303
    s.client.cookies.clear()


def test_log_in_refusals_csrf_and_lock_out(space: tuple[Space, dict[str, object]]) -> None:
    s, _ = space
    wrong = s.log_in(password="pas le bon mot de passe")
    assert wrong.status_code == 401 and "Adresse ou mot de passe incorrect" in wrong.text
    assert "decode_trainer" not in wrong.headers.get("set-cookie", "")
    unknown = s.log_in(email="personne@simplon.co")
    assert unknown.status_code == 401 and "Adresse ou mot de passe incorrect" in unknown.text
    # A forged CSRF token (the page's cookie is there, the token is not its own).
    s.csrf_form()
    forged = s.client.post(
        s.url("/formateur/connexion"),
        data={"email": EMAIL, "password": PASSWORD, "csrf": "0" * 64},
    )
    assert forged.status_code == 403 and "decode_trainer" not in forged.headers.get(
        "set-cookie", ""
    )
    # Without the page's cookie, a token copied from elsewhere is refused too.
    token = s.csrf_form()
    s.client.cookies.clear()
    stolen = s.client.post(
        s.url("/formateur/connexion"), data={"email": EMAIL, "password": PASSWORD, "csrf": token}
    )
    assert stolen.status_code == 403
    # Five failures in a row lock the account: the right password then waits too.
    for _ in range(4):
        assert s.log_in(password="encore une erreur !").status_code == 401
    locked = s.log_in()
    assert locked.status_code == 401 and "bloqué" in locked.text
    assert "decode_trainer" not in locked.headers.get("set-cookie", "")


def test_the_funnel_matches_the_data(space: tuple[Space, dict[str, object]]) -> None:
    s, expected = space
    logged = s.log_in()
    assert logged.status_code == 303 and logged.headers["location"] == "/formateur"
    cookie = logged.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/formateur" in cookie
    page = s.client.get(s.url("/formateur"))
    assert page.status_code == 200
    row = re.search(
        rf'<a href="/formateur/exercices/{EXERCISE}">[^<]+</a></th>(.*?)</tr>', page.text
    )
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    opened, attempted, solved, rate, median, _time, hinted = cells
    assert (int(opened), int(attempted), int(solved), int(hinted)) == (
        expected["opened"],
        expected["attempted"],
        expected["solved"],
        expected["hinted"],
    )
    assert rate == f"{round(100 * 5 / 8)} %"
    assert int(median) == expected["median_checks"]
    assert "<svg" in page.text and "Semaine 1" in page.text
    assert "content-security-policy" in page.headers and "<script" not in page.text


def test_exercise_detail_learner_and_refusals(space: tuple[Space, dict[str, object]]) -> None:
    s, _ = space
    assert s.log_in().status_code == 303
    page = s.client.get(s.url(f"/formateur/exercices/{EXERCISE}"))
    assert page.status_code == 200
    assert "Nom inconnu" in page.text and "Sortie différente" in page.text
    assert "Salut" in page.text  # the frequent wrong output of a visible test
    assert "</script><script>" not in page.text
    assert "&lt;/script&gt;&lt;script&gt;" in page.text
    learner = s.client.get(s.url(f"/formateur/apprenants/{_learner(2)}"))
    assert learner.status_code == 200 and "Tentatives" in learner.text
    assert "&lt;/script&gt;" in learner.text and "</script><script>" not in learner.text
    assert s.client.get(s.url("/formateur/exercices/nope")).status_code == 404
    assert s.client.get(s.url("/formateur/apprenants/' OR 1=1 --")).status_code == 404
    assert s.client.get(s.url(f"/formateur/apprenants/{'f' * 32}")).status_code == 404
    for bad in ("7 OR 1=1", "7;DROP TABLE progress", "-1", "0", "99999"):
        answer = s.client.get(s.url("/formateur/a-risque"), params={"jours": bad})
        assert answer.status_code == 400, bad
        assert _learner(6) not in answer.text
    assert s.client.get(s.url("/formateur/export/autre.csv")).status_code == 404


def test_at_risk_around_the_boundary(space: tuple[Space, dict[str, object]]) -> None:
    s, _ = space
    assert s.log_in().status_code == 303
    page = s.client.get(s.url("/formateur/a-risque"), params={"jours": 7}).text
    assert _learner(6) in page  # 7 days and 1 hour
    assert _learner(8) in page  # 30 days
    assert _learner(7) not in page  # 6 days and 23 hours: not yet
    assert _learner(1) not in page  # inactive, but solved all it tried
    assert page.index(_learner(6)) < page.index(_learner(8))  # most recently gone first
    longer = s.client.get(s.url("/formateur/a-risque"), params={"jours": 8}).text
    assert _learner(6) not in longer and _learner(8) in longer


def test_csv_exports_stream_every_row_with_accents(
    space: tuple[Space, dict[str, object]],
) -> None:
    s, _ = space
    assert s.log_in().status_code == 303
    answer = s.client.get(s.url("/formateur/export/tentatives.csv"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert any(r["code"] == HOSTILE for r in rows)  # accents and quotes intact
    assert {r["exercice"] for r in rows} == {EXERCISE}
    assert len(rows) == sum(1 for r in rows if r["mode"] == "check")
    progress_rows = list(
        csv.DictReader(
            io.StringIO(
                s.client.get(s.url("/formateur/export/progression.csv")).content.decode("utf-8-sig")
            )
        )
    )
    assert len(progress_rows) == 10
    assert sum(r["statut"] == "solved" for r in progress_rows) == 5
    # Logging out ends the session (a form with the session's CSRF token).
    page = s.client.get(s.url("/formateur")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    forged = s.client.post(s.url("/formateur/deconnexion"), data={"csrf": "nope"})
    assert forged.status_code == 403
    out = s.client.post(s.url("/formateur/deconnexion"), data={"csrf": csrf})
    assert out.status_code == 303
    assert s.client.get(s.url("/formateur")).status_code == 303


@pytest.mark.docker
def test_a_real_check_and_run_land_in_the_attempt_log(
    space: tuple[Space, dict[str, object]],
) -> None:
    s, _ = space
    learner = s.client.post(s.url("/api/session")).json()["learner"]

    async def submit() -> None:
        async with ws_client(f"{s.server.ws_url}?learner={learner}") as client:
            await client.run(EXERCISE, "print(prenom)\n", mode="check", until=("progress",))
            await client.run(EXERCISE, 'print("Bonjour é")\n', mode="run")

    asyncio.run(submit())
    assert s.log_in().status_code == 303
    page = s.client.get(s.url(f"/formateur/apprenants/{learner}")).text
    assert re.search(r"· 0/\d+ tests", page) is not None  # the failed check
    assert "· exécution : " in page  # the run
    rows = list(
        csv.DictReader(
            io.StringIO(
                s.client.get(s.url("/formateur/export/tentatives.csv")).content.decode("utf-8-sig")
            )
        )
    )
    mine = [r for r in rows if r["apprenant"] == learner]
    check = next(r for r in mine if r["mode"] == "check")
    assert check["premier_test_echoue"] == "0" and check["type_erreur"]  # a NameError's title
    assert check["code"] == "print(prenom)\n"
    run = next(r for r in mine if r["mode"] == "run")
    assert run["code"] == 'print("Bonjour é")\n' and run["duree_ms"]
