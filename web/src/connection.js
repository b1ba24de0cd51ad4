// Whether the page can reach the server, from three signals: the browser's online flag, the
// socket's state and failed requests. One banner says what is wrong as soon as it is known, and
// actions that need the server (run, check, hints, saving) wait until the connection is usable.
import { t } from "./i18n/index.js";
import { ConnectionState } from "./socket.js";

const BACK_SHOWN_MS = 4000;
const PROBE_EVERY_MS = 5000;

export class Connection {
  /**
   * @param {HTMLElement} banner
   * @param {(state: {usable: boolean, healthy: boolean}) => void} onChange called when either
   *   changes: ``usable``, the socket can carry runs; ``healthy``, HTTP calls go through too
   * @param {() => Promise<unknown>} probe a light request, tried again while requests fail
   */
  constructor(banner, onChange, probe) {
    this.banner = banner;
    this.onChange = onChange;
    this.probe = probe;
    this.probeTimer = null;
    this.online = navigator.onLine !== false;
    this.socketState = null;
    this.requestFailed = false;
    this.usable = false;
    this.healthy = false;
    this.troubled = false;
    this.backTimer = null;
  }

  /** Follows the browser's online flag: offline, the socket is closed until it is back. */
  watch(socket) {
    window.addEventListener("offline", () => {
      this.online = false;
      socket.pause();
      this._update();
    });
    window.addEventListener("online", () => {
      this.online = true;
      this.requestFailed = false;
      socket.resume();
      this._update();
    });
    if (this.online) socket.connect();
    else socket.pause();
    this._update();
  }

  socketChanged(state) {
    this.socketState = state;
    if (state === ConnectionState.OPEN) this.requestFailed = false;
    this._update();
  }

  /** An HTTP call reached the server (``ok``) or failed on the network. */
  requestDone(ok) {
    clearTimeout(this.probeTimer);
    if (!ok) this.probeTimer = setTimeout(() => this.probe().catch(() => {}), PROBE_EVERY_MS);
    if (this.requestFailed === !ok) return;
    this.requestFailed = !ok;
    this._update();
  }

  _update() {
    // A failed HTTP call says nothing of the socket: runs go on while it is open.
    const usable = this.online && this.socketState === ConnectionState.OPEN;
    const healthy = usable && !this.requestFailed;
    this._render();
    if (usable !== this.usable || healthy !== this.healthy) {
      this.usable = usable;
      this.healthy = healthy;
      this.onChange({ usable, healthy });
    }
  }

  _render() {
    if (this.socketState === ConnectionState.ENDED) {
      this._show(null);
    } else if (!this.online) {
      this._show(t("conn.offline"), "warn");
    } else if (this.socketState === ConnectionState.LOST) {
      this._show(t("conn.lost"), "warn");
    } else if (this.requestFailed) {
      this._show(t("conn.unreachable"), "warn");
    } else if (this.socketState === ConnectionState.OPEN && this.troubled) {
      this._show(t("conn.back"), "ok");
    } else if (this.socketState === ConnectionState.OPEN && !this.backTimer) {
      this._show(null);
    }
  }

  _show(text, tone = "") {
    const { banner } = this;
    clearTimeout(this.backTimer);
    this.backTimer = null;
    this.troubled = tone === "warn";
    banner.hidden = !text;
    if (!text) return;
    if (banner.textContent !== text) banner.textContent = text;
    banner.className = `banner banner--${tone}`;
    if (tone === "ok") {
      this.backTimer = setTimeout(() => {
        this.backTimer = null;
        banner.hidden = true;
      }, BACK_SHOWN_MS);
    }
  }
}
