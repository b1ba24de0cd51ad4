"""Sends the question of input() to the sandbox harness's prompt channel instead of stdout.

Imported at start-up by _decode_prompt.pth, in the sandbox image only. input() stays the built-in:
an audit hook, which input() calls just before it writes its question to sys.stdout, redirects that
one write to the channel (file descriptor 3: harness.c). No frame of this file is on the stack when
input() reads or raises (EOFError at the end of the input), so tracebacks show the learner's lines.

First, the gate: the process the harness started says "ready" on that channel, then waits for
the harness's "go" byte, which comes once the program's file is in place; so its interpreter may
be started before the program exists (harness.c: a program prepared ahead). The harness marks that
process with DECODE_RUNNER_GATE in its environment, removed here: nothing the program starts (a
subprocess, the interpreter again through exec) waits. Its value is the working directory, entered
once the gate opens: until then the process waits in a directory no program can write to.
Whatever fails there ends the process (here, and in the .pth around the import): site would
otherwise go on and run the program without its gate.
"""

import os
import stat
import sys

PROMPT_FD = 3  # a SOCK_SEQPACKET socket: one message per chunk, each acknowledged with one byte
CHUNK = 16384


def _install():
    workdir = os.environ.pop("DECODE_RUNNER_GATE", None)
    try:
        if not stat.S_ISSOCK(os.fstat(PROMPT_FD).st_mode):
            return
    except OSError:
        return  # not run by the harness
    if workdir is not None:
        try:
            os.write(PROMPT_FD, b"ready")  # at the gate (harness.c: GATE_READY)
            os.read(PROMPT_FD, 1)  # go
            os.chdir(workdir)
        except BaseException:  # site would go on and run the program without its gate
            os._exit(70)
    stdout = sys.stdout
    if stdout is None:
        return
    write = type(stdout).write

    class Question:
        """Stands in for stdout.write for the one call input() makes with its question."""

        __slots__ = ("text",)

        def __init__(self, text):
            self.text = text

        def __call__(self, text):
            if text != self.text:  # another thread printed in between
                return write(stdout, text)
            del stdout.write
            stdout.flush()
            data = text.encode("utf-8", "backslashreplace")
            try:
                for start in range(0, len(data), CHUNK):
                    os.write(PROMPT_FD, data[start : start + CHUNK])
                    os.read(PROMPT_FD, 1)  # the harness has it: what is printed next comes next
            except OSError:
                return write(stdout, text)
            return len(text)

    def hook(event, args):
        if event != "builtins.input" or args[0] is None or sys.stdout is not stdout:
            return  # input() without a question, or into a stdout the program chose
        question = args[0]
        if not isinstance(question, str):
            try:
                question = str(question)
            except Exception:
                return  # input() fails the same way, before writing anything
        if question:
            stdout.write = Question(question)

    sys.addaudithook(hook)


_install()
del _install
