// Hints, revealed one at a time on request (each reveal is recorded by the server).
import { h, clear } from "./dom.js";
import { t } from "./i18n/index.js";
import { withInlineCode } from "./rich-text.js";
import { NetworkError } from "./api.js";

export class HintsView {
  /**
   * @param {{list: HTMLOListElement, button: HTMLButtonElement, count: HTMLElement, status: HTMLElement}} els
   * @param {{reveal: () => Promise<{hints: string[], hints_total: number}>, onError: (e: Error) => void}} deps
   */
  constructor(els, { reveal, onError }) {
    this.els = els;
    this.reveal = reveal;
    this.onError = onError;
    this.hints = [];
    this.total = 0;
    this.connected = true;
    this.waiting = false;
    els.button.addEventListener("click", () => this._revealNext());
  }

  /** Without a connection, a hint asked for is revealed once it is back. */
  setConnected(connected) {
    this.connected = connected;
    if (connected && this.waiting) this._revealNext();
  }

  show(hints, total) {
    this.hints = hints || [];
    this.total = total || 0;
    this._render(false);
  }

  async _revealNext() {
    if (this.busy) return;
    if (!this.connected) {
      this._wait();
      return;
    }
    this.busy = true;
    this.els.button.disabled = true;
    try {
      const { hints, hints_total: total } = await this.reveal();
      this.waiting = false;
      this.els.status.textContent = "";
      this.hints = hints;
      this.total = total;
      this._render(true);
    } catch (error) {
      this.els.button.disabled = false;
      if (error instanceof NetworkError) this._wait();
      else this.onError(error);
    } finally {
      this.busy = false;
    }
  }

  _wait() {
    this.waiting = true;
    this.els.status.textContent = t("hints.waitsConnection");
  }

  _render(focusLast) {
    const { list, button, count } = this.els;
    clear(list);
    this.hints.forEach((text, index) => {
      list.append(
        h(
          "li",
          { class: "hint", tabindex: "-1" },
          h("span", { class: "hint-label" }, t("hints.item", { number: index + 1 })),
          h("span", { class: "hint-text", lang: "fr" }, withInlineCode(text)),
        ),
      );
    });
    const shown = this.hints.length;
    if (!this.total) count.textContent = t("hints.none");
    else if (shown >= this.total) count.textContent = t("hints.allShown");
    else count.textContent = t("hints.count", { shown, total: this.total });
    button.hidden = !this.total || shown >= this.total;
    button.disabled = false;
    button.textContent = shown ? t("hints.revealNext") : t("hints.reveal");
    if (focusLast && list.lastElementChild) list.lastElementChild.focus();
  }
}
