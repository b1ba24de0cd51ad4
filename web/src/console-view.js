// The console: live stdout/stderr of a run, the echoed input, and the input line while a run waits.
import { h, clear } from "./dom.js";
import { t } from "./i18n/index.js";

const PROMPT_QUIET_MS = 250;

export class ConsoleView {
  /**
   * @param {{output: HTMLElement, form: HTMLFormElement, input: HTMLInputElement, endButton: HTMLButtonElement}} els
   * @param {{announcer: import("./announcer.js").Announcer, onInput: (line: string) => void, onEof: () => void}} deps
   */
  constructor(els, { announcer, onInput, onEof }) {
    this.els = els;
    this.announcer = announcer;
    this.current = null; // the <span> receiving text of the current stream
    this.currentStream = null;
    this.empty = true;
    this.promptTimer = null;
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

  reset() {
    clear(this.els.output);
    this.els.output.append(h("span", { class: "console-placeholder" }, t("console.empty")));
    this.current = null;
    this.currentStream = null;
    this.empty = true;
    clearTimeout(this.promptTimer);
    this.announcer.takePending();
  }

  _clearPlaceholder() {
    if (this.empty) {
      clear(this.els.output);
      this.empty = false;
    }
  }

  /** Appends program output; stderr goes in its own marked block. */
  write(stream, data) {
    this._clearPlaceholder();
    if (stream !== this.currentStream || !this.current) {
      this.currentStream = stream;
      this.current = h("span", { class: `console-${stream}` });
      if (stream === "stderr") {
        this.current.append(h("span", { class: "console-tag", dataset: { tag: "stderr" } }, t("console.stderrTag")));
      }
      this.els.output.append(this.current);
    }
    this.current.append(document.createTextNode(data));
    this._scroll();
    this.announcer.collect(data, (text) => t("console.announceOutput", { text }), t("console.truncated"));
    clearTimeout(this.promptTimer);
    if (stream === "stdout" && !data.endsWith("\n") && !this.els.form.hidden) {
      // Output that stops mid-line for a moment is most likely a question (input("…")).
      this.promptTimer = setTimeout(() => this._promptSeen(), PROMPT_QUIET_MS);
    }
  }

  _promptSeen() {
    if (this.els.form.hidden) return;
    const prompt = this.announcer.takePending();
    this.announcer.say(t("console.announceWaiting", { text: lastLine(prompt) }));
    if (document.activeElement !== this.els.input) this.els.input.focus({ preventScroll: true });
  }

  /** Shows the line the learner typed, set apart from the program's output. */
  echo(line) {
    this._clearPlaceholder();
    this.els.output.append(
      h(
        "span",
        { class: "console-stdin" },
        h("span", { class: "console-tag", dataset: { tag: "stdin" } }, t("console.inputTag")),
        `${line}\n`,
      ),
    );
    this.current = null;
    this.currentStream = null;
    this._scroll();
  }

  /** A note from the runner (how the run ended), below the output. */
  note(text, kind = "info") {
    this._clearPlaceholder();
    this.els.output.append(h("span", { class: `console-note console-note--${kind}` }, text));
    this.current = null;
    this.currentStream = null;
    this._scroll();
  }

  /** Shows or hides the input line (only while a run in mode "run" is going on). */
  setAcceptingInput(accepting) {
    if (!accepting) clearTimeout(this.promptTimer);
    const hadFocus = this.els.form.contains(document.activeElement);
    this.els.form.hidden = !accepting;
    // Keep keyboard focus where the learner was looking instead of losing it to the page.
    if (!accepting && hadFocus) this.els.output.focus({ preventScroll: true });
  }

  _scroll() {
    const out = this.els.output;
    out.scrollTop = out.scrollHeight;
  }
}

function lastLine(text) {
  const lines = text.split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].trim() : "";
}
