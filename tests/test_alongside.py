"""A check's next interpreter, started while the current test runs (harness.c: "next"), attacked
from that test, against the real engine.

Under runc the harness boots test k+1's interpreter as soon as test k's gate opens, and it waits
at its own gate beside test k's program, under the same uid. Each case below is test k: it plants
what an interpreter's start-up would read, finds the waiting process and tries one thing on it.
Test k+1 is the witness: it must print exactly what a fresh start prints, and say `prepared: false`
whenever test k managed to change the waiting process. What the kernel refuses (ptrace, its
descriptors and memory, its resource limits) must be refused.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from test_sandbox import collect, results

from runner.sandbox import Language, Limits, Outcome, Run, RunStarted, Sandbox, Submission

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

PY, JS = Language.PYTHON, Language.JAVASCRIPT
LIMITS = Limits(time_s=5)
WITNESS = "témoin"
SEVERAL_CPUS = len(os.sched_getaffinity(0)) > 1  # the container sees the host's CPUs

# Test k: finds the next interpreter as soon as it exists (a child of PID 1 other than itself),
# stops it, plants what its start-up would read from /tmp (a user-site .pth for Python, a
# package.json for Node.js), lets it go on to its gate, then runs the order it was given as stdin
# with `pid` in scope (what comes before a "---" line, while it is still stopped). "avant lui"
# proves the plant came in time: the interpreter had page faults left to take when it was stopped
# ("trop tard" otherwise). Test k+1 (stdin "témoin") describes itself; the last run has no next
# interpreter to find.
ATTACKERS = {
    PY: r"""
import os, signal, site, sys, time

def waiting(seconds):
    until = time.monotonic() + seconds
    while True:
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) in (1, os.getpid()):
                continue
            try:
                stat = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[1] == "1":
                return int(p), int(fields[7])  # its pid, its page faults so far
        if time.monotonic() > until:
            return None, 0

pid, early = waiting(0.3)  # the next test's interpreter, just started (none after the last)
if pid:
    os.kill(pid, signal.SIGSTOP)
    os.makedirs(site.getusersitepackages())
    with open(os.path.join(site.getusersitepackages(), "fuite.pth"), "w") as f:
        f.write("import sys; print('fuite', file=sys.stderr)\n")
order = sys.stdin.read()
if order == "témoin":
    print("témoin", os.getcwd(), sys.flags.no_user_site, sorted(os.listdir(".")))
    raise SystemExit
import ctypes, errno, resource, subprocess
while_stopped, _, order = order.rpartition("\n---\n")
exec(while_stopped)
if pid:
    os.kill(pid, signal.SIGCONT)
time.sleep(0.5)  # it is at its gate by now
print("avant lui" if early < waiting(1)[1] else "trop tard")  # stopped during its start-up
libc = ctypes.CDLL(None, use_errno=True)

def check(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), what)

try:
    exec(order)
    print("fait")
except OSError as e:
    print(type(e).__name__)
time.sleep(0.1)
""",
    JS: r"""
const fs = require("fs");
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function waiting(ms) {
  const until = Date.now() + ms;
  for (;;) {
    for (const p of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(p) || p === "1" || Number(p) === process.pid) continue;
      let stat;
      try { stat = fs.readFileSync(`/proc/${p}/stat`, "utf8"); } catch { continue; }
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[1] === "1") return [Number(p), Number(fields[7])]; // its page faults so far
    }
    if (Date.now() > until) return [null, 0];
  }
}

// the next test's interpreter, just started (none after the last)
const [pid, early] = waiting(300);
if (pid) {
  process.kill(pid, "SIGSTOP");
  fs.writeFileSync("/tmp/package.json", '{"type": "module"}');
}
let order = fs.readFileSync(0, "utf8");
if (order === "témoin") {
  console.log("témoin", process.cwd(), typeof require, fs.readdirSync("."));
  process.exit(0);
}
const os = require("os"), { execFileSync, spawn } = require("child_process");
const cut = order.lastIndexOf("\n---\n");
eval(cut < 0 ? "" : order.slice(0, cut)); // while it is stopped
order = cut < 0 ? order : order.slice(cut + 5);
if (pid) process.kill(pid, "SIGCONT");

