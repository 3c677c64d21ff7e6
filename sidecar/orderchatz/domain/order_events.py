"""Events forwarded by the WordPress plugin: customer order notes and order status changes.

`record_wp_event` stores the event once (unique `event_id`) and queues its delivery;
`deliver_wp_event` (a job) finds the bound friends and queues a LINE message for each, which the
normal outbound pipeline sends. Notes the sidecar wrote itself are recognised and not sent again.
"""
from __future__ import annotations

import html
import json
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..store.models import SidecarOrderNote, WpEvent
from .errors import DomainError
from . import customer_cache, followups
from .binding import friends_for_customer, queue_outbound_text
from .customers import status_label

ORDER_EVENT_TYPES = {"order.customer_note", "order.status_changed"}

_TAG = re.compile(r"<[^>]+>")



def note_plain_text(note: str) -> str:
    """WooCommerce note text is stored HTML (entities such as `&rarr;`); LINE wants plain text."""
    text = _TAG.sub("", note.replace("<br>", "\n").replace("<br />", "\n"))
    return html.unescape(text).strip()


MAX_ID = 2**63 - 1


def _check_order_event(event: dict) -> None:
    """Refuse now what the delivery job could not use later (the plugin then logs it)."""
    for key in ("order_id", "customer_id", "note_id"):
        value = event.get(key)
        if value is None and key != "order_id":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, str)) or \
                not (str(value).isascii() and str(value).isdigit()) or int(value) > MAX_ID:
            raise DomainError("invalid_event", f"{key} must be a non-negative integer")
    for key in ("note", "billing_email", "billing_phone", "order_number", "from", "to",
                "order_edit_url", "billing_name"):
        if event.get(key) is not None and not isinstance(event[key], (str, int)):
            raise DomainError("invalid_event", f"{key} must be a string")


def record_wp_event(svc, event: dict, raw: bytes) -> str:
    """Returns "accepted", "duplicate" or "ignored" (a type this version does not handle)."""
    event_id = event.get("event_id")
    etype = event.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        raise DomainError("invalid_event", "event_id must be a non-empty string")
    if not isinstance(etype, str) or not etype:
        raise DomainError("invalid_event", "type must be a non-empty string")
    try:
        order_id = int(event.get("order_id"))
        if not 0 <= order_id <= MAX_ID:
            raise ValueError
    except (TypeError, ValueError):
        order_id = None
    if etype in ORDER_EVENT_TYPES:
        _check_order_event(event)
    try:
        with svc.store.session() as s:
            if s.scalar(select(WpEvent.id).where(WpEvent.event_id == event_id)) is not None:
                return "duplicate"
            # A type this version does not know (a newer plugin) is kept, not refused: a 4xx
            # would make the plugin retry it for two days.
            known = etype in ORDER_EVENT_TYPES
            row = WpEvent(event_id=event_id, type=etype[:40], order_id=order_id,
                          status="received" if known else "unsupported",
                          raw=raw.decode("utf-8", "replace"))
            s.add(row)
            s.flush()
            outbox = [followups.add_followup(s, "wp_event", str(row.id))] if known else []
    except IntegrityError:
        return "duplicate"
    followups.enqueue_followups(svc, outbox)
    return "accepted" if outbox else "ignored"


def order_note_text(number, note_html: str) -> str | None:
    """What the customer reads on LINE for a note to the customer on an order."""
    note = note_plain_text(note_html or "")
    return f"訂單 #{number} 備註：{note}" if note else None


def _message_text(event: dict) -> str | None:
    number = str(event.get("order_number") or event.get("order_id"))
    if event["type"] == "order.customer_note":
        return order_note_text(number, str(event.get("note") or ""))
    before = status_label(str(event.get("from") or ""))
    after = status_label(str(event.get("to") or ""))
    return f"訂單 #{number} 狀態更新：{before} → {after}"


def deliver_wp_event(svc, wp_event_id: int, *, last_attempt: bool = True) -> str:
    stale: dict | None = None  # the customer whose cached panel this event makes out of date
    try:
        with svc.store.session() as s:
            row = s.get(WpEvent, wp_event_id)
            if row is None or row.status not in ("received",):
                return row.status if row else "missing"
            event = json.loads(row.raw)
            customer_id = event.get("customer_id") or None
            stale = {"customer_id": customer_id, "email": event.get("billing_email"),
                     "phone": event.get("billing_phone")}
            note_id = event.get("note_id")
            if event["type"] == "order.customer_note" and note_id is not None and s.scalar(
                    select(SidecarOrderNote.id).where(SidecarOrderNote.note_id == int(note_id))):
                row.status = "own_note"  # written from the chat; the chat already delivered it
                return row.status
            friends = friends_for_customer(s, customer_id=customer_id,
                                           email=event.get("billing_email"),
                                           phone=event.get("billing_phone"))
            text = _message_text(event)
            if not friends or not text:
                row.status = "unbound" if not friends else "empty"
                return row.status
            outbox = []
            kind = "order_note" if event["type"] == "order.customer_note" else "order_status"
            for friend in friends:
                msg = queue_outbound_text(s, friend, text, f"wp-{row.id}-{friend.id}", kind=kind,
                                          author="WooCommerce",
                                          order={"id": row.order_id, "number": event.get("order_number"),
                                                 "edit_url": event.get("order_edit_url")})
                outbox.append(followups.add_followup(s, "send", str(msg.id)))
            row.status = "delivered"
            row.detail = json.dumps({"friends": [f.line_user_id for f in friends]})
            users = [(f.line_user_id, m.ref) for f, m in zip(friends, outbox)]
    finally:
        # Whatever happened, the cached panel is out of date; a Redis call, so not inside the
        # transaction (on SQLite that holds the writer lock every webhook waits on).
        if stale is not None:
            customer_cache.invalidate(svc, **stale)
    followups.enqueue_followups(svc, outbox)
    svc.live.publish_many([{"type": "message.created", "line_user_id": user, "message_id": int(ref)}
                           for user, ref in users])
    return "delivered"
