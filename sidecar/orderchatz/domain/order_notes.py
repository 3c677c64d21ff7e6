"""Order lookup and WooCommerce order notes written from the chat.

A note "to the customer" is a WooCommerce customer note (WooCommerce emails it). The sidecar also
delivers it to the bound friends on LINE itself, and remembers the note id so the plugin's
forwarded copy of the same note is not delivered again.
"""
from __future__ import annotations

from dataclasses import asdict

from ..gateways.woo import parse_order_ref
from ..store.models import SidecarOrderNote
from .errors import DomainError
from . import customer_cache, followups
from .binding import friends_for_customer, queue_outbound_text
from .customers import order_edit_url, status_label
from .order_events import note_plain_text, order_note_text



def order_json(order, *, admin_url: str, hpos: bool) -> dict:
    return {"id": order.id, "number": order.number, "status": order.status,
            "status_label": status_label(order.status), "date_created": order.date_created,
            "total": order.total, "currency": order.currency,
            "currency_symbol": order.currency_symbol, "customer_id": order.customer_id,
            "is_guest_checkout": order.is_guest,
            "billing": {"name": order.billing_name, "email": order.billing_email,
                        "phone": order.billing_phone, "company": order.billing_company},
            "shipping_phone": order.shipping_phone, "customer_note": order.customer_note,
            "payment_method_title": order.payment_method_title,
            "items": [{"name": i.name, "quantity": i.quantity, "product_id": i.product_id}
                      for i in order.items],
            "edit_url": order_edit_url(order.id, admin_url=admin_url, hpos=hpos)}


def note_json(note) -> dict:
    data = asdict(note)
    data["text"] = note_plain_text(note.note)
    return data


def get_order(svc, ref: str, *, admin_url: str, hpos: bool) -> dict:
    try:
        order_id = parse_order_ref(ref)
    except ValueError:
        raise DomainError("invalid_order", "give an order number such as 12345 or #12345") from None
    order, notes = svc.woo.get_order_with_notes(order_id)
    return {"order": order_json(order, admin_url=admin_url, hpos=hpos),
            "notes": [note_json(n) for n in notes]}


def add_order_note(svc, ref: str, body: dict, *, staff_name: str = "") -> dict:
    note_text = body.get("note")
    customer_note = body.get("customer_note", False)
    if not isinstance(note_text, str) or not note_text.strip():
        raise DomainError("invalid_note", "note must be a non-empty string")
    if len(note_text) > 5000:
        raise DomainError("invalid_note", "note is longer than 5,000 characters")
    if not isinstance(customer_note, bool):
        raise DomainError("invalid_note", "customer_note must be true or false")
    try:
        order_id = parse_order_ref(ref)
    except ValueError:
        raise DomainError("invalid_order", "give an order number such as 12345 or #12345") from None
    if staff_name and not customer_note:
        # WooCommerce credits REST notes to the API key's owner; a private note keeps the
        # staff member who wrote it (a note to the customer is sent as written).
        note_text = f"{note_text}\n— {staff_name}（OrderChatz）"
    order, note = svc.woo.parallel([lambda: svc.woo.get_order(order_id),
                                    lambda: svc.woo.add_order_note(order_id, note_text, customer_note)])
    delivered_to: list[str] = []
    outbox = []
    with svc.store.session() as s:
        s.add(SidecarOrderNote(note_id=note.id, order_id=order_id, customer_note=note.customer_note))
        if note.customer_note:
            friends = friends_for_customer(s, customer_id=order.customer_id or None,
                                           email=order.billing_email, phone=order.billing_phone)
            text = order_note_text(order.number, note.note)
            for friend in friends if text else ():
                msg = queue_outbound_text(s, friend, text, f"note-{note.id}-{friend.id}", kind="order_note",
                                          order={"id": order.id, "number": order.number})
                outbox.append(followups.add_followup(s, "send", str(msg.id)))
                delivered_to.append(friend.line_user_id)
    followups.enqueue_followups(svc, outbox)
    svc.live.publish_many([{"type": "message.created", "line_user_id": user, "message_id": int(row.ref)}
                           for user, row in zip(delivered_to, outbox)])
    customer_cache.invalidate(svc, customer_id=order.customer_id or None,
                              email=order.billing_email, phone=order.billing_phone)
    return {"note": note_json(note), "customer_note": note.customer_note,
            "emailed_customer": note.customer_note, "delivered_on_line": delivered_to}
