// The product picker: search with thumbnails and prices, a preview, then send (or just pick, for
// staff notes). Uses the native <dialog>, which traps focus and closes on Escape.
import { clear, debounce, h } from "./dom.js";
import { t } from "./i18n.js";
import { api } from "./session.js";

function stockLabel(status) {
  if (status === "outofstock") return t("out_of_stock");
  if (status === "onbackorder") return t("on_backorder");
  return t("in_stock");
}

/** The panel's CSP allows images from https: only (and an http image would be mixed content). */
function https(url) {
  return typeof url === "string" && /^https:\/\//i.test(url) ? url : null;
}

function thumb(p, cls) {
  const src = https(p.image_url);
  return src ? h("img", { class: cls, src, alt: "", loading: "lazy", referrerpolicy: "no-referrer" })
             : h("span", { class: `${cls} thumb-empty`, "aria-hidden": "true" });
}

/** Resolves with the chosen product, or null when the dialog is dismissed. */
export function pickProduct({ title = t("product_dialog_title"), actionLabel = t("send") } = {}) {
  const dialog = document.getElementById("oc-dialog");
  clear(dialog);
  let chosen = null;
  let controller = null;
  const results = h("ul", { class: "product-results", role: "listbox", "aria-label": t("product_search_label") });
  const preview = h("div", { class: "product-preview", "aria-live": "polite" });
  const action = h("button", { type: "button", class: "btn btn-primary", disabled: true }, actionLabel);
  const input = h("input", { class: "input", type: "search", id: "oc-product-search", autocomplete: "off",
                             placeholder: t("product_search_placeholder") });
  const status = h("p", { class: "muted small", role: "status" });

  function showPreview(p) {
    chosen = p;
    clear(preview).append(
      thumb(p, "preview-img"),
      h("div", { class: "product-body" }, h("strong", null, p.name || ""), p.sku ? h("span", { class: "muted small" }, `SKU ${p.sku}`) : null,
        h("span", { class: "price" }, p.price_label || ""), h("span", { class: "muted small" }, stockLabel(p.stock_status))));
    action.disabled = false;
    for (const li of results.children) li.setAttribute("aria-selected", String(li.dataset.id === String(p.id)));
  }

  const search = debounce(async () => {
    controller?.abort();
    controller = new AbortController();
    status.textContent = t("loading");
    try {
      const data = await api("api/v1/products/search", { query: { q: input.value.trim() }, signal: controller.signal });
      const products = data.products || [];
      clear(results);
      status.textContent = products.length ? "" : t("no_products");
      for (const p of products) {
        const li = h("li", { role: "option", "aria-selected": "false", dataset: { id: String(p.id) } },
          h("button", { type: "button", class: "product-row", onclick: () => showPreview(p) },
            thumb(p, "row-img"), h("span", { class: "row-name" }, p.name || ""),
            h("span", { class: "price" }, p.price_label || ""),
            p.stock_status && p.stock_status !== "instock" ? h("span", { class: "badge badge-muted" }, stockLabel(p.stock_status)) : null));
        results.append(li);
      }
    } catch (err) {
      if (err.name === "AbortError") return;
      status.textContent = err.status === 404 ? t("not_available_yet", { status: 404 }) : t("load_failed");
    }
  }, 250);
  input.addEventListener("input", search);

  dialog.append(
    h("div", { class: "dialog-head" }, h("h2", { id: "oc-dialog-title" }, title),
      h("button", { type: "button", class: "icon-btn", "aria-label": t("close"), onclick: () => dialog.close("") }, "×")),
    h("label", { class: "sr-only", for: "oc-product-search" }, t("product_search_label")),
    input, status,
    h("div", { class: "dialog-body product-dialog" }, results, preview),
    h("div", { class: "dialog-foot" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => dialog.close("") }, t("close")), action));

  return new Promise((resolve) => {
    action.addEventListener("click", () => dialog.close("chosen"));
    dialog.addEventListener("close", () => {
      controller?.abort();
      resolve(dialog.returnValue === "chosen" ? chosen : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
    search();
  });
}
