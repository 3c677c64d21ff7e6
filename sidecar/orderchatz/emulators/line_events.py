"""Webhook event objects shaped like the ones the LINE Platform sends.

Shapes follow the "Webhook Event Objects" section of
https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects and the SDK v3
models that parse them (`linebot.v3.webhooks`): every event carries `type`, `mode: "active"`,
`timestamp` (ms), `source`, a ULID `webhookEventId` and `deliveryContext.isRedelivery`; message
events carry `quoteToken` and `markAsReadToken`; follow events carry `follow.isUnblocked`
(without it SDK 3.27 falls back to UnknownEvent).
"""
from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float | None = None) -> str:
    """A ULID (48-bit ms timestamp + 80 random bits, Crockford base32), as `webhookEventId` is."""
    ms = int((now if now is not None else time.time()) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_reply_token() -> str:
    """32 lowercase hex characters, like the reply tokens in LINE's reference examples."""
    return uuid.uuid4().hex


def new_opaque_token(length: int = 43) -> str:
    """An opaque URL-safe token (quote tokens, mark-as-read tokens, link tokens)."""
    return secrets.token_urlsafe(length)[:length]


def user_source(user_id: str) -> dict[str, Any]:
    return {"type": "user", "userId": user_id}


def group_source(group_id: str, user_id: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"type": "group", "groupId": group_id}
    if user_id:
        source["userId"] = user_id
    return source


def room_source(room_id: str, user_id: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"type": "room", "roomId": room_id}
    if user_id:
        source["userId"] = user_id
    return source


def chat_id_of(source: dict[str, Any] | None) -> str | None:
    """The id a reply to this source is delivered to (the group/room for group/room sources)."""
    if not source:
        return None
    return source.get("groupId") or source.get("roomId") or source.get("userId")


def base_event(event_type: str, source: dict[str, Any] | None, *, timestamp_ms: int | None = None,
               redelivery: bool = False, mode: str = "active") -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        "webhookEventId": new_ulid(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if source is not None:
        event["source"] = source
    return event
