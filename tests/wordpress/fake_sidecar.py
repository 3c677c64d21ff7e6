"""A small stand-in for the sidecar's plugin-facing endpoints, for the WordPress plugin tests.

It verifies exactly what the real sidecar verifies (the `X-OrderChatz-Signature` HMAC and the
panel JWT, with `orderchatz.auth`), dedupes `/wp/events` on `event_id`, and records every
request so tests can assert what the plugin sent. `fail_with` makes `/wp/events` answer an error
status; `stop()` + `start()` on the same port simulate the sidecar being down and coming back.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from orderchatz.auth import AuthError, verify_panel_token, verify_wp_event


# A stand-in panel: speaks the parent protocol and records what the parent sends.
PANEL_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>fake panel</title></head><body>
<p id="state">fake panel</p>
<script>
  const params = new URLSearchParams(location.hash.slice(1));
  const parentOrigin = params.get("origin");
  window.fragmentToken = params.get("token");
  window.friend = params.get("friend");
  window.received = [];
  window.addEventListener("message", (event) => {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    window.received.push(event.data);
  });
  window.send = (message) => window.parent.postMessage(message, parentOrigin);
  // Like a robust panel: announce `ready` until the parent answers (its listener may not exist yet).
  (function announce(tries) {
    if (window.received.length || tries > 20) return;
    window.send({type: "orderchatz:ready"});
    setTimeout(() => announce(tries + 1), 300);
  })(0);
</script></body></html>"""


class _ReusableServer(ThreadingHTTPServer):
    """Restartable on the same port right after stop() (the "sidecar is back" case)."""

    allow_reuse_address = True
    daemon_threads = True


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeSidecar:
    port: int
    secret: str
    issuer: str
    requests: list[Recorded] = field(default_factory=list)
    accepted_events: list[dict] = field(default_factory=list)
    fail_with: int | None = None
    unread: dict = field(default_factory=lambda: {"unread_conversations": 3, "unread_messages": 7})
    binding: dict = field(default_factory=lambda: {"bound": False, "friends": []})
    link_response: tuple[int, dict] = (200, {"nonce": "n0nce", "redirect_url":
                                             "https://access.line.me/dialog/bot/accountLink?linkToken=abc&nonce=n0nce"})
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeSidecar":
        sidecar = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with sidecar._lock:
                    sidecar.requests.append(record)
                if record.path == "/panel":
                    status, data, content_type = 200, PANEL_PAGE.encode(), "text/html; charset=utf-8"
                else:
                    status, payload = sidecar._respond(record)
                    data, content_type = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self._server = _ReusableServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.accepted_events.clear()
        self.fail_with = None

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- behaviour -------------------------------------------------------------------------------

    def _respond(self, record: Recorded) -> tuple[int, dict]:
        if record.path == "/wp/events" and record.method == "POST":
            return self._wp_event(record)
        if record.path == "/readyz":
            try:
                verify_wp_event(record.headers.get("x-orderchatz-signature"), b"", self.secret)
                signature = "valid"
            except AuthError:
                signature = "invalid"
            return 200, {"status": "ok", "db": "ok", "redis": "ok", "signature": signature}
        if record.path in ("/api/v1/unread", "/api/v1/bindings/lookup"):
            auth = record.headers.get("authorization", "")
            try:
                verify_panel_token(auth.removeprefix("Bearer "), self.secret, issuers=(self.issuer,))
            except AuthError as exc:
                return 401, {"error": exc.code, "message": exc.message}
            return 200, self.unread if record.path == "/api/v1/unread" else self.binding
        return 404, {"error": "not_found", "message": record.path}

    def _wp_event(self, record: Recorded) -> tuple[int, dict]:
        try:
            verify_wp_event(record.headers.get("x-orderchatz-signature"), record.body, self.secret)
        except AuthError as exc:
            return 401, {"error": exc.code, "message": exc.message}
        if self.fail_with is not None:
            return self.fail_with, {"error": "unavailable", "message": "configured to fail"}
        try:
            event = json.loads(record.body)
        except ValueError:
            return 400, {"error": "malformed_body", "message": "not JSON"}
        if event.get("type") == "link.nonce":
            return self.link_response
        with self._lock:
            if any(e["event_id"] == event.get("event_id") for e in self.accepted_events):
                return 200, {"status": "duplicate"}
            self.accepted_events.append(event)
        return 200, {"status": "accepted"}
