// The customer panel (right column): binding (search + bind, or the self-binding link), the bound
// customer's orders with their notes and a note form, tags and staff notes. WooCommerce being slow
// or down only degrades this column; the chat keeps working.
import { avatar, clear, debounce, formatDate, formatDateTime, formatMoney, h, htmlToText } from "./dom.js";
import { t } from "./i18n.js";
import { toast } from "./notices.js";
import { pickProduct } from "./products.js";
import { api } from "./session.js";

const enc = encodeURIComponent;
const MATCH_KINDS = ["phone", "email", "name", "order_number"];

function section(title, ...children) {
  const id = `oc-sec-${Math.random().toString(36).slice(2, 8)}`;
  return h("section", { class: "cust-section", "aria-labelledby": id },
           h("h3", { class: "cust-title", id }, title), ...children);
}

function errorText(err) {
  if (err && (err.status === 404 || err.status === 501) && err.code !== "order_not_found") {
    return t("not_available_yet", { status: err.status });
  }
  if (err && err.status >= 500) return t("customer_unavailable");
  return (err && err.message) || t("load_failed");
}

function statusBadge(order) {
  const status = String(order.status || "").replace(/[^a-z-]/gi, "");
  const key = `order_status_${status}`;
  const label = t(key);
  return h("span", { class: `order-status status-${status}` },
           label !== key ? label : (order.status_label || order.status || ""));
}

function categoryValue(c) {
  return typeof c === "string" ? c : (c.id ?? c.key ?? c.name ?? "");
}

function categoryLabel(c) {
  if (c && typeof c === "object" && c.label) return c.label;
  const value = categoryValue(c);
  const key = `cat_${value}`;
  const label = t(key);
  return label === key ? value : label;
}

/** Who the friend is bound to; the list's summary and the full binding differ in other fields. */
function bindingKey(b) {
  return b ? `${b.customer_id ?? ""}|${b.email ?? ""}|${b.phone ?? ""}` : "";
}

export class CustomerPanel {
  constructor({ openOrder, openCustomer, onFriendChanged }) {
    this.root = document.getElementById("oc-customer");
    this.openOrder = openOrder;
    this.openCustomer = openCustomer;
    this.onFriendChanged = onFriendChanged;
    this.friend = null;
    this.generation = 0;
    this.orders = [];
    this.showPlaceholder();
  }

  showPlaceholder() {
    clear(this.root).append(h("p", { class: "muted empty-state" }, t("customer_placeholder")));
  }

  current(generation) {
    return generation === this.generation && this.friend;
  }

  path(suffix = "") {
    return `api/v1/conversations/${enc(this.friend.line_user_id)}${suffix}`;
  }

  open(friend) {
    this.generation += 1;
    this.friend = friend;
    this.orders = [];
    this.bindingEl = h("div", { class: "cust-binding" }, h("p", { class: "muted" }, t("loading")));
    this.tagsEl = h("div", { class: "cust-tags" });
    this.notesEl = h("div", { class: "cust-notes" }, h("p", { class: "muted" }, t("loading")));
    this.headEl = h("div", { class: "cust-head" });
    this.renderHead(friend);
    clear(this.root).append(
      this.headEl,
      this.bindingEl,
      section(t("tags"), this.tagsEl),
      section(t("staff_notes"), this.notesEl));
    this.renderTags(friend.tags || []);
    this.loadBinding();
    this.loadNotes();
  }

  renderHead(friend) {
    this.headKey = `${friend.display_name}|${friend.picture_url}|${friend.status_message}`;
    clear(this.headEl).append(avatar(friend.display_name, friend.picture_url, "lg"),
      h("div", { class: "cust-who" }, h("strong", { class: "cust-name" }, friend.display_name || friend.line_user_id),
        friend.status_message ? h("p", { class: "muted small" }, friend.status_message) : null));
  }

  /** The friend changed (live event): tags come with it; binding changes reload the binding. */
  update(friend) {
    if (!this.friend || friend.line_user_id !== this.friend.line_user_id) return;
    const bindingChanged = bindingKey(friend.binding) !== bindingKey(this.friend.binding);
    this.friend = friend;
    if (`${friend.display_name}|${friend.picture_url}|${friend.status_message}` !== this.headKey) this.renderHead(friend);
    if (JSON.stringify(friend.tags) !== JSON.stringify(this.currentTags)) this.renderTags(friend.tags || []);
    if (bindingChanged) this.loadBinding();
  }

