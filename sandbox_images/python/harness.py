"""Sandbox harness: PID 1 of a learner container.

Reads JSON-line commands on stdin, runs each program as a child process with its own
stdin, time limit and output limit, and reports JSON-line events on stdout:

  in : {"op":"run","index":0,"code":"...","file":"main.py","argv":["python3","-I",...],
        "stdin":"..."|null,"timeout":10,"output_bytes":65536,"fork":true}
       ("fork": run the program in a process forked from the zygote instead of exec'ing argv)
       {"op":"stdin","data":"..."}   {"op":"eof"}   {"op":"kill"}   {"op":"ping"}
  out: {"ev":"ready"}  {"ev":"pong"}  {"ev":"start","index":0}
       {"ev":"out","index":0,"stream":"stdout","data":"..."}
       {"ev":"exit","index":0,"outcome":"ok","code":0,"ms":12.5}

The same protocol is implemented by sandbox_images/javascript/harness.js.
"""

import codecs
import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import sys
import time

WORKDIR = "/tmp"
READ_SIZE = 65536
STDIN_BUFFER_MAX = 1 << 20
SETTLE_S = 1.0
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORKDIR,
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
}
SHIELDED_SIGNALS = (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def emit(event):
    data = (json.dumps(event, ensure_ascii=False) + "\n").encode()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(1, view) :]
        except BlockingIOError:
            select.select([], [1], [])


def oom_kills():
    for path in OOM_FILES:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            continue
    return None


def set_nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def kill_everything():
    """Kill every process in the container but this one (PID 1) and a live zygote, whatever its
    group, and wait (briefly) until they are gone: zombies would count against the next run."""
    if os.getpid() != 1:  # anywhere else this would reach the host's processes
        return
    spared = {1, ZYGOTE.pid if ZYGOTE is not None and ZYGOTE.alive else 0}
    deadline = time.monotonic() + SETTLE_S
    while True:
        others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in spared]
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
        if not others or time.monotonic() > deadline:
            return
        time.sleep(0.002)


REAPED = {}  # pid -> wait status, for children reaped before their run looked
ZYGOTE = None  # the fork server of runs that ask for "fork" (see zygote.py)


def start_zygote():
    """Fork the zygote now, before any command: it must never hold a test's data."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from zygote import Zygote
    finally:
        del sys.path[0]
    return Zygote(WORKDIR, CHILD_ENV, SHIELDED_SIGNALS)


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED[pid] = status


def clean_workdir():
    """Empty /tmp and /dev/shm, even directories the program made unreadable."""
    for top in (WORKDIR, "/dev/shm"):
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            remove_tree(os.path.join(top, name))


def remove_tree(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)  # a program may lock its own directory (mode 000)
            for name in os.listdir(path):
                remove_tree(os.path.join(path, name))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


class Commands:
    """Line-buffered reader of the host's commands on fd 0."""

    def __init__(self):
        self.buffer = b""
        self.closed = False

    def read(self):
        try:
            chunk = os.read(0, READ_SIZE)
        except BlockingIOError:
            return []
        if not chunk:
            self.closed = True
            return []
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]


