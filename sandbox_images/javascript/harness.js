// Sandbox harness for the JavaScript image: same JSON-line protocol as
// sandbox_images/python/harness.py (read its docstring). It is PID 1 of the
// container and runs from an execute-only copy of node (not dumpable), so the
// learner's code, under the same uid, can neither kill it, nor open its pipes,
// nor wake its inspector (see the signal listeners at the end).
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { StringDecoder } = require("string_decoder");

const WORKDIR = "/tmp";
const STDIN_BUFFER_MAX = 1 << 20;
const CHILD_ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: WORKDIR, LANG: "C.UTF-8" };
const OOM_FILES = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"];

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function oomKills() {
  for (const file of OOM_FILES) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(fs.readFileSync(file, "utf8"));
      if (match) return Number(match[1]);
    } catch (_) {
      // not this cgroup version
    }
  }
  return null;
}

const IN_CONTAINER = fs.existsSync("/.dockerenv");

function killEverything() {
  if (!IN_CONTAINER) return; // anywhere else kill(-1) would reach the host's processes
  try {
    process.kill(-1, "SIGKILL"); // spares PID 1: this process
  } catch (_) {
    // nothing left to kill
  }
}

// Empty /tmp and /dev/shm, even directories the program made unreadable (mode 000).
function cleanWorkdir() {
  for (const top of [WORKDIR, "/dev/shm"]) {
    let names = [];
    try {
      names = fs.readdirSync(top);
    } catch (_) {
      continue;
    }
    for (const name of names) removeTree(path.join(top, name));
  }
}

function removeTree(target) {
  try {
    const stat = fs.lstatSync(target);
    if (stat.isDirectory()) {
      fs.chmodSync(target, 0o700);
      for (const name of fs.readdirSync(target)) removeTree(path.join(target, name));
      fs.rmdirSync(target);
    } else {
      fs.unlinkSync(target);
    }
  } catch (_) {
    // not ours to remove, or already gone
  }
}

class Child {
  constructor(cmd) {
    this.index = cmd.index;
    this.limit = cmd.output_bytes;
    this.used = 0;
    this.reason = null;
    this.stdinQueued = 0;
    this.stdinOpen = true;
    fs.writeFileSync(path.join(WORKDIR, cmd.file), cmd.code);
    this.oomBefore = oomKills();
    this.started = process.hrtime.bigint();
    this.proc = spawn(cmd.argv[0], cmd.argv.slice(1), {
      cwd: WORKDIR,
      env: CHILD_ENV,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc.stdin.on("error", () => {}); // EPIPE: the program stopped reading
    this.timer = setTimeout(() => this.stop("timeout"), cmd.timeout * 1000);
    this.pendingStreams = 2;
    this.exit = null;
    for (const stream of ["stdout", "stderr"]) this.pipe(stream);
    this.proc.on("exit", (code, signal) => {
      this.exit = { code, signal };
      // A straggler may hold the pipes open: give them a moment, then end the run.
      setTimeout(() => this.finish(), 50);
      this.maybeFinish();
    });
    if (cmd.stdin !== null && cmd.stdin !== undefined) {
      this.feed(cmd.stdin);
      this.closeStdin();
    }
  }

  pipe(stream) {
    const decoder = new StringDecoder("utf8");
    this.proc[stream].on("data", (chunk) => {
      const room = this.limit - this.used;
      if (room <= 0) return;
      if (chunk.length > room) {
        chunk = chunk.subarray(0, room);
        this.stop("output_limit");
      }
      this.used += chunk.length;
      if (stream === "stderr" && chunk.includes("heap out of memory")) this.heapExhausted = true;
      const data = decoder.write(chunk);
      if (data) emit({ ev: "out", index: this.index, stream, data });
    });
    this.proc[stream].on("end", () => {
      const data = decoder.end();
      if (data) emit({ ev: "out", index: this.index, stream, data });
      this.pendingStreams -= 1;
      this.maybeFinish();
    });
  }

  feed(data) {
    if (!this.stdinOpen) return;
    const bytes = Buffer.from(data, "utf8");
    if (this.stdinQueued + bytes.length > STDIN_BUFFER_MAX) return;
    this.stdinQueued += bytes.length;
    this.proc.stdin.write(bytes, () => {
      this.stdinQueued -= bytes.length;
    });
  }

  closeStdin() {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.proc.stdin.end();
  }

  stop(reason) {
    if (this.reason === null) this.reason = reason;
    try {
      process.kill(-this.proc.pid, "SIGKILL");
    } catch (_) {
      // already gone
    }
    killEverything();
  }

  maybeFinish() {
    if (this.exit !== null && this.pendingStreams === 0) this.finish();
  }

  outcome() {
    const { code, signal } = this.exit;
    const exitCode = signal ? -os.constants.signals[signal] : code;
    if (this.reason) return [this.reason, exitCode];
    const oomAfter = oomKills();
    if (this.oomBefore !== null && oomAfter !== null && oomAfter > this.oomBefore) {
      return ["memory", exitCode];
    }
    if (signal === "SIGKILL" || this.heapExhausted) return ["memory", exitCode];
    return [exitCode === 0 ? "ok" : "error", exitCode];
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    killEverything();
    this.proc.stdout.destroy();
    this.proc.stderr.destroy();
    const [outcome, code] = this.outcome();
    const ms = Number(process.hrtime.bigint() - this.started) / 1e6;
    emit({ ev: "exit", index: this.index, outcome, code, ms: Math.round(ms * 10) / 10 });
    if (current === this) current = null;
  }
}

let current = null;

function handle(cmd) {
  if (cmd.op === "ping") {
    emit({ ev: "pong" });
  } else if (cmd.op === "run" && current === null) {
    cleanWorkdir();
    current = new Child(cmd);
    emit({ ev: "start", index: cmd.index });
  } else if (current === null) {
    // stdin/eof/kill with nothing running: ignore
  } else if (cmd.op === "stdin") {
    current.feed(cmd.data);
  } else if (cmd.op === "eof") {
    current.closeStdin();
  } else if (cmd.op === "kill") {
    current.stop("stopped");
  }
}

let buffer = "";
const input = new StringDecoder("utf8");
process.stdin.on("data", (chunk) => {
  buffer += input.write(chunk);
  const lines = buffer.split("\n");
  buffer = lines.pop();
  for (const line of lines) if (line.trim()) handle(JSON.parse(line));
});
process.stdin.on("end", () => {
  if (current) current.stop("stopped");
  setTimeout(() => process.exit(0), 100);
});
// A JS listener replaces node's own SIGUSR1 handler, which would open the inspector.
for (const signal of ["SIGPIPE", "SIGUSR1", "SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => {});
emit({ ev: "ready" });
