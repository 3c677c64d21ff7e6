// One message → one DOM element. All data goes in through textContent / attributes (see dom.js).
import { formatClock, formatDateTime, h, linkify, parseTime } from "./dom.js";
import { t } from "./i18n.js";
import { api } from "./session.js";

const STICKER_URL = (id) => `https://stickershop.line-scdn.net/stickershop/v1/sticker/${encodeURIComponent(id)}/android/sticker.png`;

const blobUrls = new Map();

/** Media needs the Bearer header, so it is fetched as a blob and shown through an object URL. */
export function mediaObjectUrl(message) {
  if (!blobUrls.has(message.id)) {
    const p = api(message.media.url, { blob: true }).then((b) => URL.createObjectURL(b));
    p.catch(() => blobUrls.delete(message.id));
    blobUrls.set(message.id, p);
  }
  return blobUrls.get(message.id);
}

export function forgetMedia() {
  for (const p of blobUrls.values()) p.then((url) => URL.revokeObjectURL(url), () => {});
  blobUrls.clear();
}

function firstLineMessage(m) {
  const list = m.payload && Array.isArray(m.payload.messages) ? m.payload.messages : [];
  return list[0] || {};
}

/** A short text for quote bars and previews. */
export function summarize(m) {
  if (m.unsent) return t("unsent");
  if (m.text) return m.text.replace(/\s+/g, " ").slice(0, 80);
  const labels = { image: "image", video: "video", audio: "audio", file: "file", location: "location",
                   sticker: "sticker", product: "product" };
  return labels[m.type] ? `[${t(labels[m.type])}]` : t("unsupported");
}

function safeHttps(url) {
  return typeof url === "string" && /^https:\/\//i.test(url) ? url : null;
}

function text(m) {
  return h("div", { class: "bubble-text" }, linkify(m.text || ""));
}

function sticker(m) {
  const id = m.direction === "in" ? m.payload.stickerId : firstLineMessage(m).stickerId;
  if (!id || !/^\d+$/.test(String(id))) return h("div", { class: "bubble-text" }, `[${t("sticker")}]`);
  return h("img", { class: "sticker", src: STICKER_URL(id), alt: t("sticker"), loading: "lazy",
                    referrerpolicy: "no-referrer", width: 120, height: 120 });
}

function mediaPending(m) {
  const status = m.media ? m.media.status : "";
  if (status === "pending") return h("div", { class: "media-note" }, t("image_loading"));
  return h("div", { class: "media-note" }, t("media_unavailable"));
}

function image(m, ctx) {
  if (m.direction !== "in") {
    const line = firstLineMessage(m);
    const src = safeHttps(line.previewImageUrl);
    const full = safeHttps(line.originalContentUrl) || src;
    if (!src) return h("div", { class: "bubble-text" }, `[${t("image")}]`);
    return h("button", { type: "button", class: "thumb", "aria-label": t("image_open"),
                         onclick: () => ctx.openImage(full) },
             h("img", { src, alt: t("image"), loading: "lazy", referrerpolicy: "no-referrer" }));
  }
  const provider = m.payload.contentProvider;
  if (provider && provider.type === "external") {
    const src = safeHttps(provider.previewImageUrl) || safeHttps(provider.originalContentUrl);
    if (src) {
      return h("button", { type: "button", class: "thumb", "aria-label": t("image_open"),
                           onclick: () => ctx.openImage(safeHttps(provider.originalContentUrl) || src) },
               h("img", { src, alt: t("image"), loading: "lazy", referrerpolicy: "no-referrer" }));
    }
  }
  if (!m.media || m.media.status !== "ready" || !m.media.url) return mediaPending(m);
  const img = h("img", { alt: t("image") });
  const button = h("button", { type: "button", class: "thumb loading", "aria-label": t("image_open") }, img);
  mediaObjectUrl(m).then((url) => {
    img.src = url;
    button.classList.remove("loading");
    button.addEventListener("click", () => ctx.openImage(url));
  }, () => button.replaceWith(h("div", { class: "media-note" }, t("media_unavailable"))));
  return button;
}

