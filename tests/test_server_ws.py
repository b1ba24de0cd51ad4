"""Conversations on /ws with a real websockets client against a real uvicorn."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fixtures_server import LiveServer, start_server, ws_client
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runner.web.protocol import MESSAGES, ErrorCode

pytestmark = [pytest.mark.anyio, pytest.mark.server]

PY = "bonjour-prenom"  # python, reads one line
HELLO = "print('Bonjour !')"
SOLUTION = 'prenom = input()\nprint("Bonjour, " + prenom + " !")'
WAIT_FOREVER = "print('prêt', flush=True)\nimport time\ntime.sleep(60)"


@pytest.fixture(scope="module")
def server(instance: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        instance, tmp_path_factory.mktemp("ws"), allowed_origins="https://lms.example.org"
    )
    try:
        yield live
    finally:
        live.stop()


def containers(docker_client: Any, instance: str) -> list[Any]:
    """Ids of the instance's containers (the low-level call: no inspect racing a removal)."""
    labels = {"label": f"decode-runner.node={instance}"}
    found: list[Any] = docker_client.api.containers(all=True, filters=labels, quiet=True)
    return found


async def wait_no_container(docker_client: Any, instance: str, within_s: float) -> float:
    """Seconds until no container of ``instance`` is left; fails after ``within_s``."""
    start = time.monotonic()
    while containers(docker_client, instance):
        assert time.monotonic() - start < within_s, "container still there"
        await anyio.sleep(0.05)
    return time.monotonic() - start


# Bad input: no sandbox is involved, the connection stays open after each error.


