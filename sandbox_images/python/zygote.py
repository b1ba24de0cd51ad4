"""A fork server for learner programs: a clean copy of the harness, forked before any run.

Starting CPython costs about 10 ms of CPU per run; forking a process that has already started costs
well under one. The zygote is forked from the harness before the harness has received anything, and
it never receives test data itself: only the three pipe ends of each run (SCM_RIGHTS). Each run's
process is forked from it, becomes the learner's ``__main__`` and never returns to harness code.

Messages zygote → harness: b"p" + pid when a run's process exists, b"x" + wait status when it ends.
"""

import io
import os
import runpy
import signal
import socket
import struct
import sys
import threading

_MESSAGE = struct.Struct("!ci")
SPAWN_TIMEOUT_S = 1.0


class Zygote:
    def __init__(self, workdir, env, shielded_signals):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            self.sock.close()
            _serve(theirs, workdir, env, shielded_signals)  # never returns
        theirs.close()
        self.alive = True
        self._buffer = b""

    def spawn(self, fds):
        """The pid of a new process running /tmp/main.py on ``fds`` (stdin, stdout, stderr)."""
        try:
            self.sock.settimeout(SPAWN_TIMEOUT_S)  # a zygote the program stopped must not hang us
            socket.send_fds(self.sock, [b"f"], fds)
            kind, pid = _MESSAGE.unpack(_recv_exactly(self.sock, _MESSAGE.size))
        except (OSError, EOFError):
            self.alive = False
            return None
        return pid if kind == b"p" else None

    def fileno(self):
        return self.sock.fileno()

    def poll_status(self):
        """The wait status of the current run's process once the zygote reports it, else None."""
        self.sock.setblocking(False)
        try:
            chunk = self.sock.recv(64)
        except BlockingIOError:
            return None
        if not chunk:  # the zygote died (killed by the program it forked): report a kill
            self.alive = False
            return signal.SIGKILL
        self._buffer += chunk
        if len(self._buffer) < _MESSAGE.size:
            return None
        kind, status = _MESSAGE.unpack(self._buffer[: _MESSAGE.size])
        self._buffer = self._buffer[_MESSAGE.size :]
        return status if kind == b"x" else None


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _serve(sock, workdir, env, shielded_signals):
    # Let go of the harness's own streams (the container's attach stream): keep nothing of it.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1, 3)
        except OSError:
            os._exit(0)
        if not message or len(fds) != 3:
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _run(fds, workdir, env, shielded_signals)  # never returns
        for fd in fds:
            os.close(fd)
        sock.sendall(_MESSAGE.pack(b"p", pid))
        _, status = os.waitpid(pid, 0)
        sock.sendall(_MESSAGE.pack(b"x", status))


def _run(fds, workdir, env, shielded_signals):
    """Become the learner's program, as `python3 -u /tmp/main.py` would be."""
    code = 1
    try:
        os.setsid()
        _set_dumpable(True)  # as after exec: the program may read its own /proc/self/*
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        for sig in shielded_signals:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython sets it at start-up
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(env)
        path = os.path.join(workdir, "main.py")
        sys.argv = [path]
        sys.path[:] = [workdir] + [p for p in sys.path if p.startswith("/usr/lib/python3")]
        _fresh_stdio()
        code = _execute(path)
        if threading.active_count() > 1:
            threading._shutdown()  # wait for the program's threads, as interpreter exit does
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _set_dumpable(flag):
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, int(flag), 0, 0, 0)  # PR_SET_DUMPABLE


def _fresh_stdio():
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _execute(path):
    """Run the program; print an uncaught exception from the learner's first frame on, as CPython
    would (its own hook, so the "Did you mean" suggestions stay), never a harness frame."""
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        return _exit_code(exc.code)
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        sys.__excepthook__(type(exc), exc.with_traceback(tb), tb)
        return 1
    return 0


def _exit_code(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1