  close() {
    this.generation += 1;
    this.friend = null;
    this.showPlaceholder();
  }

  // --- binding ---------------------------------------------------------------------------

  async loadBinding() {
    const generation = this.generation;
    let binding;
    try {
      binding = (await api(this.path("/binding"))).binding;
    } catch {
      binding = this.friend.binding || null; // the list's summary, when the endpoint is unavailable
    }
    if (!this.current(generation)) return;
    if (binding) this.renderBound(binding);
    else this.renderUnbound();
  }

  renderUnbound() {
    const generation = this.generation;
    const input = h("input", { class: "input", type: "search", id: "oc-bind-search", autocomplete: "off",
                               placeholder: t("bind_search_placeholder") });
    const results = h("ul", { class: "candidates", "aria-live": "polite" });
    const form = h("form", { class: "inline-form", role: "search" },
      h("label", { class: "sr-only", for: "oc-bind-search" }, t("bind_search_label")), input,
      h("button", { type: "submit", class: "btn" }, t("search")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = input.value.trim();
      if (!q) return;
      clear(results).append(h("li", { class: "muted" }, t("loading")));
      try {
        const data = await api("api/v1/customers/search", { query: { q } });
        if (!this.current(generation)) return;
        clear(results);
        if (!data.candidates || !data.candidates.length) results.append(h("li", { class: "muted" }, t("no_candidates")));
        for (const c of data.candidates || []) results.append(this.candidate(c));
      } catch (err) {
        if (this.current(generation)) clear(results).append(h("li", { class: "error-text" }, errorText(err)));
      }
    });
    const linkButton = h("button", { type: "button", class: "btn btn-ghost" }, t("send_link"));
    linkButton.addEventListener("click", async () => {
      linkButton.disabled = true;
      try {
        await api(this.path("/binding/link"), { method: "POST" });
        toast(t("link_sent"));
      } catch (err) {
        toast(errorText(err), "error");
      } finally {
        linkButton.disabled = false;
      }
    });
    clear(this.bindingEl).append(section(t("bind_title"), form, results,
      h("div", { class: "self-link" }, linkButton, h("p", { class: "muted small" }, t("send_link_hint")))));
  }

