"""POST /wp/events: signed events from the WordPress plugin (DESIGN.md §4)."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from ..auth import AuthError, verify_wp_event
from ..domain.binding import issue_link_nonce
from ..domain.order_events import record_wp_event
from .auth import services
from .errors import error_response

bp = Blueprint("wp_events", __name__)


@bp.post("/wp/events")
def wp_events():
    svc = services()
    raw = request.get_data(cache=False)
    try:
        verify_wp_event(request.headers.get("X-OrderChatz-Signature"), raw, svc.config.shared_secret)
    except AuthError as exc:
        return error_response(401, exc.code, exc.message)
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error_response(400, "malformed_body", "the body must be JSON")
    if not isinstance(event, dict):
        return error_response(400, "malformed_body", "the body must be a JSON object")
    if event.get("type") == "link.nonce":
        return jsonify(issue_link_nonce(svc, link_token=event.get("link_token"),
                                        wp_user_id=event.get("wp_user_id"), email=event.get("email"),
                                        display_name=event.get("display_name")))
    status = record_wp_event(svc, event, raw)
    return jsonify({"status": status, "event_id": event["event_id"]})
