// The panel's credentials and its conversation with the parent WP admin page.
//
// The plugin hands a short-lived JWT in the URL fragment (never sent to a server or in a Referer),
// and renews it over postMessage. Messages go out with an exact targetOrigin and are accepted only
// from window.parent at the expected origin, so no other frame can feed or read a token.
import { t } from "./i18n.js";
import { clearNotice, notify } from "./notices.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

const TOKEN_WAIT_MS = 15000;
const RETRY_REFRESH_MS = 10000;

const state = {
  token: "",
  claims: {},
  allowedOrigins: [],
  parentOrigin: "",
  framed: window.parent !== window,
  refreshTimer: 0,
  pending: null,
  waiters: [],
  handlers: new Map(),
};

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part + "=".repeat((4 - (part.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

/** Reads (and removes) the fragment; returns {friend, claims}. */
export function initSession(allowedOrigins) {
  state.allowedOrigins = allowedOrigins.map((o) => o.replace(/\/+$/, ""));
  const params = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const origin = (params.get("origin") || "").replace(/\/+$/, "");
  if (origin && !state.allowedOrigins.includes(origin)) {
    state.allowedOrigins = []; // a parent we were not configured for: speak to nobody
  } else if (state.framed && origin) {
    state.parentOrigin = origin;
  }
  window.addEventListener("message", onParentMessage);
  const token = params.get("token") || "";
  if (token) setToken(token);
  return { friend: params.get("friend") || "", claims: state.claims, hasToken: Boolean(token) };
}

export function claims() {
  return state.claims;
}

/** panel → parent. Before the parent's origin is known, each allowed origin is tried exactly. */
export function postToParent(message) {
  if (!state.framed) return;
  const targets = state.parentOrigin ? [state.parentOrigin] : state.allowedOrigins;
  for (const target of targets) {
    try {
      window.parent.postMessage(message, target);
    } catch {
      // a malformed configured origin; the others may still match
    }
  }
}

/** Register a handler for a parent message type (other than the token). */
export function onParentEvent(type, fn) {
  state.handlers.set(type, fn);
}

function onParentMessage(event) {
  if (!state.framed || event.source !== window.parent) return;
  const origin = event.origin;
  if (state.parentOrigin ? origin !== state.parentOrigin : !state.allowedOrigins.includes(origin)) return;
  const data = event.data;
  if (!data || typeof data !== "object" || typeof data.type !== "string") return;
  if (data.type === "orderchatz:token" && typeof data.token === "string" && data.token) {
    state.parentOrigin = origin;
    setToken(data.token, data.expires_at);
    const waiters = state.waiters.splice(0);
    for (const w of waiters) w.resolve(data.token);
    return;
  }
  const handler = state.handlers.get(data.type);
  if (handler) handler(data);
}

function setToken(token, expiresAt) {
  state.token = token;
  state.claims = decodeClaims(token);
  clearNotice("token");
  scheduleRefresh(expiresAt);
}

/** Renew before expiry: a minute early for normal 300 s tokens, a third of the lifetime for short ones. */
function scheduleRefresh(expiresAt) {
  clearTimeout(state.refreshTimer);
  const { iat, exp } = state.claims;
  let lifetimeMs;
  if (Number.isFinite(iat) && Number.isFinite(exp) && exp > iat) lifetimeMs = (exp - iat) * 1000;
  else if (Number.isFinite(Number(expiresAt))) lifetimeMs = Number(expiresAt) * 1000 - Date.now();
  else return;
  const leadMs = Math.min(60000, lifetimeMs / 3);
  const delay = Math.max(1000, lifetimeMs - leadMs);
  state.refreshTimer = setTimeout(renewUntilDone, delay);
}

function renewUntilDone() {
  refreshToken().catch(() => {
    state.refreshTimer = setTimeout(renewUntilDone, RETRY_REFRESH_MS);
  });
}

/** Ask the parent for a fresh token; concurrent callers share one request. */
export function refreshToken() {
  if (state.pending) return state.pending;
  if (!state.framed) {
    notify("token", t("notice_token_failed"), { kind: "error" });
    return Promise.reject(new ApiError(401, "token_expired", "no parent to renew the token"));
  }
  state.pending = new Promise((resolve, reject) => {
    const waiter = { resolve, reject };
    state.waiters.push(waiter);
    postToParent({ type: "orderchatz:token-request" });
    setTimeout(() => {
      const i = state.waiters.indexOf(waiter);
      if (i >= 0) {
        state.waiters.splice(i, 1);
        notify("token", t("notice_token_failed"), { kind: "error" });
        reject(new ApiError(401, "token_expired", "the parent page did not renew the token"));
      }
    }, TOKEN_WAIT_MS);
  }).finally(() => {
    state.pending = null;
  });
  return state.pending;
}

/** Resolves once a token exists (it may arrive by postMessage after "ready"). */
export function whenToken() {
  if (state.token) return Promise.resolve(state.token);
  return new Promise((resolve, reject) => {
    state.waiters.push({ resolve, reject });
  });
}

let offline = false;

function markOffline() {
  if (!offline) notify("offline", t("notice_offline"), { kind: "warning" });
  offline = true;
}

function markOnline() {
  if (offline) clearNotice("offline");
  offline = false;
}

async function readError(resp) {
  try {
    const body = await resp.json();
    return { code: body.error || `http_${resp.status}`, message: body.message || resp.statusText };
  } catch {
    return { code: `http_${resp.status}`, message: resp.statusText };
  }
}

/**
 * api("api/v1/conversations", {method, body, query, signal, blob})
 * Relative URLs: the panel lives at {sidecar}/panel, so they resolve under the sidecar root.
 * A 401 token_expired renews the token once and replays the request.
 */
export async function api(path, opts = {}, retried = false) {
  const { method = "GET", body, query, signal, blob = false } = opts;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, {
      method, headers, signal, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    markOffline();
    throw new ApiError(0, "network", t("notice_offline"));
  }
  if (resp.status === 502 || resp.status === 503 || resp.status === 504) markOffline();
  else markOnline();
  if (resp.ok) {
    if (blob) return resp.blob();
    if (resp.status === 204) return null;
    return resp.json();
  }
  const err = await readError(resp);
  if (resp.status === 401 && err.code === "token_expired" && !retried) {
    notify("token", t("notice_token"), { kind: "info" });
    await refreshToken();
    return api(path, opts, true);
  }
  if (resp.status === 403 && err.code === "forbidden") notify("forbidden", t("notice_forbidden"), { kind: "error" });
  throw new ApiError(resp.status, err.code, err.message);
}
