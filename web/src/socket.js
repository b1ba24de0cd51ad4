// The /ws connection: JSON messages in and out, reconnection with exponential back-off.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export const ConnectionState = Object.freeze({
  CONNECTING: "connecting",
  OPEN: "open",
  LOST: "lost",
  ENDED: "ended",
});

export class RunnerSocket {
  /**
   * @param {() => Promise<string>} credentials resolves, before each connection, the query string
   *   naming who the socket acts for (``learner=…`` or ``session=…``)
   * @param {{onMessage: (msg: object) => void, onState: (state: string, info: object) => void}} handlers
   */
  constructor(credentials, { onMessage, onState }) {
    this.credentials = credentials;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.state = null;
    this.ended = false;
    this.paused = false;
  }

  async connect() {
    clearTimeout(this.timer);
    if (this.ended || this.paused) return;
    this._setState(this.state === null ? ConnectionState.CONNECTING : this.state);
    let query;
    try {
      query = await this.credentials();
    } catch {
      this._scheduleReconnect();
      return;
    }
    if (this.ended || this.paused || this.ws) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}/ws?${query}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this._setState(ConnectionState.OPEN, { restored: this.state === ConnectionState.LOST });
    });
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this._receive(event.data);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._scheduleReconnect();
    });
  }

  /** The device is offline: closes the socket (it is most likely dead) and waits for ``resume``. */
  pause() {
    if (this.ended) return;
    this.paused = true;
    clearTimeout(this.timer);
    this._drop();
    this._setState(ConnectionState.LOST, { paused: true });
  }

  /** Back online: connects again at once. */
  resume() {
    if (this.ended || !this.paused) return;
    this.paused = false;
    this.attempt = 0;
    this.connect();
  }

  /** The socket looks open but nothing comes back: drops it and connects again at once. */
  reconnect() {
    if (this.ended || this.paused) return;
    this._drop();
    this._setState(ConnectionState.LOST);
    this.attempt = 0;
    this.connect();
  }

  /** Closes for good: no reconnection (the server refused who the socket acts for). */
  end() {
    this.ended = true;
    clearTimeout(this.timer);
    this._drop();
    this._setState(ConnectionState.ENDED);
  }

  _drop() {
    const ws = this.ws;
    this.ws = null; // its close event is then ignored
    if (ws) ws.close();
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Sends one message; false when the connection is not open. */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  _receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message && typeof message.type === "string") this.onMessage(message);
  }

  _scheduleReconnect() {
    if (this.ended || this.paused) return;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this._setState(ConnectionState.LOST, { retryInMs: delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  _setState(state, info = {}) {
    const changed = state !== this.state;
    this.state = state;
    this.onState(state, { ...info, changed });
  }
}
