// One exercise's runs: sends run/check/stdin/stop, and turns the server's messages into the views.
import { h, clear } from "./dom.js";
import { language, t } from "./i18n/index.js";
import { explanationBlock, explanationSpeech } from "./explanation.js";

const TONES = { ok: "ok", passed: "ok", stopped: "", failed: "failed" };
// The server answers a run at once (queued, started or an error): silence this long means the
// socket died without saying so (a phone between networks). It is dropped and the run sent again.
const SILENCE_MS = 10000;
// Below two columns (exercise.css), the results are out of sight after Vérifier.
const NARROW = "(max-width: 63.99rem)";

export const RunState = Object.freeze({
  IDLE: "idle",
  OFFLINE: "offline", // asked for while the connection is down: sent when it is back
  SENDING: "sending",
  QUEUED: "queued",
  RUNNING: "running",
});

export class RunController {
  /**
   * ``nextAction()`` builds what a solved exercise offers next (see navigation.js);
   * ``onAttempt(mode)`` is called when the server has recorded a run or a check;
   * ``els.work`` is the part of the page a run belongs to (editor, actions, console, results);
   * ``els.examples`` holds the examples' "Tester" buttons, enabled like Exécuter.
   */
  constructor({ exercise, socket, editor, consoleView, testsView, els, announcer, embed, drafts, nextAction, maxCodeBytes, onProgress, onAttempt }) {
    Object.assign(this, { exercise, socket, editor, consoleView, testsView, els, announcer, embed, drafts, nextAction, onProgress, onAttempt });
    this.maxCodeBytes = maxCodeBytes;
    this.state = RunState.IDLE;
    this.mode = null;
    this.sentCode = null;
    this.connected = false;
    this.stopAsked = false;
    this.origin = null;
    this.silence = null;
    this.resent = false;
    this.presetInput = null;
    els.run.addEventListener("click", () => this.start("run"));
    els.check.addEventListener("click", () => this.start("check"));
    els.stop.addEventListener("click", () => this.stop());
    this._updateButtons();
  }

  get busy() {
    return this.state !== RunState.IDLE;
  }

  /** Sent, queued or running: the server has (or may have) it. */
  get active() {
    return this.busy && this.state !== RunState.OFFLINE;
  }

  /** ``stdin``: a run's whole input, sent at once (an example's), instead of the answer field. */
  start(mode, { stdin = null } = {}) {
    if (this.busy) return;
    if (new TextEncoder().encode(this.editor.code).length > this.maxCodeBytes) {
      this._status(t("error.tooLarge", { max: this.maxCodeBytes }), "error");
      return;
    }
    this.mode = mode;
    this.presetInput = mode === "run" ? stdin : null;
    this.origin = document.activeElement;
    this.resent = false;
    if (this.connected) this._send();
    else this._waitForConnection();
  }

  stop() {
    if (this.state === RunState.OFFLINE) {
      this._setState(RunState.IDLE);
      this._status(t("run.cancelled"));
      return;
    }
    if (!this.active || this.stopAsked) return;
    this.stopAsked = true;
    this.socket.send({ type: "stop" });
    this.consoleView.stopWatching();
    this._status(t("run.stopping"));
    this._updateButtons();
  }

  sendInput(line) {
    if (this.state === RunState.RUNNING && this.mode === "run") this.socket.send({ type: "stdin", data: `${line}\n` });
  }

  endInput() {
    if (this.state === RunState.RUNNING && this.mode === "run") this.socket.send({ type: "stdin_eof" });
  }

  /** The connection became usable (socket open, browser online) or not. */
  setConnected(connected) {
    this.connected = connected;
    if (connected && this.state === RunState.OFFLINE) this._send();
    else if (!connected && this.active) this._cut();
    this._updateButtons();
  }

  /** Whether the learner is still with the run (so a field may take the focus). */
  mayTakeFocus() {
    if (!document.hasFocus()) return false;
    const active = document.activeElement;
    return !active || active === document.body || this.els.work.contains(active);
  }

  handle(message) {
    clearTimeout(this.silence);
    const handler = this[`_on_${message.type}`];
    if (handler) handler.call(this, message);
  }

