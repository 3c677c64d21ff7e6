"""Outbound messages: queued durably by the API, sent by a job, never twice.

The job prefers the friend's newest unused reply token while it is fresh (replies are free; LINE
honours a token for about a minute — https://developers.line.biz/en/reference/messaging-api/#send-reply-message),
otherwise it pushes with an `X-Line-Retry-Key` derived from the message id, so a retried push that
LINE already accepted answers 409 instead of delivering again
(https://developers.line.biz/en/docs/messaging-api/retrying-api-request/).
"""
from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import urlsplit
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..gateways.line import (LineAlreadyAccepted, LineError, LineInvalidReplyToken,
                             LineQuotaExceeded)
from ..store.models import Friend, Message, utcnow
from .conversations import friend_or_404
from .errors import DomainError
from . import followups
from .messages import LINE_TEXT_LIMIT, message_preview, update_message, utf16_len

log = logging.getLogger(__name__)

RETRY_NAMESPACE = uuid.UUID("6f1c7f0e-2b1d-4c55-9a43-0c1b2a7e9d11")

FAILURE_REASONS = {
    "quota_exhausted": "本月訊息額度已用完（LINE monthly quota exhausted）",
    "blocked": "顧客已封鎖官方帳號，訊息無法送達（the customer has blocked the account）",
    "invalid_message": "LINE 拒絕此訊息格式（invalid message）",
    "line_unavailable": "LINE 暫時無法連線，已多次重試（LINE unavailable）",
    "rate_limited": "LINE 限制傳送頻率，已多次重試（rate limited）",
    "line_auth": "LINE 頻道存取權杖無效（channel access token rejected）",
    "unconfirmed": "傳送中斷，無法確認是否送達（delivery unconfirmed）",
}



@dataclass(frozen=True)
class Author:
    user_id: str
    name: str


def retry_key_for(message_id: int) -> str:
    return str(uuid.uuid5(RETRY_NAMESPACE, f"orderchatz-message-{message_id}"))


