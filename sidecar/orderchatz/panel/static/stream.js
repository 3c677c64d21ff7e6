// One live connection (Server-Sent Events). EventSource cannot send Authorization, so each
// connection trades the Bearer token for a short ticket. Any error closes it and reconnects with a
// fresh ticket and the last event id, with backoff; after a reconnect the app catches up.
import { t } from "./i18n.js";
import { clearNotice, notify } from "./notices.js";
import { api } from "./session.js";

const NOTICE_AFTER_MS = 4000;
const MAX_BACKOFF_MS = 30000;

export class LiveStream {
  constructor({ onEvent, onConnected }) {
    this.onEvent = onEvent;
    this.onConnected = onConnected;
    this.source = null;
    this.lastEventId = "";
    this.attempts = 0;
    this.everConnected = false;
    this.disconnectedAt = 0;
    this.retryTimer = 0;
    this.noticeTimer = 0;
    this.healthy = false;
  }

  start() {
    this.connect();
  }

  async connect() {
    clearTimeout(this.retryTimer);
    let ticket;
    try {
      ({ ticket } = await api("api/v1/stream/ticket", { method: "POST" }));
    } catch {
      this.scheduleReconnect();
      return;
    }
    const params = new URLSearchParams({ ticket });
    if (this.lastEventId) params.set("last_event_id", this.lastEventId);
    const source = new EventSource(`api/v1/stream?${params}`);
    this.source = source;
    source.addEventListener("hello", (e) => this.onHello(e));
    source.addEventListener("message", (e) => this.onMessage(e));
    source.addEventListener("unavailable", () => this.drop(source));
    source.addEventListener("error", () => this.drop(source));
  }

  onHello(e) {
    if (e.lastEventId && !this.lastEventId) this.lastEventId = e.lastEventId;
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.healthy = true;
    this.attempts = 0;
    clearTimeout(this.noticeTimer);
    clearNotice("stream");
    document.body.dataset.live = "connected";
    // Also on the first connection: the page's first reads raced the stream's start.
    this.onConnected({ reconnected });
  }

  onMessage(e) {
    if (e.lastEventId) this.lastEventId = e.lastEventId;
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    if (data && typeof data.type === "string") this.onEvent(data);
  }

  /** Close this connection (EventSource would retry with a stale ticket) and plan a new one. */
  drop(source) {
    if (source !== this.source) return;
    source.close();
    this.source = null;
    if (this.healthy) this.disconnectedAt = Date.now();
    this.healthy = false;
    document.body.dataset.live = "reconnecting";
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      if (!this.healthy) notify("stream", t("notice_stream"), { kind: "warning" });
    }, NOTICE_AFTER_MS);
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts) + Math.random() * 300;
    this.attempts += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect now (the network came back, the tab became visible). */
  nudge() {
    if (this.healthy || this.source) return;
    this.attempts = 0;
    this.connect();
  }
}
