"""A warm container's first program, prepared ahead (harness.c: "the gate"), against the real engine.

The interpreter of a pooled container is started before its submission arrives and waits at its
prelude's gate; the first run opens it. What the learner sees must be exactly what a fresh start
gives, and a pool's prepared process never meets learner code: it is the first run's process, or
it is killed before the run, and a container that has run anything accepts no "prepare" any more
(a check's next interpreter, started beside a run, is tests/test_alongside.py's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from test_sandbox import RUNTIMES

from runner.sandbox import (
    Finished,
    Language,
    Limits,
    Outcome,
    Run,
    RunFinished,
    RunStarted,
    Sandbox,
    Submission,
)
from runner.sandbox.attach import HarnessProtocolError
from runner.sandbox.docker_api import Container
from runner.sandbox.programs import prepare_command, program
from runner.sandbox.session import _Collected
from runner.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

PY, JS = Language.PYTHON, Language.JAVASCRIPT
# What a program can see of how it was started, a question, and an uncaught error's report.
SELF_PORTRAITS = {
    PY: (
        "import os, sys\n"
        "print(sys.argv, __file__, sys.path[0], os.getcwd(), os.getppid(), __name__)\n"
        "print('site' in sys.modules, sys.flags.no_site, sys.flags.isolated)\n"
        "print(input('Ton nom ? '))\n"
        "raise ValueError('oups')\n"
    ),
    JS: (
        "console.log(process.argv.slice(1), __filename, require.main === module, process.cwd(),"
        " process.ppid, typeof prompt, process.execArgv)\n"
        "console.log(prompt('Ton nom ? '))\n"
        "null.x\n"
    ),
}
RUNS = (Run(stdin="Ada\n"), Run(stdin="Grace\n"))


@pytest.fixture(params=RUNTIMES)
async def pooled(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Sandbox]:
    box = Sandbox(settings.replace(pool_size=1, sandbox_runtime=request.param))
    await box.start()
    try:
        yield box
    finally:
        await box.close()


async def pool_ready(box: Sandbox, language: Language) -> None:
    with anyio.fail_after(30):
        while box.pool.ready()[language.value] < 1:
            await anyio.sleep(0.05)


async def check(box: Sandbox, submission: Submission) -> list[Any]:
    async with box.session(submission) as session:
        return [event async for event in session]


def processes(docker_client: Any, container_id: str) -> list[str]:
    """The commands running in a container, as the engine lists them (`docker top`)."""
    top = docker_client.api.top(container_id)
    column = top["Titles"].index("CMD")
    return [row[column] for row in top["Processes"]]


@pytest.mark.parametrize("language", [PY, JS])
async def test_a_prepared_program_is_what_a_fresh_start_gives(
    pooled: Sandbox, docker_client: Any, language: Language
) -> None:
    await pool_ready(pooled, language)
    (waiting,) = pooled.pool._ready[language]
    _, argv = program(language, Limits.defaults(pooled.settings), pooled.settings.sandbox_runtime)
    # The interpreter is started and waits, before any submission exists.
    if pooled.settings.sandbox_runtime != "runsc":  # gVisor's processes are the sentry's own
        interpreter = argv[0] if argv[0] != "/usr/bin/prlimit" else argv[3]
        with anyio.fail_after(20):
            while not any(interpreter in cmd for cmd in processes(docker_client, waiting.id)):
                await anyio.sleep(0.05)

    warm = Submission(language, SELF_PORTRAITS[language], RUNS, Limits.defaults(pooled.settings))
    prepared = await check(pooled, warm)
    # The same program, limits and argv, in a container started for it (other limits: no pool).
    fresh = await check(pooled, Submission(language, warm.code, RUNS, Limits(time_s=9.0)))

    # the second run's interpreter started during the first (test_alongside.py), not under gVisor
    alongside = pooled.settings.sandbox_runtime != "runsc"
    assert [e.prepared for e in prepared if isinstance(e, RunStarted)] == [True, alongside]
    assert [e.prepared for e in fresh if isinstance(e, RunStarted)] == [False, alongside]

    def seen(events: list[Any]) -> list[tuple[object, ...]]:
        return [
            (r.outcome, r.exit_code, r.stdout, r.stderr, r.prompts, r.transcript)
            for r in events
            if isinstance(r, RunFinished)
        ]

    assert seen(prepared) == seen(fresh)
    first, second = seen(prepared)
    assert first[0] is Outcome.ERROR and first[4] == "Ton nom ? "
    assert ("Ada\n" in first[2]) and ("Grace\n" in second[2])
    assert "/tmp/main" in first[2] and ("ValueError: oups" in first[3] or "TypeError" in first[3])


async def test_a_prepared_program_keeps_the_heap_limit(pooled: Sandbox) -> None:
    """The prepared Node.js was started with the heap limit of the pool's memory limit."""
    await pool_ready(pooled, JS)
    code = "const a = [];\nwhile (true) a.push({ n: a.length, s: 'x'.repeat(64) + a.length });"
    events = await check(pooled, Submission(JS, code, (Run(stdin=""),), pooled.pool._limits))
    assert [e.prepared for e in events if isinstance(e, RunStarted)] == [True]
    assert isinstance(events[-1], Finished) and events[-1].outcome is Outcome.MEMORY


