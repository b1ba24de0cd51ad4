// Embed mode: events for the host page, posted only to the configured origins (never "*").
export const SOURCE = "decode-runner";

export function isEmbedded() {
  return window.location.pathname.startsWith("/embed/");
}

/** The host page's origin as the browser reports it, when it can tell (else null). */
export function parentOrigin() {
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length) return ancestors[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch {
    return null;
  }
}

export class EmbedBridge {
  /** @param {string[]} allowedOrigins the server's embed_origins */
  constructor(allowedOrigins) {
    const framed = window.parent && window.parent !== window;
    const allowed = (allowedOrigins || []).filter((o) => o && o !== "*");
    const known = parentOrigin();
    if (!framed) this.targets = [];
    else if (known) this.targets = allowed.includes(known) ? [known] : [];
    else this.targets = allowed;
    this.lastHeight = 0;
    this.observer = null;
  }

  get active() {
    return this.targets.length > 0;
  }

  /** Posts ``{source, type, ...data}`` to the host page (if it is an allowed origin). */
  post(type, data = {}) {
    for (const origin of this.targets) {
      try {
        window.parent.postMessage({ source: SOURCE, type, ...data }, origin);
      } catch {
        // A wrong guess of the parent's origin is dropped by the browser: nothing to do.
      }
    }
  }

  /** Sends ``resize`` with the document height now and on every layout change. */
  watchHeight() {
    if (!this.active || this.observer) return;
    const send = () => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height !== this.lastHeight) {
        this.lastHeight = height;
        this.post("resize", { height });
      }
    };
    this.observer = new ResizeObserver(send);
    this.observer.observe(document.documentElement);
    this.observer.observe(document.body);
    send();
  }
}
