// The reference solution: folded away once the exercise is solved, or offered behind an in-page
// confirmation after the failed checks the exercise allows (the server decides both).
import { h, clear } from "./dom.js";
import { t } from "./i18n/index.js";

export class SolutionView {
  /**
   * @param {HTMLElement} panel where the offer or the solution goes (hidden while there is neither)
   * @param {{fetch: () => Promise<{solution: string}>, detail: () => Promise<object>}} deps
   *   ``fetch`` asks the server for the solution; ``detail`` for the exercise (whether it is offered)
   */
  constructor(panel, { fetch, detail }) {
    Object.assign(this, { panel, fetch, detail });
    this.solution = null;
    this.offered = false;
    this.busy = false;
  }

  /** From the exercise's detail: ``solution`` (null until solved) and ``solution_offered``. */
  show({ solution, solution_offered: offered }) {
    if (solution) this._showSolution(solution, false);
    else if (offered) this._showOffer();
    else this.panel.hidden = true;
  }

  /** After a check: solved, the solution can now be fetched; failed, it may now be offered. */
  async checked(solved) {
    if (this.solution || (!solved && this.offered)) return;
    try {
      if (solved) this._showSolution((await this.fetch()).solution, false);
      else this.show(await this.detail());
    } catch {
      // Not worth an alarm: the page shows it on the next visit.
    }
  }

  _showOffer() {
    this.offered = true;
    const button = h("button", { type: "button", class: "button button--quiet" }, t("solution.offer"));
    const confirm = this._confirmRegion(() => {
      confirm.hidden = true;
      button.hidden = false;
      button.focus();
    });
    button.addEventListener("click", () => {
      button.hidden = true;
      confirm.hidden = false;
      confirm.focus();
    });
    clear(this.panel).append(button, confirm);
    this.panel.hidden = false;
  }

  _confirmRegion(cancel) {
    const status = h("p", { class: "solution-status", role: "status" });
    const yes = h("button", { type: "button", class: "button button--primary" }, t("solution.confirm"));
    const region = h(
      "div",
      { class: "solution-confirm", role: "group", "aria-labelledby": "solution-question", tabindex: "-1", hidden: true },
      h("p", { id: "solution-question" }, t("solution.question")),
      h("div", { class: "solution-actions" }, yes, h("button", { type: "button", class: "button", onclick: cancel }, t("solution.cancel"))),
      status,
    );
    yes.addEventListener("click", async () => {
      if (this.busy) return;
      this.busy = true;
      status.textContent = "";
      try {
        const { solution } = await this.fetch();
        this._showSolution(solution, true);
      } catch {
        status.textContent = t("solution.failed");
      } finally {
        this.busy = false;
      }
    });
    return region;
  }

  /** ``open``: the learner asked for it just now, so it is unfolded and takes the focus. */
  _showSolution(solution, open) {
    this.solution = solution;
    const summary = h("summary", {}, t("solution.title"));
    const details = h(
      "details",
      { class: "solution", open },
      summary,
      h("p", { class: "muted" }, t("solution.note")),
      h("pre", { class: "solution-code", tabindex: "0", role: "region", "aria-label": t("solution.code"), translate: "no" }, h("code", {}, solution)),
    );
    clear(this.panel).append(details);
    this.panel.hidden = false;
    if (open) summary.focus();
  }
}
