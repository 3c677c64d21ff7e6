"""WooCommerce REST (wc/v3) emulator: a real local HTTP server that answers like the recorded
WooCommerce 7.9 demo shop (shared/fixtures/woocommerce/recorded/README.md describes every quirk).

Authentication follows WooCommerce's rules:

* a request counts as HTTPS when the emulator is told it sits behind a TLS proxy
  (``https_forwarded=True``) or when it carries ``X-Forwarded-Proto: https`` (what the recording's
  mu-plugin honoured);
* over HTTPS, HTTP Basic (or ``consumer_key``/``consumer_secret`` query parameters) is honoured;
* over plain HTTP only OAuth 1.0a one-legged signatures are (Basic is silently ignored, so the
  request is anonymous and gets ``woocommerce_rest_cannot_view``), verified with oauthlib's
  signature primitives, with WooCommerce's 15-minute timestamp window and nonce replay check.

Usage::

    emu = WooEmulator(storage="hpos", consumer_key="ck_x", consumer_secret="cs_y").start()
    ... WooClient(emu.base_url, "ck_x", "cs_y") ...
    emu.stop()
"""
from __future__ import annotations

import base64
from collections import deque
import hmac
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote_plus, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from .woo_data import RECORDED_BASE, load_seed
from .woo_store import (ALL_EXACT, ORDER_EXTRA_FIELDS, ApiError, ListResult, WooShop,
                        filter_fields, int_param)

log = logging.getLogger(__name__)

API_PREFIX = "/wp-json/wc/v3/"
OAUTH_MAX_AGE = 15 * 60  # WooCommerce rejects OAuth timestamps older than 15 minutes
JSON_TYPE = "application/json; charset=UTF-8"


@dataclass(frozen=True)
class EmulatedRequest:
    method: str
    path: str
    query: dict[str, str]
    query_pairs: tuple[tuple[str, str], ...]
    raw_query: str
    headers: dict[str, str]
    body: Any
    auth: str  # "basic", "query-keys", "oauth", "none" (what authenticated the request, if anything)
    https: bool


@dataclass
class _Failure:
    path_prefix: str
    status: int
    times: int


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = JSON_TYPE


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK
        # would add ~40 ms to keep-alive answers and distort latency budgets.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, False)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read emu.requests
        return

    def _dispatch(self) -> None:
        self.server.emulator._handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


