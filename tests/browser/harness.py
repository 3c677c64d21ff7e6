"""A real sidecar, a worker, a cuttable proxy and a parent "WP admin" page for the browser tests.

The parent page lives on a different *site* (http://shop.test:<port>, mapped to 127.0.0.1 by
Chromium's host resolver rules) so the framed panel is genuinely cross-site, as in production.
"""
from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from orderchatz import jobs
from orderchatz.auth import mint_panel_token
from tests.conftest import SHARED_SECRET
from tests.support import REPO, free_port

CHROMIUM = Path("/usr/bin/chromium")
PARENT_HOST = "shop.test"
ARTIFACTS = REPO / "test-artifacts"
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--host-resolver-rules=MAP *.test 127.0.0.1"]

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class ServerThread:
    """A threaded werkzeug server on 127.0.0.1 in a background thread."""

    def __init__(self, app, port: int = 0):
        self.server = make_server("127.0.0.1", port or free_port(), app, threaded=True)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _ThreadWorker(SimpleWorker):
    """RQ in a thread: no signal handlers (main thread only) and timer-based job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        return None


class WorkerThread:
    """Runs queued jobs every 100 ms, like `orderchatz-sidecar worker` would."""

    def __init__(self, svc):
        self.svc = svc
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []

    def _run(self) -> None:
        jobs.use_services(self.svc)
        while not self.stop_event.wait(0.1):
            try:
                worker = _ThreadWorker([self.svc.queue], connection=self.svc.redis)
                worker.work(burst=True, with_scheduler=False, logging_level="ERROR")
            except Exception as exc:  # noqa: BLE001 - recorded for the test to report
                self.errors.append(exc)

    def start(self) -> "WorkerThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)


class CuttableProxy:
    """TCP proxy in front of the sidecar: `down()` drops every connection (a sidecar restart as
    the browser sees it) and refuses new ones until `up()`."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.is_down = False
        self.stopped = False
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> "CuttableProxy":
        self.thread.start()
        return self

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
            with self.lock:
                if (a, b) in self.pairs:
                    self.pairs.remove((a, b))

    def down(self) -> None:
        self.is_down = True
        with self.lock:
            pairs = list(self.pairs)
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def up(self) -> None:
        self.is_down = False

    def stop(self) -> None:
        self.stopped = True
        self.down()
        self.listener.close()
        self.thread.join(timeout=5)


PARENT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>WP admin (test parent)</title>
<style>body{{margin:0}} iframe{{border:0;width:100vw;height:100vh;display:block}}</style></head>
<body>
<iframe id="panel" title="OrderChatz" src="{src}"></iframe>
<script>
  const SIDECAR = {sidecar};
  const frame = document.getElementById("panel");
  window.received = [];
  window.answerTokens = true;
  window.addEventListener("message", async (event) => {{
    if (event.origin !== SIDECAR || event.source !== frame.contentWindow) return;
    window.received.push(event.data);
    if (event.data && event.data.type === "orderchatz:token-request" && window.answerTokens) {{
      const resp = await fetch("/token?lifetime={lifetime}");
      const body = await resp.json();
      frame.contentWindow.postMessage({{type: "orderchatz:token", token: body.token,
                                        expires_at: body.expires_at}}, SIDECAR);
    }}
  }});
</script>
</body></html>"""


@dataclass
class ParentSite:
    """The stand-in for the plugin's admin page: frames the panel, mints and renews tokens."""

    sidecar_origin: str
    port: int = field(default_factory=free_port)
    locale: str = "zh_TW"
    token_requests: int = 0
    server: ServerThread | None = None

    @property
    def origin(self) -> str:
        return f"http://{PARENT_HOST}:{self.port}"

    def mint(self, lifetime: int = 300, *, now: float | None = None) -> str:
        return mint_panel_token(SHARED_SECRET, issuer=self.origin, user_id="1", name="店長 Admin",
                                caps=("manage_woocommerce",), locale=self.locale,
                                lifetime=lifetime, now=now)

    def _app(self, environ, start_response):
        request = Request(environ)
        if request.path == "/token":
            self.token_requests += 1
            lifetime = int(request.args.get("lifetime", "300"))
            token = self.mint(lifetime)
            body = {"token": token, "expires_at": int(time.time()) + lifetime}
            return Response(json.dumps(body), mimetype="application/json")(environ, start_response)
        if request.path == "/admin":
            lifetime = int(request.args.get("lifetime", "300"))
            skew = int(request.args.get("skew", "0"))
            token = self.mint(lifetime, now=time.time() - skew)
            fragment = f"token={token}&origin={request.args.get('fragment_origin', self.origin)}"
            if request.args.get("friend"):
                fragment += f"&friend={request.args['friend']}"
            html = PARENT_PAGE.format(src=f"{self.sidecar_origin}/panel#{fragment}",
                                      sidecar=json.dumps(self.sidecar_origin),
                                      lifetime=int(request.args.get("renew_lifetime", lifetime)))
            return Response(html, mimetype="text/html")(environ, start_response)
        return Response("not found", status=404)(environ, start_response)

    def start(self) -> "ParentSite":
        self.server = ServerThread(self._app, self.port).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    def url(self, **params) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.origin}/admin" + (f"?{query}" if query else "")
