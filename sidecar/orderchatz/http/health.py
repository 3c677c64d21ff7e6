"""GET /healthz (liveness) and GET /readyz (DB and Redis; optionally checks the plugin's signature)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..auth import AuthError, verify_wp_event
from .auth import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    svc = services()
    report = {"status": "ok", "db": "ok", "redis": "ok", "sandbox": svc.config.sandbox}
    try:
        svc.store.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        report["db"] = f"error: {exc.__class__.__name__}"
    try:
        svc.redis.ping()
    except Exception as exc:  # noqa: BLE001
        report["redis"] = f"error: {exc.__class__.__name__}"
    header = request.headers.get("X-OrderChatz-Signature")
    if header is not None:
        # The plugin's "test connection" button signs an empty body with the shared secret.
        try:
            verify_wp_event(header, request.get_data(), svc.config.shared_secret)
            report["signature"] = "valid"
        except AuthError as exc:
            report["signature"] = "invalid"
            report["signature_error"] = exc.message
    ok = report["db"] == "ok" and report["redis"] == "ok"
    report["status"] = "ok" if ok else "unavailable"
    return jsonify(report), 200 if ok else 503