  _send() {
    const code = this.editor.code;
    this._clearResults();
    this.sentCode = code;
    this.stopAsked = false;
    if (!this.socket.send({ type: "run", exercise: this.exercise.id, code, mode: this.mode })) {
      this._waitForConnection();
      return;
    }
    // The server keeps input sent before the program starts, in order.
    if (this.presetInput !== null) {
      if (this.presetInput) this.socket.send({ type: "stdin", data: this.presetInput });
      this.socket.send({ type: "stdin_eof" });
    }
    this._setState(RunState.SENDING);
    this._status(t("run.sending"));
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this._silent(), SILENCE_MS);
  }

  _silent() {
    if (this.state !== RunState.SENDING || this.resent) return;
    this.resent = true; // once: a server that is only slow is not hammered
    // A run the learner stopped meanwhile is not sent again: dropping the socket cuts it.
    if (!this.stopAsked) this._waitForConnection();
    this.socket.reconnect();
  }

  _waitForConnection() {
    this._setState(RunState.OFFLINE);
    this._status(this.mode === "check" ? t("run.checkWaitsConnection") : t("run.waitsConnection"), "warn");
  }

  /** The connection dropped under a submission: it is lost with it (the server ends it). */
  _cut() {
    this._setState(RunState.IDLE);
    this._endInput();
    this._status(t("run.cut"), "error");
    if (this.mode === "run") this.consoleView.note(t("run.cut"), "problem");
  }

  _on_queued({ position }) {
    if (!this.active) return;
    this._setState(RunState.QUEUED);
    if (!this.stopAsked) this._status(t("run.queued", { position }));
  }

  _on_started({ mode, saved }) {
    if (!this.active) return;
    this.mode = mode || this.mode;
    this._setState(RunState.RUNNING);
    // Only a stored copy may replace the local draft: if the write failed, the draft stays unsynced.
    if (saved === true) {
      this.drafts.synced(this.sentCode);
      this.onAttempt(this.mode);
    }
    if (!this.stopAsked) this._status(this.mode === "check" ? t("run.checking") : t("run.running"));
    if (this.mode === "check") {
      this.consoleView.note(t("console.checkNote"));
    } else {
      this.consoleView.setPlaceholder("running");
      this.consoleView.setAcceptingInput(!this.stopAsked && this.presetInput === null);
    }
    this.embed.post("run-started", { exercise: this.exercise.id, mode: this.mode });
  }

  _on_output({ stream, data }) {
    if (typeof data === "string") this.consoleView.write(stream, data);
  }

  _on_test(test) {
    const line = this.testsView.add(test);
    if (line) this.editor.markLine(line);
  }

  _on_finished(message) {
    const { mode = this.mode, status, passed = null, total = null, explanation } = message;
    // Stopped without being asked to: the server is shutting down or restarting.
    const cut = status === "stopped" && !this.stopAsked;
    this._setState(RunState.IDLE);
    this._endInput();
    if (cut) {
      this._status(t("run.cut"), "error");
      if (mode === "run") this.consoleView.note(t("run.cut"), "problem");
    } else {
      const duration = formatSeconds(message.duration_ms);
      const after = duration ? ` (${t("run.duration", { seconds: duration })})` : "";
      this._status(message.message || "", TONES[status] ?? "error", { french: true, after });
      if (message.message && mode === "run") this.consoleView.ended(message.message, status === "ok" ? "ok" : "problem");
    }
    if (mode === "check" && !cut) this._showCheckResult(status, passed, total);
    if (explanation) this._explain(explanation);
    this.embed.post("result", { exercise: this.exercise.id, mode, status, passed, total });
  }

  _on_progress(progress) {
    if (progress.exercise && progress.exercise !== this.exercise.id) return;
    const { solved, attempts } = progress;
    this.onProgress(progress);
    this.embed.post("progress", { exercise: this.exercise.id, solved, attempts });
  }

  _on_error({ code, message }) {
    if (code === "not_running" || code === "not_interactive") return;
    // A rejected run gets no `finished`. A server fault is followed by one, but the run is over now.
    if (this.state === RunState.SENDING || this.state === RunState.QUEUED || code === "internal") {
      this._setState(RunState.IDLE);
      this._endInput();
    }
    this._status(message || code, "error", { french: Boolean(message) });
  }

  _explain(explanation) {
    const { result } = this.els;
    result.append(explanationBlock(explanation, (line) => this.editor.markLine(line, { focus: true })));
    if (result.className === "result") result.className = "result result--plain";
    result.hidden = false;
    if (explanation.line) this.editor.markLine(explanation.line);
    // The French explanation, not the interpreter's English traceback, is what gets spoken.
    this.announcer.say([{ text: explanationSpeech(explanation), lang: "fr" }]);
  }

  _showCheckResult(status, passed, total) {
    this.testsView.finish(passed, total);
    const { result } = this.els;
    const solved = status === "passed";
    if (solved) {
      result.append(h("p", { class: "result-title" }, h("span", { "aria-hidden": "true" }, "✓ "), t("result.solved")));
      result.append(this.nextAction());
      result.className = "result result--solved";
      result.hidden = false;
    }
    if (status !== "passed" && status !== "failed") return;
    this.announcer.say(this.testsView.speech(passed, total));
    if (window.matchMedia(NARROW).matches && this.mayTakeFocus()) {
      const [target, box] = solved ? [result, result] : [this.testsView.els.summary, this.testsView.els.panel];
      target.focus({ preventScroll: true });
      box.scrollIntoView({ block: "start", behavior: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    }
  }

  _endInput() {
    this.consoleView.setAcceptingInput(false, { returnFocus: () => this._returnFocus() });
  }

  /** After a run, the focus taken by the answer field goes back where the run was started. */
  _returnFocus() {
    const { origin } = this;
    if (origin && origin === this.editor.host) this.editor.focus();
    else if (origin && origin !== document.body && origin.isConnected) origin.focus({ preventScroll: true });
    else this.consoleView.els.output.focus({ preventScroll: true });
  }

  _clearResults() {
    this.consoleView.reset("starting");
    this.testsView.reset();
    this.editor.markLine(null);
    clear(this.els.result);
    this.els.result.className = "result";
    this.els.result.hidden = true;
  }

  _setState(state) {
    if (state !== RunState.SENDING) clearTimeout(this.silence);
    this.state = state;
    this._updateButtons();
  }

  /** ``french``: ``text`` is the server's (marked so in the English interface). */
  _status(text, tone = "", { french = false, after = "" } = {}) {
    this.els.status.replaceChildren(french ? h("span", { lang: "fr" }, text) : text, after);
    this.els.status.className = tone ? `run-status run-status--${tone}` : "run-status";
  }

  _updateButtons() {
    const canStart = this.connected && !this.busy;
    setEnabled(this.els.run, canStart);
    setEnabled(this.els.check, canStart);
    for (const button of this.els.examples.querySelectorAll("button")) setEnabled(button, canStart);
    setEnabled(this.els.stop, this.state === RunState.OFFLINE || (this.active && !this.stopAsked));
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