class WooEmulator:
    def __init__(self, storage: str = "hpos", consumer_key: str = "ck_emulator",
                 consumer_secret: str = "cs_emulator", latency: float = 0.0,
                 https_forwarded: bool = False, *, strip_authorization: bool = False,
                 fixtures_dir: Path | None = None,
                 clock: Callable[[], datetime] | None = None,
                 home_url: str | None = None, request_log_size: int = 10_000) -> None:
        self.storage = storage
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.https_forwarded = https_forwarded
        self.strip_authorization = strip_authorization
        # WordPress' own site URL, when it differs from the address clients dial (docker-compose):
        # OAuth signatures are checked against it and body URLs are built from it.
        self.home_url = home_url.rstrip("/") if home_url else None
        self.shop = WooShop(load_seed(fixtures_dir), storage, clock)
        # Newest last; bounded so long benchmark runs don't grow without limit.
        self.requests: deque[EmulatedRequest] = deque(maxlen=request_log_size)
        self._latency = float(latency)
        self._failures: list[_Failure] = []
        self._nonces: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._host = "127.0.0.1"
        self._port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "WooEmulator":
        if self._server is not None:
            raise RuntimeError("emulator already running")
        self._host = host
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self  # type: ignore[attr-defined]
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"woo-emulator-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        self._drop_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "WooEmulator":
        return self.start() if self._server is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("emulator not started")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    # -- test knobs ----------------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        self._latency = max(0.0, float(seconds))

    def fail_next(self, path_prefix: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` (``/wp-json/wc/v3``
        may be omitted) answer ``status``: 500 as WordPress' JSON critical error, others as an
        HTML page the way a proxy would."""
        prefix = path_prefix if path_prefix.startswith("/wp-json") else \
            API_PREFIX.rstrip("/") + "/" + path_prefix.lstrip("/")
        with self._lock:
            self._failures.append(_Failure(prefix, status, times))

    def go_down(self) -> None:
        """Stop listening and cut open connections: clients get 'connection refused'."""
        server = self._server
        self._server = None
        if server is not None:
            server.shutdown()
            server.server_close()
        self._drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def come_back(self) -> None:
        if self._server is None:
            self.start(self._host, self._port)

    def add_orders(self, customer_id: int, count: int, **options: Any) -> list[int]:
        return self.shop.add_orders(customer_id, count, **options)

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        return self.shop.notes(order_id)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- connection tracking ------------------------------------------------------------------

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _drop_connections(self) -> None:
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- request handling ----------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path, raw_query = split.path, split.query
        pairs = tuple(parse_qsl(raw_query, keep_blank_values=True))
        query = {k: v for k, v in reversed(pairs)}  # first occurrence wins, as in PHP for scalars
        headers = {k: v for k, v in handler.headers.items()}
        if self.strip_authorization:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        try:
            length = max(0, int(handler.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        raw_body = handler.rfile.read(length) if length else b""
        https = self.https_forwarded or _header(headers, "X-Forwarded-Proto").lower() == "https"
        host = _header(headers, "Host") or f"{self._host}:{self._port}"
        origin = f"{'https' if https else 'http'}://{host}"
        if self.home_url:
            origin = f"{'https' if https else 'http'}://{urlsplit(self.home_url).netloc}"
        method = handler.command

        body: Any = None
        form_pairs: list[tuple[str, str]] = []
        content_type = _header(headers, "Content-Type").split(";")[0].strip().lower()
        body_error: ApiError | None = None
        if raw_body:
            if content_type == "application/json":
                try:
                    body = json.loads(raw_body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    body_error = ApiError(400, "rest_invalid_json", "Invalid JSON body passed.")
            elif content_type == "application/x-www-form-urlencoded":
                form_pairs = parse_qsl(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
                body = dict(form_pairs)
            else:
                body = raw_body.decode("utf-8", "replace")

        auth_kind, auth_error = self._authenticate(method, origin, path, raw_query, raw_body,
                                                   content_type, headers, query, https)
        with self._lock:
            self.requests.append(EmulatedRequest(method, path, query, pairs, raw_query, headers,
                                                 body, auth_kind, https))
            failure = next((f for f in self._failures if path.startswith(f.path_prefix)), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)

        if failure is not None:
            answer = _failure_answer(failure.status)
        elif auth_error is not None:
            answer = _error_answer(auth_error)
        elif body_error is not None:
            answer = _error_answer(body_error)
        else:
            try:
                answer = self._route(method, path, query, pairs,
                                     body if isinstance(body, dict) else {}, auth_kind != "none")
            except ApiError as exc:
                answer = _error_answer(exc)
            except Exception:  # an emulator bug must look like a PHP fatal, not a dropped socket
                log.exception("woo emulator failed on %s %s", method, path)
                answer = _failure_answer(500)
        if self._latency:
            time.sleep(self._latency)
        self._send(handler, answer, origin)

    def _send(self, handler: _Handler, answer: _Answer, origin: str) -> None:
        if answer.raw is not None:
            payload = answer.raw
        else:
            text = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":"))
            payload = text.replace(RECORDED_BASE, origin).encode("utf-8")
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                for line in value.split("\n"):
                    handler.send_header(name, line.replace(RECORDED_BASE, origin))
            if "Link" not in answer.headers and answer.raw is None:
                handler.send_header("Link", f'<{origin}/wp-json/>; rel="https://api.w.org/"')
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            handler.close_connection = True

    # -- authentication ------------------------------------------------------------------------

    def _authenticate(self, method: str, origin: str, path: str, raw_query: str, raw_body: bytes,
                      content_type: str, headers: Mapping[str, str], query: Mapping[str, str],
                      https: bool) -> tuple[str, ApiError | None]:
        authorization = _header(headers, "Authorization")
        if https:
            key = secret = None
            kind = "none"
            if authorization.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                    key, _, secret = decoded.partition(":")
                    kind = "basic"
                except (ValueError, UnicodeDecodeError):
                    key = None
            elif "consumer_key" in query:
                key, secret, kind = query.get("consumer_key"), query.get("consumer_secret", ""), \
                    "query-keys"
            if not key or not hmac.compare_digest(key.encode(), self.consumer_key.encode()):
                return "none", None  # unknown key: WooCommerce treats the request as anonymous
            if not hmac.compare_digest((secret or "").encode(), self.consumer_secret.encode()):
                return "none", _auth_error("Consumer secret is invalid.")
            return kind, None
        # Plain HTTP: Basic is ignored; only OAuth 1.0a counts.
        oauth_header = authorization if authorization.lower().startswith("oauth ") else None
        form_body = raw_body.decode("utf-8", "replace") \
            if content_type == "application/x-www-form-urlencoded" else None
        try:
            params = oauth_signature.collect_parameters(
                uri_query=raw_query, body=form_body,
                headers={"Authorization": oauth_header} if oauth_header else None,
                exclude_oauth_signature=False)
        except ValueError:
            return "none", _auth_error("Invalid signature - failed to sort parameters.")
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        if "oauth_consumer_key" not in oauth:
            return "none", None
        for required in ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce",
                         "oauth_signature", "oauth_signature_method"):
            if not oauth.get(required):
                return "none", _auth_error(f"{required} parameter is missing.")
        if not hmac.compare_digest(oauth["oauth_consumer_key"].encode(),
                                   self.consumer_key.encode()):
            return "none", _auth_error("Consumer key is invalid.")
        method_name = oauth["oauth_signature_method"]
        if method_name not in ("HMAC-SHA1", "HMAC-SHA256"):
            return "none", _auth_error("Signature method is invalid.")
        signed = [(k, v) for k, v in params if k != "oauth_signature"]
        base_string = oauth_signature.signature_base_string(
            method, oauth_signature.base_string_uri(origin + path),
            oauth_signature.normalize_parameters(signed))
        sign = oauth_signature.sign_hmac_sha256_with_client if method_name == "HMAC-SHA256" \
            else oauth_signature.sign_hmac_sha1_with_client
        expected = sign(base_string, SimpleNamespace(client_secret=self.consumer_secret,
                                                     resource_owner_secret=""))
        if not hmac.compare_digest(expected.encode(), oauth["oauth_signature"].encode()):
            return "none", _auth_error("Invalid signature - provided signature does not match.")
        try:
            timestamp = int(oauth["oauth_timestamp"])
        except ValueError:
            return "none", _auth_error("Invalid timestamp.")
        if timestamp < time.time() - OAUTH_MAX_AGE:
            return "none", _auth_error("Invalid timestamp.")
        nonce_key = (oauth["oauth_nonce"], oauth["oauth_timestamp"])
        with self._lock:
            if nonce_key in self._nonces:
                return "none", _auth_error("Invalid nonce - nonce has already been used.")
            self._nonces.add(nonce_key)
        return "oauth", None

    # -- routing -------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: Mapping[str, str],
               pairs: tuple[tuple[str, str], ...], body: Mapping[str, Any],
               authenticated: bool) -> _Answer:
        if not path.startswith(API_PREFIX):
            raise _no_route()
        parts = [p for p in path[len(API_PREFIX):].split("/") if p]
        fields = query.get("_fields")
        if len(parts) == 1 and parts[0] in ("orders", "customers", "products") and method == "GET":
            int_param(query, "per_page", 10, 1, 100)  # WordPress validates before permissions
            _require(authenticated, "list")
            result = {"orders": self.shop.list_orders, "customers": self.shop.list_customers,
                      "products": self.shop.list_products}[parts[0]](query)
            return self._list_answer(parts[0], result, pairs, fields, _EXACT[parts[0]])
        if len(parts) >= 2 and not parts[1].isdigit():
            raise _no_route()
        if len(parts) == 2 and parts[0] == "orders":
            order_id = int(parts[1])
            if method == "GET":
                _require(authenticated, "view")
                return _Answer(200, filter_fields(self.shop.get_order(order_id), fields,
                                                  ORDER_EXTRA_FIELDS))
            if method in ("PUT", "POST", "PATCH"):
                _require(authenticated, "edit")
                return _Answer(200, filter_fields(self.shop.update_order(order_id, body), fields,
                                                  ORDER_EXTRA_FIELDS))
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "notes":
            order_id = int(parts[1])
            if method == "GET":
                _require(authenticated, "list")
                notes = self.shop.list_notes(order_id, query.get("type") or "any")
                return _Answer(200, filter_fields([_note_links(order_id, n) for n in notes],
                                                  fields))
            if method == "POST":
                _require(authenticated, "create")
                note = self.shop.add_note(order_id, body)
                href = f"{RECORDED_BASE}/wp-json/wc/v3/orders/{order_id}/notes/{note['id']}"
                return _Answer(201, filter_fields(_note_links(order_id, note), fields),
                               {"Location": href})
        if len(parts) == 2 and parts[0] == "customers" and method == "GET":
            _require(authenticated, "view")
            return _Answer(200, filter_fields(self.shop.get_customer(int(parts[1])), fields))
        if len(parts) == 2 and parts[0] == "products" and method == "GET":
            _require(authenticated, "view")
            return _Answer(200, filter_fields(self.shop.get_product(int(parts[1])), fields,
                                              ALL_EXACT))
        raise _no_route()

    def _list_answer(self, resource: str, result: ListResult, pairs: tuple[tuple[str, str], ...],
                     fields: str | None, exact_only: frozenset[str] | None) -> _Answer:
        headers = {"X-WP-Total": str(result.total), "X-WP-TotalPages": str(result.total_pages)}
        links = []
        if result.page > 1 or result.total_pages > 1:
            base_pairs = self._link_pairs(resource, pairs, full=not result.past_last_page)
            if result.page > 1:
                prev_page = min(result.page - 1, result.total_pages)
                links.append(f'<{_link_url(resource, base_pairs, prev_page)}>; rel="prev"')
            if result.page < result.total_pages:
                links.append(f'<{_link_url(resource, base_pairs, result.page + 1)}>; rel="next"')
        if links:
            headers["Link"] = "\n".join(links)
        return _Answer(200, filter_fields(result.items, fields, exact_only), headers)

    def _link_pairs(self, resource: str, pairs: tuple[tuple[str, str], ...],
                    full: bool) -> list[tuple[str, str]]:
        """The query WordPress puts in pagination links, in the order the recording shows."""
        out = [(k, v) for k, v in pairs]
        if resource != "orders":
            return out
        customer = [(k, v) for k, v in out if k == "customer"]
        if self.storage == "hpos":
            out = [(k, v) for k, v in out if k != "customer"]
        if "status" not in dict(out):
            out.append(("status[0]", "any"))
        if self.storage == "hpos":
            out.extend(customer)
        if full:
            out.extend([("dp", "0"), ("context", "view")])
        return out


# How each list endpoint treats dotted ``_fields`` (see woo_store.filter_fields).
_EXACT = {"orders": ORDER_EXTRA_FIELDS, "customers": None, "products": ALL_EXACT}


def _link_url(resource: str, pairs: list[tuple[str, str]], page: int) -> str:
    query = list(pairs)
    for index, (key, _) in enumerate(query):
        if key == "page":
            query[index] = ("page", str(page))
            break
    else:
        query.append(("page", str(page)))
    encoded = "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in query)
    return f"{RECORDED_BASE}/wp-json/wc/v3/{resource}?{encoded}"


def _note_links(order_id: int, note: dict[str, Any]) -> dict[str, Any]:
    base = f"{RECORDED_BASE}/wp-json/wc/v3/orders/{order_id}"
    return {**note, "_links": {"self": [{"href": f"{base}/notes/{note['id']}"}],
                               "collection": [{"href": f"{base}/notes"}],
                               "up": [{"href": base}]}}


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def _auth_error(message: str) -> ApiError:
    return ApiError(401, "woocommerce_rest_authentication_error", message)


_PERMISSION_ERRORS = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
}


def _require(authenticated: bool, action: str) -> None:
    if not authenticated:
        code, message = _PERMISSION_ERRORS[action]
        raise ApiError(401, code, message)


def _no_route() -> ApiError:
    return ApiError(404, "rest_no_route", "No route was found matching the URL and request method.")


def _error_answer(error: ApiError) -> _Answer:
    return _Answer(error.status, error.body())


def _failure_answer(status: int) -> _Answer:
    if status == 500:
        return _Answer(500, {"code": "internal_server_error",
                             "message": "<p>There has been a critical error on this website.</p>",
                             "data": {"status": 500}, "additional_errors": []})
    page = (f"<html><head><title>{status}</title></head><body><h1>{status}</h1>"
            "<p>The server is temporarily unable to service your request.</p></body></html>")
    return _Answer(status, None, raw=page.encode(), content_type="text/html; charset=UTF-8")
