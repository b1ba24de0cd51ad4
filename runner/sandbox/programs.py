"""How each language's program is started in its container: the file and the argv the harness
exec's, for a run and for a program prepared ahead (``prepare_command``)."""

from __future__ import annotations

from typing import Any

from runner.sandbox.models import Language, Limits

# Python's prelude (input()'s question to the prompt channel, the gate) is a site .pth of its
# image; Node's (prompt(), alert(), the gate) is loaded before the program. Both:
# sandbox_images/<language>/prelude/.
NODE_PRELUDE = "/opt/decode-runner/prompt.js"
# The official Node.js (sandbox_images/javascript/node.json). A signal must not wake its inspector;
# the harness gives it a fixed environment, without NODE_OPTIONS.
NODE = ("/usr/local/bin/node", "--disable-sigusr1")
_PROGRAMS = {
    Language.PYTHON: ("main.py", ["/usr/bin/python3", "-u", "/tmp/main.py"]),
    Language.JAVASCRIPT: ("main.js", [*NODE, "--require", NODE_PRELUDE, "/tmp/main.js"]),
}


def program(language: Language, limits: Limits, runtime: str) -> tuple[str, list[str]]:
    """The program's file name in the container's working directory, and its argv."""
    file, argv = _PROGRAMS[language]
    if language is Language.JAVASCRIPT:
        argv = [argv[0], f"--max-old-space-size={limits.memory_mib * 3 // 4}", *argv[1:]]
    if runtime == "runsc":
        # gVisor's pids cgroup counts the sentry's threads, not the learner's processes:
        # the process limit is enforced inside the sandbox's own kernel instead.
        argv = ["/usr/bin/prlimit", f"--nproc={limits.pids}", "--", *argv]
    return file, list(argv)


def prepare_command(language: Language, limits: Limits, runtime: str) -> dict[str, Any]:
    """The harness command that starts a fresh container's first program ahead of its run: its
    interpreter boots and waits at its prelude's gate (harness.c). A run of the same program
    opens that gate; any other run replaces it."""
    file, argv = program(language, limits, runtime)
    return {"op": "prepare", "file": file, "argv": argv}
