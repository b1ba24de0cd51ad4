// One exercise's runs: sends run/check/stdin/stop, and turns the server's messages into the views.
import { h, clear } from "./dom.js";
import { language, t } from "./i18n/index.js";
import { explanationBlock } from "./explanation.js";

const TONES = { ok: "ok", passed: "ok", stopped: "", failed: "failed" };

export const RunState = Object.freeze({ IDLE: "idle", SENDING: "sending", QUEUED: "queued", RUNNING: "running" });

export class RunController {
  /** ``nextAction()`` builds what a solved exercise offers next (see navigation.js). */
  constructor({ exercise, socket, editor, consoleView, testsView, els, announcer, embed, drafts, nextAction, maxCodeBytes, onProgress }) {
    Object.assign(this, { exercise, socket, editor, consoleView, testsView, els, announcer, embed, drafts, nextAction, onProgress });
    this.maxCodeBytes = maxCodeBytes;
    this.state = RunState.IDLE;
    this.mode = null;
    this.sentCode = null;
    this.connected = false;
    els.run.addEventListener("click", () => this.start("run"));
    els.check.addEventListener("click", () => this.start("check"));
    els.stop.addEventListener("click", () => this.stop());
    this._updateButtons();
  }

  get busy() {
    return this.state !== RunState.IDLE;
  }

  start(mode) {
    if (this.busy || !this.connected) return;
    const code = this.editor.code;
    if (new TextEncoder().encode(code).length > this.maxCodeBytes) {
      this._status(t("error.tooLarge", { max: this.maxCodeBytes }), "error");
      return;
    }
    this._clearResults();
    this.mode = mode;
    this.sentCode = code;
    if (!this.socket.send({ type: "run", exercise: this.exercise.id, code, mode })) return;
    this._setState(RunState.SENDING);
    this._status(t("run.sending"));
  }

  stop() {
    if (this.busy) this.socket.send({ type: "stop" });
  }

  sendInput(line) {
    if (this.state === RunState.RUNNING && this.mode === "run") this.socket.send({ type: "stdin", data: `${line}\n` });
  }

  endInput() {
    if (this.state === RunState.RUNNING && this.mode === "run") this.socket.send({ type: "stdin_eof" });
  }

  /** The WebSocket opened or dropped. */
  setConnected(connected) {
    this.connected = connected;
    if (!connected && this.busy) {
      this._setState(RunState.IDLE);
      this.consoleView.setAcceptingInput(false);
      this._status(t("conn.lostDuringRun"), "error");
    }
    this._updateButtons();
  }

  handle(message) {
    const handler = this[`_on_${message.type}`];
    if (handler) handler.call(this, message);
  }

  _on_queued({ position }) {
    if (!this.busy) return;
    this._setState(RunState.QUEUED);
    this._status(t("run.queued", { position }));
  }

  _on_started({ mode, saved }) {
    this.mode = mode || this.mode;
    this._setState(RunState.RUNNING);
    // Only a stored copy may replace the local draft: if the write failed, the draft stays unsynced.
    if (saved === true) this.drafts.synced(this.sentCode);
    this._status(this.mode === "check" ? t("run.checking") : t("run.running"));
    this.consoleView.setAcceptingInput(this.mode === "run");
    if (this.mode === "check") this.consoleView.note(t("console.checkNote"));
    this.embed.post("run-started", { exercise: this.exercise.id, mode: this.mode });
  }

  _on_output({ stream, data }) {
    this.consoleView.write(stream, data);
  }

  _on_test(test) {
    const line = this.testsView.add(test);
    if (line) this.editor.markLine(line);
  }

  _on_finished(message) {
    const { mode = this.mode, status, passed = null, total = null, explanation } = message;
    this._setState(RunState.IDLE);
    this.consoleView.setAcceptingInput(false);
    if (message.message && mode === "run") this.consoleView.note(message.message, status === "ok" ? "ok" : "problem");
    const duration = formatSeconds(message.duration_ms);
    const tone = TONES[status] ?? "error";
    this._status([message.message, duration && `(${t("run.duration", { seconds: duration })})`].filter(Boolean).join(" "), tone);
    if (mode === "check") this._showCheckResult(status, passed, total);
    if (explanation) {
      const { result } = this.els;
      result.append(explanationBlock(explanation, (line) => this.editor.markLine(line, { focus: true })));
      if (result.className === "result") result.className = "result result--plain";
      result.hidden = false;
      if (explanation.line) this.editor.markLine(explanation.line);
    }
    this.embed.post("result", { exercise: this.exercise.id, mode, status, passed, total });
  }

  _on_progress({ exercise, solved, attempts }) {
    if (exercise && exercise !== this.exercise.id) return;
    this.onProgress({ solved, attempts });
    this.embed.post("progress", { exercise: this.exercise.id, solved, attempts });
  }

  _on_error({ code, message }) {
    if (code === "not_running" || code === "not_interactive") return;
    // A rejected run gets no `finished`. A server fault is followed by one, but the run is over now.
    if (this.state === RunState.SENDING || this.state === RunState.QUEUED || code === "internal") {
      this._setState(RunState.IDLE);
      this.consoleView.setAcceptingInput(false);
    }
    this._status(message || code, "error");
  }

  _showCheckResult(status, passed, total) {
    this.testsView.finish(passed, total);
    const { result } = this.els;
    if (status === "passed") {
      result.append(h("p", { class: "result-title" }, h("span", { "aria-hidden": "true" }, "✓ "), t("result.solved")));
      result.append(this.nextAction());
      result.className = "result result--solved";
      result.hidden = false;
    }
  }

  _clearResults() {
    this.consoleView.reset();
    this.testsView.reset();
    this.editor.markLine(null);
    clear(this.els.result);
    this.els.result.className = "result";
    this.els.result.hidden = true;
  }

  _setState(state) {
    this.state = state;
    this._updateButtons();
  }

  _status(text, tone = "") {
    this.els.status.textContent = text;
    this.els.status.className = tone ? `run-status run-status--${tone}` : "run-status";
  }

  _updateButtons() {
    const canStart = this.connected && !this.busy;
    setEnabled(this.els.run, canStart);
    setEnabled(this.els.check, canStart);
    setEnabled(this.els.stop, this.busy);
  }
}

// aria-disabled keeps the button focusable, so keyboard focus is never lost mid-run.
function setEnabled(button, enabled) {
  button.disabled = false;
  if (enabled) button.removeAttribute("aria-disabled");
  else button.setAttribute("aria-disabled", "true");
}

function formatSeconds(ms) {
  if (typeof ms !== "number") return "";
  return new Intl.NumberFormat(language(), { maximumFractionDigits: 2 }).format(ms / 1000);
}