def build_line_messages(body: dict, *, product_card=None) -> tuple[str, str | None, list[dict]]:
    """Validate an API send request; returns (type, text, LINE message objects)."""
    mtype = body.get("type", "text")
    if mtype == "text":
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DomainError("invalid_text", "text must be a non-empty string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise DomainError("invalid_text", "text contains an unpaired surrogate") from None
        if utf16_len(text) > LINE_TEXT_LIMIT:
            raise DomainError("text_too_long",
                                f"text is {utf16_len(text)} UTF-16 units; LINE allows {LINE_TEXT_LIMIT}")
        message = {"type": "text", "text": text}
        quote = body.get("quote_token")
        if quote:
            if not isinstance(quote, str) or len(quote) > 255:
                raise DomainError("invalid_quote_token", "quote_token must be a string")
            message["quoteToken"] = quote
        return "text", text, [message]
    if mtype == "sticker":
        package, sticker = body.get("package_id"), body.get("sticker_id")
        if not (isinstance(package, (str, int)) and isinstance(sticker, (str, int))
                and str(package).isdigit() and str(sticker).isdigit()):
            raise DomainError("invalid_sticker", "package_id and sticker_id must be numeric ids")
        return "sticker", None, [{"type": "sticker", "packageId": str(package),
                                  "stickerId": str(sticker)}]
    if mtype == "image":
        original, preview = body.get("original_url"), body.get("preview_url") or body.get("original_url")
        for url in (original, preview):
            if not (isinstance(url, str) and len(url) <= 2000 and urlsplit(url).scheme == "https"
                    and urlsplit(url).netloc):
                raise DomainError("invalid_image", "image URLs must be absolute https:// URLs")
        return "image", None, [{"type": "image", "originalContentUrl": original,
                                "previewImageUrl": preview}]
    if mtype == "product":
        if product_card is None:
            raise DomainError("invalid_product", "product cards need a product_id")
        return "product", None, [product_card]
    raise DomainError("unsupported_type", f"message type {mtype!r} cannot be sent")


def _existing(s, client_id: str, friend: Friend) -> Message | None:
    row = s.scalar(select(Message).where(Message.client_id == client_id))
    if row is not None and row.friend_id != friend.id:
        raise DomainError("client_id_conflict", "this client_id was used for another conversation", 409)
    return row


def queue_outbound_message(svc, line_user_id: str, body: dict, author: Author, *,
                           load_product_card=None) -> tuple[Message, bool]:
    """Store the message as `queued` (idempotent on client_id); returns (message, created).

    `load_product_card()` (for product sends) is only called when the message is new, so a
    retried send that was already stored does not depend on the shop answering.
    """
    client_id = body.get("client_id") or uuid.uuid4().hex
    if not isinstance(client_id, str) or len(client_id) > 64:
        raise DomainError("invalid_client_id", "client_id must be a string of at most 64 chars")
    product_card = None
    if body.get("type") == "product" and load_product_card is not None:
        with svc.store.session() as s:  # an already stored send must not wait on the shop
            existing = _existing(s, client_id, friend_or_404(s, line_user_id))
        if existing is not None:
            return existing, False
        product_card, body = load_product_card(body)
    try:
        with svc.store.session() as s:
            friend = friend_or_404(s, line_user_id)
            existing = _existing(s, client_id, friend)
            if existing is not None:
                return existing, False
            mtype, text, messages = build_line_messages(body, product_card=product_card)
            row = Message(friend_id=friend.id, direction="out", type=mtype, text=text,
                          payload=json.dumps({"messages": messages, **({"product": body["product"]}
                                              if "product" in body else {})}, ensure_ascii=False),
                          client_id=client_id, status="queued", quote_token=None,
                          author_user_id=author.user_id, author_name=author.name,
                          created_at=utcnow())
            s.add(row)
            s.flush()
            outbox = [followups.add_followup(s, "send", str(row.id))]
            friend.last_activity_at = row.created_at
            friend.last_message_preview = message_preview(row)
            friend.last_message_direction = "out"
            friend.unread_count = 0
    except IntegrityError:
        # Two identical requests raced; the other one stored it.
        with svc.store.session() as s:
            return s.scalar(select(Message).where(Message.client_id == client_id)), False
    followups.enqueue_followups(svc, outbox)
    svc.live.publish({"type": "message.created", "line_user_id": line_user_id, "message_id": row.id})
    return row, True


def _claim_reply_token(s, friend_id: int, max_age: float) -> Message | None:
    """Atomically take the newest fresh, unused reply token of the friend (single use)."""
    cutoff = utcnow() - timedelta(seconds=max_age)
    candidate = s.scalar(
        select(Message).where(Message.friend_id == friend_id, Message.direction.in_(("in", "system")),
                              Message.reply_token.is_not(None), Message.reply_token_used_at.is_(None),
                              Message.created_at >= cutoff)
        .order_by(Message.id.desc()).limit(1))
    if candidate is None:
        return None
    claimed = s.execute(update(Message).where(Message.id == candidate.id,
                                              Message.reply_token_used_at.is_(None))
                        .values(reply_token_used_at=utcnow())).rowcount
    return candidate if claimed == 1 else None


def _fail(svc, message_id: int, code: str, detail: str | None = None) -> None:
    reason = FAILURE_REASONS.get(code, code)
    if detail:
        reason = f"{reason}: {detail}"
    update_message(svc, message_id, status="failed", failure_code=code, failure_reason=reason[:2000])


def send_outbound_message(svc, message_id: int, *, last_attempt: bool = True) -> str:
    """Deliver one queued message. Safe to run twice; raises retryable LINE errors for RQ."""
    with svc.store.session() as s:
        row = s.get(Message, message_id)
        if row is None or row.direction != "out":
            return "missing"
        if row.status in ("sent", "failed"):
            return row.status
        friend = s.get(Friend, row.friend_id)
        messages = json.loads(row.payload)["messages"]
        if friend.blocked:
            blocked = True
        else:
            blocked = False
            previous_via = row.sent_via
            token_row = None
            if previous_via is None:
                token_row = _claim_reply_token(s, friend.id, svc.config.reply_token_max_age)
            via = "reply" if token_row is not None else "push"
            row.sent_via = via
            row.status = "sending"
            row.attempts = (row.attempts or 0) + 1
            row.attempted_at = utcnow()
            reply_token = token_row.reply_token if token_row is not None else None
        to = friend.line_user_id
    if blocked:
        _fail(svc, message_id, "blocked")
        return "failed"
    if previous_via == "reply":
        # An earlier run claimed a reply token and was interrupted before recording the result:
        # LINE may have delivered it. Pushing now could deliver twice, so say so instead.
        _fail(svc, message_id, "unconfirmed")
        return "failed"

    if via == "reply":
        try:
            svc.line.reply(reply_token, messages)
            update_message(svc, message_id, status="sent", sent_at=utcnow(), failure_code=None,
                    failure_reason=None)
            return "sent"
        except LineInvalidReplyToken:
            log.info("reply token of message %s rejected; falling back to push", message_id)
            with svc.store.session() as s:
                s.execute(update(Message).where(Message.id == message_id).values(sent_via="push"))
        except LineError as exc:
            if not exc.retryable:
                _fail(svc, message_id, exc.code, _detail(exc))
                return "failed"
            # Whether LINE acted on a reply that timed out is unknowable and replies carry no
            # retry key; the retry continues as a push only if LINE surely refused it (5xx/429).
            with svc.store.session() as s:
                s.execute(update(Message).where(Message.id == message_id).values(sent_via="push"))
            if exc.status is None:
                _fail(svc, message_id, "unconfirmed", exc.message)
                return "failed"
    try:
        svc.line.push(to, messages, retry_key=retry_key_for(message_id))
    except LineAlreadyAccepted:
        pass  # a previous attempt with this retry key was accepted: it is sent, once
    except LineQuotaExceeded as exc:
        _fail(svc, message_id, exc.code, exc.message)
        return "failed"
    except LineError as exc:
        if exc.retryable and not last_attempt:
            with svc.store.session() as s:
                s.execute(update(Message).where(Message.id == message_id)
                          .values(status="queued", failure_code=exc.code,
                                  failure_reason=f"{FAILURE_REASONS.get(exc.code, exc.code)}（重試中 retrying）"))
            raise
        _fail(svc, message_id, exc.code, _detail(exc))
        return "failed"
    update_message(svc, message_id, status="sent", sent_via="push", sent_at=utcnow(),
            failure_code=None, failure_reason=None)
    return "sent"


def _detail(exc: LineError) -> str:
    if exc.details:
        return "; ".join(f"{prop}: {msg}" if prop else msg for prop, msg in exc.details)
    return exc.message


def retry_failed_message(svc, line_user_id: str, message_id: int) -> Message:
    """Agent-requested retry of a failed message: same id, so the same push retry key."""
    with svc.store.session() as s:
        row = s.scalar(select(Message).join(Friend, Friend.id == Message.friend_id)
                       .where(Message.id == message_id, Friend.line_user_id == line_user_id,
                              Message.direction == "out"))
        if row is None:
            raise DomainError("not_found", "no such outbound message", 404)
        if row.status != "failed":
            raise DomainError("not_failed", "only failed messages can be retried", 409)
        row.status = "queued"
        row.failure_code = None
        row.failure_reason = None
        if row.sent_via == "reply":
            row.sent_via = "push"
        outbox = [followups.add_followup(s, "send", f"{row.id}:retry{row.attempts}")]
    followups.enqueue_followups(svc, outbox)
    svc.live.publish({"type": "message.updated", "line_user_id": line_user_id, "message_id": row.id})
    return row
