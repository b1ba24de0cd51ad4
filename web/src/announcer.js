// A polite live region that speaks summaries, never a flood: bursts are merged and shortened.
import { h } from "./dom.js";

const MAX_CHARS = 220;
const QUIET_MS = 900;

export class Announcer {
  constructor() {
    this.region = h("div", { class: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });
    document.body.append(this.region);
    this.pending = "";
    this.timer = null;
  }

  /**
   * Speaks ``text`` now (replacing anything pending): a string, or parts of which some are
   * ``{text, lang}`` (the server's French inside an English sentence).
   */
  say(text) {
    clearTimeout(this.timer);
    this.timer = null;
    this.pending = "";
    this._speak(text);
  }

  /** Collects ``text`` and speaks it once things are quiet for a moment. */
  collect(text, format = (s) => s, truncated = "") {
    // Only the beginning is ever spoken: a flood of output must not pile up here.
    if (this.pending.length <= MAX_CHARS) this.pending += text.slice(0, MAX_CHARS + 1 - this.pending.length);
    this.format = format;
    this.truncated = truncated;
    // One timer, moved on lazily: collect() may be called hundreds of times a second.
    this.quietUntil = performance.now() + QUIET_MS;
    if (!this.timer) this._wake(QUIET_MS);
  }

  _wake(delay) {
    this.timer = setTimeout(() => {
      this.timer = null;
      const left = this.quietUntil - performance.now();
      if (left > 1) {
        this._wake(left);
        return;
      }
      let chunk = this.pending.trim();
      this.pending = "";
      if (!chunk) return;
      if (chunk.length > MAX_CHARS) chunk = `${chunk.slice(0, MAX_CHARS)}… ${this.truncated}`;
      this._speak(this.format(chunk));
    }, delay);
  }

  /** The collected text so far, emptied (so a more precise message can include it). */
  takePending() {
    clearTimeout(this.timer);
    this.timer = null;
    const text = this.pending;
    this.pending = "";
    return text;
  }

  _speak(text) {
    // Emptying first makes screen readers repeat an identical message.
    this.region.textContent = "";
    const parts = Array.isArray(text) ? text : [text];
    window.setTimeout(() => {
      this.region.replaceChildren(
        ...parts.filter(Boolean).flatMap((part, index) => [
          index ? " " : "",
          typeof part === "string" ? part : h("span", { lang: part.lang }, part.text),
        ]),
      );
    }, 50);
  }
}
