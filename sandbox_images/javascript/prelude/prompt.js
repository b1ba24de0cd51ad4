// Browser-like prompt() and alert() for learners' programs, loaded before /tmp/main.js with
// `node --require` (runner/sandbox/session.py). prompt(question) is synchronous, as in a browser:
// it writes its question to the harness's prompt channel (file descriptor 3: harness.c), then
// reads one line of stdin byte by byte, so that require("fs").readFileSync(0) still finds the rest;
// at the end of the input it returns null. alert(text) prints text and a newline.
// Last, the gate: the process the harness started says "ready" on that channel, then waits for
// the harness's "go" byte, which comes once the program's file is in place; so its interpreter
// may be started before the program exists (harness.c: a program prepared ahead). The harness
// marks that process with DECODE_RUNNER_GATE in its environment, removed here: nothing the
// program starts (a subprocess, a worker thread, which gets a copy of process.env, itself again
// through process.execve) waits. Its value is the working directory, entered once the gate
// opens: until then the process waits in a directory no program can write to.
"use strict";

const fs = require("fs");

const PROMPT_FD = 3; // a SOCK_SEQPACKET socket: one message per chunk, each acknowledged
const CHUNK = 16384;
const NEWLINE = 0x0a;
const nap = new Int32Array(new SharedArrayBuffer(4));

function channelOpen() {
  try {
    return fs.fstatSync(PROMPT_FD).isSocket();
  } catch {
    return false; // not run by the harness
  }
}

const channel = channelOpen();

function ask(question) {
  const data = Buffer.from(question, "utf8");
  if (!channel) {
    process.stdout.write(data);
    return;
  }
  const ack = Buffer.alloc(1);
  for (let start = 0; start < data.length; start += CHUNK) {
    fs.writeSync(PROMPT_FD, data, start, Math.min(CHUNK, data.length - start));
    fs.readSync(PROMPT_FD, ack, 0, 1, null); // the harness has it: what is printed next comes next
  }
}

function readByte(one) {
  for (;;) {
    try {
      return fs.readSync(0, one, 0, 1, null);
    } catch (error) {
      if (error.code === "EOF") return 0;
      if (error.code !== "EAGAIN") throw error;
      Atomics.wait(nap, 0, 0, 10); // process.stdin made fd 0 non-blocking: wait a little
    }
  }
}

function readLine() {
  const bytes = [];
  const one = Buffer.alloc(1);
  for (;;) {
    if (readByte(one) === 0) return bytes.length ? Buffer.from(bytes).toString("utf8") : null;
    if (one[0] === NEWLINE) return Buffer.from(bytes).toString("utf8");
    bytes.push(one[0]);
  }
}

function prompt(question) {
  const text = question === undefined ? "" : String(question);
  if (text !== "") ask(text);
  return readLine();
}

function alert(text) {
  process.stdout.write((text === undefined ? "" : String(text)) + "\n");
}

for (const [name, value] of Object.entries({ prompt, alert })) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}

const workdir = process.env.DECODE_RUNNER_GATE;
delete process.env.DECODE_RUNNER_GATE;
if (channel && workdir !== undefined) {
  fs.writeSync(PROMPT_FD, "ready"); // at the gate (harness.c: GATE_READY)
  fs.readSync(PROMPT_FD, Buffer.alloc(1), 0, 1, null); // go
  process.chdir(workdir);
}
