// Moving to another exercise: links inside the runner, or, in a course platform's frame, a
// `navigate` event for the host page (the course decides what comes next, the frame stays put).
import { h } from "./dom.js";
import { t } from "./i18n/index.js";

export class Navigation {
  /**
   * @param {{exercise: {id: string, next: string|null, previous: string|null}, embedded: boolean,
   *   hostNavigates: boolean, embed: import("./embed.js").EmbedBridge}} options
   */
  constructor({ exercise, embedded, hostNavigates, embed }) {
    Object.assign(this, { exercise, embedded, hostNavigates, embed });
  }

  href(id) {
    return `/${this.embedded ? "embed" : "exercise"}/${encodeURIComponent(id)}${window.location.search}`;
  }

  /** The header's previous/next links. */
  wirePager(prevLink, nextLink) {
    for (const [link, direction] of [
      [prevLink, "previous"],
      [nextLink, "next"],
    ]) {
      const target = this.exercise[direction];
      link.hidden = !target;
      if (!target) continue;
      if (!this.hostNavigates) {
        link.href = this.href(target);
        continue;
      }
      // The pager is site chrome, hidden in a frame; wired anyway, so it never leaves the course.
      link.removeAttribute("href");
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.ask(direction);
      });
    }
  }

  /** What a solved exercise offers: the next exercise, or the end of the course. */
  nextAction() {
    const { next } = this.exercise;
    const arrow = h("span", { "aria-hidden": "true" }, " →");
    if (this.hostNavigates) {
      const label = next ? t("nav.next") : t("nav.continue");
      return h("button", { type: "button", class: "button button--primary", onclick: () => this.ask("next") }, label, arrow);
    }
    if (!next) return h("p", {}, t("result.lastOne"));
    return h("a", { class: "button button--primary", href: this.href(next) }, t("nav.next"), arrow);
  }

  /** Asks the host page to move on: ``{type: "navigate", exercise, next|previous, direction}``. */
  ask(direction) {
    this.embed.post("navigate", {
      exercise: this.exercise.id,
      [direction]: this.exercise[direction] ?? null,
      direction,
    });
  }
}
