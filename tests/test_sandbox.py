"""The sandbox engine against the real Docker engine: streaming, stdin, and every limit under attack."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import docker.errors
import pytest

from runner.sandbox import (
    Conflict,
    ContainerGone,
    EngineUnreachable,
    Finished,
    ImageMissing,
    Language,
    Limits,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Sandbox,
    Submission,
)
from runner.sandbox.docker_api import DockerAPI
from runner.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

PY, JS = Language.PYTHON, Language.JAVASCRIPT
QUICK = Limits(time_s=3)


def _runsc_registered() -> bool:
    import docker

    try:
        client = docker.from_env()
        return "runsc" in client.info().get("Runtimes", {})
    except Exception:
        return False


RUNTIMES = [  # Docker's default runtime, and gVisor where the engine has it
    pytest.param("", id="runc"),
    pytest.param(
        "runsc",
        id="runsc",
        marks=[
            pytest.mark.runsc,
            pytest.mark.skipif(
                not _runsc_registered(),
                reason="gVisor (runsc) is not registered with this Docker engine",
            ),
        ],
    ),
]


@pytest.fixture(params=RUNTIMES)
async def sandbox(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Sandbox]:
    """Every test below runs under Docker's default runtime and under gVisor."""
    box = Sandbox(settings.replace(sandbox_runtime=request.param))
    await box.start()
    try:
        yield box
    finally:
        await box.close()


@pytest.fixture(autouse=True)
def no_container_left(docker_client, instance: str) -> Iterator[None]:
    yield
    left = docker_client.containers.list(
        all=True, filters={"label": f"decode-runner.node={instance}"}
    )
    assert left == [], f"containers left behind: {[c.short_id for c in left]}"


async def collect(sandbox: Sandbox, submission: Submission) -> list[object]:
    async with sandbox.session(submission) as session:
        return [event async for event in session]


def results(events: list[object]) -> list[RunFinished]:
    return [e for e in events if isinstance(e, RunFinished)]


def finished(events: list[object]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished)
    return last


async def run_one(
    sandbox: Sandbox, language: Language, code: str, stdin: str = "", limits: Limits = QUICK
) -> RunFinished:
    events = await collect(sandbox, Submission(language, code, (Run(stdin=stdin),), limits))
    (result,) = results(events)
    return result


@pytest.mark.parametrize(
    ("language", "code"),
    [(PY, 'print("Bonjour le monde")'), (JS, 'console.log("Bonjour le monde")')],
)
async def test_hello_world(sandbox: Sandbox, language: Language, code: str) -> None:
    result = await run_one(sandbox, language, code)
    assert (result.outcome, result.exit_code, result.stdout) == (
        Outcome.OK,
        0,
        "Bonjour le monde\n",
    )


INVALID_UTF8 = (b"caf\xc3", b"\xa9 \xff\xfe ok \xe2\x82", b"\xed\xa0\x80 \xf0\x9f\x98")
SPLIT_BYTES_PY = (
    "import os, time\n"
    f"for chunk in {INVALID_UTF8!r}:\n"
    "    os.write(1, chunk)\n"
    "    time.sleep(0.05)\n"
)


async def test_invalid_utf8_is_replaced_as_python_decodes_it(sandbox: Sandbox) -> None:
    """The harness decodes output itself, across chunk boundaries: each invalid sequence becomes
    one U+FFFD exactly where Python's "replace" decoder puts it, and split characters survive."""
    result = await run_one(sandbox, PY, SPLIT_BYTES_PY)
    assert result.stdout == b"".join(INVALID_UTF8).decode("utf-8", "replace")
    assert result.stdout.startswith("café ")


