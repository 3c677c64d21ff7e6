// Non-blocking notices at the top of the panel. Keyed, so a recurring condition (offline, stream
// down) shows once and clears itself when it recovers.
import { h } from "./dom.js";
import { t } from "./i18n.js";

const shown = new Map();

function region() {
  return document.getElementById("oc-notices");
}

/**
 * notify("offline", text, {kind: "warning"|"error"|"info"|"success", timeout: ms})
 * A notice without timeout stays until clearNotice(key) (or the user dismisses it).
 */
export function notify(key, text, { kind = "info", timeout = 0 } = {}) {
  clearNotice(key);
  const close = h("button", { type: "button", class: "notice-close", "aria-label": t("dismiss"),
                             onclick: () => clearNotice(key) }, "×");
  const el = h("div", { class: `notice notice-${kind}`, dataset: { key } },
               h("span", { class: "notice-text" }, text), close);
  region().append(el);
  const timer = timeout ? setTimeout(() => clearNotice(key), timeout) : 0;
  shown.set(key, { el, timer });
}

export function clearNotice(key) {
  const entry = shown.get(key);
  if (!entry) return;
  clearTimeout(entry.timer);
  entry.el.remove();
  shown.delete(key);
}

export function hasNotice(key) {
  return shown.has(key);
}

export function toast(text, kind = "success") {
  notify(`toast-${Date.now()}-${Math.random()}`, text, { kind, timeout: 4000 });
}
