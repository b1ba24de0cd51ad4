"""A fork server for learner programs: a clean copy of the harness, forked before any run.

Starting CPython costs about 10 ms of CPU per run; forking a process that has already started costs
well under one. The zygote is forked from the harness before the harness has received anything, and
it never receives test data itself: only the three pipe ends of each run (SCM_RIGHTS). Each run's
process is forked from it, becomes the learner's ``__main__`` and never returns to harness code.

Message zygote → harness: b"p" + pid once a run's process exists (b"e" if it could not be made).
The run's process is the harness's child: the harness waits for it and kills it like any other.
"""

import atexit
import io
import os
import runpy
import signal
import socket
import struct
import sys
import threading

_MESSAGE = struct.Struct("!ci")
_PID = struct.Struct("!i")
_RUNPY_FRAMES = 4  # runpy's own frames between _execute and the program
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

    def kill(self):
        self.alive = False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _serve(sock, workdir, env, shielded_signals):
    try:
        _loop(sock, workdir, env, shielded_signals)
    finally:
        os._exit(0)  # never unwind into the harness's code: this process is not the harness


def _loop(sock, workdir, env, shielded_signals):
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
        worker = _fork_orphan(sock, fds, workdir, env, shielded_signals)
        for fd in fds:
            os.close(fd)
        if worker is None:
            sock.sendall(_MESSAGE.pack(b"e", 0))
        else:
            sock.sendall(_MESSAGE.pack(b"p", worker))


def _fork_orphan(sock, fds, workdir, env, shielded_signals):
    """Fork twice, so the run's process is orphaned and becomes the harness's (PID 1's) child:
    the harness then waits for it and kills it itself, whatever happens to the zygote."""
    r, w = os.pipe()
    try:
        middle = os.fork()
    except OSError:  # the process limit: the harness falls back, then reports it
        os.close(r)
        os.close(w)
        return None
    if middle == 0:
        os.close(r)
        sock.close()
        try:
            worker = os.fork()
        except OSError:
            os._exit(1)
        if worker == 0:
            os.close(w)
            _run(fds, workdir, env, shielded_signals)  # never returns
        os.write(w, _PID.pack(worker))
        os._exit(0)
    os.close(w)
    data = os.read(r, _PID.size)
    os.close(r)
    os.waitpid(middle, 0)
    return _PID.unpack(data)[0] if len(data) == _PID.size else None


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
        # The frames below the program's own must not eat into its recursion limit.
        sys.setrecursionlimit(sys.getrecursionlimit() + _depth() + _RUNPY_FRAMES)
        code = _execute(path)
        if threading.active_count() > 1:
            threading._shutdown()  # wait for the program's threads, as interpreter exit does
        atexit._run_exitfuncs()  # then its atexit handlers, in CPython's order
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


def _depth():
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


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
