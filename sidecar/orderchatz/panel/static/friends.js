// The friend list (left column): search, filters, infinite scroll, live re-ordering, unread badges.
// Keyboard: the list is one tab stop; Up/Down/Home/End move, Enter opens (aria-activedescendant).
import { avatar, clear, debounce, formatShort, h, parseTime } from "./dom.js";
import { t } from "./i18n.js";
import { api } from "./session.js";

const PAGE = 40;

function optionId(lineUserId) {
  return `oc-friend-${lineUserId}`;
}

function activityTime(f) {
  const d = parseTime(f.last_activity_at);
  return d ? d.getTime() : 0;
}

export class FriendList {
  constructor({ onOpen, onChanged }) {
    this.onOpen = onOpen;
    this.onChanged = onChanged;
    this.listEl = document.getElementById("oc-friends");
    this.searchEl = document.getElementById("oc-search");
    this.tagEl = document.getElementById("oc-tag-filter");
    this.filterButtons = [...document.querySelectorAll("[data-filter]")];
    this.friends = new Map();
    this.items = new Map();
    this.query = { q: "", filter: "", tag: "" };
    this.cursor = null;
    this.loading = false;
    this.activeId = "";
    this.cursorId = "";
    this.generation = 0;
    this.pendingRefresh = new Set();
    this.sentinel = h("li", { class: "friends-sentinel", role: "presentation" });
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { root: this.listEl, rootMargin: "0px 0px 300px 0px" });
    this.flushRefresh = debounce(() => this.refreshPending(), 120);
    this.bind();
  }

  bind() {
    this.searchEl.addEventListener("input", debounce(() => {
      this.query.q = this.searchEl.value.trim();
      this.reload();
    }, 250));
    for (const button of this.filterButtons) {
      button.addEventListener("click", () => {
        this.query.filter = button.dataset.filter;
        for (const b of this.filterButtons) b.setAttribute("aria-pressed", String(b === button));
        this.reload();
      });
    }
    this.tagEl.addEventListener("change", () => {
      this.query.tag = this.tagEl.value;
      this.reload();
    });
    this.listEl.addEventListener("keydown", (e) => this.onKey(e));
    this.listEl.addEventListener("focus", () => {
      if (!this.cursorId) this.moveCursor(this.activeId || this.order()[0]?.line_user_id || "");
    });
  }

  async loadTags() {
    try {
      const data = await api("api/v1/tags");
      const selected = this.tagEl.value;
      const keepFirst = this.tagEl.firstElementChild;
      clear(this.tagEl).append(keepFirst);
      for (const tag of data.tags || []) {
        this.tagEl.append(h("option", { value: tag.name }, `${tag.name} (${tag.count})`));
      }
      this.tagEl.value = selected;
      return data.tags || [];
    } catch {
      return [];
    }
  }

  reload() {
    this.generation += 1;
    this.friends.clear();
    this.items.clear();
    this.cursor = null;
    this.done = false;
    clear(this.listEl);
    this.loading = false;
    return this.loadMore();
  }

  async loadMore() {
    if (this.loading || this.done) return;
    this.loading = true;
    const generation = this.generation;
    this.setStatus(t("loading"));
    try {
      const data = await api("api/v1/conversations", {
        query: { ...this.query, cursor: this.cursor || "", limit: PAGE },
      });
      if (generation !== this.generation) return;
      for (const f of data.conversations) this.friends.set(f.line_user_id, f);
      this.cursor = data.next_cursor;
      this.done = !data.next_cursor;
      this.setStatus("");
      this.render();
    } catch {
      if (generation === this.generation) {
        this.setStatus(t("load_failed"), () => this.loadMore());
      }
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    // The observer only fires on changes: a short first page leaves the sentinel in view.
    if (generation === this.generation && !this.done && this.sentinelInView()) this.loadMore();
  }

  sentinelInView() {
    const list = this.listEl.getBoundingClientRect();
    return this.sentinel.isConnected && this.sentinel.getBoundingClientRect().top < list.bottom + 300;
  }

  /** Re-read the first page in place (no flicker): after the live stream (re)connects, events
   *  published while it was down are covered by this. */
  async resync() {
    const generation = this.generation;
    try {
      const data = await api("api/v1/conversations", { query: { ...this.query, limit: PAGE } });
      if (generation !== this.generation) return;
      for (const f of data.conversations) this.friends.set(f.line_user_id, f);
      this.render();
      const active = this.friends.get(this.activeId);
      if (active) this.onOpen(active, { refreshOnly: true });
    } catch {
      // the next event or reconnect tries again
    }
  }

  setStatus(text, retry) {
    this.statusEl?.remove();
    this.statusEl = null;
    if (!text) return;
    this.statusEl = h("li", { class: "friends-status", role: "presentation" }, text,
      retry ? h("button", { type: "button", class: "link-btn", onclick: retry }, t("try_again")) : null);
    this.listEl.append(this.statusEl);
  }

  order() {
    return [...this.friends.values()].sort((a, b) => activityTime(b) - activityTime(a)
      || (a.line_user_id < b.line_user_id ? 1 : -1));
  }

  matches(f) {
    const { filter, tag } = this.query;
    if (filter === "unread" && !f.unread_count) return false;
    if (filter === "unbound" && f.bound) return false;
    if (filter === "bound" && !f.bound) return false;
    if (filter === "blocked" && !f.blocked) return false;
    if (tag && !(f.tags || []).includes(tag)) return false;
    return true;
  }

  renderItem(f) {
    const active = f.line_user_id === this.activeId;
    const last = f.last_message || {};
    const preview = `${last.direction === "out" ? t("you") : ""}${last.preview || ""}`;
    const unread = f.unread_count > 0;
    const label = [f.display_name || f.line_user_id, f.bound ? t("bound") : t("unbound"),
                   f.blocked ? t("blocked") : "", unread ? t("unread_n", { n: f.unread_count }) : ""]
      .filter(Boolean).join("，");
    const li = h("li", {
      id: optionId(f.line_user_id), role: "option", class: `friend${active ? " active" : ""}${unread ? " has-unread" : ""}${f.blocked ? " is-blocked" : ""}`,
      "aria-selected": String(active), "aria-label": label, dataset: { lineUserId: f.line_user_id },
      onclick: () => this.open(f.line_user_id, { focusComposer: false }),
    },
    h("span", { class: "friend-avatar" }, avatar(f.display_name, f.picture_url),
      f.blocked ? h("span", { class: "blocked-dot", title: t("blocked") }) : null),
    h("span", { class: "friend-main" },
      h("span", { class: "friend-top" },
        h("span", { class: "friend-name" }, f.display_name || f.line_user_id),
        h("span", { class: `bind-mark ${f.bound ? "is-bound" : "is-unbound"}` }, f.bound ? t("bound") : t("unbound")),
        f.blocked ? h("span", { class: "bind-mark is-blocked" }, t("blocked")) : null,
        h("time", { class: "friend-time", datetime: f.last_activity_at || "" }, formatShort(parseTime(f.last_activity_at)))),
      h("span", { class: "friend-bottom" },
        h("span", { class: "friend-preview" }, preview),
        unread ? h("span", { class: "badge unread-badge", "aria-hidden": "true" }, f.unread_count > 99 ? "99+" : String(f.unread_count)) : null)));
    if (f.line_user_id === this.cursorId) li.classList.add("cursor");
    return li;
  }

  /** Keyed render in activity order; only changed rows are rebuilt. */
  render() {
    const list = this.order();
    const keep = new Set(list.map((f) => f.line_user_id));
    for (const [id, entry] of this.items) {
      if (!keep.has(id)) {
        entry.el.remove();
        this.items.delete(id);
      }
    }
    let prev = null;
    for (const f of list) {
      let entry = this.items.get(f.line_user_id);
      if (!entry || entry.friend !== f) {
        const el = this.renderItem(f);
        if (entry) entry.el.replaceWith(el);
        entry = { friend: f, el };
        this.items.set(f.line_user_id, entry);
      }
      const expected = prev ? prev.nextSibling : this.listEl.firstChild;
      if (entry.el !== expected) this.listEl.insertBefore(entry.el, expected);
      prev = entry.el;
    }
    if (!list.length && this.done && !this.statusEl) this.setStatus(t("no_conversations"));
    else if (list.length && this.statusEl && this.statusEl.textContent === t("no_conversations")) this.setStatus("");
    this.listEl.append(this.sentinel);
    if (this.statusEl) this.listEl.append(this.statusEl);
    this.observer.observe(this.sentinel);
    this.onChanged();
  }

  get(lineUserId) {
    return this.friends.get(lineUserId) || null;
  }

  /** Put a fresh copy of a friend in place (from the server or after a local change). */
  upsert(f) {
    // The open room marks incoming messages read at once; don't flash a badge in between.
    if (f.line_user_id === this.activeId && f.unread_count && document.visibilityState === "visible") {
      f = { ...f, unread_count: 0 };
    }
    const known = this.friends.has(f.line_user_id);
    // A search is matched by the server; live changes only update rows it already returned.
    if (!known && this.query.q) return;
    if (!this.matches(f) && f.line_user_id !== this.activeId) {
      if (known) this.friends.delete(f.line_user_id);
    } else {
      this.friends.set(f.line_user_id, f);
    }
    this.render();
  }

  /** Coalesce live events: one GET per friend per burst. */
  refresh(lineUserId) {
    this.pendingRefresh.add(lineUserId);
    this.flushRefresh();
  }

  async refreshPending() {
    const ids = [...this.pendingRefresh];
    this.pendingRefresh.clear();
    await Promise.all(ids.map(async (id) => {
      try {
        const f = await api(`api/v1/conversations/${encodeURIComponent(id)}`);
        this.upsert(f);
        if (id === this.activeId) this.onOpen(f, { refreshOnly: true });
      } catch {
        // a later event or the reconnect catch-up refreshes it
      }
    }));
  }

  /** Mark a conversation read locally so the badge goes away at once. */
  clearUnread(lineUserId) {
    const f = this.friends.get(lineUserId);
    if (f && f.unread_count) this.upsert({ ...f, unread_count: 0 });
  }

  async open(lineUserId, { focusComposer = false } = {}) {
    let f = this.friends.get(lineUserId);
    if (!f) {
      try {
        f = await api(`api/v1/conversations/${encodeURIComponent(lineUserId)}`);
        this.friends.set(f.line_user_id, f);
      } catch {
        return;
      }
    }
    const previous = this.activeId;
    this.activeId = lineUserId;
    this.cursorId = lineUserId;
    for (const id of [previous, lineUserId]) {
      const entry = this.items.get(id);
      if (entry) entry.friend = null; // force re-render of both rows
    }
    this.clearUnread(lineUserId);
    this.render();
    this.listEl.setAttribute("aria-activedescendant", optionId(lineUserId));
    this.onOpen(this.friends.get(lineUserId), { focusComposer });
  }

  moveCursor(lineUserId) {
    if (!lineUserId) return;
    const old = this.items.get(this.cursorId);
    old?.el.classList.remove("cursor");
    this.cursorId = lineUserId;
    const entry = this.items.get(lineUserId);
    if (!entry) return;
    entry.el.classList.add("cursor");
    entry.el.scrollIntoView({ block: "nearest" });
    this.listEl.setAttribute("aria-activedescendant", optionId(lineUserId));
  }

  onKey(e) {
    const list = this.order().map((f) => f.line_user_id);
    if (!list.length) return;
    const i = Math.max(0, list.indexOf(this.cursorId));
    let next = null;
    if (e.key === "ArrowDown") next = list[Math.min(list.length - 1, i + 1)];
    else if (e.key === "ArrowUp") next = list[Math.max(0, i - 1)];
    else if (e.key === "Home") next = list[0];
    else if (e.key === "End") next = list[list.length - 1];
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.open(this.cursorId || list[0], { focusComposer: e.key === "Enter" });
      return;
    } else {
      return;
    }
    e.preventDefault();
    this.moveCursor(next);
    if (next === list[list.length - 1]) this.loadMore();
  }
}