function fileSizeLabel(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n <= 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function download(m) {
  const kindLabel = t(m.type);
  const name = m.payload.fileName || `${m.type}-${m.id}`;
  const size = fileSizeLabel(m.payload.fileSize);
  const duration = m.payload.duration ? `${Math.round(m.payload.duration / 1000)}s` : "";
  const detail = [size, duration].filter(Boolean).join(" · ");
  const info = h("div", { class: "file-info" }, h("span", { class: "file-kind" }, kindLabel),
                 h("span", { class: "file-name" }, name), detail ? h("span", { class: "file-detail" }, detail) : null);
  if (!m.media || m.media.status !== "ready" || !m.media.url) {
    return h("div", { class: "file-card" }, info, mediaPending(m));
  }
  const button = h("button", { type: "button", class: "btn btn-small" }, t("download"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = t("downloading");
    try {
      const url = await mediaObjectUrl(m);
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
    } catch {
      button.replaceWith(h("div", { class: "media-note" }, t("media_unavailable")));
      return;
    }
    button.disabled = false;
    button.textContent = t("download");
  });
  return h("div", { class: "file-card" }, info, button);
}

function location(m) {
  const p = m.payload;
  const lat = Number(p.latitude);
  const lng = Number(p.longitude);
  const map = Number.isFinite(lat) && Number.isFinite(lng)
    ? h("a", { href: `https://www.google.com/maps/search/?api=1&query=${lat},${lng}`, target: "_blank",
               rel: "noopener noreferrer" }, t("open_map"))
    : null;
  return h("div", { class: "location-card" }, h("span", { class: "file-kind" }, t("location")),
           p.title ? h("strong", null, p.title) : null, p.address ? h("span", null, p.address) : null, map);
}

function product(m) {
  const p = (m.payload && m.payload.product) || {};
  const img = safeHttps(p.image_url);
  const link = safeHttps(p.permalink);
  return h("div", { class: "product-card" },
           img ? h("img", { src: img, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : null,
           h("div", { class: "product-body" },
             h("span", { class: "file-kind" }, t("product")),
             h("strong", null, p.name || `#${p.id ?? ""}`),
             p.price_label ? h("span", { class: "price" }, p.price_label) : null,
             link ? h("a", { href: link, target: "_blank", rel: "noopener noreferrer" }, t("view_product")) : null));
}

function orderMessage(m, ctx) {
  const order = (m.payload && m.payload.order) || {};
  const number = order.number || order.id;
  return h("div", { class: "order-card" },
           h("span", { class: "file-kind" }, t(m.type === "order_status" ? "order_status" : "order_note")),
           number ? h("strong", null, t("order_n", { n: number })) : null,
           h("div", { class: "bubble-text" }, linkify(m.text || "")),
           order.id ? h("button", { type: "button", class: "btn btn-small btn-ghost",
                                    onclick: () => ctx.openOrder(order.id) }, t("open_order")) : null);
}

function systemText(m) {
  switch (m.type) {
    case "follow": return m.text === "unblocked" ? t("sys_unblocked") : t("sys_followed");
    case "unfollow": return t("sys_blocked");
    case "postback": return t("sys_postback", { text: m.text || "" });
    case "account_link": return t("sys_account_link", { text: m.text || "" });
    default: return m.text || t("unsupported");
  }
}

function content(m, ctx) {
  if (m.unsent) return h("div", { class: "bubble-text unsent" }, t("unsent"));
  switch (m.type) {
    case "text": return text(m);
    case "sticker": return sticker(m);
    case "image": return image(m, ctx);
    case "video": case "audio": case "file": return download(m);
    case "location": return location(m);
    case "product": return product(m);
    case "order_note": case "order_status": return orderMessage(m, ctx);
    default: return h("div", { class: "bubble-text muted" }, m.text || t("unsupported"));
  }
}

function statusLine(m, ctx) {
  if (m.direction !== "out") return null;
  const status = m.local_error ? "local_failed" : m.status;
  const label = t(`status_${status}`) || status;
  const parts = [h("span", { class: `status status-${status}` }, label)];
  const reason = m.local_error || (m.failure && (m.failure.reason || m.failure.code));
  if (status === "failed" || status === "local_failed") {
    if (reason && reason !== label) parts.push(h("span", { class: "failure-reason" }, reason));
    parts.push(h("button", { type: "button", class: "link-btn", onclick: () => ctx.retry(m) }, t("retry")));
  }
  return parts;
}

function quotedSnippet(m, ctx) {
  const quoted = ctx.findQuoted(m);
  if (!quoted) return null;
  return h("div", { class: "quoted", "aria-label": t("quoted") }, summarize(quoted));
}

export function renderMessage(m, ctx) {
  const at = parseTime(m.created_at);
  if (m.direction === "system") {
    return h("div", { class: "msg msg-system", dataset: { id: m.id } },
             h("span", { class: "system-pill" }, systemText(m), at ? ` · ${formatClock(at)}` : ""));
  }
  const side = m.direction === "in" ? "msg-in" : "msg-out";
  const kind = ["sticker", "image"].includes(m.type) && !m.unsent ? " bubble-bare" : "";
  const bubble = h("div", { class: `bubble${kind}` }, quotedSnippet(m, ctx), content(m, ctx));
  const meta = h("div", { class: "meta" },
                 at ? h("time", { datetime: m.created_at, title: formatDateTime(m.created_at) }, formatClock(at)) : null,
                 m.direction === "out" && m.author && m.author.name
                   ? h("span", { class: "author" }, t("sent_by", { name: m.author.name })) : null,
                 statusLine(m, ctx),
                 m.direction === "in" && m.quote_token && !m.unsent
                   ? h("button", { type: "button", class: "link-btn", onclick: () => ctx.reply(m) }, t("reply"))
                   : null);
  return h("div", { class: `msg ${side}`, dataset: { id: m.id ?? "", status: m.local_error ? "local_failed" : m.status || "" } },
           bubble, meta);
}
