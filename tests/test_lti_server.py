"""The LTI 1.3 Advantage cycle against a real runner process, driven over HTTP by a platform built
on the PyPI library ``lti1p3platform`` (tests/fixtures_lti.py): manual and dynamic registration,
login → launch → check → grade, deep linking, the instructor's view with NRPS, key rotation on
both sides, the platform's AGS down then up, and every bad launch.

The browser's part (frames, partitioned cookies, postMessage storage) is in test_browser_lti.py;
here the test is the browser: it follows redirects and posts forms itself, and hands the
partitioned state cookie back as Chromium does (httpx keeps no Secure cookie over http)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fixtures_lti import LtiPlatform
from fixtures_server import ROOT, LiveServer, ws_client

pytestmark = [pytest.mark.docker, pytest.mark.server]

EXERCISE = "bonjour-prenom"
SOLUTION = 'prenom = input()\nprint("Bonjour, " + prenom + " !")\n'
WRONG = 'print("Salut")\n'
INSTRUCTOR = "Instructor"
FAST = {
    "webhook_first_retry_s": 0.3,
    "webhook_max_retry_s": 0.6,
    "jwks_refetch_s": 0.2,
    "lti_key_cache_s": 0.2,
    "lti_key_publish_s": 1.0,
}


def cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", "lti", *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class Lms:
    platform: LtiPlatform
    runner: LiveServer
    client: httpx.Client

    def login(self, url: str) -> tuple[str, str, dict[str, str]]:
        """Follow the platform's start → our login → the platform's auth; returns the launch
        form's action, its fields, and our state cookie."""
        start = self.client.get(url)
        assert start.status_code == 302, start.text
        login = self.client.get(start.headers["location"])
        assert login.status_code == 302, login.text
        cookie = login.headers.get("set-cookie", "")
        assert "Partitioned" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie
        name, value = cookie.split(";", 1)[0].split("=", 1)
        auth = self.client.get(login.headers["location"])
        assert auth.status_code == 200, auth.text
        action = html.unescape(re.search(r'action="([^"]+)"', auth.text).group(1))  # type: ignore[union-attr]
        fields = {
            html.unescape(n): html.unescape(v)
            for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)
        }
        return action, fields, {name: value}

    def launch(self, url: str, cookie: bool = True, **changes: Any) -> httpx.Response:
        action, fields, jar = self.login(url)
        if changes:
            fields["id_token"] = resign(self.platform, fields["id_token"], **changes)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if cookie else {}
        return self.client.post(action, data=fields, headers=headers)

    def session(self, response: httpx.Response) -> str:
        """The session behind a learner's launch (the frame redeems its one-time code)."""
        assert response.status_code == 303, response.text
        target = urlsplit(response.headers["location"])
        assert target.path == f"/embed/{EXERCISE}"
        code = parse_qs(target.query)["handoff"][0]
        redeemed = self.client.post(self.runner.url + "/api/session/redeem", json={"code": code})
        assert redeemed.status_code == 200, redeemed.text
        return str(redeemed.json()["session"])


def resign(platform: LtiPlatform, token: str, kid: str | None = None, **changes: Any) -> str:
    """The platform's id_token with claims changed (None removes one), signed again."""
    claims = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return platform.sign(claims, kid=kid)


def check(runner: LiveServer, session: str, code: str) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with ws_client(f"{runner.ws_url}?session={session}") as client:
            return await client.run(EXERCISE, code, mode="check", until=("progress",))

    return asyncio.run(go())