async def test_a_prepared_interactive_run_takes_input_and_asks_in_order(pooled: Sandbox) -> None:
    await pool_ready(pooled, PY)
    code = "print('avant')\nprint(input('Âge ? '))\nprint('après')\n"
    submission = Submission(PY, code, (Run(stdin=None),), pooled.pool._limits)
    async with pooled.session(submission) as session:
        events = []
        async for event in session:
            events.append(event)
            if isinstance(event, RunStarted):
                assert event.prepared
                await session.send_stdin("42\n")
    (result,) = [e for e in events if isinstance(e, RunFinished)]
    assert (result.outcome, result.transcript) == (Outcome.OK, "avant\nÂge ? 42\naprès\n")


# ---- the harness's rules, driven directly ---------------------------------------------------


async def harness_run(container: Container, index: int, code: str, file: str, argv: list[str]):
    await container.attachment.send(
        {
            "op": "run",
            "index": index,
            "code": code,
            "file": file,
            "argv": argv,
            "stdin": "",
            "timeout": 10,
            "idle": 300,
            "output_bytes": 65536,
        }
    )
    messages = []
    with anyio.fail_after(20):
        while not messages or messages[-1].get("ev") != "exit":
            messages.append(await container.attachment.receive())
    start = messages[0]
    stdout = "".join(m["data"] for m in messages if m.get("stream") == "stdout")
    return start, stdout, messages[-1]


async def started(docker_client: Any, container: Container, marker: str) -> None:
    """Until a process whose command line holds ``marker`` runs in the container."""
    with anyio.fail_after(20):
        while not any(marker in cmd for cmd in processes(docker_client, container.id)):
            await anyio.sleep(0.05)


@pytest.fixture
async def launched(settings: Settings) -> AsyncIterator[tuple[Sandbox, Container]]:
    """A fresh Python container outside any pool, driven by hand."""
    async with Sandbox(settings) as box:
        container = await box.docker.launch(PY, Limits())
        try:
            yield box, container
        finally:
            container.attachment.close()
            await box.docker.remove(container.id)


OTHERS = (
    "import os\n"
    "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()))\n"
)


async def test_a_prepared_program_that_is_not_the_run_s_is_killed_first(
    launched: tuple[Sandbox, Container], docker_client: Any
) -> None:
    box, container = launched
    file, argv = program(PY, Limits(), box.settings.sandbox_runtime)
    other = [*argv[:-1], "/tmp/other.py"]
    await container.attachment.send({"op": "prepare", "file": "other.py", "argv": other})
    await started(docker_client, container, "/tmp/other.py")
    start, stdout, end = await harness_run(container, 0, OTHERS, file, argv)
    assert start == {"ev": "start", "index": 0, "prepared": False}
    assert (end["outcome"], stdout) == ("ok", "[1]\n")  # only the harness: the other is gone


async def test_a_prepared_program_that_never_reaches_its_gate_is_started_afresh(
    launched: tuple[Sandbox, Container], docker_client: Any
) -> None:
    """Like Node.js when it could not create a thread: alive, hung before its prelude says
    "ready" (harness.c: GATE_READY). The run does not wait on it for ever: it is killed, and the
    same program started afresh runs."""
    _, container = launched
    argv = ["/bin/sh", "-c", "[ -s /tmp/main.sh ] && exec /bin/sh /tmp/main.sh; exec sleep 60"]
    await container.attachment.send({"op": "prepare", "file": "main.sh", "argv": argv})
    await started(docker_client, container, "sleep 60")  # no file yet: this one hangs
    start, stdout, end = await harness_run(container, 0, "echo frais", "main.sh", argv)
    assert start["prepared"] is False
    assert (end["outcome"], stdout) == ("ok", "frais\n")


async def test_prepare_is_refused_once_a_run_has_started(
    launched: tuple[Sandbox, Container], docker_client: Any
) -> None:
    """Learner code may have changed what a process inherits: nothing is started after it."""
    box, container = launched
    file, argv = program(PY, Limits(), box.settings.sandbox_runtime)
    start, _, end = await harness_run(container, 0, "print(1)", file, argv)
    assert start["prepared"] is False and end["outcome"] == "ok"
    await container.attachment.send(prepare_command(PY, Limits(), box.settings.sandbox_runtime))
    await container.attachment.send({"op": "ping"})  # handled after the prepare
    assert await container.attachment.receive() == {"ev": "pong"}
    assert len(processes(docker_client, container.id)) == 1  # the harness alone
    start, stdout, end = await harness_run(container, 1, OTHERS, file, argv)
    assert start["prepared"] is False
    assert (end["outcome"], stdout) == ("ok", "[1]\n")


