"""Binding a LINE friend to a shop customer: by staff, or by the customer through LINE account link.

One current binding per friend (unique `friend_id`); every bind and unbind is kept in
`binding_history` for audit. A registered customer is identified by id (the WordPress user id),
a guest buyer by billing email and/or phone.
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..store.models import Binding, BindingHistory, Friend, LinkNonce, LinkToken, Message, utcnow
from .errors import DomainError, positive_id
from . import followups
from .conversations import friend_or_404
from .customers import normalize_phone
from .messages import fit_line_text, message_preview

# LINE link tokens are valid for 10 minutes
# (https://developers.line.biz/en/docs/messaging-api/linking-accounts/).
LINK_TOKEN_TTL = timedelta(minutes=10)
NONCE_TTL = timedelta(minutes=10)
LINE_ACCOUNT_LINK_URL = "https://access.line.me/dialog/bot/accountLink"



@dataclass(frozen=True)
class LinkOutcome:
    bound: bool
    summary: str
    followups: list = field(default_factory=list)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _clean_email(email) -> str | None:
    if not email:
        return None
    if not isinstance(email, str):
        raise DomainError("invalid_email", "email must be a string")
    email = email.strip().lower()
    if len(email) > 255 or not _EMAIL.match(email):
        raise DomainError("invalid_email", "email is not valid")
    return email


def binding_json(b: Binding, others: list[dict] | None = None) -> dict:
    return {"customer_id": b.customer_id, "email": b.email, "phone": b.phone,
            "display_name": b.display_name, "kind": "registered" if b.customer_id else "guest",
            "method": b.method, "bound_by": b.bound_by,
            "bound_at": b.bound_at.isoformat().replace("+00:00", "Z"),
            "other_friends": others or []}


def friends_for_customer(s: Session, *, customer_id: int | None = None, email: str | None = None,
                         phone: str | None = None) -> list[Friend]:
    """The friends an order (or customer) belongs to.

    A registered customer's friends by id; anyone bound by the same email (a guest who later
    registered, or a registered customer's guest checkout). A phone alone is weaker evidence —
    families and offices share numbers — so it only matches a guest binding that has no email
    or the same email, never someone bound to another registered account.
    """
    email = email.strip().lower() if email else None
    national = normalize_phone(phone) if phone else None
    conditions = []
    if customer_id:
        conditions.append(Binding.customer_id == int(customer_id))
    if email:
        conditions.append(Binding.email == email)
    if national:
        conditions.append(and_(Binding.phone == national, Binding.customer_id.is_(None),
                               or_(Binding.email.is_(None), Binding.email == email)
                               if email else Binding.email.is_(None)))
    if not conditions:
        return []
    return list(s.scalars(select(Friend).join(Binding, Binding.friend_id == Friend.id)
                          .where(or_(*conditions)).order_by(Friend.id)))


def _set_binding(s: Session, friend: Friend, *, customer_id, email, phone, display_name,
                 method: str, actor: str | None) -> Binding:
    current = s.scalar(select(Binding).where(Binding.friend_id == friend.id))
    if current is None:
        current = Binding(friend_id=friend.id)
        s.add(current)
    current.customer_id = int(customer_id) if customer_id else None
    current.email = email
    current.phone = phone
    current.display_name = (display_name or "")[:255] or None
    current.method = method
    current.bound_by = actor
    current.bound_at = utcnow()
    friend.bound_label = " ".join(x for x in (display_name, email, phone) if x)[:255] or None
    s.add(BindingHistory(friend_id=friend.id, action="bind", customer_id=current.customer_id,
                         email=email, phone=phone, method=method, actor=actor))
    return current


def get_binding(svc, line_user_id: str) -> dict | None:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        b = s.scalar(select(Binding).where(Binding.friend_id == friend.id))
        if b is None:
            return None
        others = [{"line_user_id": f.line_user_id, "display_name": f.display_name}
                  for f in friends_for_customer(s, customer_id=b.customer_id,
                                                email=None if b.customer_id else b.email,
                                                phone=None if b.customer_id else b.phone)
                  if f.id != friend.id]
        return binding_json(b, others)


def _registered_identity(svc, customer_id: int, name, email):
    """Name and email of a registered customer, so the binding shows who it is and also matches
    their guest checkouts by email. The shop being down only leaves them empty."""
    from ..gateways.woo import WooError, WooNotFound
    try:
        customer = svc.woo.get_customer(customer_id)
    except WooNotFound:
        raise DomainError("not_found", f"WooCommerce has no customer {customer_id}", 404) from None
    except WooError:
        return name, email
    return (name or customer.name or None,
            email or _clean_email(customer.email or customer.billing_email or None))


def bind_friend(svc, line_user_id: str, body: dict, *, actor: str) -> dict:
    customer_id = body.get("customer_id")
    if customer_id is not None:
        customer_id = positive_id(customer_id, "invalid_customer_id", "customer_id")
    email = _clean_email(body.get("email"))
    if body.get("phone") is not None and not isinstance(body.get("phone"), str):
        raise DomainError("invalid_phone", "phone must be a string")
    phone = normalize_phone(body.get("phone")) if body.get("phone") else None
    if body.get("phone") and not phone:
        raise DomainError("invalid_phone", "phone is not a recognisable phone number")
    if not (customer_id or email or phone):
        raise DomainError("missing_customer",
                           "give customer_id (registered customer) or email/phone (guest buyer)")
    display_name = body.get("display_name") if isinstance(body.get("display_name"), str) else None
    if customer_id and not (display_name and email):
        with svc.store.session() as s:
            friend_or_404(s, line_user_id)  # 404 before asking the shop anything
        display_name, email = _registered_identity(svc, customer_id, display_name, email)
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        _set_binding(s, friend, customer_id=customer_id, email=email, phone=phone,
                     display_name=display_name, method="staff", actor=actor)
    svc.live.publish({"type": "binding.updated", "line_user_id": line_user_id})
    return get_binding(svc, line_user_id)


def unbind_friend(svc, line_user_id: str, *, actor: str) -> bool:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        b = s.scalar(select(Binding).where(Binding.friend_id == friend.id))
        if b is None:
            return False
        s.add(BindingHistory(friend_id=friend.id, action="unbind", customer_id=b.customer_id,
                             email=b.email, phone=b.phone, method="staff", actor=actor))
        s.delete(b)
        friend.bound_label = None
    svc.live.publish({"type": "binding.updated", "line_user_id": line_user_id})
    return True


def binding_history(svc, line_user_id: str) -> list[dict]:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        rows = s.scalars(select(BindingHistory).where(BindingHistory.friend_id == friend.id)
                         .order_by(BindingHistory.id.desc()))
        return [{"action": r.action, "customer_id": r.customer_id, "email": r.email,
                 "phone": r.phone, "method": r.method, "actor": r.actor,
                 "at": r.at.isoformat().replace("+00:00", "Z")} for r in rows]


def queue_outbound_text(s: Session, friend: Friend, text: str, client_id: str, *, kind: str = "text",
                        extra: list | None = None, order: dict | None = None,
                        author: str = "OrderChatz") -> Message:
    """An outbound message created inside an existing transaction (sent by the send job).

    `extra` replaces the text with other LINE messages (a template); `order` ties an order
    note or status message to its order for the panel.
    """
    existing = s.scalar(select(Message).where(Message.client_id == client_id))
    if existing is not None:
        return existing
    payload = {"messages": extra or [{"type": "text", "text": fit_line_text(text)}]}
    if order is not None:
        payload["order"] = order
    row = Message(friend_id=friend.id, direction="out", type="template" if extra else kind,
                  text=text, payload=json.dumps(payload, ensure_ascii=False),
                  client_id=client_id, status="queued", author_user_id="system",
                  author_name=author, created_at=utcnow())
    s.add(row)
    s.flush()
    friend.last_activity_at = row.created_at
    friend.last_message_preview = message_preview(row)
    friend.last_message_direction = "out"
    return row


# --- self-service binding (LINE account link) ------------------------------------------------


def send_link_button(svc, line_user_id: str, *, actor: str, link_page_base: str) -> dict:
    """Issue a LINE link token and send the friend a button to the shop's link page."""
    with svc.store.session() as s:
        if friend_or_404(s, line_user_id).blocked:
            raise DomainError("friend_blocked", "this customer has blocked the account; "
                              "LINE would not deliver the link", 409)
    link_token = svc.line.issue_link_token(line_user_id)
    url = f"{link_page_base.rstrip('/')}/?{urlencode({'orderchatz-link': link_token})}"  # home_url('/')
    text = "請點選下方按鈕登入商店會員，完成 LINE 帳號綁定。"
    template = {"type": "template", "altText": "綁定商店會員帳號",
                "template": {"type": "buttons", "text": text[:160],
                             "actions": [{"type": "uri", "label": "登入並綁定", "uri": url}]}}
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        s.add(LinkToken(link_token=link_token, friend_id=friend.id, issued_by=actor))
        row = queue_outbound_text(s, friend, text, f"linkbtn-{link_token[:48]}", extra=[template],
                          author=actor)
        outbox = [followups.add_followup(s, "send", str(row.id))]
    followups.enqueue_followups(svc, outbox)
    svc.live.publish({"type": "message.created", "line_user_id": line_user_id, "message_id": row.id})
    return {"link_url": url, "message_id": row.id}


