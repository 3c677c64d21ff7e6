// Entry point: reads the token, wires the three columns to each other and to the live stream.
import { CustomerPanel } from "./customer.js";
import { debounce } from "./dom.js";
import { FriendList } from "./friends.js";
import { setLocale, t, translateDocument } from "./i18n.js";
import { notify } from "./notices.js";
import { Room } from "./room.js";
import { api, claims, initSession, postToParent, whenToken } from "./session.js";
import { LiveStream } from "./stream.js";

const NO_TOKEN_NOTICE_MS = 5000;

function parentOrigins() {
  try {
    const list = JSON.parse(document.body.dataset.parentOrigins || "[]");
    return Array.isArray(list) ? list.filter((o) => typeof o === "string") : [];
  } catch {
    return [];
  }
}

const app = document.getElementById("oc-app");
const columns = {
  list: () => document.getElementById("oc-friends"),
  room: () => {
    const input = document.getElementById("oc-composer-input");
    return !document.getElementById("oc-room").hidden && !input.disabled ? input : document.getElementById("oc-col-room");
  },
  customer: () => document.getElementById("oc-col-customer"),
};
const order = ["list", "room", "customer"];

function setView(view) {
  app.dataset.view = view;
  if (view !== "customer") setCustomerOpen(false);
}

function setCustomerOpen(open) {
  app.dataset.customerOpen = open ? "true" : "false";
  document.getElementById("oc-toggle-customer").setAttribute("aria-expanded", String(open));
}

function focusColumn(name) {
  if (name === "customer") setCustomerOpen(true);
  if (window.matchMedia("(max-width: 759px)").matches) app.dataset.view = name;
  columns[name]().focus();
}

function currentColumn() {
  const el = document.activeElement;
  if (el?.closest("#oc-col-customer")) return "customer";
  if (el?.closest("#oc-col-room")) return "room";
  return "list";
}

/** Alt+1/2/3 jump to a column, F6 / Shift+F6 cycle, as in desktop mail clients. */
function bindColumnKeys() {
  document.addEventListener("keydown", (e) => {
    if (e.altKey && !e.ctrlKey && !e.metaKey && ["1", "2", "3"].includes(e.key)) {
      e.preventDefault();
      focusColumn(order[Number(e.key) - 1]);
    } else if (e.key === "F6") {
      e.preventDefault();
      const i = order.indexOf(currentColumn());
      focusColumn(order[(i + (e.shiftKey ? order.length - 1 : 1)) % order.length]);
    }
  });
  document.getElementById("oc-back").addEventListener("click", () => {
    setView("list");
    columns.list().focus();
  });
  const closeDrawer = () => {
    setCustomerOpen(false);
    if (window.matchMedia("(max-width: 759px)").matches) app.dataset.view = "room";
    document.getElementById("oc-toggle-customer").focus();
  };
  document.getElementById("oc-close-customer").addEventListener("click", closeDrawer);
  document.getElementById("oc-col-customer").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && app.dataset.customerOpen === "true" && !e.defaultPrevented) closeDrawer();
  });
  document.getElementById("oc-toggle-customer").addEventListener("click", () => {
    const open = app.dataset.customerOpen !== "true";
    setCustomerOpen(open);
    if (window.matchMedia("(max-width: 759px)").matches) app.dataset.view = open ? "customer" : "room";
    if (open) columns.customer().focus();
  });
}

function start(deepLinkFriend) {
  const user = claims();
  let lastUnread = null;
  const unreadBadge = document.getElementById("oc-unread-total");
  const refreshUnread = debounce(async () => {
    try {
      const data = await api("api/v1/unread");
      const count = data.unread_conversations;
      unreadBadge.hidden = !count;
      unreadBadge.textContent = String(count);
      unreadBadge.setAttribute("aria-label", t("unread_n", { n: count }));
      if (count !== lastUnread) postToParent({ type: "orderchatz:unread", count });
      lastUnread = count;
    } catch {
      // recounted on the next change
    }
  }, 300);

  // Ctrl/⌘/Shift-click asks the parent for a new tab, so the chat stays open.
  const newTab = () => {
    const e = window.event;
    return Boolean(e && (e.ctrlKey || e.metaKey || e.shiftKey));
  };
  const openOrder = (orderId) => postToParent({ type: "orderchatz:open-order", order_id: Number(orderId) || orderId,
                                                new_tab: newTab() });
  const openCustomer = (customerId) => postToParent({ type: "orderchatz:open-customer",
                                                      customer_id: Number(customerId) || customerId, new_tab: newTab() });

  const room = new Room({ openOrder, onActivity: (id) => friends.refresh(id), onRead: refreshUnread });
  const customer = new CustomerPanel({ openOrder, openCustomer, onFriendChanged: (id) => friends.refresh(id) });
  customer.staffName = user.name || "";
  const friends = new FriendList({
    onOpen: (f, { refreshOnly = false, focusComposer = false } = {}) => {
      if (refreshOnly) {
        room.updateFriend(f);
        customer.update(f);
        return;
      }
      room.open(f);
      customer.open(f);
      setView("room");
      if (focusComposer) columns.room().focus();
    },
    onChanged: refreshUnread,
  });

  const onEvent = (event) => {
    const id = event.line_user_id;
    if (!id) return;
    friends.refresh(id);
    const open = room.friend && room.friend.line_user_id === id;
    if (!open) return;
    if (event.type === "message.created") room.catchUp();
    else if (event.type === "message.updated") room.refreshMessage(Number(event.message_id));
    else if (event.type === "binding.updated") customer.loadBinding();
  };
  const stream = new LiveStream({
    onEvent,
    onConnected: () => {
      // Events replay from Last-Event-ID, but re-reading is the guarantee after a long outage,
      // and covers what happened between the first page load and the first connection.
      friends.resync();
      room.catchUp();
    },
  });

  friends.reload().then(() => {
    if (deepLinkFriend) friends.open(deepLinkFriend);
  });
  friends.loadTags();
  stream.start();
  window.addEventListener("online", () => stream.nudge());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      stream.nudge();
      room.markReadIfPending();
    }
  });
  refreshUnread();
  if (document.body.dataset.sandbox === "true") {
    document.getElementById("oc-list-title").append(" ", Object.assign(document.createElement("span"),
      { className: "badge badge-muted", textContent: t("sandbox") }));
  }
  document.body.dataset.ready = "true";
}

async function main() {
  const { friend, claims: initial, hasToken } = initSession(parentOrigins());
  setLocale(initial.locale);
  translateDocument();
  bindColumnKeys();
  postToParent({ type: "orderchatz:ready" });
  if (!hasToken) {
    const timer = setTimeout(() => notify("token", t("notice_no_token"), { kind: "warning" }), NO_TOKEN_NOTICE_MS);
    await whenToken();
    clearTimeout(timer);
    setLocale(claims().locale);
    translateDocument();
  }
  start(friend);
}

main();
