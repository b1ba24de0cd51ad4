"""Time that counts: an interactive run's waits for input are free, its loops are not; checks keep
the wall clock. Against the real engine, under runc and gVisor (test_sandbox's fixture)."""

from __future__ import annotations

import anyio
import pytest
import test_sandbox as base

from runner.sandbox import Language, Limits, Outcome, Output, Run, RunFinished, Sandbox, Submission

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

sandbox = base.sandbox  # every test here runs under runc and under gVisor
no_container_left = base.no_container_left

PY, JS = Language.PYTHON, Language.JAVASCRIPT


async def interactive(
    sandbox: Sandbox, language: Language, code: str, limits: Limits, lines: list[tuple[float, str]]
) -> tuple[RunFinished, str]:
    """Runs ``code`` interactively, sending each line after its delay (counted from the previous
    one, from the start of the run for the first); its result and everything it printed."""
    printed = ""
    result: RunFinished | None = None
    async with sandbox.session(Submission(language, code, (Run(stdin=None),), limits)) as session:

        async def typist() -> None:
            for delay, line in lines:
                await anyio.sleep(delay)
                await session.send_stdin(line)

        async with anyio.create_task_group() as group:
            async for event in session:
                if isinstance(event, Output):
                    if not printed and lines:  # the program is running: start typing
                        group.start_soon(typist)
                    printed += event.data
                elif isinstance(event, RunFinished):
                    result = event
            group.cancel_scope.cancel()
    assert result is not None
    return result, printed


@pytest.mark.parametrize(
    ("language", "code", "time_s", "delay"),
    [
        (PY, "print('prêt')\na = input()\nb = input()\nprint(a + b)", 10, 8),
        (
            JS,
            "console.log('prêt');\nconst lines = [];\n"
            "require('readline').createInterface({ input: process.stdin }).on('line', (l) => {\n"
            "  lines.push(l);\n"
            "  if (lines.length === 2) { console.log(lines.join('')); process.exit(0); }\n"
            "});",
            3,
            2,
        ),
    ],
    ids=["python", "javascript"],
)
async def test_typing_slowly_does_not_count(
    sandbox: Sandbox, language: Language, code: str, time_s: float, delay: float
) -> None:
    """Two lines, each typed after most of the limit: together longer than the limit, yet the run
    is fine (the harness does not count waits for input, and neither does the host's watchdog)."""
    result, printed = await interactive(
        sandbox, language, code, Limits(time_s=time_s), [(delay, "ab\n"), (delay, "cd\n")]
    )
    assert (result.outcome, printed) == (Outcome.OK, "prêt\nabcd\n"), result
    assert result.duration_ms >= 2 * delay * 1000


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "print('boucle')\nwhile True:\n    pass"),
        (JS, "console.log('boucle');\nwhile (true) {}"),
    ],
)
async def test_an_interactive_loop_still_times_out(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """A loop burns CPU: it ends at the limit, ended by the harness (an exit code), not idle."""
    result, printed = await interactive(sandbox, language, code, Limits(time_s=2), [])
    assert (result.outcome, result.exit_code, printed) == (Outcome.TIMEOUT, -9, "boucle\n")
    assert result.duration_ms >= 2000


async def test_the_cpu_of_a_program_s_children_counts(sandbox: Sandbox) -> None:
    """The loop is in a child process the program waits for: its CPU counts all the same."""
    code = (
        "import subprocess, sys\nprint('boucle')\n"
        "subprocess.run([sys.executable, '-c', 'while True: pass'])"
    )
    result, _ = await interactive(sandbox, PY, code, Limits(time_s=2), [])
    assert result.outcome is Outcome.TIMEOUT, result


async def test_sleeping_does_not_count_in_an_interactive_run(sandbox: Sandbox) -> None:
    """What counts is CPU: a pause (an animation, a countdown) is as free as a wait for input."""
    code = "import time\nprint('3')\ntime.sleep(1.5)\nprint('2')\ntime.sleep(1.5)\nprint('partez')"
    result, printed = await interactive(sandbox, PY, code, Limits(time_s=1), [])
    assert (result.outcome, printed) == (Outcome.OK, "3\n2\npartez\n"), result


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (PY, "print('question ?')\nprint('reçu', input())\ninput()"),
        (
            JS,
            "console.log('question ?');\n"
            "process.stdin.once('data', (d) => console.log('reçu', String(d).trim()));",
        ),
    ],
)
async def test_a_program_waiting_forever_ends_idle(
    sandbox: Sandbox, language: Language, code: str
) -> None:
    """No input for idle_s ends the run "idle"; each input gives it idle_s more. (The idle clock
    starts with the run, before the interpreter is up: gVisor's Node can take a second or two,
    so the answer comes 1 s after the first output, well within the 5 s.)"""
    result, printed = await interactive(
        sandbox, language, code, Limits(time_s=10, idle_s=5), [(1.0, "oui\n")]
    )
    assert (result.outcome, printed) == (Outcome.IDLE, "question ?\nreçu oui\n"), result
    assert result.duration_ms >= 5500  # 1 s, then 5 s more after the input


async def test_a_check_keeps_the_wall_clock_limit(sandbox: Sandbox) -> None:
    """A run given its stdin waits for nobody: sleeping counts, and it times out."""
    submission = Submission(
        PY, "import time\ntime.sleep(30)", (Run(stdin="x\n"),), Limits(time_s=2)
    )
    async with sandbox.session(submission) as session:
        (result,) = [event async for event in session if isinstance(event, RunFinished)]
    assert (result.outcome, result.exit_code) == (Outcome.TIMEOUT, -9)
    assert result.duration_ms >= 2000
