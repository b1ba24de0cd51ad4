// The console's text: output is queued as it arrives and rendered once per animation frame, at most
// MAX_LINES lines stay in the DOM (older ones give way to a "… N lignes masquées" line), and the
// view follows the end unless the learner scrolled up. Lines are grouped in blocks of about
// BLOCK_LINES: the browser lays out again only the block that grew, and old lines leave a whole
// block at a time. A flood of output thus costs a bounded amount of work per frame, and the page
// (the Stop button first) keeps answering.
import { h } from "./dom.js";
import { language, t } from "./i18n/index.js";

export const MAX_LINES = 1000;
const BLOCK_LINES = 100;
const BOTTOM_SLACK_PX = 8;

export class ConsoleOutput {
  /** @param {HTMLElement} pre the console element */
  constructor(pre) {
    this.pre = pre;
    this.frame = null;
    // A hidden page gets no animation frames: it renders on a timer instead (browsers slow it).
    document.addEventListener("visibilitychange", () => {
      if (!this.frame) return;
      this._cancel();
      this._schedule();
    });
    pre.addEventListener("scroll", () => {
      this.follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - BOTTOM_SLACK_PX;
    }, { passive: true });
    this.clear();
  }

  /** Empties the console (pending output included) and shows ``placeholder``. */
  clear(placeholder = "") {
    this._cancel();
    this.pending = []; // {stream, data} or {node, lines}, in arrival order
    this.blocks = []; // {el, lines}
    this.open = null; // the segment receiving text: {el, stream}
    this.atLineStart = true;
    this.lines = 0;
    this.hidden = 0;
    this.marker = null;
    this.follow = true;
    this.placeholder = null;
    this.pre.replaceChildren();
    this.pre.scrollTop = 0;
    this.setPlaceholder(placeholder);
  }

  /** True once anything was written (even if it is now hidden). */
  get written() {
    return this.blocks.length > 0 || this.hidden > 0 || this.pending.length > 0;
  }

  /** The text shown while nothing was written (ignored afterwards). */
  setPlaceholder(text) {
    if (this.written) return;
    if (!this.placeholder) {
      this.placeholder = h("span", { class: "console-placeholder" });
      this.pre.append(this.placeholder);
    }
    this.placeholder.textContent = text;
  }

  /** Queues program output (``stream``: stdout, stderr or prompt). */
  write(stream, data) {
    if (!data) return;
    this.pending.push({ stream, data });
    this._schedule();
  }

  /** Queues an element of its own line (an echoed input, a note), after the output so far. */
  append(node) {
    this.pending.push({ node, lines: 1 });
    this._schedule();
  }

  /** Renders what is queued now (normally done at the next animation frame). */
  flush() {
    this._cancel();
    const ops = this.pending;
    if (!ops.length) return;
    this.pending = [];
    if (this.placeholder) {
      this.placeholder.remove();
      this.placeholder = null;
    }
    let incoming = 0;
    for (const op of ops) {
      if (!op.node) op.lines = countLines(op.data);
      incoming += op.lines;
    }
    // Lines that would not stay are never turned into DOM.
    if (incoming > MAX_LINES) this._dropFromOps(ops, incoming - MAX_LINES);
    for (const op of ops) {
      if (op.node) this._appendNode(op.node, op.lines);
      else if (op.data) this._appendText(op.stream, op.data, op.lines);
    }
    this._dropOldBlocks();
    this._renderMarker();
    // The frame lays the console out anyway: scrolling now costs no extra layout.
    if (this.follow) this.pre.scrollTop = this.pre.scrollHeight;
  }

  _schedule() {
    if (this.frame) return;
    const flush = () => this.flush();
    this.frame = document.visibilityState === "hidden" ? { timer: setTimeout(flush, 0) } : { raf: requestAnimationFrame(flush) };
  }

  _cancel() {
    if (!this.frame) return;
    if (this.frame.raf) cancelAnimationFrame(this.frame.raf);
    else clearTimeout(this.frame.timer);
    this.frame = null;
  }

  /** The block receiving new lines: a new one once the last is full and its last line ended. */
  _block() {
    let block = this.blocks[this.blocks.length - 1];
    if (!block || (block.lines >= BLOCK_LINES && this.atLineStart)) {
      block = { el: h("span", { class: "console-block" }), lines: 0 };
      this.blocks.push(block);
      this.pre.append(block.el);
    }
    return block;
  }

  _appendText(stream, data, lines) {
    // A long text is split at line ends so that blocks stay small.
    let rest = data;
    let restLines = lines;
    while (rest) {
      const block = this._block();
      const room = Math.max(1, BLOCK_LINES - block.lines);
      const cut = restLines > room ? afterNthNewline(rest, room) : rest.length;
      const part = rest.slice(0, cut);
      const partLines = restLines > room ? room : restLines;
      this._segment(block, stream).append(part); // one text node per frame and segment
      block.lines += partLines;
      this.lines += partLines;
      this.atLineStart = part.endsWith("\n");
      rest = rest.slice(cut);
      restLines -= partLines;
    }
  }

  _segment(block, stream) {
    if (this.open && this.open.stream === stream && this.open.el.parentNode === block.el) return this.open.el;
    const continued = this.open && this.open.stream === stream;
    const el = h("span", { class: `console-${stream}${continued ? " console-continued" : ""}` });
    if (stream === "stderr" && !continued) el.append(h("span", { class: "console-tag", dataset: { tag: "stderr" } }, t("console.stderrTag")));
    block.el.append(el);
    this.open = { el, stream };
    return el;
  }

  _appendNode(node, lines) {
    const block = this._block();
    block.el.append(node);
    block.lines += lines;
    this.lines += lines;
    this.open = null;
    this.atLineStart = true;
  }

  /** Whole blocks leave from the top while more than MAX_LINES lines are kept. */
  _dropOldBlocks() {
    while (this.lines > MAX_LINES && this.blocks.length > 1) {
      const block = this.blocks.shift();
      block.el.remove();
      this.lines -= block.lines;
      this.hidden += block.lines;
    }
  }

  /** Drops the oldest ``count`` lines from what is queued (before any DOM is built for them). */
  _dropFromOps(ops, count) {
    for (const op of ops) {
      if (count <= 0) return;
      if (op.node) {
        if (op.lines > count) return;
        op.node = null;
      } else if (op.lines <= count) {
        op.data = "";
      } else {
        op.data = op.data.slice(afterNthNewline(op.data, count));
      }
      const dropped = Math.min(op.lines, count);
      op.lines -= dropped;
      count -= dropped;
      this.hidden += dropped;
    }
  }

  _renderMarker() {
    if (!this.hidden) return;
    if (!this.marker) this.marker = h("span", { class: "console-hidden" });
    if (this.pre.firstChild !== this.marker) this.pre.prepend(this.marker);
    const count = formatCount(this.hidden);
    this.marker.textContent = this.hidden === 1 ? t("console.hiddenLine", { count }) : t("console.hiddenLines", { count });
  }
}

let countFormat = { lang: null, format: null };

function formatCount(count) {
  // Building an Intl.NumberFormat costs far more than using one: keep it.
  if (countFormat.lang !== language()) countFormat = { lang: language(), format: new Intl.NumberFormat(language()) };
  return countFormat.format.format(count);
}

function countLines(text) {
  let count = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count += 1;
  return count;
}

/** The index just after the ``n``-th newline of ``text`` (n ≥ 1), or its length. */
function afterNthNewline(text, n) {
  let at = -1;
  for (let i = 0; i < n; i += 1) {
    at = text.indexOf("\n", at + 1);
    if (at === -1) return text.length;
  }
  return at + 1;
}