def register_by_hand(platform: LtiPlatform, runner: LiveServer) -> None:
    """The manual path: the platform registers the tool, the operator runs `lti add`."""
    client_id, deployment = platform.register_tool(runner.url)
    added = cli(
        runner,
        "add",
        "--issuer", platform.issuer,
        "--client-id", client_id,
        "--deployment-id", deployment,
        "--auth-url", platform.auth_url,
        "--token-url", platform.token_url,
        "--jwks-url", platform.jwks_url,
        "--name", "LMS de test",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


@pytest.fixture
def lms(lti_platform: LtiPlatform, server_factory: Callable[..., LiveServer]) -> Iterator[Lms]:
    runner = server_factory(**FAST)
    register_by_hand(lti_platform, runner)
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield Lms(lti_platform, runner, client)


def _user_scores(platform: LtiPlatform, user: str) -> list[dict[str, Any]]:
    try:
        return platform.scores(f"rl-{EXERCISE}", user)
    except KeyError:
        return []


def test_launch_check_and_the_gradebook_gets_the_best_score(lms: Lms) -> None:
    session = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    failed = check(lms.runner, session, WRONG)
    total = next(m for m in failed if m["type"] == "finished")["total"]
    assert lms.platform.wait_for(lambda p: len(_user_scores(p, "ada")) >= 1)
    first = _user_scores(lms.platform, "ada")[0]
    assert (first["scoreGiven"], first["scoreMaximum"]) == (0, total)
    assert (first["activityProgress"], first["gradingProgress"]) == ("Submitted", "FullyGraded")

    check(lms.runner, session, SOLUTION)
    assert lms.platform.wait_for(lambda p: len(_user_scores(p, "ada")) >= 2)
    check(lms.runner, session, WRONG)  # a failure after the solve never lowers the grade
    assert lms.platform.wait_for(lambda p: len(_user_scores(p, "ada")) >= 3)
    scores = _user_scores(lms.platform, "ada")
    assert [s["scoreGiven"] for s in scores] == [0, total, total]
    assert scores[-1]["activityProgress"] == "Completed"
    stamps = [s["timestamp"] for s in scores]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    # One access token served every score (cached until it expires).
    granted = [t for t in lms.platform.token_requests if t.granted]
    assert len(granted) == 1
    # The learner's progress is the runner's own too, and a relaunch is the same learner.
    again = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    progress = lms.client.get(lms.runner.url + "/api/progress", headers={"x-session": again})
    assert progress.json()["exercises"][EXERCISE]["solved"]


def test_replays_and_bad_launches_are_refused_with_a_french_page_and_a_log_line(
    lms: Lms,
) -> None:
    url = lms.platform.start_url(EXERCISE, user="eve")
    action, fields, jar = lms.login(url)
    cookie = {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    assert lms.client.post(action, data=fields, headers=cookie).status_code == 303
    replay = lms.client.post(action, data=fields, headers=cookie)
    assert replay.status_code == 400 and "lti_state" in replay.text
    assert "Ce lancement a déjà servi" in replay.text

    stranger = LtiPlatform()  # keys no one registered
    stranger_key_token = jwt.encode(
        jwt.decode(fields["id_token"], options={"verify_signature": False}),
        stranger.private_key_pem,
        algorithm="RS256",
        headers={"kid": "unknown-kid"},
    )
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("wrong aud", {"aud": "someone-else"}, "lti_audience"),
        ("expired", {"iat": int(time.time()) - 900, "exp": int(time.time()) - 600}, "lti_expired"),
        (
            "unknown deployment",
            {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-999"},
            "lti_deployment",
        ),
        (
            "message type not handled",
            {
                "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiSubmissionReviewRequest"
            },
            "lti_message_type",
        ),
        (
            "exercise that does not exist",
            {"https://purl.imsglobal.org/spec/lti/claim/custom": {"exercise": "nope"}},
            "lti_exercise_unknown",
        ),
        ("replayed nonce", {"nonce": parse_nonce(fields["id_token"])}, "lti_nonce"),
    ]
    for case, changes, code in cases:
        response = lms.launch(url, **changes)
        assert response.status_code in (400, 404), (case, response.text)
        assert f"Code : {code}" in response.text, case
        assert '<html lang="fr"' in response.text
    # Signed by a key the platform never published.
    action, fields, jar = lms.login(url)
    cookie = {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    forged = lms.client.post(
        action, data={**fields, "id_token": stranger_key_token}, headers=cookie
    )
    assert forged.status_code == 400 and "lti_signature" in forged.text
    # A state of another login: its nonce is not this token's.
    _, other_fields, other_jar = lms.login(url)
    _, fields, _ = lms.login(url)
    mixed = lms.client.post(
        action,
        data={"id_token": fields["id_token"], "state": other_fields["state"]},
        headers={"cookie": "; ".join(f"{k}={v}" for k, v in other_jar.items())},
    )
    assert mixed.status_code == 400 and "lti_nonce" in mixed.text
    # A state nobody issued.
    unknown = lms.client.post(action, data={"id_token": fields["id_token"], "state": "x" * 43})
    assert unknown.status_code == 400 and "lti_state" in unknown.text
    log = lms.runner.log()
    for code in ("lti_state", "lti_audience", "lti_expired", "lti_deployment", "lti_signature",
                 "lti_message_type", "lti_exercise_unknown", "lti_nonce"):  # fmt: skip
        assert f"LTI refused: {code}" in log, code
    # No bad launch created a learner or an account.
    listed = cli(lms.runner, "export", registration_id(lms), "eve")
    assert listed.returncode == 0  # eve's one good launch
    assert cli(lms.runner, "export", registration_id(lms), "mallory").returncode == 1


def parse_nonce(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["nonce"])


def registration_id(lms: Lms) -> str:
    listed = cli(lms.runner, "list")
    return listed.stdout.split("\t", 1)[0]


def test_without_storage_or_cookie_the_learner_gets_a_new_window(lms: Lms) -> None:
    page = lms.launch(lms.platform.start_url(EXERCISE, user="zoe"), cookie=False)
    assert page.status_code == 200
    assert "nouvelle fenêtre" in page.text
    again = re.search(r'href="([^"]+/lti/login\?[^"]+)"', page.text)
    assert again is not None and 'target="_blank"' in page.text
    # That link starts the same login at top level, where the state cookie is first-party.
    started = lms.client.get(html.unescape(again.group(1)))
    assert started.status_code == 302
    assert started.headers["location"].startswith(lms.platform.auth_url)


def test_deep_linking_picks_exercises_the_platform_accepts(lms: Lms) -> None:
    picker = lms.launch(lms.platform.start_url(deep_link=True, user="prof", roles=INSTRUCTOR))
    assert picker.status_code == 303
    page = lms.client.get(lms.runner.url + picker.headers["location"])
    assert page.status_code == 200 and "Choisir des exercices" in page.text
    assert "Semaine 1" in page.text and EXERCISE in page.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = lms.client.post(
        lms.runner.url + "/lti/pick",
        data={"ticket": ticket, "exercise": [EXERCISE, "double"]},
    )
    assert answer.status_code == 200
    action = html.unescape(re.search(r'action="([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    assert action == lms.platform.deep_link_return_url
    back = lms.client.post(action, data={"JWT": html.unescape(token)})
    assert back.status_code == 200, back.text
    (accepted,) = [r for r in lms.platform.deep_link_responses if r.accepted]
    items = lms.platform.content_items
    assert [i["custom"]["exercise"] for i in items] == [EXERCISE, "double"]
    assert all(i["lineItem"]["scoreMaximum"] >= 1 for i in items)
    # The ticket worked once; a learner cannot open the picker.
    replay = lms.client.post(lms.runner.url + "/lti/pick", data={"ticket": ticket})
    assert replay.status_code == 400
    learner = lms.launch(lms.platform.start_url(deep_link=True, user="ada"))
    assert learner.status_code == 400 and "lti_message_type" in learner.text
    # A link the platform created from the answer launches its exercise.
    link = accepted.resource_links[0]
    launched = lms.launch(lms.platform.start_url(resource_link=link, user="ada"))
    assert lms.session(launched)


def test_instructor_sees_the_context_s_learners_and_learners_never_do(lms: Lms) -> None:
    lms.platform.add_member("ada", "Ada Lovelace")
    lms.platform.add_member("bob", "Bob Marley")
    session = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    check(lms.runner, session, SOLUTION)
    view = lms.launch(lms.platform.start_url(EXERCISE, user="prof", roles=INSTRUCTOR))
    assert view.status_code == 303 and view.headers["location"].startswith("/lti/instructor?")
    page = lms.client.get(lms.runner.url + view.headers["location"])
    assert page.status_code == 200 and "Suivi des apprenants" in page.text
    row = re.search(r"<tr><th scope=\"row\">Ada Lovelace</th>(.*?)</tr>", page.text)
    assert row is not None and "Réussi" in row.group(1)
    assert "Bob Marley" in page.text and "Pas ouvert" in page.text  # from NRPS
    # A learner's launch never leads there, and a made-up ticket shows nothing.
    learner = lms.launch(lms.platform.start_url(EXERCISE, user="bob"))
    assert urlsplit(learner.headers["location"]).path == f"/embed/{EXERCISE}"
    guessed = lms.client.get(lms.runner.url + "/lti/instructor?ticket=" + "a" * 43)
    assert guessed.status_code == 400 and "Ada" not in guessed.text


def test_the_platform_s_ags_down_then_up_delivers_the_score_once(lms: Lms) -> None:
    session = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    lms.platform.ags_down = True
    result = check(lms.runner, session, SOLUTION)
    assert any(m["type"] == "progress" for m in result)  # the learner was never held
    assert lms.platform.wait_for(lambda p: p.refused_while_down >= 2)  # retried while down
    lms.platform.ags_down = False
    assert lms.platform.wait_for(lambda p: len(_user_scores(p, "ada")) >= 1, timeout=30)
    time.sleep(1.5)  # any duplicate would arrive within a few retry periods
    scores = _user_scores(lms.platform, "ada")
    assert len(scores) == 1 and scores[0]["activityProgress"] == "Completed"


def test_key_rotation_on_both_sides(lms: Lms) -> None:
    before = lms.client.get(lms.runner.url + "/lti/jwks").json()["keys"]
    # The platform signs with a new key: the runner refetches its JWKS on the unknown kid.
    lms.platform.rotate_key()
    session = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    # The tool rotates: the new key is published at once, signs after the publish delay.
    rotated = cli(lms.runner, "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[3].rstrip(":")
    published = (
        lms.platform.wait_for(lambda p: True, timeout=0.5)
        and lms.client.get(lms.runner.url + "/lti/jwks").json()["keys"]
    )
    assert {k["kid"] for k in published} >= {before[0]["kid"], new_kid}
    time.sleep(1.5)  # the publish delay (1 s here) and the key cache (0.2 s) pass
    check(lms.runner, session, SOLUTION)
    assert lms.platform.wait_for(lambda p: len(_user_scores(p, "ada")) >= 1, timeout=30)
    granted = [t for t in lms.platform.token_requests if t.granted]
    assert granted, "the platform accepted the assertion signed with the new key"
    kids = cli(lms.runner, "keys").stdout
    assert f"{new_kid}\t" in kids and "signing" in kids.split(new_kid, 1)[1].splitlines()[0]


def test_dynamic_registration_then_a_launch_through_it(
    lti_platform: LtiPlatform, server_factory: Callable[..., LiveServer]
) -> None:
    runner = server_factory(**FAST)
    invited = cli(runner, "invite", "--base-url", runner.url)
    assert invited.returncode == 0, invited.stderr
    invite_url = invited.stdout.strip()
    with httpx.Client(timeout=30) as client:
        page = client.get(lti_platform.registration_launch_url(invite_url))
        assert page.status_code == 200, page.text
        assert "Outil inscrit" in page.text
        # The registration page may be framed by the registering platform (Moodle does).
        assert lti_platform.issuer in page.headers["content-security-policy"]
        (body,) = lti_platform.registrations
        assert body["initiate_login_uri"] == runner.url + "/lti/login"
        assert body["jwks_uri"] == runner.url + "/lti/jwks"
        again = client.get(lti_platform.registration_launch_url(invite_url))
        assert again.status_code == 403  # an invitation works once
        forged = client.get(
            lti_platform.registration_launch_url(runner.url + "/lti/register?invite=" + "b" * 43)
        )
        assert forged.status_code == 403
    listed = cli(runner, "list").stdout
    assert lti_platform.issuer in listed
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        lms = Lms(lti_platform, runner, client)
        assert lms.session(lms.launch(lti_platform.start_url(EXERCISE, user="ada")))


def test_erasing_an_lms_learner_removes_their_data(lms: Lms) -> None:
    session = lms.session(lms.launch(lms.platform.start_url(EXERCISE, user="ada")))
    check(lms.runner, session, SOLUTION)
    exported = cli(lms.runner, "export", registration_id(lms), "ada")
    document = json.loads(exported.stdout)
    assert document["sub"] == "ada" and document["exercises"][0]["last_code"] == SOLUTION
    assert [a["code"] for a in document["attempts"]] == [SOLUTION]  # the attempt log too
    assert cli(lms.runner, "erase", registration_id(lms), "ada").returncode == 0
    assert cli(lms.runner, "export", registration_id(lms), "ada").returncode == 1
    gone = lms.client.get(lms.runner.url + "/api/progress", headers={"x-session": session})
    assert gone.status_code == 401


def test_oversized_and_malformed_lti_requests_are_refused_and_the_server_stays_up(
    lms: Lms,
) -> None:
    huge = lms.client.post(
        lms.runner.url + "/lti/launch", data={"id_token": "x" * 200_000, "state": "s"}
    )
    assert huge.status_code == 400 and "lti_bad_request" in huge.text
    binary = lms.client.post(
        lms.runner.url + "/lti/launch",
        content=b"\xff\xfe" * 100,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert binary.status_code == 400
    no_token = lms.client.post(lms.runner.url + "/lti/launch", data={"state": "s"})
    assert no_token.status_code == 400
    elsewhere = lms.client.get(
        lms.runner.url + "/lti/login",
        params={
            "iss": lms.platform.issuer,
            "login_hint": "ada",
            "target_link_uri": "https://evil.example/phish",
        },
    )
    assert elsewhere.status_code == 400 and "lti_bad_request" in elsewhere.text
    unknown = lms.client.get(
        lms.runner.url + "/lti/login",
        params={
            "iss": "https://unknown.example",
            "login_hint": "ada",
            "target_link_uri": lms.runner.url + "/lti/launch",
        },
    )
    assert unknown.status_code == 400 and "lti_unknown_registration" in unknown.text
    assert lms.client.get(lms.runner.url + "/healthz").status_code == 200
