// The chat room (middle column): history with upward infinite scroll, day separators, the
// composer (Enter sends, Shift+Enter breaks the line), quote replies and product cards.
import { clear, clientId, dayKey, formatDay, h, parseTime } from "./dom.js";
import { t } from "./i18n.js";
import { forgetMedia, renderMessage, summarize } from "./messages.js";
import { toast } from "./notices.js";
import { pickProduct } from "./products.js";
import { api } from "./session.js";

const PAGE = 40;
const TEXT_LIMIT = 5000;
const COUNTER_FROM = 4000;
const NEAR_BOTTOM_PX = 120;

export class Room {
  constructor({ openOrder, onActivity, onRead }) {
    this.openOrder = openOrder;
    this.onActivity = onActivity;
    this.onRead = onRead;
    this.el = {
      root: document.getElementById("oc-room"),
      empty: document.getElementById("oc-room-empty"),
      title: document.getElementById("oc-room-title"),
      banner: document.getElementById("oc-room-banner"),
      history: document.getElementById("oc-history"),
      form: document.getElementById("oc-composer"),
      input: document.getElementById("oc-composer-input"),
      counter: document.getElementById("oc-counter"),
      send: document.getElementById("oc-send"),
      product: document.getElementById("oc-send-product"),
      quote: document.getElementById("oc-quote"),
      lightbox: document.getElementById("oc-lightbox"),
    };
    this.friend = null;
    this.drafts = new Map();
    this.reset();
    this.topSentinel = h("div", { class: "history-top" });
    this.rowsEl = h("div", { class: "history-rows" });
    this.el.history.append(this.topSentinel, this.rowsEl);
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: this.el.history, rootMargin: "200px 0px 0px 0px" });
    this.observer.observe(this.topSentinel);
    this.ctx = {
      retry: (m) => this.retry(m),
      reply: (m) => this.setQuote(m),
      openOrder: (id) => this.openOrder(id),
      openImage: (url) => this.openImage(url),
      findQuoted: (m) => this.findQuoted(m),
    };
    this.bindComposer();
  }

  reset() {
    this.messages = new Map();
    this.rows = new Map();
    this.hasMore = false;
    this.loadingOlder = false;
    this.quote = null;
    this.generation = (this.generation || 0) + 1;
    this.catchingUp = null;
    this.catchAgain = false;
    this.loadingInitial = false;
    // Highest id read through the history endpoint. Catch-up reads after it, not after ids
    // learned from our own sends, so a customer message stored just before a send is not skipped.
    this.syncedId = 0;
  }

  bindComposer() {
    const { input, form, product } = this.el;
    input.addEventListener("keydown", (e) => {
      // IME composition (Zhuyin, Cangjie) uses Enter to commit characters: never send then.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.sendText();
      } else if (e.key === "Escape" && this.quote) {
        e.preventDefault();
        this.setQuote(null);
      }
    });
    input.addEventListener("input", () => this.updateCounter());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendText();
    });
    product.addEventListener("click", () => this.sendProduct());
    this.el.lightbox.addEventListener("click", () => this.closeImage());
    this.el.lightbox.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closeImage();
    });
  }

  updateCounter() {
    const n = this.el.input.value.length; // UTF-16 code units, as LINE counts them
    const { counter, send } = this.el;
    counter.textContent = n >= COUNTER_FROM ? t("counter", { n, max: TEXT_LIMIT }) : "";
    counter.classList.toggle("over", n > TEXT_LIMIT);
    counter.title = n > TEXT_LIMIT ? t("too_long", { max: TEXT_LIMIT }) : "";
    send.disabled = n > TEXT_LIMIT || (this.friend && this.friend.blocked);
  }

  async open(friend) {
    const same = this.friend && this.friend.line_user_id === friend.line_user_id;
    if (same) {
      this.updateFriend(friend);
      return;
    }
    if (this.friend) this.drafts.set(this.friend.line_user_id, this.el.input.value);
    this.friend = friend;
    this.reset();
    forgetMedia();
    clear(this.rowsEl);
    this.el.input.value = this.drafts.get(friend.line_user_id) || "";
    this.drafts.delete(friend.line_user_id);
    this.setQuote(null);
    this.el.empty.hidden = true;
    this.el.root.hidden = false;
    this.updateFriend(friend);
    this.rowsEl.append(h("div", { class: "history-loading" }, t("loading")));
    const generation = this.generation;
    this.loadingInitial = true;
    try {
      const data = await api(`api/v1/conversations/${encodeURIComponent(friend.line_user_id)}/messages`,
                             { query: { limit: PAGE } });
      if (generation !== this.generation) return;
      clear(this.rowsEl);
      this.hasMore = data.has_more;
      // One bulk render: the log region should not announce forty old messages one by one.
      this.el.history.setAttribute("aria-busy", "true");
      for (const m of data.messages) this.store(m);
      this.syncedId = data.messages.reduce((max, m) => Math.max(max, m.id || 0), 0);
      this.render();
      this.scrollToBottom();
      requestAnimationFrame(() => this.el.history.setAttribute("aria-busy", "false"));
      document.body.dataset.roomReady = friend.line_user_id;
    } catch (err) {
      if (generation !== this.generation) return;
      this.loadingInitial = false;
      clear(this.rowsEl).append(h("div", { class: "history-loading" }, t("load_failed"), " ",
        h("button", { type: "button", class: "link-btn", onclick: () => { this.friend = null; this.open(friend); } }, t("try_again"))));
      return;
    }
    this.loadingInitial = false;
    this.markRead();
    // A live event during the first read may describe a message that read just missed.
    if (this.catchAgain) {
      this.catchAgain = false;
      this.catchUp();
    }
  }

  close() {
    this.friend = null;
    this.reset();
    clear(this.rowsEl);
    this.el.root.hidden = true;
    this.el.empty.hidden = false;
    this.el.title.textContent = t("choose_conversation");
  }

  updateFriend(friend) {
    this.friend = friend;
    this.el.title.textContent = friend.display_name || friend.line_user_id;
    const blocked = Boolean(friend.blocked);
    this.el.banner.hidden = !blocked;
    this.el.banner.textContent = blocked ? t("blocked_banner") : "";
    this.el.input.disabled = blocked;
    this.el.product.disabled = blocked;
    this.updateCounter();
  }

  /** The tab became visible again. */
  markReadIfPending() {
    if (this.readPending && this.friend) this.markRead();
  }

  markRead() {
    if (!this.friend) return;
    this.readPending = false;
    api(`api/v1/conversations/${encodeURIComponent(this.friend.line_user_id)}/read`, { method: "POST" })
      .then(() => this.onRead(), () => {});
  }

  key(m) {
    return m.client_id ? `c:${m.client_id}` : `m:${m.id}`;
  }

  store(m) {
    const key = this.key(m);
    const previous = this.messages.get(key);
    this.messages.set(key, m);
    if (previous && this.rows.has(key)) {
      const el = this.rows.get(key);
      const fresh = renderMessage(m, this.ctx);
      el.replaceWith(fresh);
      this.rows.set(key, fresh);
    }
  }

  ordered() {
    return [...this.messages.values()].sort((a, b) => {
      if (a.id && b.id) return a.id - b.id;
      if (a.id) return -1;
      if (b.id) return 1;
      return (a.local_seq || 0) - (b.local_seq || 0);
    });
  }

  oldestId() {
    let min = Infinity;
    for (const m of this.messages.values()) if (m.id && m.id < min) min = m.id;
    return Number.isFinite(min) ? min : 0;
  }

  /** Keyed render: existing elements are reused and only moved when their position changes. */
  render() {
    const wanted = [];
    if (!this.hasMore && this.messages.size) wanted.push(["start", () => h("div", { class: "history-start" }, t("history_start"))]);
    let lastDay = "";
    for (const m of this.ordered()) {
      const at = parseTime(m.created_at) || new Date();
      const day = dayKey(at);
      if (day !== lastDay) {
        wanted.push([`d:${day}`, () => h("div", { class: "day-sep", role: "separator" }, h("span", null, formatDay(at)))]);
        lastDay = day;
      }
      wanted.push([this.key(m), () => renderMessage(m, this.ctx)]);
    }
    const keep = new Set(wanted.map(([k]) => k));
    for (const [k, el] of this.rows) {
      if (!keep.has(k)) {
        el.remove();
        this.rows.delete(k);
      }
    }
    let prev = null;
    for (const [k, make] of wanted) {
      let el = this.rows.get(k);
      if (!el) {
        el = make();
        this.rows.set(k, el);
      }
      const expected = prev ? prev.nextSibling : this.rowsEl.firstChild;
      if (el !== expected) this.rowsEl.insertBefore(el, expected);
      prev = el;
    }
  }

  nearBottom() {
    const hEl = this.el.history;
    return hEl.scrollHeight - hEl.scrollTop - hEl.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.el.history.scrollTop = this.el.history.scrollHeight;
  }

  async loadOlder() {
    if (!this.friend || !this.hasMore || this.loadingOlder || !this.messages.size) return;
    this.loadingOlder = true;
    const generation = this.generation;
    try {
      const data = await api(`api/v1/conversations/${encodeURIComponent(this.friend.line_user_id)}/messages`,
                             { query: { before: this.oldestId(), limit: PAGE } });
      if (generation !== this.generation) return;
      const hEl = this.el.history;
      const fromBottom = hEl.scrollHeight - hEl.scrollTop;
      hEl.setAttribute("aria-busy", "true");
      for (const m of data.messages) this.store(m);
      this.hasMore = data.has_more;
      this.render();
      hEl.scrollTop = hEl.scrollHeight - fromBottom; // keep the reader's place
      requestAnimationFrame(() => hEl.setAttribute("aria-busy", "false"));
    } catch {
      // the sentinel triggers again on the next scroll
      return;
    } finally {
      if (generation === this.generation) this.loadingOlder = false;
    }
    const view = this.el.history.getBoundingClientRect();
    if (generation === this.generation && this.hasMore && this.topSentinel.getBoundingClientRect().bottom > view.top - 200) {
      this.loadOlder();
    }
  }

  /** New messages since the newest one shown (live event or after a reconnect). */
  catchUp() {
    if (!this.friend) return Promise.resolve();
    if (this.catchingUp || this.loadingInitial) {
      this.catchAgain = true;
      return this.catchingUp || Promise.resolve();
    }
    const generation = this.generation;
    const friendId = this.friend.line_user_id;
    this.catchingUp = (async () => {
      let inbound = false;
      try {
        let more = true;
        while (more && generation === this.generation) {
          const data = await api(`api/v1/conversations/${encodeURIComponent(friendId)}/messages`,
                                 { query: { after: this.syncedId, limit: 100 } });
          if (generation !== this.generation) return;
          const stick = this.nearBottom();
          for (const m of data.messages) {
            this.store(m);
            this.syncedId = Math.max(this.syncedId, m.id);
            if (m.direction === "in") inbound = true;
          }
          this.render();
          if (stick || data.messages.some((m) => m.direction === "out")) this.scrollToBottom();
          more = data.has_more && data.messages.length > 0;
        }
      } catch {
        return;
      } finally {
        if (generation === this.generation) this.catchingUp = null;
      }
      if (inbound && generation === this.generation) {
        // Read means seen: while WP admin's tab is in the background, wait until it is visible.
        if (document.visibilityState === "visible") this.markRead();
        else this.readPending = true;
      }
      if (this.catchAgain) {
        this.catchAgain = false;
        this.catchUp();
      }
    })();
    return this.catchingUp;
  }

  /** A message changed (status, media ready, unsent): fetch just it (`after` id-1, limit 1). */
  async refreshMessage(messageId) {
    if (!this.friend) return;
    const known = [...this.messages.values()].find((m) => m.id === messageId);
    if (!known) {
      if (messageId > this.syncedId) this.catchUp();
      return;
    }
    const generation = this.generation;
    try {
      const data = await api(`api/v1/conversations/${encodeURIComponent(this.friend.line_user_id)}/messages`,
                             { query: { after: messageId - 1, limit: 1 } });
      if (generation !== this.generation) return;
      const m = data.messages.find((x) => x.id === messageId);
      if (m) this.store(m);
    } catch {
      // the next event or catch-up brings it
    }
  }

  setQuote(m) {
    this.quote = m;
    const bar = this.el.quote;
    clear(bar);
    bar.hidden = !m;
    if (!m) return;
    bar.append(h("span", { class: "quote-text" }, t("replying_to", { text: summarize(m) })),
               h("button", { type: "button", class: "icon-btn", "aria-label": t("cancel_reply"),
                             onclick: () => { this.setQuote(null); this.el.input.focus(); } }, "×"));
    this.el.input.focus();
  }

  findQuoted(m) {
    if (m.direction === "in" && m.quoted_message_id) {
      for (const x of this.messages.values()) if (x.line_message_id === m.quoted_message_id) return x;
    }
    if (m.direction === "out") {
      const token = m.quote_token_sent || (m.payload && Array.isArray(m.payload.messages) && m.payload.messages[0]?.quoteToken);
      if (token) for (const x of this.messages.values()) if (x.quote_token === token && x.direction === "in") return x;
    }
    return null;
  }

  sendText() {
    if (!this.friend || this.friend.blocked) return;
    const text = this.el.input.value;
    if (!text.trim() || text.length > TEXT_LIMIT) return;
    const body = { client_id: clientId(), type: "text", text };
    if (this.quote && this.quote.quote_token) body.quote_token = this.quote.quote_token;
    this.el.input.value = "";
    this.setQuote(null);
    this.updateCounter();
    this.submit(body, { text, quote_token_sent: body.quote_token });
    this.el.input.focus();
  }

  async sendProduct() {
    if (!this.friend || this.friend.blocked) return;
    const generation = this.generation;
    const product = await pickProduct({ title: t("product_dialog_title"), actionLabel: t("send") });
    if (!product || generation !== this.generation) return;
    this.submit({ client_id: clientId(), type: "product", product_id: product.id },
                { payload: { product } });
  }

  /** Optimistic bubble now, replaced by the stored message when the sidecar answers 202. */
  async submit(body, local) {
    const friendId = this.friend.line_user_id;
    const generation = this.generation;
    this.localSeq = (this.localSeq || 0) + 1;
    const pending = { client_id: body.client_id, direction: "out", type: body.type, status: "queued",
                      created_at: new Date().toISOString(), payload: {}, local_seq: this.localSeq,
                      local_body: body, ...local };
    this.store(pending);
    this.render();
    this.scrollToBottom();
    try {
      const data = await api(`api/v1/conversations/${encodeURIComponent(friendId)}/messages`,
                             { method: "POST", body });
      if (generation !== this.generation) return;
      const current = this.messages.get(this.key(pending));
      // A live event may already have brought a newer state of the same message.
      if (!current || !current.id || current.status === "queued") {
        this.store({ ...data.message, quote_token_sent: local.quote_token_sent });
      }
      this.render();
      this.onActivity(friendId);
    } catch (err) {
      if (generation !== this.generation) return;
      const reason = err.status === 0 ? t("status_local_failed") : (err.message || t("status_local_failed"));
      this.store({ ...pending, local_error: reason });
    }
  }

  async retry(m) {
    if (!this.friend) return;
    if (m.local_body) {
      this.store({ ...m, local_error: null, status: "queued" });
      this.submit(m.local_body, { text: m.text, payload: m.payload, quote_token_sent: m.quote_token_sent });
      return;
    }
    try {
      const data = await api(`api/v1/conversations/${encodeURIComponent(this.friend.line_user_id)}/messages/${m.id}/retry`,
                             { method: "POST" });
      this.store(data.message);
    } catch (err) {
      toast(err.message || t("load_failed"), "error");
    }
  }

  openImage(url) {
    const box = this.el.lightbox;
    this.lastFocus = document.activeElement;
    clear(box).append(h("img", { src: url, alt: t("image") }),
                      h("button", { type: "button", class: "icon-btn lightbox-close", "aria-label": t("close") }, "×"));
    box.hidden = false;
    box.tabIndex = -1;
    box.querySelector("button").focus();
  }

  closeImage() {
    this.el.lightbox.hidden = true;
    clear(this.el.lightbox);
    this.lastFocus?.focus();
  }
}
