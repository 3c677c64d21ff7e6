// DOM building without innerHTML: every piece of data becomes a text node, so customer text like
// "<img src=x onerror=...>" is shown, never parsed.
import { intlLocale, t } from "./i18n.js";

/**
 * h("button", {class: "btn", onclick: fn, "aria-label": "x"}, "text", childNode, [more])
 * Attributes starting with "on" become listeners; `dataset` takes an object; false/null skip.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "class") {
        el.className = value;
      } else if (name === "dataset") {
        Object.assign(el.dataset, value);
      } else if (name === "text") {
        el.textContent = value;
      } else if (name in el && typeof value !== "string") {
        el[name] = value;
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'）」』]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?。，、！？）)\]]+$/;

/** Text with http(s) links turned into anchors; everything else stays a text node. */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = url.match(TRAILING_PUNCTUATION);
    if (trailing) url = url.slice(0, -trailing[0].length);
    const start = match.index;
    if (start > last) frag.append(text.slice(last, start));
    frag.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, url));
    last = start + url.length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

/** WooCommerce note HTML → plain text. DOMParser builds an inert document: no script runs, nothing loads. */
export function htmlToText(html) {
  const source = String(html ?? "").replace(/<br\s*\/?>/gi, "\n").replace(/<\/p>/gi, "\n");
  const doc = new DOMParser().parseFromString(source, "text/html");
  return (doc.body.textContent || "").replace(/\n{3,}/g, "\n\n").trim();
}

export function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function dayKey(d) {
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

export function formatDay(d) {
  const now = new Date();
  if (sameDay(d, now)) return t("today");
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(d, yesterday)) return t("yesterday");
  const opts = { month: "long", day: "numeric", weekday: "short" };
  if (d.getFullYear() !== now.getFullYear()) opts.year = "numeric";
  return new Intl.DateTimeFormat(intlLocale(), opts).format(d);
}

export function formatClock(d) {
  return new Intl.DateTimeFormat(intlLocale(), { hour: "2-digit", minute: "2-digit", hour12: false }).format(d);
}

/** Friend-list time: clock today, weekday this week, date otherwise. */
export function formatShort(d) {
  if (!d) return "";
  const now = new Date();
  if (sameDay(d, now)) return formatClock(d);
  if (now - d < 6 * 86400e3) return new Intl.DateTimeFormat(intlLocale(), { weekday: "short" }).format(d);
  const opts = { month: "numeric", day: "numeric" };
  if (d.getFullYear() !== now.getFullYear()) opts.year = "2-digit";
  return new Intl.DateTimeFormat(intlLocale(), opts).format(d);
}

export function formatDate(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  return new Intl.DateTimeFormat(intlLocale(), { year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

export function formatDateTime(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  return new Intl.DateTimeFormat(intlLocale(), {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(d);
}

export function formatMoney(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount ?? "");
  try {
    return new Intl.NumberFormat(intlLocale(), {
      style: "currency", currency: currency || "TWD", maximumFractionDigits: value % 1 ? 2 : 0,
    }).format(value);
  } catch {
    return `${currency || ""} ${value}`.trim();
  }
}

/** LINE counts its 5000-character limit in UTF-16 code units, which is what String.length is. */
export function utf16Length(text) {
  return text.length;
}

/** An id for idempotent sends; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function clientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Initials avatar when LINE gave no picture (or it fails to load). */
export function avatar(name, pictureUrl, size = "md") {
  const initial = (name || "?").trim().slice(0, 1).toUpperCase() || "?";
  const box = h("span", { class: `avatar avatar-${size}`, "aria-hidden": "true" }, initial);
  if (pictureUrl && /^https:\/\//.test(pictureUrl)) {
    const img = h("img", { src: pictureUrl, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => img.remove(), { once: true });
    box.append(img);
  }
  return box;
}
