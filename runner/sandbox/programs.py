"""How each language's program is started in its container: the file and the argv the harness
exec's, for a run and for a program prepared ahead (``prepare_command``), and whether the next
run's interpreter may start while a run goes on (``prepares_alongside``)."""

from __future__ import annotations

from typing import Any

from runner.sandbox.models import Language, Limits

# Python's prelude (input()'s question to the prompt channel, the gate) is a site .pth of its
# image; Node's (prompt(), alert(), the gate) is loaded before the program. Both:
# sandbox_images/<language>/prelude/.
NODE_PRELUDE = "/opt/decode-runner/prompt.js"
# The interpreters are execute-only in the images, so that their processes are not dumpable
# (harness.c: the next run's interpreter waits beside a running one). gVisor cannot exec such a
# file: under runsc the readable copy of each is started instead.
INTERPRETERS = {
    Language.PYTHON: {"": "/usr/bin/python3", "runsc": "/usr/bin/python3-gvisor"},
    Language.JAVASCRIPT: {"": "/usr/local/bin/node", "runsc": "/usr/local/bin/node-gvisor"},
}
# The official Node.js (sandbox_images/javascript/node.json). A signal must not wake its inspector;
# the harness gives it a fixed environment, without NODE_OPTIONS. Without the WebAssembly trap
# handler, Node.js installs no SIGSEGV handler: a SIGSEGV sent by another process kills it, as it
# kills a waiting Python, and leaves nothing changed behind (wasm bounds are then checked in code).
NODE_FLAGS = ("--disable-sigusr1", "--disable-wasm-trap-handler")
# Python without the user site directory (HOME is /tmp): a .pth file a running program leaves in
# /tmp/.local would otherwise run inside the next run's interpreter, waiting beside it.
_PROGRAMS = {
    Language.PYTHON: ("main.py", ["-s", "-u", "/tmp/main.py"]),
    Language.JAVASCRIPT: ("main.js", [*NODE_FLAGS, "--require", NODE_PRELUDE, "/tmp/main.js"]),
}


def program(language: Language, limits: Limits, runtime: str) -> tuple[str, list[str]]:
    """The program's file name in the container's working directory, and its argv."""
    file, args = _PROGRAMS[language]
    interpreters = INTERPRETERS[language]
    argv = [interpreters.get(runtime, interpreters[""]), *args]
    if language is Language.JAVASCRIPT:
        argv = [argv[0], f"--max-old-space-size={limits.memory_mib * 3 // 4}", *argv[1:]]
    if runtime == "runsc":
        # gVisor's pids cgroup counts the sentry's threads, not the learner's processes:
        # the process limit is enforced inside the sandbox's own kernel instead.
        argv = ["/usr/bin/prlimit", f"--nproc={limits.pids}", "--", *argv]
    return file, argv


def prepare_command(language: Language, limits: Limits, runtime: str) -> dict[str, Any]:
    """The harness command that starts a fresh container's first program ahead of its run: its
    interpreter boots and waits at its prelude's gate (harness.c). A run of the same program
    opens that gate; any other run replaces it."""
    file, argv = program(language, limits, runtime)
    return {"op": "prepare", "file": file, "argv": argv}


def prepares_alongside(runtime: str) -> bool:
    """Whether a check's run may have the next run's interpreter start beside it (the run
    command's ``next``). Only where the interpreters are execute-only (runc): there a waiting
    process is not dumpable, so the running program cannot reach into it (harness.c checks, and
    starts afresh otherwise). Under gVisor each run starts its own interpreter when it begins."""
    return runtime != "runsc"
