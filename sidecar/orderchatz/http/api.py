"""Panel JSON API: conversations, messages, read state, media, unread totals."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request, send_file

from ..domain import conversations as conv
from ..domain.media import media_file
from ..domain.messages import message_json
from ..domain.outbound import Author, queue_outbound_message, retry_failed_message
from .auth import require_panel_user, services
from .errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer") from None


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_body", "the request body must be a JSON object")
    return body


def author() -> Author:
    return Author(user_id=g.user.user_id, name=g.user.name)


@bp.get("/conversations")
@require_panel_user
def list_conversations():
    return jsonify(conv.list_conversations(
        services(), q=request.args.get("q", ""), filter=request.args.get("filter", ""),
        tag=request.args.get("tag", ""), cursor=request.args.get("cursor", ""),
        limit=_int_arg("limit") or 50))


@bp.get("/conversations/<line_user_id>")
@require_panel_user
def get_conversation(line_user_id: str):
    return jsonify(conv.get_conversation(services(), line_user_id))


@bp.get("/conversations/<line_user_id>/messages")
@require_panel_user
def list_messages(line_user_id: str):
    return jsonify(conv.list_messages(services(), line_user_id, before=_int_arg("before"),
                                      after=_int_arg("after"), limit=_int_arg("limit") or 50))


@bp.post("/conversations/<line_user_id>/messages")
@require_panel_user
def send_message(line_user_id: str):
    from ..domain.catalog import with_product_card
    svc = services()
    row, created = queue_outbound_message(svc, line_user_id, json_body(), author(),
                                          load_product_card=lambda body: with_product_card(svc, body))
    resp = jsonify({"message": message_json(row), "created": created})
    resp.status_code = 202
    return resp


@bp.post("/conversations/<line_user_id>/messages/<int:message_id>/retry")
@require_panel_user
def retry_message(line_user_id: str, message_id: int):
    row = retry_failed_message(services(), line_user_id, message_id)
    resp = jsonify({"message": message_json(row)})
    resp.status_code = 202
    return resp


@bp.post("/conversations/<line_user_id>/read")
@require_panel_user
def mark_read(line_user_id: str):
    conv.mark_read(services(), line_user_id)
    return jsonify({"line_user_id": line_user_id, "unread_count": 0})


@bp.get("/unread")
@require_panel_user
def unread():
    return jsonify(conv.unread_totals(services()))


@bp.get("/media/<int:message_id>")
@require_panel_user
def media(message_id: int):
    svc = services()
    with svc.store.session() as s:
        from ..store.models import Message
        row = s.get(Message, message_id)
    path = media_file(svc, row) if row is not None else None
    if path is None:
        raise ApiError(404, "media_unavailable", "this attachment is not available")
    resp = send_file(path, mimetype=row.media_content_type or "application/octet-stream",
                     conditional=True, max_age=3600)
    resp.headers["Cache-Control"] = "private, max-age=3600"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
