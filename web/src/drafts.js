// Never lose work: the editor's text is kept locally as the learner types (localStorage; for a
// course session, this tab or this page only), and sent to the server a little later. A local
// copy the server has not seen yet wins on reload.
import { storage } from "./storage.js";

const LOCAL_DELAY_MS = 250;
const SERVER_DELAY_MS = 2000;

export class Drafts {
  /**
   * @param {string} exerciseId
   * @param {(code: string) => Promise<unknown>} saveToServer
   * @param {typeof storage} store where the local copy lives (see storage.js)
   */
  constructor(exerciseId, saveToServer, store = storage) {
    this.key = `draft:${exerciseId}`;
    this.saveToServer = saveToServer;
    this.store = store;
    this.localTimer = null;
    this.serverTimer = null;
    this.pending = null;
    this.serverCopy = null;
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
      this._scheduleServer(draft.code);
      return { code: draft.code, restored: true };
    }
    this.store.setJSON(this.key, { code: serverCode, at: Date.now(), synced: true });
    return { code: serverCode, restored: false };
  }

  /** Called on every edit: local copy within 250 ms, server copy after a pause. */
  changed(code) {
    this.pending = code;
    clearTimeout(this.localTimer);
    this.localTimer = setTimeout(() => this._writeLocal(), LOCAL_DELAY_MS);
    this._scheduleServer(code);
  }

  /** The server stored ``code`` (it saves the code of every run). */
  synced(code) {
    this.serverCopy = code;
    const draft = this.store.getJSON(this.key);
    if (!draft || draft.code === code) this.store.setJSON(this.key, { code, at: Date.now(), synced: true });
    if (this.pending === code) clearTimeout(this.serverTimer);
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
    try {
      await this.saveToServer(code, keepalive);
      this.synced(code);
    } catch {
      // Kept locally; the next edit or run tries again.
    }
  }
}