async def test_ws_bad_input_gets_coded_french_errors(server: LiveServer) -> None:
    run = {"type": "run", "exercise": PY, "code": "", "mode": "run"}
    cases: list[tuple[Any, str]] = [
        ("pas du json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ({"type": "danse"}, "invalid_message"),
        ({"exercise": PY}, "invalid_message"),
        ({**run, "mode": "vite"}, "invalid_message"),
        ({**run, "code": 42}, "invalid_message"),
        ({"type": "run", "exercise": PY, "code": ""}, "invalid_message"),
        ({**run, "code": "x" * (64 * 1024 + 1)}, "too_large"),
        ({**run, "exercise": "n-existe-pas"}, "unknown_exercise"),
        ({"type": "stdin", "data": "1\n"}, "not_running"),
        ({"type": "stdin_eof"}, "not_running"),
        ({"type": "stop"}, "not_running"),
        (b"\x00\x01", "binary"),
    ]
    async with ws_client(server.ws_url) as client:
        for message, code in cases:
            await client.send(message)
            reply = await client.recv()
            assert reply["type"] == "error" and reply["code"] == code, (message, reply)
            if code != "too_large":
                assert reply["message"] == MESSAGES[ErrorCode(code)]
        assert [m["code"] for m in client.received[1:]] == [code for _, code in cases]
    too_large = client.received[8]["message"]
    assert too_large == "Ton programme est trop long : 64 Kio au maximum."


async def test_ws_frame_over_one_mib_closes_with_1009(server: LiveServer) -> None:
    async with ws_client(server.ws_url, max_size=None) as client:
        await client.send(json.dumps({"type": "stdin", "data": "x" * (1024 * 1024 + 1)}))
        with pytest.raises(ConnectionClosed) as info:
            await client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_ws_foreign_origin_is_refused_before_opening(server: LiveServer) -> None:
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    for origin in ("https://lms.example.org", server.url):
        async with ws_client(server.ws_url, origin=origin) as client:
            assert client.learner


async def test_ws_learner_id_is_kept_or_issued(server: LiveServer) -> None:
    async with ws_client(server.ws_url) as client:
        issued = client.received[0]
    assert issued["issued"] is True and len(issued["learner"]) == 32
    async with ws_client(server.ws(issued["learner"])) as client:
        assert client.received[0] == {
            "type": "welcome",
            "learner": issued["learner"],
            "issued": False,
            "account": False,
        }
    from websockets.asyncio.client import connect

    async with connect(server.ws("pas-un-id")) as connection:
        reply = json.loads(await connection.recv())
        assert reply["type"] == "error" and reply["code"] == "learner"
        with pytest.raises(ConnectionClosed) as info:
            await connection.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008


# Conversations with the sandbox.


@pytest.mark.docker
async def test_ws_run_hello_world(server: LiveServer) -> None:
    async with ws_client(server.ws_url) as client:
        messages = await client.run("bonjour-monde", HELLO)
    assert messages[0] == {
        "type": "started",
        "mode": "run",
        "exercise": "bonjour-monde",
        "total": 1,
        "saved": True,
    }
    output = "".join(
        m["data"] for m in messages if m["type"] == "output" and m["stream"] == "stdout"
    )
    assert output == "Bonjour !\n"
    finished = messages[-1]
    assert (finished["type"], finished["status"], finished["exit_code"]) == ("finished", "ok", 0)
    assert finished["passed"] is None and finished["explanation"] is None and finished["message"]


@pytest.mark.docker
async def test_ws_output_written_line_by_line_arrives_joined_and_whole(server: LiveServer) -> None:
    """300 flushed writes, 2 ms apart: each is its own read on the server, yet they reach the
    client joined (``runner.web.outgoing`` paces output), complete and in order."""
    lines = 300
    code = (
        "import time\n"
        f"for i in range({lines}):\n"
        "    print(f'Ligne {i:03d}', flush=True)\n"
        "    time.sleep(0.002)\n"
    )
    async with ws_client(server.ws_url) as client:
        messages = await client.run("bonjour-monde", code)
    outputs = [m for m in messages if m["type"] == "output"]
    assert "".join(m["data"] for m in outputs) == "".join(f"Ligne {i:03d}\n" for i in range(lines))
    assert {m["stream"] for m in outputs} == {"stdout"}
    assert len(outputs) <= lines // 2, len(outputs)  # about 10 writes a message at 20 ms
    assert messages[-1]["type"] == "finished" and messages[-1]["status"] == "ok"


@pytest.mark.docker
async def test_ws_interactive_stdin_and_error_explanation(server: LiveServer) -> None:
    code = "nom = input('Nom ? ')\nprint('Salut', nom)\nprint(nom / 2)"
    async with ws_client(server.ws_url) as client:
        await client.run(PY, code, until=("output",))
        await client.send({"type": "stdin", "data": "Ada\n"})
        messages = await client.until("finished")
    stdout = "".join(m["data"] for m in messages if m.get("stream") == "stdout")
    stderr = "".join(m["data"] for m in messages if m.get("stream") == "stderr")
    assert stdout == "Salut Ada\n" and "TypeError" in stderr
    finished = messages[-1]
    assert finished["status"] == "error" and finished["exit_code"] == 1
    assert finished["explanation"] is not None and finished["explanation"]["line"] == 3


@pytest.mark.docker
async def test_ws_typed_ahead_stdin_and_eof_reach_the_program(server: LiveServer) -> None:
    code = "import sys\nprint(len(sys.stdin.read()))"
    async with ws_client(server.ws_url) as client:
        await client.send({"type": "run", "exercise": PY, "code": code, "mode": "run"})
        await client.send({"type": "stdin", "data": "ab"})  # before the program has started
        await client.send({"type": "stdin", "data": "c\n"})
        await client.send({"type": "stdin_eof"})
        messages = await client.until("finished")
    assert "".join(m["data"] for m in messages if m.get("stream") == "stdout") == "4\n"


@pytest.mark.docker
async def test_ws_stdin_sent_right_after_started_reaches_the_program(server: LiveServer) -> None:
    async with ws_client(server.ws_url) as client:
        for name in ("Ada", "Alan", "Grace"):  # a race: try its window a few times
            await client.run(PY, SOLUTION, until=("started",))
            await client.send({"type": "stdin", "data": f"{name}\n"})  # may precede the program
            with anyio.fail_after(8):  # well under the 10 s time limit a lost line runs into
                messages = await client.until("finished")
            stdout = "".join(m["data"] for m in messages if m.get("stream") == "stdout")
            assert (stdout, messages[-1]["status"]) == (f"Bonjour, {name} !\n", "ok")


@pytest.mark.docker
async def test_ws_check_passing_then_progress(server: LiveServer) -> None:
    async with ws_client(server.ws_url) as client:
        messages = await client.run(PY, SOLUTION, mode="check", until=("progress",))
    kinds = [m["type"] for m in messages]
    assert kinds == ["started", "test", "test", "test", "finished", "progress"]
    assert messages[0]["saved"] is True
    assert all(m["status"] == "passed" for m in messages if m["type"] == "test")
    finished = messages[-2]
    assert (finished["status"], finished["passed"], finished["total"]) == ("passed", 3, 3)
    assert messages[-1] == {
        "type": "progress",
        "exercise": PY,
        "solved": True,
        "attempts": 1,
        "checks": 1,
        "runs": 0,
    }
    _, detail = server.get_json(f"/api/exercises/{PY}", learner=client.learner)
    assert (detail["status"], detail["code"], detail["attempts"]) == ("solved", SOLUTION, 1)


@pytest.mark.docker
async def test_ws_check_failing_hides_hidden_tests(server: LiveServer) -> None:
    code = "prenom = input()\nprint('Bonjour', prenom)"
    async with ws_client(server.ws_url) as client:
        messages = await client.run(PY, code, mode="check", until=("progress",))
    tests = [m for m in messages if m["type"] == "test"]
    assert [t["status"] for t in tests] == ["failed"] * 3
    visible, hidden = tests[0], tests[2]
    assert visible["expected"] == "Bonjour, Léa !" and visible["actual"] == "Bonjour Léa\n"
    assert set(hidden) == {"type", "index", "name", "hidden", "status", "message"}
    assert (messages[-2]["status"], messages[-2]["passed"]) == ("failed", 0)
    assert messages[-1]["solved"] is False and messages[-1]["attempts"] == 1
    assert all(m["type"] != "output" for m in messages)


@pytest.mark.docker
async def test_ws_stop_kills_at_once_and_busy_is_refused(
    server: LiveServer, docker_client: Any, instance: str
) -> None:
    async with ws_client(server.ws_url) as client:
        await client.run(PY, WAIT_FOREVER, until=("output",))
        await client.send({"type": "run", "exercise": PY, "code": HELLO, "mode": "run"})
        busy = (await client.until("error"))[-1]  # output may still be arriving
        assert busy["code"] == "busy"
        assert containers(docker_client, instance)
        stopped_at = time.monotonic()
        await client.send({"type": "stop"})
        finished = (await client.until("finished"))[-1]
        assert finished["status"] == "stopped" and time.monotonic() - stopped_at < 2.0
        assert "reason" not in finished  # the learner's own stop
        await wait_no_container(docker_client, instance, within_s=2.0)
        again = await client.run("bonjour-monde", HELLO)  # the connection is usable again
        assert again[-1]["status"] == "ok"


@pytest.mark.docker
@pytest.mark.parametrize("how", ["close", "abort"])
async def test_ws_disconnect_mid_run_removes_the_container_within_a_second(
    server: LiveServer, docker_client: Any, instance: str, how: str
) -> None:
    async with ws_client(server.ws_url) as client:
        await client.run(PY, WAIT_FOREVER, until=("output",))
        assert containers(docker_client, instance)
        if how == "abort":
            client.connection.transport.abort()
        else:
            await client.connection.close()
        elapsed = await wait_no_container(docker_client, instance, within_s=1.0)
    assert elapsed < 1.0


async def test_ws_engine_down_answers_unavailable(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = server_factory(docker_socket=str(tmp_path / "no-docker.sock"))
    status, health = server.get_json("/healthz")
    assert status == 503 and "engine" in health["failing"] and health["database"] is True
    async with ws_client(server.ws_url) as client:
        run = await client.run("bonjour-monde", HELLO)
        check = await client.run(PY, SOLUTION, mode="check", until=("progress",))
    assert run[-1]["status"] == "unavailable" and "indisponible" in run[-1]["message"]
    assert check[-2]["status"] == "unavailable" and check[-1]["solved"] is False


@pytest.mark.docker
async def test_ws_questions_asked_for_input_never_fail_a_check(server: LiveServer) -> None:
    """`input("Question ? ")` and `prompt("Question ?")`: the question is not an answer."""
    python = 'prenom = input("Comment tu t\'appelles ? ")\nprint("Bonjour, " + prenom + " !")\n'
    javascript = (
        'const prenom = prompt("Ton prénom ?");\nconsole.log("Bonjour, " + prenom + " !");\n'
    )
    async with ws_client(server.ws_url) as client:
        for exercise, code in (("bonjour-prenom", python), ("bonjour-js", javascript)):
            messages = await client.run(exercise, code, mode="check", until=("progress",))
            finished = next(m for m in messages if m["type"] == "finished")
            assert (finished["status"], finished["passed"]) == ("passed", finished["total"])
        await client.send(
            {"type": "run", "exercise": "bonjour-prenom", "code": python, "mode": "run"}
        )
        await client.until("started")
        await client.send({"type": "stdin", "data": "Ada\n"})
        shown: list[tuple[str, str]] = []
        for m in await client.until("finished"):
            if m["type"] != "output":
                continue
            if shown and shown[-1][0] == m["stream"]:  # chunks of one stream, in a row
                shown[-1] = (m["stream"], shown[-1][1] + m["data"])
            else:
                shown.append((m["stream"], m["data"]))
    assert shown == [
        ("prompt", "Comment tu t'appelles ? "),
        ("stdout", "Bonjour, Ada !\n"),
    ]
