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

  /** Speaks ``text`` now (replacing anything pending). */
  say(text) {
    clearTimeout(this.timer);
    this.pending = "";
    this._speak(text);
  }

  /** Collects ``text`` and speaks it once things are quiet for a moment. */
  collect(text, format = (s) => s, truncated = "") {
    this.pending += text;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      let chunk = this.pending.trim();
      this.pending = "";
      if (!chunk) return;
      if (chunk.length > MAX_CHARS) chunk = `${chunk.slice(0, MAX_CHARS)}… ${truncated}`;
      this._speak(format(chunk));
    }, QUIET_MS);
  }

  /** The collected text so far, emptied (so a more precise message can include it). */
  takePending() {
    clearTimeout(this.timer);
    const text = this.pending;
    this.pending = "";
    return text;
  }

  _speak(text) {
    // Emptying first makes screen readers repeat an identical message.
    this.region.textContent = "";
    window.setTimeout(() => {
      this.region.textContent = text;
    }, 50);
  }
}
