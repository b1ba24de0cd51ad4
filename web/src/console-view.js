// The console: live output of a run, the echoed input, and the answer field while a run may read.
// The page cannot know when a program reads its input: it takes a run that printed a question
// (`prompt` output, or a line left open) or that stayed quiet for a moment as waiting for one.
import { h } from "./dom.js";
import { t } from "./i18n/index.js";
import { ConsoleOutput } from "./console-output.js";

const QUIET_MS = 300;
const OPEN_LINE_QUIET_MS = 150;
const MAX_QUESTION_CHARS = 120;

export class ConsoleView {
  /**
   * @param {{output: HTMLElement, form: HTMLFormElement, input: HTMLInputElement,
   *   endButton: HTMLButtonElement, waiting: HTMLElement}} els
   * @param {{announcer: import("./announcer.js").Announcer, onInput: (line: string) => void,
   *   onEof: () => void, mayTakeFocus: () => boolean}} deps ``mayTakeFocus`` tells whether the
   *   learner is still where the run was started from (so the answer field may take the focus)
   */
  constructor(els, { announcer, onInput, onEof, mayTakeFocus }) {
    this.els = els;
    this.announcer = announcer;
    this.mayTakeFocus = mayTakeFocus;
    this.output = new ConsoleOutput(els.output);
    this.quietTimer = null;
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const line = els.input.value;
      els.input.value = "";
      this.echo(line);
      onInput(line);
    });
    els.endButton.addEventListener("click", () => {
      onEof();
      els.input.focus();
    });
    this.reset();
  }

  /** A new run: empty console, nothing waiting. ``placeholder``: idle, starting or running. */
  reset(placeholder = "idle") {
    this.output.clear(placeholderText(placeholder));
    this.openLine = ""; // the output's last line so far, when it has no newline yet
    this.waiting = false;
    this.focusTaken = false;
    this._showWaiting(false);
    this._disarm();
    this.announcer.takePending();
  }

  setPlaceholder(kind) {
    this.output.setPlaceholder(placeholderText(kind));
  }

  /** Appends program output; ``prompt`` is the question of input()/prompt(), shown inline. */
  write(stream, data) {
    this.output.write(stream, data);
    if (stream !== "stderr") {
      this._followLine(data);
      // Error output is explained in French when the run ends; the raw traceback is not spoken.
      this.announcer.collect(data, (text) => t("console.announceOutput", { text }), t("console.truncated"));
    }
    if (!this.accepting) return;
    this._setWaiting(false);
    if (stream === "prompt") this._setWaiting(true);
    else this._arm(stream === "stdout" && this.openLine ? OPEN_LINE_QUIET_MS : QUIET_MS);
  }

  /** Shows the line the learner typed, set apart from the program's output. */
  echo(line) {
    this.output.append(
      h("span", { class: "console-stdin" }, h("span", { class: "console-tag", dataset: { tag: "stdin" } }, t("console.inputTag")), `${line}\n`),
    );
    this.openLine = "";
    if (!this.accepting) return;
    this._setWaiting(false);
    this._arm(QUIET_MS);
  }

  /** A note from the runner below the output; ``french``: the server's text. */
  note(text, kind = "info", { french = false } = {}) {
    this.output.append(h("span", { class: `console-note console-note--${kind}`, lang: french ? "fr" : null }, text));
  }

  /** How a run ended (the server's French sentence), saying so when it printed nothing. */
  ended(text, kind) {
    if (!this.output.written) this.output.append(h("span", { class: "console-placeholder console-nothing" }, t("console.nothingPrinted")));
    this.note(text, kind, { french: true });
  }

  /**
   * Shows or hides the answer field (only while a run in mode "run" goes on). When it closes with
   * the focus inside, ``returnFocus`` puts the focus back (by default on the console).
   */
  setAcceptingInput(accepting, { returnFocus = null } = {}) {
    this.accepting = accepting;
    if (accepting) {
      this._arm(QUIET_MS);
    } else {
      this._disarm();
      this._setWaiting(false);
    }
    const hadFocus = this.els.form.contains(document.activeElement);
    this.els.form.hidden = !accepting;
    if (!accepting && hadFocus) {
      if (returnFocus) returnFocus();
      else this.els.output.focus({ preventScroll: true });
    }
  }

  /** The learner asked to stop: whatever comes now is not a question. */
  stopWatching() {
    this._disarm();
    this._setWaiting(false);
  }

  _followLine(data) {
    const end = data.lastIndexOf("\n");
    const line = end === -1 ? this.openLine + data : data.slice(end + 1);
    this.openLine = line.slice(-MAX_QUESTION_CHARS);
  }

  /**
   * Waiting unless something happens within ``delay``. Output comes in hundreds of messages a
   * second: one timer is kept and moved on lazily, not set again for each message.
   */
  _arm(delay) {
    const due = performance.now() + delay;
    this.quietUntil = due;
    if (this.quietTimer && this.quietDue <= due + 1) return;
    this._disarm();
    this._wake(delay);
  }

  _wake(delay) {
    this.quietDue = performance.now() + delay;
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null;
      const left = this.quietUntil - performance.now();
      if (left > 1) this._wake(left);
      else this._setWaiting(true);
    }, delay);
  }

  _disarm() {
    clearTimeout(this.quietTimer);
    this.quietTimer = null;
  }

  _setWaiting(waiting) {
    if (waiting === this.waiting) return;
    this.waiting = waiting;
    this._disarm();
    this._showWaiting(waiting);
    if (!waiting) return;
    this.setPlaceholder("waiting");
    this.announcer.takePending(); // the question is part of what is said now
    const moved = !this.focusTaken && this.mayTakeFocus();
    if (moved) {
      // Once per run: a keyboard user who pressed Ctrl+Entrée types the answer, not into the code.
      this.focusTaken = true;
      this.els.input.focus({ preventScroll: true });
      this.els.form.scrollIntoView({ block: "nearest", behavior: smoothUnlessReduced() });
    } else if (document.activeElement !== this.els.input) {
      this.announcer.say(this.els.waiting.textContent);
    }
  }

  _showWaiting(waiting) {
    const { form, input, waiting: line } = this.els;
    const question = this.openLine.trim();
    line.textContent = question ? t("console.waitingQuestion", { question }) : t("console.waiting");
    line.hidden = !waiting;
    form.classList.toggle("stdin-form--waiting", waiting);
    // Read with the field when it takes the focus.
    input.setAttribute("aria-describedby", waiting ? `${line.id} stdin-help` : "stdin-help");
  }
}

const PLACEHOLDERS = {
  idle: () => t("console.empty"),
  starting: () => t("console.starting"),
  running: () => t("console.running"),
  waiting: () => t("console.waitingEmpty"),
};

function placeholderText(kind) {
  return (PLACEHOLDERS[kind] || PLACEHOLDERS.idle)();
}

function smoothUnlessReduced() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
}