async def test_every_character_round_trips_through_the_harness(sandbox: Sandbox) -> None:
    """Quotes, backslashes, control characters, line separators, accents and emoji, in the code,
    its input and its output: the harness's JSON parsing and writing lose nothing."""
    text = 'a"b\\c\x00\x01\x1b[0m\t\r\u2028\u2029é€😀\ufffd/'
    code = f"s = {text!r}\nassert input() == s\nprint(s, end='')"
    result = await run_one(sandbox, PY, code, stdin=text + "\n")
    assert (result.outcome, result.stdout) == (Outcome.OK, text), result.stderr


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, 'print("avant")\ninput()\nprint("après")'),
        (
            JS,
            'console.log("avant");\n'
            'process.stdin.once("data", () => { console.log("après"); process.exit(0); });',
        ),
    ],
)
async def test_output_streams_before_the_end(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """The program waits for a line that is sent only once its first output has arrived: without
    streaming, this test would wait for its timeout."""
    seen = ""
    async with sandbox.session(Submission(language, code, (Run(stdin=None),), QUICK)) as session:
        async for event in session:
            if isinstance(event, Output):
                seen += event.data
                if seen == "avant\n":
                    await session.send_stdin("suite\n")
            if isinstance(event, RunFinished):
                assert event.outcome is Outcome.OK, event
    assert seen == "avant\naprès\n"


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, 'nom = input("Ton nom ? ")\nprint("Salut", nom)'),
        (
            JS,
            'const rl = require("readline").createInterface({input: process.stdin});\n'
            'process.stdout.write("Ton nom ? ");\n'
            'rl.on("line", (nom) => { console.log("Salut", nom); rl.close(); process.stdin.destroy(); });',
        ),
    ],
)
async def test_interactive_stdin_reaches_the_program(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    seen = ""
    async with sandbox.session(Submission(language, code, (Run(stdin=None),), QUICK)) as session:
        async for event in session:
            if isinstance(event, Output):
                seen += event.data
                if seen == "Ton nom ? ":
                    assert session.accepts_stdin
                    await session.send_stdin("Ada\n")
            if isinstance(event, RunFinished):
                assert event.outcome is Outcome.OK
    assert seen == "Ton nom ? Salut Ada\n"


async def test_several_runs_share_one_container(
    sandbox: Sandbox, docker_client, instance: str
) -> None:
    code = "print(int(input()) * 2)"
    runs = tuple(Run(stdin=f"{n}\n") for n in range(5))
    seen_containers = set()
    outputs = []
    async with sandbox.session(Submission(PY, code, runs, QUICK)) as session:
        async for event in session:
            if isinstance(event, RunFinished):
                outputs.append(event.stdout)
                live = docker_client.containers.list(
                    filters={"label": f"decode-runner.node={instance}"}
                )
                seen_containers.update(c.id for c in live)
    assert outputs == ["0\n", "2\n", "4\n", "6\n", "8\n"]
    assert len(seen_containers) == 1


async def test_each_run_has_its_own_stdin_and_verdict(sandbox: Sandbox) -> None:
    code = "n = int(input())\nprint(10 // n)"
    events = await collect(
        sandbox, Submission(PY, code, (Run(stdin="2\n"), Run(stdin="0\n"), Run(stdin="5\n")), QUICK)
    )
    outcomes = [(r.outcome, r.stdout) for r in results(events)]
    assert outcomes == [(Outcome.OK, "5\n"), (Outcome.ERROR, ""), (Outcome.OK, "2\n")]
    assert "ZeroDivisionError" in results(events)[1].stderr
    assert finished(events).outcome is Outcome.ERROR


@pytest.mark.parametrize(
    ("language", "code"), [(PY, "while True:\n    pass"), (JS, "while (true) {}")]
)
async def test_infinite_loop_times_out(sandbox: Sandbox, language: Language, code: str) -> None:
    """The harness ends it (an exit code: the host's own watchdog, later, would leave none)."""
    result = await run_one(sandbox, language, code, limits=Limits(time_s=1))
    assert (result.outcome, result.exit_code) == (Outcome.TIMEOUT, -9)
    assert result.duration_ms >= 1000


async def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = await run_one(sandbox, PY, code, limits=Limits(time_s=2))
    # runc stops it at the pid limit until the clock runs out; gVisor's memory accounting may end it first.
    assert result.outcome in {Outcome.TIMEOUT, Outcome.MEMORY}
    # The host and the next learner are untouched.
    assert (await run_one(sandbox, PY, 'print("ok")')).stdout == "ok\n"


async def test_fork_bomb_cannot_spawn_past_the_pid_limit(sandbox: Sandbox) -> None:
    code = (
        "import subprocess\nprocs = []\n"
        "try:\n    for _ in range(200):\n        procs.append(subprocess.Popen(['sleep', '30']))\n"
        "except OSError as exc:\n    print('blocked at', len(procs))"
    )
    result = await run_one(sandbox, PY, code, limits=Limits(time_s=5, pids=32))
    assert result.stdout.startswith("blocked at ")
    assert int(result.stdout.split()[-1]) < 32


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "blocs = []\nwhile True:\n    blocs.append(' ' * 10_000_000)"),
        (JS, "const b = [];\nwhile (true) { b.push(Buffer.alloc(10_000_000, 1)); }"),
    ],
)
async def test_memory_bomb_reports_memory(sandbox: Sandbox, language: Language, code: str) -> None:
    result = await run_one(sandbox, language, code, limits=Limits(time_s=10, memory_mib=128))
    assert result.outcome is Outcome.MEMORY
    assert (
        await run_one(
            sandbox, language, code.split("\n")[0] if language is PY else "console.log(1)"
        )
    ).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "while True:\n    print('x' * 1000)"),
        (JS, "while (true) console.log('x'.repeat(1000));"),
    ],
)
async def test_output_flood_stops_at_the_limit(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    result = await run_one(sandbox, language, code, limits=Limits(time_s=5, output_bytes=16_384))
    assert result.outcome is Outcome.OUTPUT_LIMIT
    assert 0 < len(result.stdout.encode()) <= 16_384


async def test_filling_tmp_fails_inside_the_sandbox(sandbox: Sandbox) -> None:
    code = (
        "try:\n    with open('/tmp/gros', 'wb') as f:\n        while True:\n            f.write(b'x' * 1_000_000)\n"
        "except OSError as exc:\n    import os\n    print('plein', exc.errno, os.path.getsize('/tmp/gros') // 1_000_000)"
    )
    result = await run_one(sandbox, PY, code, limits=Limits(time_s=5, tmp_mib=8))
    assert result.outcome is Outcome.OK
    assert result.stdout.startswith("plein 28 ")  # ENOSPC
    assert int(result.stdout.split()[-1]) <= 8


@pytest.mark.parametrize(
    "path", ["/evil", "/etc/passwd", "/usr/bin/python3", "/opt/harness/harness"]
)
async def test_root_filesystem_is_read_only(sandbox: Sandbox, path: str) -> None:
    code = f"try:\n    open({path!r}, 'a').write('x')\nexcept OSError as exc:\n    print(type(exc).__name__, exc.errno)"
    result = await run_one(sandbox, PY, code)
    assert result.stdout.split()[-1] in {"30", "13"}  # EROFS or EACCES


async def test_network_is_unreachable(sandbox: Sandbox) -> None:
    code = (
        "import socket\nfor host in [('1.1.1.1', 53), ('127.0.0.1', 8000), ('172.17.0.1', 2375)]:\n"
        "    try:\n        socket.create_connection(host, timeout=2)\n        print('CONNECTED', host)\n"
        "    except OSError as exc:\n        print('refused', exc.errno)\n"
        "print(open('/proc/net/dev').read().count(':'))"
    )
    result = await run_one(sandbox, PY, code, limits=Limits(time_s=8))
    assert "CONNECTED" not in result.stdout
    assert result.stdout.splitlines()[-1] == "1"  # only the loopback interface exists


async def test_host_environment_is_not_visible(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECODE_TEST_SECRET", "ne-doit-pas-fuir")
    code = "import os\nprint(sorted(os.environ))\nprint(open('/proc/1/environ', 'rb').read())"
    result = await run_one(sandbox, PY, code)
    assert "ne-doit-pas-fuir" not in result.stdout + result.stderr
    assert "DECODE_TEST_SECRET" not in result.stdout + result.stderr
    assert os.environ["DECODE_TEST_SECRET"] == "ne-doit-pas-fuir"


async def test_runs_as_an_unprivileged_user_without_capabilities(sandbox: Sandbox) -> None:
    code = "import os\nprint(os.getuid(), os.getgid())\nprint([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'NoNewPrivs'))])"
    result = await run_one(sandbox, PY, code)
    assert result.stdout.splitlines()[0] == "1000 1000"
    assert "CapEff:\\t0000000000000000" in result.stdout
    if sandbox.settings.sandbox_runtime != "runsc":  # gVisor's /proc does not show the flag
        assert "NoNewPrivs:\\t1" in result.stdout


async def test_a_file_left_in_tmp_is_not_seen_by_the_next_submission(sandbox: Sandbox) -> None:
    await run_one(sandbox, PY, "open('/tmp/secret.txt', 'w').write('à moi')")
    result = await run_one(sandbox, PY, "import os\nprint(os.path.exists('/tmp/secret.txt'))")
    assert result.stdout == "False\n"


@pytest.mark.timeout(25)
async def test_sleep_forever_then_stop(sandbox: Sandbox) -> None:
    """Only the stop can end this run before the test's own timeout (the run's limit is 30 s)."""
    code = "import time\nprint('je dors', flush=True)\ntime.sleep(3600)"
    async with sandbox.session(
        Submission(PY, code, (Run(stdin=None),), Limits(time_s=30))
    ) as session:
        events = []
        async for event in session:
            events.append(event)
            if isinstance(event, Output):
                await session.stop()
    assert results(events)[0].outcome is Outcome.STOPPED
    assert finished(events).outcome is Outcome.STOPPED


async def test_stdin_flood_does_not_block_the_host(sandbox: Sandbox) -> None:
    code = "import sys, time\ntime.sleep(0.5)\nprint(len(sys.stdin.read()))"
    async with sandbox.session(Submission(PY, code, (Run(stdin=None),), QUICK)) as session:
        events = []
        async for event in session:
            events.append(event)
            if len(events) == 1:  # RunStarted: flood 4 MiB, far past the pipe and harness buffers
                for _ in range(64):  # a host blocked here would end the test at its timeout
                    await session.send_stdin("x" * 65536)
                await session.close_stdin()
    result = results(events)[0]
    assert result.outcome is Outcome.OK
    # The harness keeps at most 1 MiB waiting, plus what the 64 KiB pipe holds; the rest is dropped.
    assert 65536 <= int(result.stdout) <= (1 << 20) + 65536


async def test_unreachable_engine_reports_unavailable(settings: Settings) -> None:
    box = Sandbox(settings.replace(docker_socket="/nonexistent/docker.sock"))
    await box.start()
    try:
        events = await collect(box, Submission(PY, "print(1)"))
        assert (await box.health())["engine"] is False
    finally:
        await box.close()
    assert finished(events).outcome is Outcome.UNAVAILABLE
    assert "Docker engine unreachable at /nonexistent/docker.sock" in finished(events).detail


async def test_missing_image_reports_unavailable_naming_it(settings: Settings) -> None:
    box = Sandbox(settings.replace(image_prefix="decode-runner-missing"))
    await box.start()
    try:
        events = await collect(box, Submission(JS, "console.log(1)"))
    finally:
        await box.close()
    assert finished(events).outcome is Outcome.UNAVAILABLE
    assert "decode-runner-missing-javascript" in finished(events).detail


async def test_every_container_is_removed_though_its_harness_exits_during_removal(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Sessions closed under load all have their containers removed, without a warning. Closing a
    session closes the harness's stdin, so a container may stop by itself while the engine kills it
    for removal; Docker 20.10 then refuses that removal once ("is not running": seen in a full
    run, not reproducible on demand) and the removal is tried again."""
    submission = Submission(PY, "print(1)", (Run(stdin=""),), QUICK)
    for _ in range(3):  # under load, as the race needs
        await asyncio.gather(*(collect(sandbox, submission) for _ in range(8)))
    await sandbox.close()  # waits for every removal; no_container_left checks none is left
    assert "could not remove container" not in caplog.text


async def test_engine_errors_carry_their_status(settings: Settings, docker_client) -> None:
    """The Docker boundary raises typed errors by HTTP status; nobody reads the engine's words."""
    api = DockerAPI(settings)
    container = docker_client.containers.create(
        "decode-runner-python:latest",
        command=["sleep", "60"],
        entrypoint=[],
        labels={"decode-runner": "1", "decode-runner.node": settings.node_id},
    )
    try:
        with pytest.raises(ContainerGone) as gone:
            await api.start("0" * 64)
        assert gone.value.status == 404
        await api.start(container.id)
        with pytest.raises(Conflict) as conflict:  # removing a running container needs force
            await api._engine("DELETE", f"/containers/{container.id}")
        assert conflict.value.status == 409
        missing = DockerAPI(settings.replace(image_prefix="decode-runner-missing"))
        try:
            with pytest.raises(ImageMissing) as image:
                await missing.create(PY, QUICK)
            assert image.value.status == 404
            assert "decode-runner-missing-python" in str(image.value)
        finally:
            missing.close()
        await api.kill("0" * 64)  # gone already: nothing to do, nothing raised
        await api.remove(container.id)
        await api.remove(container.id)  # gone already
    finally:
        api.close()
    with pytest.raises(docker.errors.NotFound):
        container.reload()
    unreachable = DockerAPI(settings.replace(docker_socket="/nonexistent/docker.sock"))
    with pytest.raises(EngineUnreachable) as down:
        await unreachable.start("0" * 64)
    assert down.value.socket == "/nonexistent/docker.sock"


async def test_a_failing_background_task_is_logged_and_harms_nothing(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Background work (removals, the pool's fillers) runs in the sandbox's task group: a failure
    is logged there, and neither the group nor the task that started the sandbox is cancelled."""

    async def broken() -> None:
        raise RuntimeError("en panne")

    assert sandbox._spawn(broken, name="broken")
    await run_one(sandbox, PY, "print(1)")  # runs after the failure, its removal in the group
    assert "sandbox background task failed: broken" in caplog.text
    assert "en panne" in caplog.text
    assert (await run_one(sandbox, PY, 'print("encore")')).stdout == "encore\n"


async def test_reaper_removes_its_node_s_orphans_and_never_another_s(
    settings: Settings, docker_client
) -> None:
    """The nodes of a cluster may share an engine: each reaps only its own node id's orphans."""
    orphan = docker_client.containers.create(
        "decode-runner-python:latest",
        labels={"decode-runner": "1", "decode-runner.node": settings.node_id},
    )
    neighbour = docker_client.containers.create(
        "decode-runner-python:latest",
        labels={"decode-runner": "1", "decode-runner.node": settings.node_id + "-other"},
    )
    older = docker_client.containers.create(  # left by a process from before the label's rename
        "decode-runner-python:latest",
        labels={"decode-runner": "1", "decode-runner.instance": settings.node_id},
    )
    try:
        box = Sandbox(settings)
        await box.start()
        await box.close()
        for gone in (orphan, older):
            with pytest.raises(docker.errors.NotFound):
                gone.reload()
        neighbour.reload()  # still there: another node's
    finally:
        neighbour.remove(force=True)


ATTACK_PY = """
import os, signal
for fd in (0, 1):
    try:
        os.open(f"/proc/1/fd/{fd}", os.O_WRONLY if fd else os.O_RDONLY)
        print("OPENED", fd)
    except OSError as exc:
        print("denied", fd, exc.errno)
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGKILL):
    os.kill(1, sig)
print("done")
"""
ATTACK_JS = """
const fs = require("fs");
for (const fd of [0, 1]) {
  try { fs.openSync(`/proc/1/fd/${fd}`, fd ? "w" : "r"); console.log("OPENED", fd); }
  catch (e) { console.log("denied", fd, e.code); }
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGKILL"]) process.kill(1, sig);
setTimeout(() => {
  const s = require("net").connect(9229, "127.0.0.1");
  s.on("connect", () => { console.log("INSPECTOR OPEN"); s.destroy(); });
  s.on("error", () => console.log("done"));
}, 300);
"""


@pytest.mark.parametrize(("language", "code"), [(PY, ATTACK_PY), (JS, ATTACK_JS)])
async def test_learner_code_cannot_reach_the_harness(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """The harness (PID 1, same uid) keeps its pipes, survives every signal, and its next run works."""
    under_gvisor = sandbox.settings.sandbox_runtime == "runsc"
    if under_gvisor:
        # gVisor lets a process SIGKILL its own sandbox's PID 1 (that ends only this submission),
        # and its /proc ignores the non-dumpable flag: there the harness's pipes are reachable,
        # which the host's checks of every harness message contain (see the next test).
        code = code.replace(", signal.SIGKILL)", ")").replace(', "SIGKILL"]', "]")
    events = await collect(
        sandbox, Submission(language, code, (Run(stdin=""), Run(stdin="")), QUICK)
    )
    first, second = results(events)
    for result in (first, second):
        assert result.outcome is Outcome.OK, result
        assert "INSPECTOR OPEN" not in result.stdout
        assert result.stdout.splitlines()[-1] == "done"
        if not under_gvisor:
            assert result.stdout.startswith("denied 0 "), result.stdout
            assert "OPENED" not in result.stdout


FORGE_PY = """
import os, time
fd = os.open("/proc/1/fd/1", os.O_WRONLY)
os.write(fd, b'{"ev":"out","index":0,"stream":"stdout","data":"' + b"x" * 70000 + b'"}\\n')
time.sleep(1)
"""


async def test_forged_harness_messages_are_refused_by_the_host(settings: Settings) -> None:
    """Where learner code can write to the harness's output (gVisor), the host checks every
    message: output past the run's limit ends the submission instead of reaching the learner."""
    if not _runsc_registered():
        pytest.skip("only gVisor lets learner code open the harness's pipes; runc is tested above")
    box = Sandbox(settings.replace(sandbox_runtime="runsc"))
    await box.start()
    try:
        events = await collect(
            box, Submission(PY, FORGE_PY, (Run(stdin=""),), Limits(time_s=5, output_bytes=65536))
        )
    finally:
        await box.close()
    (result,) = results(events)
    assert result.outcome is Outcome.ERROR
    assert result.stdout == ""


async def test_python_program_runs_as_under_python3_main_py(sandbox: Sandbox) -> None:
    """A program sees what `python3 main.py` gives it: name, argv, directory, threads, exit."""
    code = (
        "import sys, os, threading, time\n"
        "print(__name__, sys.argv, os.getcwd(), sys.stdout.encoding)\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('fil fini'))).start()\n"
        "print(input())\n"
        "exit(3)\n"
    )
    result = await run_one(sandbox, PY, code, stdin="une ligne\n")
    assert result.stdout == "__main__ ['/tmp/main.py'] /tmp utf-8\nune ligne\nfil fini\n"
    assert (result.outcome, result.exit_code) == (Outcome.ERROR, 3)


async def test_python_traceback_shows_only_the_learner_file(sandbox: Sandbox) -> None:
    code = "def f(n):\n    return 10 // n\n\nprint(f(int(input())))\n"
    result = await run_one(sandbox, PY, code, stdin="0\n")
    assert result.stderr.splitlines() == [
        "Traceback (most recent call last):",
        '  File "/tmp/main.py", line 4, in <module>',
        "    print(f(int(input())))",
        "          ^^^^^^^^^^^^^^^",
        '  File "/tmp/main.py", line 2, in f',
        "    return 10 // n",
        "           ~~~^^~~",
        "ZeroDivisionError: integer division or modulo by zero",
    ]


def streams(events: list[object]) -> list[tuple[str, str]]:
    """The run's output as (stream, text), neighbours of one stream joined."""
    joined: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, Output):
            if joined and joined[-1][0] == event.stream:
                joined[-1] = (event.stream, joined[-1][1] + event.data)
            else:
                joined.append((event.stream, event.data))
    return joined


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, 'nom = input("Nom ? ")\nprint("Salut", nom)'),
        (JS, 'const nom = prompt("Nom ? ");\nconsole.log("Salut", nom);'),
    ],
)
async def test_the_question_asked_for_input_is_a_prompt_not_output(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """Python's input(question) and JavaScript's prompt(question): the question is reported on the
    stream "prompt" and in RunFinished.prompts, never in stdout (what checks compare)."""
    events = await collect(sandbox, Submission(language, code, (Run(stdin="Ada\n"),), QUICK))
    (result,) = results(events)
    assert (result.outcome, result.stdout, result.prompts) == (Outcome.OK, "Salut Ada\n", "Nom ? ")
    assert streams(events) == [("prompt", "Nom ? "), ("stdout", "Salut Ada\n")]


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "for i in range(30):\n    print('tour', i)\n    print('lu', input(f'q{i} ? '))"),
        (
            JS,
            "for (let i = 0; i < 30; i++) {\n  console.log('tour', i);\n"
            "  console.log('lu', prompt(`q${i} ? `));\n}",
        ),
    ],
)
async def test_prompts_and_output_keep_their_order(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """All the input is there from the start, so the program never waits: the harness still reports
    what it printed before each question first, and what it printed after, after."""
    stdin = "".join(f"r{i}\n" for i in range(30))
    events = await collect(sandbox, Submission(language, code, (Run(stdin=stdin),), QUICK))
    expected: list[tuple[str, str]] = []
    for i in range(30):
        answer = f"lu r{i - 1}\n" if i else ""
        expected += [("stdout", f"{answer}tour {i}\n"), ("prompt", f"q{i} ? ")]
    expected.append(("stdout", "lu r29\n"))
    assert streams(events) == expected


async def test_input_is_still_the_built_in_and_follows_a_replaced_stdout(sandbox: Sandbox) -> None:
    """The prelude changes nothing a program can see: input is the built-in, and with sys.stdout
    replaced, the question goes where it goes under `python3 main.py`."""
    code = (
        "import builtins, io, sys\n"
        "print(input is builtins.input, type(input).__name__)\n"
        "sys.stdout = io.StringIO()\nlu = input('cachée ? ')\ncapture, sys.stdout = sys.stdout, sys.__stdout__\n"
        "print(repr(capture.getvalue()), lu)\n"
    )
    result = await run_one(sandbox, PY, code, stdin="oui\n")
    assert (result.stdout, result.prompts) == (
        "True builtin_function_or_method\n'cachée ? ' oui\n",
        "",
    )


@pytest.mark.parametrize(
    ("language", "code", "stderr_lines"),
    [
        (
            PY,
            "a = input('Premier ? ')\nb = input('Second ? ')\n",
            [
                "Traceback (most recent call last):",
                '  File "/tmp/main.py", line 2, in <module>',
                "    b = input('Second ? ')",
                "        ^^^^^^^^^^^^^^^^^^",
                "EOFError: EOF when reading a line",
            ],
        ),
        (
            JS,
            "const a = prompt('Premier ?');\nconst b = prompt('Second ?');\nconsole.log(b.length);\n",
            [
                "/tmp/main.js:3",
                "console.log(b.length);",
                "              ^",
                "",
                "TypeError: Cannot read properties of null (reading 'length')",
                "    at Object.<anonymous> (/tmp/main.js:3:15)",
            ],
        ),
    ],
)
async def test_at_the_end_of_the_input_errors_name_only_the_learner_s_lines(
    sandbox: Sandbox, language: Language, code: str, stderr_lines: list[str]
) -> None:
    """input() raises EOFError, prompt() returns null: the errors that follow show no line of
    the preludes (runner/feedback explains lines of /tmp/main.* only)."""
    result = await run_one(sandbox, language, code, stdin="seule ligne\n")
    assert result.outcome is Outcome.ERROR
    lines = result.stderr.splitlines()
    assert lines[: len(stderr_lines)] == stderr_lines, result.stderr
    assert "prompt" not in result.stderr.replace("Premier ?", "").replace("Second ?", "")
    assert "/opt/" not in result.stderr and "_decode_prompt" not in result.stderr


async def test_javascript_prompt_alert_and_read_file_sync(sandbox: Sandbox) -> None:
    """prompt() reads one line (null at the end of the input), alert() prints, and
    readFileSync(0) still reads what prompt() left."""
    code = (
        "const a = prompt();\nalert(`un ${a}`);\nalert();\n"
        "const rest = require('fs').readFileSync(0, 'utf8');\n"
        "console.log(JSON.stringify(rest), JSON.stringify(prompt('encore ?')));\n"
    )
    result = await run_one(sandbox, JS, code, stdin="é1\nreste\nfin")
    assert (result.outcome, result.prompts) == (Outcome.OK, "encore ?"), result.stderr
    assert result.stdout == 'un é1\n\n"reste\\nfin" null\n'


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "print('x' * 1000)\ninput('?' * 100_000)"),
        (JS, "console.log('x'.repeat(1000));\nprompt('?'.repeat(100000));"),
    ],
)
async def test_prompts_count_in_the_output_limit(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    result = await run_one(
        sandbox, language, code, stdin="", limits=Limits(time_s=5, output_bytes=16_384)
    )
    assert result.outcome is Outcome.OUTPUT_LIMIT
    assert len(result.stdout) == 1001
    assert 0 < len(result.stdout) + len(result.prompts) <= 16_384


SECRET = "7f3a9c0e5b1d"
SCAN_MEMORY = """
import ctypes, re
marker = ("S3CR" + "3T-").encode()
found = set()
with open("/proc/self/maps") as maps:  # /proc/self/mem: not for a process that is not dumpable
    for line in maps:
        span, perms, *rest = line.split()
        named = len(rest) > 3 and rest[3] not in ("[heap]", "[stack]")
        if not perms.startswith("r") or (named and perms[1] != "w"):
            continue  # what it allocated or wrote: a read-only file mapping may end past its file
        start, end = (int(x, 16) for x in span.split("-"))
        chunk = ctypes.string_at(start, end - start)
        found.update(m.group(1) for m in re.finditer(re.escape(marker) + rb"([0-9a-f]{12})", chunk))
print(sorted(x.decode() for x in found))
"""


async def test_a_run_cannot_find_an_earlier_run_s_input_in_its_memory(sandbox: Sandbox) -> None:
    """A hidden test's stdin stays in its own run's process: a later run cannot find it (the
    scan finds it in the run that read it)."""
    code = "import sys\ndata = sys.stdin.read()\n" + SCAN_MEMORY
    runs = (Run(stdin=f"S3CR3T-{SECRET}\n"), Run(stdin="x"), Run(stdin="x"))
    events = await collect(sandbox, Submission(PY, code, runs, QUICK))
    first, second, third = results(events)
    assert [r.outcome for r in (first, second, third)] == [Outcome.OK] * 3, second.stderr
    assert first.stdout == f"['{SECRET}']\n"
    assert second.stdout == third.stdout == "[]\n"


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "import sys\nprint(len(sys.stdin.read()))"),
        (JS, "console.log(require('fs').readFileSync(0, 'utf8').length)"),
    ],
)
async def test_a_run_s_given_input_ends_with_end_of_file(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    result = await run_one(sandbox, language, code, stdin="abc\ndef\n")
    assert (result.outcome, result.stdout) == (Outcome.OK, "8\n")


LEAVE_STATE = {
    PY: (
        "import os\n"
        "open('/dev/shm/reste', 'w').write('de la course 1')\n"
        "os.makedirs('/tmp/coffre')\nopen('/tmp/coffre/secret', 'w').write('x')\nos.chmod('/tmp/coffre', 0)\n"
    ),
    JS: (
        "const fs = require('fs');\n"
        "fs.writeFileSync('/dev/shm/reste', 'de la course 1');\n"
        "fs.mkdirSync('/tmp/coffre'); fs.writeFileSync('/tmp/coffre/secret', 'x'); fs.chmodSync('/tmp/coffre', 0);\n"
    ),
}
LOOK_FOR_STATE = {
    PY: "import os\nprint(os.path.exists('/dev/shm/reste'), os.path.exists('/tmp/coffre'))",
    JS: "const fs = require('fs');\nconsole.log(fs.existsSync('/dev/shm/reste'), fs.existsSync('/tmp/coffre'));",
}


@pytest.mark.parametrize("language", [PY, JS])
async def test_a_run_leaves_nothing_for_the_next_run(sandbox: Sandbox, language: Language) -> None:
    """Files in /tmp and /dev/shm, even in a directory locked with mode 000, are gone."""
    runs = (Run(stdin="1"), Run(stdin="2"))
    dispatch = {
        PY: "import sys\nif sys.stdin.read() == '1':\n    exec(FIRST)\nelse:\n    exec(SECOND)",
        JS: "if (require('fs').readFileSync(0, 'utf8') === '1') { eval(FIRST) } else { eval(SECOND) }",
    }[language]
    code = (
        f"FIRST = {LEAVE_STATE[language]!r}\nSECOND = {LOOK_FOR_STATE[language]!r}\n"
        if language is PY
        else f"const FIRST = {json.dumps(LEAVE_STATE[language])};\nconst SECOND = {json.dumps(LOOK_FOR_STATE[language])};\n"
    ) + dispatch
    events = await collect(sandbox, Submission(language, code, runs, QUICK))
    first, second = results(events)
    assert first.outcome is Outcome.OK, first.stderr
    assert (second.outcome, second.stdout.lower()) == (Outcome.OK, "false false\n")


LOOK_AROUND = """
import os, resource
def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None
def ipc(table):
    path = '/proc/sysvipc/' + table
    return len(open(path).readlines()) if os.path.exists(path) else None
print(listing('/tmp'), listing('/dev/shm'), listing('/dev/mqueue'))
print([ipc(t) for t in ('shm', 'msg', 'sem')])
print(resource.getrlimit(resource.RLIMIT_NOFILE), os.sched_getaffinity(0), os.getpriority(os.PRIO_PROCESS, 0))
"""
LEAVE_EVERYTHING = """
import ctypes, os, resource
os.chdir('/tmp')
for depth in range(400):  # deeper than the harness's 256 descriptors
    os.mkdir('d'); os.chdir('d')
    if depth == 200:
        os.mkdir('locked'); open('locked/x', 'w').close(); os.chmod('locked', 0)
open('secret', 'w').write('x')
libc = ctypes.CDLL(None, use_errno=True)
made = [libc.shmget(0x1234, 4096, 0o1666), libc.msgget(0x99, 0o1666), libc.semget(0x77, 1, 0o1666),
        libc.mq_open(b'/reste', os.O_CREAT | os.O_RDWR, 0o600, None)]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
try:  # PID 1's own limit, which runs inherit: refused by the seccomp profile (not under gVisor)
    resource.prlimit(1, resource.RLIMIT_NOFILE, (13, hard))
except PermissionError:
    pass
if len(os.sched_getaffinity(1)) > 1:
    os.sched_setaffinity(1, {min(os.sched_getaffinity(1))})
print(made)
"""


async def test_a_run_changes_nothing_the_next_run_inherits(sandbox: Sandbox) -> None:
    """A 400-deep tree with a locked directory, System V and POSIX IPC objects, PID 1's own
    resource limits and CPUs (same uid: the kernel lets a program change them): the run after
    sees exactly what the run before saw."""
    code = f"import sys\nexec({LEAVE_EVERYTHING!r} if sys.stdin.read() == 'leave' else {LOOK_AROUND!r})"
    runs = (Run(stdin="look"), Run(stdin="leave"), Run(stdin="look"))
    before, leave, after = results(await collect(sandbox, Submission(PY, code, runs, QUICK)))
    assert [r.outcome for r in (before, leave, after)] == [Outcome.OK] * 3, leave.stderr
    assert after.stdout == before.stdout
    assert before.stdout.startswith("['main.py'] [] ")


async def test_a_run_that_lowers_pid_1_s_priority_ends_its_submission(sandbox: Sandbox) -> None:
    """An unprivileged process cannot raise a priority back: the harness refuses to run anything
    more in that container rather than let later runs inherit it."""
    code = "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))\nos.setpriority(os.PRIO_PROCESS, 1, 10)"
    runs = (Run(stdin=""), Run(stdin=""))
    first, second = results(await collect(sandbox, Submission(PY, code, runs, QUICK)))
    assert (first.outcome, first.stdout) == (Outcome.OK, "0\n")
    if sandbox.settings.sandbox_runtime == "runsc":  # gVisor keeps no priority per process
        assert (second.outcome, second.stdout) == (Outcome.OK, "0\n")
    else:  # the harness says so (an error without exit code: the last run) and ends the container
        assert (second.outcome, second.exit_code, second.stdout) == (Outcome.ERROR, None, "")


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (
            PY,
            "import subprocess\nfor _ in range(40):\n    subprocess.Popen(['sleep', '60'])\nprint('lancés')",
        ),
        (
            JS,
            "const { spawn } = require('child_process');\n"
            "for (let i = 0; i < 40; i++) spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }).unref();\n"
            "console.log('lancés');",
        ),
    ],
)
async def test_orphans_of_one_run_do_not_fill_the_next_run_s_process_table(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """40 orphans per run, 3 runs, a 64-process limit: the harness kills and reaps them all."""
    runs = tuple(Run(stdin="") for _ in range(3))
    events = await collect(sandbox, Submission(language, code, runs, QUICK))
    assert [(r.outcome, r.stdout) for r in results(events)] == [(Outcome.OK, "lancés\n")] * 3


async def test_a_program_stopping_its_parent_does_not_hang_the_run(sandbox: Sandbox) -> None:
    if sandbox.settings.sandbox_runtime == "runsc":
        pytest.skip(
            "gVisor lets a program stop its sandbox's PID 1, like SIGKILL (README: known limits)"
        )
    code = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint('fini')"
    events = await collect(sandbox, Submission(PY, code, (Run(stdin=""), Run(stdin="")), QUICK))
    # A stopped harness would report nothing: the host's watchdog would end the run, TIMEOUT.
    assert [(r.outcome, r.stdout) for r in results(events)] == [(Outcome.OK, "fini\n")] * 2


async def test_python_recursion_limit_is_the_usual_one(sandbox: Sandbox) -> None:
    code = "import sys\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(990), sys.getrecursionlimit() >= 1000)"
    result = await run_one(sandbox, PY, code)
    assert (result.outcome, result.stdout) == (Outcome.OK, "990 True\n")


async def test_javascript_heap_exhaustion_reports_memory(sandbox: Sandbox) -> None:
    code = "const a = [];\nwhile (true) a.push({ n: a.length, s: 'x'.repeat(64) + a.length });"
    result = await run_one(sandbox, JS, code, limits=Limits(time_s=20, memory_mib=128))
    assert result.outcome is Outcome.MEMORY


async def test_a_sigkill_that_is_not_the_oom_killer_is_not_called_memory(sandbox: Sandbox) -> None:
    """Learner code that SIGKILLs itself gets "killed", never "plus de 256 Mio"."""
    code = "import os, signal\nprint('avant', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    result = await run_one(sandbox, PY, code, stdin="")
    # gVisor exposes no OOM counter: there a SIGKILL stays "memory" (docs/architecture.md).
    expected = Outcome.MEMORY if sandbox.settings.sandbox_runtime == "runsc" else Outcome.KILLED
    assert (result.outcome, result.exit_code, result.stdout) == (expected, -9, "avant\n")


async def test_a_container_killed_from_outside_is_unavailable(
    sandbox: Sandbox, docker_client: Any, instance: str
) -> None:
    """`docker kill` mid-run is the service's failure, not the learner's error."""
    submission = Submission(
        PY, "print('prêt', flush=True)\ninput()\n", (Run(stdin=None),), Limits()
    )
    events = []
    async with sandbox.session(submission) as session:
        async for event in session:
            events.append(event)
            if isinstance(event, Output) and "prêt" in event.data:
                labels = {"label": [f"decode-runner.node={instance}"]}
                for container in docker_client.containers.list(filters=labels):
                    await anyio.to_thread.run_sync(container.kill)
    (result,) = results(events)
    assert result.outcome is Outcome.UNAVAILABLE
    assert finished(events).outcome is Outcome.UNAVAILABLE


IO_URING = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 4, params)  # io_uring_setup(4, &params)
print(fd, errno.errorcode.get(ctypes.get_errno()))
"""


async def test_io_uring_is_refused(sandbox: Sandbox) -> None:
    result = await run_one(sandbox, PY, IO_URING, stdin="")
    assert result.outcome is Outcome.OK, result.stderr
    fd, error = result.stdout.split()
    if sandbox.settings.sandbox_runtime == "runsc":
        # gVisor serves io_uring from its own user-space kernel: the host kernel's io_uring,
        # which the advisories are about, is never reached.
        assert fd.isdigit() or error in ("EPERM", "ENOSYS")
        return
    assert fd == "-1" and error in ("EPERM", "ENOSYS"), result.stdout


async def test_new_namespaces_are_refused(sandbox: Sandbox) -> None:
    if sandbox.settings.sandbox_runtime == "runsc":
        pytest.skip("gVisor creates namespaces in its own kernel: the host's stay out of reach")
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER\n"
    )
    result = await run_one(sandbox, PY, code, stdin="")
    status, error = result.stdout.split()
    assert status == "-1" and int(error) in (1, 22, 38), result.stdout + result.stderr


HOST_PATHS = [
    "/proc/meminfo",
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/version",
    "/proc/sys/kernel/random/boot_id",
]


async def test_host_information_is_masked_and_programs_still_work(sandbox: Sandbox) -> None:
    code = (
        "import os\n"
        f"for path in {HOST_PATHS!r}:\n"
        "    try:\n"
        "        print(path, repr(open(path).read()[:400]))\n"
        "    except OSError as e:\n"
        "        print(path, 'refused', e.errno)\n"
        "print('/sys/block', os.listdir('/sys/block') if os.path.isdir('/sys/block') else [])\n"
        "print(open('/etc/hostname').read().strip(), os.cpu_count() >= 1)\n"
    )
    result = await run_one(sandbox, PY, code, stdin="")
    lines = result.stdout.splitlines()
    host_boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    host_total = next(
        line for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )
    assert host_boot_id not in result.stdout and host_total.split()[1] not in result.stdout
    if sandbox.settings.sandbox_runtime != "runsc":  # gVisor's /proc is its own, not the host's
        for path, line in zip(HOST_PATHS, lines, strict=False):
            assert line in (f"{path} ''", f"{path} refused 2", f"{path} refused 13"), line
        assert lines[len(HOST_PATHS)] == "/sys/block []"
    assert lines[-1] == "sandbox True"
    js = await run_one(
        sandbox,
        JS,
        "const os = require('os'); console.log(typeof os.totalmem(), [1, 2].map((x) => x * 2).join(','))",
        stdin="",
    )
    assert (js.outcome, js.stdout) == (Outcome.OK, "number 2,4\n"), js.stderr


NEXT_TESTS = {PY: "print(input())", JS: "console.log(prompt())"}


@pytest.mark.parametrize("language", [PY, JS])
async def test_each_later_test_of_a_check_is_prepared_under_runc_only(
    sandbox: Sandbox, language: Language
) -> None:
    """Never for a check's last test (nothing would use it), nor for a run with an interactive
    one next (its CPU limit counts every process but PID 1), nor under gVisor, where an
    execute-only interpreter cannot be exec'd. The outputs are the same either way."""
    runs = (Run(stdin="1\n"), Run(stdin="2\n"), Run(stdin="3\n"), Run(stdin=None))
    alongside = sandbox.settings.sandbox_runtime != "runsc"
    submission = Submission(language, NEXT_TESTS[language], runs, QUICK)
    async with sandbox.session(submission) as session:
        events = []
        async for event in session:
            events.append(event)
            if isinstance(event, RunStarted) and event.index == 3:
                await session.send_stdin("4\n")
    assert [e.prepared for e in events if isinstance(e, RunStarted)] == [
        False,
        alongside,
        alongside,
        False,
    ]
    assert [(r.outcome, r.stdout) for r in results(events)] == [
        (Outcome.OK, f"{n}\n") for n in (1, 2, 3, 4)
    ]