class Child:
    """One run of the learner's program."""

    def __init__(self, cmd):
        self.index = cmd["index"]
        self.limit = int(cmd["output_bytes"])
        self.used = 0
        self.reason = None
        path = os.path.join(WORKDIR, cmd["file"])
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(cmd["code"])
        fds = [os.pipe() for _ in range(3)]
        self.oom_before = oom_kills()
        self.started = time.monotonic()
        self.deadline = self.started + float(cmd["timeout"])
        self.forked = False
        if cmd.get("fork") and ZYGOTE is not None and ZYGOTE.alive:
            pid = ZYGOTE.spawn([fds[0][0], fds[1][1], fds[2][1]])
            self.forked = pid is not None
            if not self.forked:  # it must not fork this run later, beside the fallback
                ZYGOTE.kill()
        self.pid = pid if self.forked else os.fork()
        if self.pid == 0:  # child
            try:
                os.setsid()
                os.dup2(fds[0][0], 0)
                os.dup2(fds[1][1], 1)
                os.dup2(fds[2][1], 2)
                os.closerange(3, 65536)
                os.chdir(WORKDIR)
                for sig in SHIELDED_SIGNALS:  # ignored signals would survive exec
                    signal.signal(sig, signal.SIG_DFL)
                os.execve(cmd["argv"][0], cmd["argv"], CHILD_ENV)
            finally:
                os._exit(127)
        os.close(fds[0][0])
        os.close(fds[1][1])
        os.close(fds[2][1])
        self.stdin = fds[0][1]
        self.streams = {fds[1][0]: "stdout", fds[2][0]: "stderr"}
        self.decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in self.streams}
        for fd in (self.stdin, *self.streams):
            set_nonblocking(fd)
        self.pending = b""
        self.close_stdin_when_flushed = False
        self.status = None
        if cmd.get("stdin") is not None:  # the whole input, then end of file
            self.close_stdin_when_flushed = True
            self.feed(cmd["stdin"].encode())

    def feed(self, data):
        if self.stdin is None:
            return
        room = STDIN_BUFFER_MAX - len(self.pending)
        self.pending += data[: max(room, 0)]
        self.flush()

    def flush(self):
        if self.stdin is None:
            return
        while self.pending:
            try:
                written = os.write(self.stdin, self.pending)
            except BlockingIOError:
                return
            except OSError as exc:  # EPIPE: the program no longer reads
                if exc.errno != errno.EPIPE:
                    raise
                self.pending = b""
                break
            self.pending = self.pending[written:]
        if self.close_stdin_when_flushed:
            self.close_stdin()

    def close_stdin(self):
        if self.pending:
            self.close_stdin_when_flushed = True
            return
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def read(self, fd):
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        if not chunk:
            os.close(fd)
            data = self.decoders.pop(fd).decode(b"", final=True)
            stream = self.streams.pop(fd)
            if data:
                emit({"ev": "out", "index": self.index, "stream": stream, "data": data})
            return
        room = self.limit - self.used
        if len(chunk) > room:
            chunk = chunk[:room]
            self.stop("output_limit")
        self.used += len(chunk)
        data = self.decoders[fd].decode(chunk)
        if data:
            emit({"ev": "out", "index": self.index, "stream": self.streams[fd], "data": data})

    def stop(self, reason):
        if self.reason is None:
            self.reason = reason
        kill_everything()

    def poll_exit(self):
        if self.status is None:
            if self.pid in REAPED:
                self.status = REAPED.pop(self.pid)
                return True
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = status
        return self.status is not None

    def outcome(self):
        status = self.status or 0
        code = os.waitstatus_to_exitcode(status)
        if self.reason:
            return self.reason, code
        oom_after = oom_kills()
        if self.oom_before is not None and oom_after is not None and oom_after > self.oom_before:
            return "memory", code
        if code == -signal.SIGKILL:
            return "memory", code  # nobody here sent it: the kernel's OOM killer did
        return ("ok" if code == 0 else "error"), code

    def finish(self):
        for fd in list(self.streams):
            while fd in self.streams:
                before = self.used
                self.read(fd)
                if fd in self.streams and self.used == before:
                    break  # nothing more right now; a straggler holds the pipe open
        kill_everything()
        for fd in list(self.streams):
            os.close(fd)
        self.streams.clear()
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None
        outcome, code = self.outcome()
        ms = round((time.monotonic() - self.started) * 1000, 1)
        emit({"ev": "exit", "index": self.index, "outcome": outcome, "code": code, "ms": ms})


def serve():
    commands = Commands()
    set_nonblocking(0)
    wake_r, wake_w = os.pipe()
    set_nonblocking(wake_r)
    set_nonblocking(wake_w)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    child = None
    emit({"ev": "ready"})
    while not commands.closed or child is not None:
        readers = [wake_r] + ([] if commands.closed else [0])
        writers = []
        timeout = None
        if child is not None:
            readers += list(child.streams)
            if child.pending and child.stdin is not None:
                writers.append(child.stdin)
            timeout = max(0.01, child.deadline - time.monotonic())
        ready_r, ready_w, _ = select.select(readers, writers, [], timeout)
        if wake_r in ready_r:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
            reap()  # orphans the program left: they must not fill the process table
        if 0 in ready_r:
            for cmd in commands.read():
                child = handle(cmd, child)
        if child is None:
            if commands.closed:
                break
            continue
        for fd in ready_r:
            if fd in child.streams:
                child.read(fd)
        if ready_w:
            child.flush()
        if time.monotonic() >= child.deadline and not child.poll_exit():
            child.stop("timeout")
        if child.poll_exit():
            child.finish()
            child = None
            REAPED.clear()


def handle(cmd, child):
    op = cmd.get("op")
    if op == "ping":
        emit({"ev": "pong"})
    elif op == "run" and child is None:
        clean_workdir()
        emit({"ev": "start", "index": cmd["index"]})
        try:
            child = Child(cmd)
        except OSError as exc:  # e.g. EAGAIN: the process limit is reached
            kill_everything()
            emit({"ev": "out", "index": cmd["index"], "stream": "stderr",
                  "data": "OSError: %s\n" % (exc.strerror or exc)})
            emit({"ev": "exit", "index": cmd["index"], "outcome": "error", "code": None, "ms": 0.0})
    elif child is None:
        pass
    elif op == "stdin":
        child.feed(cmd["data"].encode())
    elif op == "eof":
        child.close_stdin()
    elif op == "kill":
        child.stop("stopped")
    return child


def main():
    # Non-dumpable: the learner's processes (same uid) cannot open /proc/1/fd or ptrace us.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass
    # PID 1 receives only the signals it handles: ignore them all, so learner code cannot end us.
    for sig in SHIELDED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    global ZYGOTE
    ZYGOTE = start_zygote()
    try:
        serve()
    except Exception as exc:  # report, never hang the host
        sys.stderr.write("harness: %r\n" % (exc,))
        raise


if __name__ == "__main__":
    main()
