"""The app factory: wires config, services and blueprints. Nothing connects at import time."""
from __future__ import annotations

import logging

from flask import Flask

from .config import Config
from .services import Services
from .store.db import check_migrated


def create_app(config: Config | None = None, services: Services | None = None) -> Flask:
    config = config or (services.config if services else Config.from_env())
    svc = services or Services.build(config)
    check_migrated(svc.store.engine)  # refuse to run against an un-migrated database

    app = Flask(__name__)
    # Larger bodies get 413. One byte of slack: Werkzeug silently stops a chunked body at this
    # limit, and the webhook tells "exactly at the limit" from "over it" by reading one more.
    app.config["MAX_CONTENT_LENGTH"] = config.max_webhook_bytes + 1
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["orderchatz"] = svc

    from .http import api, health, panel, stream, webhook, woo_api, wp_events
    from .http.errors import register_error_handlers
    for module in (webhook, health, api, stream, panel, wp_events, woo_api):
        app.register_blueprint(module.bp)
    register_error_handlers(app)

    @app.after_request
    def _headers(resp):
        # Framing is governed by CSP frame-ancestors (set on the panel); never X-Frame-Options.
        resp.headers.pop("X-Frame-Options", None)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    if config.sandbox:
        logging.getLogger(__name__).warning("SANDBOX MODE: the LINE emulator stands in for LINE")
    return app