  candidate(c) {
    const bind = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("bind"));
    bind.addEventListener("click", async () => {
      bind.disabled = true;
      const body = c.kind === "registered" && c.customer_id
        ? { customer_id: c.customer_id }
        : { email: c.email || "", phone: c.phone || "", display_name: c.name || "" };
      try {
        const data = await api(this.path("/binding"), { method: "PUT", body });
        toast(t("bind_done", { name: c.name || c.email || c.phone }));
        this.friend = { ...this.friend, bound: true, binding: data.binding };
        this.onFriendChanged(this.friend.line_user_id);
        this.renderBound(data.binding);
      } catch (err) {
        bind.disabled = false;
        toast(errorText(err), "error");
      }
    });
    return h("li", { class: "candidate" },
      h("div", { class: "candidate-main" },
        h("strong", null, c.name || c.email || c.phone || "—"),
        h("span", { class: `kind kind-${c.kind === "registered" ? "registered" : "guest"}` },
          c.kind === "registered" ? t("registered") : t("guest")),
        c.email ? h("span", { class: "small" }, c.email) : null,
        c.phone ? h("span", { class: "small" }, c.phone) : null,
        h("span", { class: "muted small" }, t("orders_n", { n: c.order_count ?? 0 }),
          c.last_order_date ? ` · ${t("last_order", { date: formatDate(c.last_order_date) })}` : "",
          MATCH_KINDS.includes(c.matched_by) ? ` · ${t(`matched_${c.matched_by}`)}` : "")),
      bind);
  }

  renderBound(binding) {
    const name = binding.display_name || binding.email || binding.phone || `#${binding.customer_id}`;
    const unbind = h("button", { type: "button", class: "btn btn-ghost btn-danger btn-small" }, t("unbind"));
    unbind.addEventListener("click", async () => {
      if (!window.confirm(t("unbind_confirm", { name }))) return;
      try {
        await api(this.path("/binding"), { method: "DELETE" });
        toast(t("unbind_done"));
        this.friend = { ...this.friend, bound: false, binding: null };
        this.onFriendChanged(this.friend.line_user_id);
        this.renderUnbound();
      } catch (err) {
        toast(errorText(err), "error");
      }
    });
    const others = (binding.other_friends || []).map((f) => f.display_name || f.line_user_id);
    const method = binding.method === "self" || binding.method === "account_link" ? t("method_self") : t("method_staff");
    this.customerEl = h("div", { class: "cust-info" }, h("p", { class: "muted" }, t("loading")));
    this.ordersEl = h("div", { class: "orders" });
    clear(this.bindingEl).append(
      section(t("customer"),
        h("div", { class: "bound-card" },
          h("div", { class: "bound-top" }, h("strong", null, name),
            h("span", { class: `kind kind-${binding.kind === "registered" ? "registered" : "guest"}` },
              binding.kind === "registered" ? t("registered") : t("guest"))),
          binding.bound_at ? h("p", { class: "muted small" }, t("bound_via", { method, date: formatDate(binding.bound_at) })) : null,
          others.length ? h("p", { class: "small" }, t("also_bound", { names: others.join("、") })) : null,
          h("div", { class: "bound-actions" },
            binding.customer_id ? h("button", { type: "button", class: "btn btn-small btn-ghost",
              onclick: () => this.openCustomer(binding.customer_id) }, t("open_customer")) : null,
            unbind)),
        this.customerEl),
      section(t("orders"), this.orderSearch(), this.ordersEl));
    this.loadCustomer();
  }

  async loadCustomer() {
    const generation = this.generation;
    let data;
    try {
      data = await api(this.path("/customer"));
    } catch (err) {
      if (!this.current(generation)) return;
      clear(this.customerEl).append(h("p", { class: "degraded" }, errorText(err)));
      clear(this.ordersEl);
      return;
    }
    if (!this.current(generation)) return;
    const c = data.customer || {};
    clear(this.customerEl);
    if (data.status === "stale") this.customerEl.append(h("p", { class: "degraded" }, data.message || t("customer_stale")));
    if (data.status === "unavailable") this.customerEl.append(h("p", { class: "degraded" }, data.message || t("customer_unavailable")));
    if (data.status === "unbound") {
      this.renderUnbound();
      return;
    }
    const rows = [
      c.email ? ["Email", c.email] : null,
      c.phone ? [t("phone"), c.phone] : null,
      c.registered_since ? [t("registered"), t("member_since", { date: formatDate(c.registered_since) })] : null,
      [t("orders"), t("orders_n", { n: c.order_count ?? (data.orders || []).length })],
      c.total_spent !== undefined && c.total_spent !== null ? [t("total_label"), formatMoney(c.total_spent, c.currency)] : null,
    ].filter(Boolean);
    if (data.customer) {
      this.customerEl.append(h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])));
    }
    this.orders = data.orders || [];
    this.renderOrders(this.orders);
    this.refreshNoteOrderChoices();
  }

  // --- orders ----------------------------------------------------------------------------

  orderSearch() {
    const input = h("input", { class: "input", type: "search", id: "oc-order-search", autocomplete: "off",
                               placeholder: t("order_search_placeholder") });
    const run = debounce(async () => {
      const q = input.value.trim().replace(/^#/, "");
      if (!q) {
        this.renderOrders(this.orders);
        return;
      }
      const local = this.orders.filter((o) => String(o.number ?? o.id).includes(q));
      if (local.length || !/^\d+$/.test(q)) {
        this.renderOrders(local, q);
        return;
      }
      const generation = this.generation;
      try {
        const data = await api(`api/v1/orders/${enc(q)}`);
        if (this.current(generation)) this.renderOrders([data.order], q, data);
      } catch {
        if (this.current(generation)) this.renderOrders([], q);
      }
    }, 250);
    input.addEventListener("input", run);
    return h("div", { class: "order-search" },
             h("label", { class: "sr-only", for: "oc-order-search" }, t("order_search_label")), input);
  }

  renderOrders(orders, query = "", preloaded = null) {
    clear(this.ordersEl);
    if (!orders.length) {
      this.ordersEl.append(h("p", { class: "muted" }, query ? t("order_not_found", { n: query }) : t("no_orders")));
      return;
    }
    const list = h("ul", { class: "order-list" });
    for (const o of orders) list.append(this.orderItem(o, preloaded));
    this.ordersEl.append(list);
  }

  orderItem(o, preloaded) {
    const detailId = `oc-order-${o.id}`;
    const items = (o.items || []).map((i) => `${i.name} ×${i.quantity}`).join("、");
    const detail = h("div", { class: "order-detail", id: detailId, hidden: true });
    const toggle = h("button", { type: "button", class: "order-head", "aria-expanded": "false", "aria-controls": detailId },
      h("span", { class: "order-number" }, `#${o.number ?? o.id}`),
      statusBadge(o),
      h("span", { class: "order-total" }, formatMoney(o.total, o.currency)),
      h("span", { class: "order-date muted small" }, formatDate(o.date_created)),
      items ? h("span", { class: "order-items small" }, items) : null);
    let loaded = false;
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      detail.hidden = !open;
      if (open && !loaded) {
        loaded = true;
        this.fillOrderDetail(o, detail, preloaded);
      }
    });
    return h("li", { class: "order" }, toggle, detail);
  }

  async fillOrderDetail(o, detail, preloaded) {
    const notesList = h("ul", { class: "order-notes" }, h("li", { class: "muted" }, t("loading")));
    detail.append(
      h("ul", { class: "order-lines" }, (o.items || []).map((i) => h("li", null, h("span", null, i.name), h("span", { class: "muted" }, `×${i.quantity}`)))),
      h("div", { class: "order-actions" },
        h("button", { type: "button", class: "btn btn-small", onclick: () => this.openOrder(o.id) }, t("open_order"))),
      h("h4", { class: "sub-title" }, t("order_notes")), notesList, this.orderNoteForm(o, notesList));
    const generation = this.generation;
    try {
      const data = preloaded && preloaded.order && preloaded.order.id === o.id ? preloaded : await api(`api/v1/orders/${enc(o.id)}`);
      if (!this.current(generation)) return;
      clear(notesList);
      const notes = data.notes || [];
      if (!notes.length) notesList.append(h("li", { class: "muted" }, t("no_order_notes")));
      for (const n of notes) notesList.append(this.orderNote(n));
    } catch (err) {
      if (this.current(generation)) clear(notesList).append(h("li", { class: "degraded" }, errorText(err)));
    }
  }

  orderNote(n) {
    const toCustomer = Boolean(n.customer_note);
    return h("li", { class: `order-note ${toCustomer ? "note-customer" : "note-private"}` },
      h("span", { class: "note-kind" }, toCustomer ? t("note_customer") : t("note_private")),
      h("p", { class: "note-text" }, typeof n.text === "string" ? n.text : htmlToText(n.note)),
      h("span", { class: "muted small" }, t("by_author", { author: n.author || "WooCommerce", date: formatDateTime(n.date_created_gmt ? `${n.date_created_gmt}Z` : n.date_created) })));
  }

  orderNoteForm(o, notesList) {
    const uid = `oc-note-${o.id}`;
    const text = h("textarea", { class: "input", id: `${uid}-text`, rows: 2, required: true });
    const radio = (value, label, checked) => h("label", { class: "radio" },
      h("input", { type: "radio", name: `${uid}-kind`, value, checked }), h("span", null, label));
    const submit = h("button", { type: "submit", class: "btn btn-small btn-primary" }, t("add_note"));
    const form = h("form", { class: "note-form" },
      h("label", { class: "field-label", for: `${uid}-text` }, t("add_order_note")), text,
      h("fieldset", { class: "radios" }, h("legend", { class: "sr-only" }, t("note_type")),
        radio("private", t("note_private_hint"), true), radio("customer", t("note_customer_hint"), false)),
      submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const note = text.value.trim();
      if (!note) return;
      const customerNote = form.querySelector(`input[name="${uid}-kind"]:checked`).value === "customer";
      submit.disabled = true;
      try {
        const data = await api(`api/v1/orders/${enc(o.id)}/notes`, { method: "POST", body: { note, customer_note: customerNote } });
        text.value = "";
        const empty = notesList.querySelector(".muted");
        if (empty && notesList.children.length === 1) empty.remove();
        const saved = data.note && typeof data.note === "object" ? data.note : {};
        notesList.prepend(this.orderNote({ note: note, ...saved, customer_note: saved.customer_note ?? data.customer_note ?? customerNote,
                                           author: saved.author || this.staffName,
                                           date_created: saved.date_created || new Date().toISOString() }));
        toast(data.emailed_customer ? t("note_emailed") : t("note_added"));
      } catch (err) {
        toast(errorText(err), "error");
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  // --- tags ------------------------------------------------------------------------------

  renderTags(tags) {
    this.currentTags = [...tags];
    const listId = "oc-tag-suggestions";
    const datalist = h("datalist", { id: listId });
    const input = h("input", { class: "input input-small", id: "oc-tag-input", list: listId, autocomplete: "off",
                               placeholder: t("add_tag_placeholder"), maxlength: 40 });
    input.addEventListener("focus", () => this.suggestTags(datalist), { once: true });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        const tag = input.value.trim();
        if (tag) this.changeTag("PUT", tag);
      }
    });
    const chips = h("ul", { class: "tag-chips" }, tags.map((tag) => h("li", { class: "tag-chip" }, h("span", null, tag),
      h("button", { type: "button", class: "chip-x", "aria-label": t("remove_tag", { tag }),
                    onclick: () => this.changeTag("DELETE", tag) }, "×"))));
    clear(this.tagsEl).append(chips,
      h("label", { class: "sr-only", for: "oc-tag-input" }, t("add_tag")), input, datalist);
  }

  async suggestTags(datalist) {
    try {
      const data = await api("api/v1/tags");
      clear(datalist).append(...(data.tags || []).map((tag) => h("option", { value: tag.name })));
    } catch {
      // autocomplete is a convenience
    }
  }

  async changeTag(method, tag) {
    const generation = this.generation;
    try {
      const data = await api(this.path(`/tags/${enc(tag)}`), { method });
      if (!this.current(generation)) return;
      this.friend = { ...this.friend, tags: data.tags || [] };
      this.renderTags(this.friend.tags);
      document.getElementById("oc-tag-input")?.focus();
      this.onFriendChanged(this.friend.line_user_id);
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  // --- staff notes -----------------------------------------------------------------------

  async loadNotes() {
    const generation = this.generation;
    try {
      const data = await api(this.path("/notes"));
      if (!this.current(generation)) return;
      this.categories = data.categories && data.categories.length ? data.categories : ["備忘"];
      this.renderNotes(data.notes || []);
    } catch (err) {
      if (this.current(generation)) clear(this.notesEl).append(h("p", { class: "degraded" }, errorText(err)));
    }
  }

  renderNotes(notes) {
    this.staffNotes = notes;
    const list = h("ul", { class: "staff-notes" });
    if (!notes.length) list.append(h("li", { class: "muted" }, t("no_staff_notes")));
    for (const n of notes) list.append(this.staffNote(n));
    // The form stays folded until asked for: the column is calmer, and most visits only read.
    const form = this.staffNoteForm();
    form.id = "oc-staff-note-form";
    form.hidden = true;
    const toggle = h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-expanded": "false",
                                 "aria-controls": "oc-staff-note-form" }, t("new_staff_note"));
    toggle.addEventListener("click", () => {
      const open = form.hidden;
      form.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) form.querySelector("textarea").focus();
    });
    clear(this.notesEl).append(list, toggle, form);
  }

  staffNote(n) {
    const li = h("li", { class: "staff-note" });
    const fill = () => {
      clear(li).append(
        h("div", { class: "staff-note-top" }, h("span", { class: "badge badge-muted" }, categoryLabel(n.category)),
          n.related_order_id ? h("button", { type: "button", class: "link-btn", onclick: () => this.openOrder(n.related_order_id) },
            t("order_n", { n: this.orderNumber(n.related_order_id) })) : null,
          n.related_product_id ? h("span", { class: "small muted" }, `${t("product")} #${n.related_product_id}`) : null),
        h("p", { class: "note-text" }, n.body || ""),
        h("div", { class: "staff-note-foot" },
          h("span", { class: "muted small" }, t("by_author", { author: (n.author && n.author.name) || "", date: formatDateTime(n.updated_at || n.created_at) })),
          h("button", { type: "button", class: "link-btn", onclick: () => edit() }, t("edit")),
          h("button", { type: "button", class: "link-btn danger", onclick: () => remove() }, t("delete"))));
    };
    const edit = () => {
      const form = this.staffNoteForm(n, (updated) => {
        n = updated;
        fill();
      }, () => fill());
      clear(li).append(form);
      form.querySelector("textarea").focus();
    };
    const remove = async () => {
      if (!window.confirm(t("delete_note_confirm"))) return;
      try {
        await api(this.path(`/notes/${enc(n.id)}`), { method: "DELETE" });
        this.renderNotes(this.staffNotes.filter((x) => x.id !== n.id));
      } catch (err) {
        toast(errorText(err), "error");
      }
    };
    fill();
    return li;
  }

  orderNumber(id) {
    const o = this.orders.find((x) => String(x.id) === String(id));
    return o ? (o.number ?? o.id) : id;
  }

  refreshNoteOrderChoices() {
    for (const select of this.root.querySelectorAll("select[data-order-choices]")) {
      const value = select.value;
      clear(select).append(h("option", { value: "" }, t("none")),
        ...this.orders.map((o) => h("option", { value: String(o.id) }, `#${o.number ?? o.id}`)));
      select.value = value;
    }
  }

  /** New note (no `existing`) or edit in place. */
  staffNoteForm(existing = null, onSaved = null, onCancel = null) {
    const uid = `oc-sn-${existing ? existing.id : "new"}`;
    const category = h("select", { class: "select", id: `${uid}-cat` },
      (this.categories || ["備忘"]).map((c) => h("option", { value: categoryValue(c) }, categoryLabel(c))));
    const body = h("textarea", { class: "input", id: `${uid}-body`, rows: 2, required: true });
    const order = h("select", { class: "select", id: `${uid}-order`, dataset: { orderChoices: "1" } });
    let productId = existing ? existing.related_product_id : null;
    const productLabel = h("span", { class: "small muted" }, productId ? `#${productId}` : t("none"));
    const chooseProduct = h("button", { type: "button", class: "btn btn-small btn-ghost" }, t("choose_product"));
    chooseProduct.addEventListener("click", async () => {
      const p = await pickProduct({ title: t("product_pick_title"), actionLabel: t("select") });
      if (p) {
        productId = p.id;
        productLabel.textContent = p.name || `#${p.id}`;
      }
    });
    const form = h("form", { class: "note-form staff-form" },
      h("div", { class: "form-row" }, h("label", { class: "field-label", for: `${uid}-cat` }, t("note_category")), category),
      h("label", { class: "field-label", for: `${uid}-body` }, t("note_body")), body,
      h("div", { class: "form-row" }, h("label", { class: "field-label", for: `${uid}-order` }, t("related_order")), order),
      h("div", { class: "form-row" }, h("span", { class: "field-label" }, t("related_product")), productLabel, chooseProduct),
      h("div", { class: "form-actions" },
        onCancel ? h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: onCancel }, t("close")) : null,
        h("button", { type: "submit", class: "btn btn-small btn-primary" }, existing ? t("save") : t("add_note"))));
    // Options are filled after the element exists so refreshNoteOrderChoices can reuse the code.
    queueMicrotask(() => {
      clear(order).append(h("option", { value: "" }, t("none")),
        ...this.orders.map((o) => h("option", { value: String(o.id) }, `#${o.number ?? o.id}`)));
      if (existing) {
        category.value = existing.category || "";
        body.value = existing.body || "";
        order.value = existing.related_order_id ? String(existing.related_order_id) : "";
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const payload = { category: category.value, body: body.value.trim(),
                        related_order_id: order.value ? Number(order.value) : null,
                        related_product_id: productId ? Number(productId) : null };
      if (!payload.body) return;
      try {
        if (existing) {
          const data = await api(this.path(`/notes/${enc(existing.id)}`), { method: "PATCH", body: payload });
          onSaved(data.note || { ...existing, ...payload });
        } else {
          const data = await api(this.path("/notes"), { method: "POST", body: payload });
          this.renderNotes([data.note, ...this.staffNotes]);
        }
      } catch (err) {
        toast(errorText(err), "error");
      }
    });
    return form;
  }
}
