"""GET /api/v1/stream: live updates as Server-Sent Events, fed by the Redis stream.

EventSource cannot send an Authorization header, so the panel first trades its Bearer token for a
short ticket (60 s, usable only for the stream). `Last-Event-ID` resumes after a dropped connection.
"""
from __future__ import annotations

import json
import re
import time

import jwt
import redis
from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from .auth import authenticate, bearer_token, require_panel_user, services
from .errors import ApiError

bp = Blueprint("stream", __name__, url_prefix="/api/v1")

TICKET_AUDIENCE = "orderchatz-stream"
TICKET_LIFETIME = 60
STREAM_LIFETIME = 600  # then the client reconnects with a fresh ticket
BLOCK_MS = 15_000
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@bp.post("/stream/ticket")
@require_panel_user
def ticket():
    now = int(time.time())
    token = jwt.encode({"aud": TICKET_AUDIENCE, "sub": g.user.user_id, "iat": now,
                        "exp": now + TICKET_LIFETIME}, services().config.shared_secret,
                       algorithm="HS256")
    return jsonify({"ticket": token, "expires_in": TICKET_LIFETIME})


def _stream_user() -> str:
    token = bearer_token()
    if token:
        return authenticate(token).user_id
    ticket = request.args.get("ticket", "")
    if not ticket:
        raise ApiError(401, "missing_token", "a Bearer token or ?ticket= is required")
    try:
        claims = jwt.decode(ticket, services().config.shared_secret, algorithms=["HS256"],
                            audience=TICKET_AUDIENCE, leeway=5)
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, "invalid_ticket", f"stream ticket refused: {exc}") from None
    return str(claims["sub"])


@bp.get("/stream")
def stream():
    _stream_user()
    svc = services()
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or ""
    if last and not STREAM_ID.match(last):
        raise ApiError(400, "invalid_parameter", "Last-Event-ID must be a stream id such as 1700000000000-0")
    reader = redis.Redis.from_url(svc.config.redis_url, socket_connect_timeout=1,
                                  socket_timeout=BLOCK_MS / 1000 + 5)
    try:
        start = last or svc.live.last_id()
    except redis.RedisError:
        reader.close()
        raise ApiError(503, "live_unavailable", "live updates are unavailable (Redis is down)")

    def events():
        cursor = start
        deadline = time.monotonic() + STREAM_LIFETIME
        yield f"retry: 3000\nevent: hello\nid: {cursor}\ndata: {json.dumps({'last_id': cursor})}\n\n"
        try:
            while time.monotonic() < deadline:
                try:
                    batch = svc.live.read(cursor, block_ms=BLOCK_MS, client=reader)
                except redis.RedisError:
                    yield "event: unavailable\ndata: {}\n\n"
                    return
                if not batch:
                    yield ": keepalive\n\n"
                    continue
                for entry_id, event in batch:
                    cursor = entry_id
                    yield f"id: {entry_id}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
        finally:
            reader.close()

    resp = Response(stream_with_context(events()), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return resp