def issue_link_nonce(svc, *, link_token: str, wp_user_id: int, email: str | None,
                     display_name: str | None) -> dict:
    """Called by the plugin's link page (signed): a one-time nonce for the logged-in WP user."""
    if not link_token or not isinstance(link_token, str):
        raise DomainError("link_token_invalid", "link_token is required")
    try:
        wp_user_id = int(wp_user_id)
    except (TypeError, ValueError):
        raise DomainError("invalid_user", "wp_user_id must be an integer") from None
    if wp_user_id <= 0:
        raise DomainError("invalid_user", "wp_user_id must be positive")
    with svc.store.session() as s:
        issued = s.scalar(select(LinkToken).where(LinkToken.link_token == link_token))
        if issued is None:
            raise DomainError("link_token_invalid", "this link is not valid", 404)
        if issued.issued_at < utcnow() - LINK_TOKEN_TTL:
            raise DomainError("link_token_expired", "this link has expired; ask for a new one", 410)
        nonce = secrets.token_urlsafe(24)  # 192 random bits; LINE wants 10–255 unguessable chars
        s.add(LinkNonce(nonce=nonce, link_token=link_token, wp_user_id=wp_user_id,
                        email=_clean_email(email) if email else None,
                        display_name=(display_name or "")[:255] or None,
                        expires_at=utcnow() + NONCE_TTL))
    base = (svc.config.line_api_base + "/dialog/bot/accountLink") if svc.config.sandbox \
        else LINE_ACCOUNT_LINK_URL
    return {"nonce": nonce,
            "redirect_url": f"{base}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"}


def complete_account_link(s: Session, friend: Friend, result: str, nonce: str) -> LinkOutcome:
    """The `accountLink` webhook: `ok` with a known, unused, fresh nonce binds; nothing else does."""
    if result != "ok":
        return LinkOutcome(False, "account link failed")
    row = s.scalar(select(LinkNonce).where(LinkNonce.nonce == nonce)) if nonce else None
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return LinkOutcome(False, "account link refused: unknown, used or expired nonce")
    row.used_at = utcnow()
    _set_binding(s, friend, customer_id=row.wp_user_id, email=row.email, phone=None,
                 display_name=row.display_name, method="self", actor=f"wp-user:{row.wp_user_id}")
    name = row.display_name or ""
    text = f"綁定成功！{name} 您好，之後訂單通知也會透過 LINE 傳送給您。".replace("！ 您好", "！您好")
    msg = queue_outbound_text(s, friend, text, f"linked-{nonce[:48]}")
    return LinkOutcome(True, "account linked", [("send", str(msg.id))])
