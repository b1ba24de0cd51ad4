// Never lose work: the editor's text is kept locally as the learner types (localStorage; for a
// course session, this tab or this page only), and sent to the server a little later. A local
// copy the server has not seen yet wins on reload.
import { storage } from "./storage.js";

const LOCAL_DELAY_MS = 250;
const SERVER_DELAY_MS = 2000;

/** Whether the server holds the editor's code. */
export const SaveState = Object.freeze({ SAVED: "saved", SAVING: "saving", UNSAVED: "unsaved" });

export class Drafts {
  /**
   * @param {string} exerciseId
   * @param {(code: string) => Promise<unknown>} saveToServer
   * @param {typeof storage} store where the local copy lives (see storage.js)
   * @param {(state: string) => void} onState told each time the SaveState changes
   */
  constructor(exerciseId, saveToServer, store = storage, onState = () => {}) {
    this.key = `draft:${exerciseId}`;
    this.saveToServer = saveToServer;
    this.store = store;
    this.onState = onState;
    this.localTimer = null;
    this.serverTimer = null;
    this.pending = null;
    this.serverCopy = null;
    this.current = null; // the editor's code
    this.sending = 0;
    this.state = null;
    window.addEventListener("pagehide", () => this.flush());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.flush();
    });
  }

  /**
   * The code to show: the local draft if the server never received it, else the server's copy.
   * @returns {{code: string, restored: boolean}}
   */
  choose(serverCode) {
    this.serverCopy = serverCode;
    const draft = this.store.getJSON(this.key);
    if (draft && typeof draft.code === "string" && !draft.synced && draft.code !== serverCode) {
      this.current = draft.code;
      this._scheduleServer(draft.code);
      this._update();
      return { code: draft.code, restored: true };
    }
    this.current = serverCode;
    this.store.setJSON(this.key, { code: serverCode, at: Date.now(), synced: true });
    this._update();
    return { code: serverCode, restored: false };
  }

  /** Called on every edit: local copy within 250 ms, server copy after a pause. */
  changed(code) {
    this.pending = code;
    this.current = code;
    clearTimeout(this.localTimer);
    this.localTimer = setTimeout(() => this._writeLocal(), LOCAL_DELAY_MS);
    this._scheduleServer(code);
    this._update();
  }

  /** The server stored ``code`` (it saves the code of every run). */
  synced(code) {
    this.serverCopy = code;
    const draft = this.store.getJSON(this.key);
    if (!draft || draft.code === code) this.store.setJSON(this.key, { code, at: Date.now(), synced: true });
    if (this.pending === code || this.current === code) clearTimeout(this.serverTimer);
    this._update();
  }

  /** The connection is back: send what the server does not have yet. */
  retry() {
    if (this.current !== null && this.current !== this.serverCopy && !this.sending) {
      clearTimeout(this.serverTimer);
      this._sendToServer(this.current, false);
    }
  }

  /** Writes what is pending now (the page is going away). */
  flush() {
    if (this.pending !== null) this._writeLocal();
    const draft = this.store.getJSON(this.key);
    if (draft && !draft.synced) {
      clearTimeout(this.serverTimer);
      this._sendToServer(draft.code, true);
    }
  }

  _writeLocal() {
    clearTimeout(this.localTimer);
    if (this.pending === null) return;
    this.store.setJSON(this.key, { code: this.pending, at: Date.now(), synced: this.pending === this.serverCopy });
    this.pending = null;
  }

  _scheduleServer(code) {
    clearTimeout(this.serverTimer);
    this.serverTimer = setTimeout(() => this._sendToServer(code, false), SERVER_DELAY_MS);
  }

  async _sendToServer(code, keepalive) {
    if (code === this.serverCopy) return;
    this.sending += 1;
    this._update();
    try {
      await this.saveToServer(code, keepalive);
      this.synced(code);
    } catch {
      // Kept locally; the next edit, run or reconnection tries again.
    } finally {
      this.sending -= 1;
      this._update();
    }
  }

  _update() {
    let state = SaveState.UNSAVED;
    if (this.current === this.serverCopy) state = SaveState.SAVED;
    else if (this.sending) state = SaveState.SAVING;
    if (state !== this.state) {
      this.state = state;
      this.onState(state);
    }
  }
}