function run(...argv) { // a util-linux tool: EPERM when the kernel refuses
  try {
    execFileSync(argv[0], argv.slice(1), { stdio: "pipe" });
  } catch (e) {
    const refused = String(e.stderr).includes("Operation not permitted");
    throw Object.assign(new Error(String(e.stderr)), { code: refused ? "EPERM" : "ECHILD" });
  }
}

nap(500); // it is at its gate by now
console.log(early < waiting(1000)[1] ? "avant lui" : "trop tard"); // stopped during its start-up
try {
  eval(order);
  console.log("fait");
} catch (e) {
  console.log(e.code || e.name);
}
nap(100);
""",
}

# (order, what test k prints after it, whether test k+1 still opens the prepared process's gate)
DONE, REFUSED = "fait", {PY: "PermissionError", JS: "EPERM"}
ATTACKS: dict[Language, dict[str, tuple[str, str, bool | None]]] = {
    PY: {
        "nothing": ("pass", DONE, True),
        "SIGKILL": ("os.kill(pid, signal.SIGKILL)", DONE, False),
        "SIGTERM": ("os.kill(pid, signal.SIGTERM)", DONE, False),
        "SIGINT": ("os.kill(pid, signal.SIGINT)", DONE, False),
        "SIGSEGV": ("os.kill(pid, signal.SIGSEGV)", DONE, False),
        "SIGUSR1": ("os.kill(pid, signal.SIGUSR1)", DONE, False),
        "SIGSTOP": ("os.kill(pid, signal.SIGSTOP)", DONE, False),
        # stopped, then continued: only its timing changed; either way test k+1 is right
        "SIGSTOP+SIGCONT": (
            "os.kill(pid, signal.SIGSTOP); time.sleep(0.1); os.kill(pid, signal.SIGCONT)",
            DONE,
            None,
        ),
        "nice": ("os.setpriority(os.PRIO_PROCESS, pid, 5)", DONE, False),
        "SCHED_IDLE": ("os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))", DONE, False),
        "affinity": (
            "os.sched_setaffinity(pid, {min(os.sched_getaffinity(pid))})",
            DONE,
            not SEVERAL_CPUS,
        ),
        "ioprio": ("check(libc.syscall(251, 1, pid, 3 << 13), 'ioprio_set')", DONE, False),
        # refused: the sandbox's seccomp profile (another process's limits)
        "prlimit": ("resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, 3))", REFUSED[PY], True),
        # its own time slice (Linux 6.12+; uclamp alike), which no check could see: refused too
        "sched_setattr": (
            "attr = (ctypes.c_uint32 * 14)(56, 0, 0, 0, 0, 0, 5_000_000)\n"
            "check(libc.syscall(314, pid, attr, 0), 'sched_setattr')",
            REFUSED[PY],
            True,
        ),
        # refused: the waiting interpreter is not dumpable (an execute-only binary)
        "ptrace": ("check(libc.ptrace(16, pid, 0, 0), 'ptrace')", REFUSED[PY], True),
        "fd": ("os.open(f'/proc/{pid}/fd/0', os.O_WRONLY)", REFUSED[PY], True),
        "mem": ("open(f'/proc/{pid}/mem', 'rb')", REFUSED[PY], True),
        "environ": ("open(f'/proc/{pid}/environ').read()", REFUSED[PY], True),
        # no process left for its start-up while it is stopped: Node.js hangs if it cannot create
        # a thread, and is used only once its prelude says it waits at its gate (whether the stop
        # comes before its threads depends on timing: test_prepared.py holds the hang itself)
        "pids": (
            "kids = []\n"
            "try:\n"
            "    while len(kids) < 100:\n"
            "        kids.append(subprocess.Popen(['/bin/sleep', '30']))\n"
            "except OSError:\n"
            "    pass\n"
            "---\n"
            "for kid in kids:\n"
            "    kid.kill()",
            DONE,
            None,
        ),
    },
    JS: {
        "nothing": ("", DONE, True),
        "SIGKILL": ("process.kill(pid, 'SIGKILL')", DONE, False),
        "SIGTERM": ("process.kill(pid, 'SIGTERM')", DONE, False),
        "SIGINT": ("process.kill(pid, 'SIGINT')", DONE, False),
        "SIGSEGV": ("process.kill(pid, 'SIGSEGV')", DONE, False),
        "SIGUSR1": ("process.kill(pid, 'SIGUSR1')", DONE, False),
        "SIGSTOP": ("process.kill(pid, 'SIGSTOP')", DONE, False),
        "SIGSTOP+SIGCONT": (
            "process.kill(pid, 'SIGSTOP'); nap(100); process.kill(pid, 'SIGCONT')",
            DONE,
            None,
        ),
        "nice": ("os.setPriority(pid, 5)", DONE, False),
        "affinity": (
            "run('/usr/bin/taskset', '-p', '-c', '0', String(pid))",
            DONE,
            not SEVERAL_CPUS,
        ),
        "ioprio": ("run('/usr/bin/ionice', '-c', '3', '-p', String(pid))", DONE, False),
        "prlimit": (
            "run('/usr/bin/prlimit', '--pid', String(pid), '--nofile=3:3')",
            REFUSED[JS],
            True,
        ),
        "fd": ("fs.openSync(`/proc/${pid}/fd/0`, 'w')", "EACCES", True),
        "mem": ("fs.openSync(`/proc/${pid}/mem`, 'r')", "EACCES", True),
        "environ": ("fs.readFileSync(`/proc/${pid}/environ`)", "EACCES", True),
        "pids": (
            "var kids = [];\n"
            "for (let i = 0; i < 100; i++)\n"
            "  kids.push(spawn('/bin/sleep', ['30']).on('error', () => {}));\n"
            "---\n"
            "for (const kid of kids) if (kid.pid > 0) process.kill(kid.pid, 'SIGKILL');",
            DONE,
            None,
        ),
    },
}
WITNESSED = {
    PY: "témoin /tmp 1 ['main.py']\n",
    JS: "témoin /tmp function [ 'main.js' ]\n",
}


def started(events: list[Any]) -> list[bool]:
    return [e.prepared for e in events if isinstance(e, RunStarted)]


@pytest.mark.parametrize(
    ("language", "attack"), [(lang, name) for lang in (PY, JS) for name in ATTACKS[lang]]
)
async def test_the_next_interpreter_resists_the_test_before_it(
    sandbox: Sandbox, language: Language, attack: str
) -> None:
    assert sandbox.settings.sandbox_runtime == ""  # runc: conftest's sandbox
    order, answer, still_prepared = ATTACKS[language][attack]
    # Test k is the second run: its own interpreter was prepared during the first, so it acts
    # while the next one is still starting. It wins that race nearly always; a check where it
    # came too late is tried again, and its witness must be just as clean.
    runs = (Run(stdin=ATTACKS[language]["nothing"][0]), Run(stdin=order), Run(stdin=WITNESS))
    # starved of processes, Node.js may hang at once: no page faults after its stop to tell
    tries = 5 if attack != "pids" else 1
    timings: list[str] = []
    while "avant lui" not in timings and len(timings) < tries:
        events = await collect(sandbox, Submission(language, ATTACKERS[language], runs, LIMITS))
        first, attacker, witness = results(events)
        assert first.outcome is Outcome.OK, first.stderr
        timing, _, said = attacker.stdout.partition("\n")
        timings.append(timing)
        assert (attacker.outcome, said) == (Outcome.OK, f"{answer}\n"), attacker.stderr
        assert (witness.outcome, witness.stdout, witness.stderr) == (
            Outcome.OK,
            WITNESSED[language],
            "",
        )
        assert started(events)[:2] == [False, True]  # no pool here: the first run starts its own
        if still_prepared is not None:
            assert started(events)[2] is still_prepared
    assert timings[-1] == "avant lui" or attack == "pids", timings