async def test_a_prepared_program_that_died_is_started_afresh(
    launched: tuple[Sandbox, Container], docker_client: Any
) -> None:
    _, container = launched
    argv = ["/bin/sh", "-c", "echo sh >&2; exit 3"]
    await container.attachment.send({"op": "prepare", "file": "main.sh", "argv": argv})
    with anyio.fail_after(20):  # it ends without waiting at any gate: reaped by the harness
        while len(processes(docker_client, container.id)) > 1:
            await anyio.sleep(0.05)
    start, _, end = await harness_run(container, 0, "", "main.sh", argv)
    assert start["prepared"] is False
    assert (end["outcome"], end["code"]) == ("error", 3)


def test_a_start_event_must_say_prepared_with_a_boolean() -> None:
    collected = _Collected(0, 1000)
    assert collected.translate({"ev": "start", "index": 0}).prepared is False
    assert collected.translate({"ev": "start", "index": 0, "prepared": True}).prepared is True
    with pytest.raises(HarnessProtocolError):
        collected.translate({"ev": "start", "index": 0, "prepared": "yes"})


SUBPROGRAMS = {  # a program's own subprocess (given the prompt channel) and Node.js's worker thread
    PY: (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'print(\"enfant\")'], pass_fds=(3,), check=True)\n"
        "print('parent')\n"
    ),
    JS: (
        "const { execFileSync } = require('child_process');\n"
        "const { Worker } = require('worker_threads');\n"
        "execFileSync(process.execPath, [...process.execArgv, '-e', 'console.log(\"enfant\")'],"
        " { stdio: ['ignore', 'inherit', 'inherit', 3] });\n"
        "const w = new Worker(\"require('worker_threads').parentPort.postMessage('fil')\","
        " { eval: true });\n"
        "w.on('message', (m) => { console.log(m); w.terminate(); });\n"
    ),
}


@pytest.mark.parametrize("language", [PY, JS])
async def test_only_the_harness_s_own_child_waits_at_the_gate(
    pooled: Sandbox, language: Language
) -> None:
    """A subprocess that inherits the prompt channel, and a worker thread (whose preload runs
    again), pass the gate without waiting: only the harness gives the go, once per run."""
    await pool_ready(pooled, language)
    # prepared by the pool, then beside the first (fresh under gVisor)
    runs = (Run(stdin=""), Run(stdin=""))
    events = await check(
        pooled, Submission(language, SUBPROGRAMS[language], runs, pooled.pool._limits)
    )
    expected = "enfant\nparent\n" if language is PY else "enfant\nfil\n"
    assert [(r.outcome, r.stdout) for r in events if isinstance(r, RunFinished)] == [
        (Outcome.OK, expected)
    ] * 2, [r.stderr for r in events if isinstance(r, RunFinished)]


RESTARTS = {  # the program exec's its interpreter again: the same process, the same prompt channel
    PY: (
        "import os, sys\n"
        "if len(sys.argv) == 1:\n"
        "    print('avant', flush=True)\n"
        "    os.execv(sys.executable, [sys.executable, '-u', sys.argv[0], 'encore'])\n"
        "print('après', input('Nom ? '))\n"
    ),
    JS: (
        "if (process.argv.length === 2) {\n"
        "  require('fs').writeSync(1, 'avant\\n');\n"
        "  process.execve(process.execPath,"
        " [process.execPath, ...process.execArgv, __filename, 'encore']);\n"
        "}\n"
        "console.log('après', prompt('Nom ? '));\n"
    ),
}


@pytest.mark.parametrize("language", [PY, JS])
async def test_a_program_that_restarts_itself_does_not_wait_at_the_gate(
    pooled: Sandbox, language: Language
) -> None:
    await pool_ready(pooled, language)
    # prepared by the pool, then beside the first (fresh under gVisor)
    runs = (Run(stdin="Ada\n"), Run(stdin="Grace\n"))
    events = await check(
        pooled, Submission(language, RESTARTS[language], runs, pooled.pool._limits)
    )
    assert [(r.outcome, r.transcript) for r in events if isinstance(r, RunFinished)] == [
        (Outcome.OK, "avant\nNom ? après Ada\n"),
        (Outcome.OK, "avant\nNom ? après Grace\n"),
    ]


async def test_an_orphan_interpreter_leaves_the_prompt_channel_to_the_program(
    pooled: Sandbox,
) -> None:
    """A background interpreter that inherited the prompt channel, reparented to PID 1 before its
    prelude runs, neither waits at the gate nor takes the acknowledgement of a question."""
    await pool_ready(pooled, PY)
    code = (
        "import subprocess, time\n"
        "subprocess.run(['/bin/sh', '-c', 'sleep 0.2 && exec python3 -c \"import time; "
        "time.sleep(5)\" &'], pass_fds=(3,), check=True)\n"
        "time.sleep(0.6)\n"
        "print('bonjour', input('Nom ? '))\n"
    )
    runs = (Run(stdin="Ada\n"),)
    events = await check(pooled, Submission(PY, code, runs, pooled.pool._limits))
    assert [(r.outcome, r.transcript) for r in events if isinstance(r, RunFinished)] == [
        (Outcome.OK, "Nom ? bonjour Ada\n")
    ]
