"""POST /line/webhook: verify the signature over the raw bytes, store, answer fast."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import DBAPIError

from ..auth import verify_line_signature
from ..domain.inbox import BadWebhookBody, handle_line_webhook
from .auth import services
from .errors import error_response

bp = Blueprint("line_webhook", __name__)
log = logging.getLogger(__name__)


@bp.post("/line/webhook")
def line_webhook():
    svc = services()
    limit = svc.config.max_webhook_bytes
    # Raw bytes (never re-serialised JSON), read with a cap: a chunked body has no length.
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return error_response(413, "body_too_large", f"webhook bodies are limited to {limit} bytes")
    if not verify_line_signature(body, request.headers.get("X-Line-Signature"),
                                 svc.config.line_channel_secret):
        return error_response(400, "invalid_signature", "X-Line-Signature does not match the body")
    try:
        result = handle_line_webhook(svc, body)
    except BadWebhookBody as exc:
        return error_response(400, "malformed_body", str(exc))
    except DBAPIError as exc:
        # Nothing was committed; LINE redelivers on a non-2xx answer when redelivery is on.
        log.warning("webhook answered 503, nothing stored: %s: %s", exc.orig.__class__.__name__,
                    str(exc.orig).splitlines()[0][:200] if str(exc.orig) else "")
        return error_response(503, "store_unavailable", "the database is unavailable; retry later")
    return jsonify({"received": result.received, "stored": result.stored,
                    "duplicates": result.duplicates, "unsupported": result.unsupported,
                    "invalid": result.invalid})
