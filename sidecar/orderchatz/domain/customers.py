"""Finding shop customers and loading everything the customer panel shows.

WooCommerce never normalises phone numbers and its order search is a plain substring match
(shared/fixtures/woocommerce/recorded/README.md), so we search several spellings in parallel and
decide what really matches on our side, by comparing normalised values.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Literal, Sequence

from ..gateways.woo import Customer, Order, OrderQuery, WooClient, WooNotFound, parse_order_ref

STATUS_LABELS_ZH_TW = {
    "pending": "待付款",
    "processing": "處理中",
    "on-hold": "保留",
    "completed": "已完成",
    "cancelled": "已取消",
    "refunded": "已退款",
    "failed": "失敗",
    "checkout-draft": "草稿",
}
# WooCommerce's "paid" statuses (wc_get_is_paid_statuses) are what counts as money spent.
PAID_STATUSES = frozenset({"processing", "completed"})

QueryKind = Literal["phone", "email", "name", "order_number"]


# --------------------------------------------------------------------------------------------
# Phones


def phone_digits(raw: str | None) -> str:
    """Digits only, full-width digits folded to ASCII."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", raw or "") if ch.isdigit())


def normalize_phone(raw: str | None) -> str | None:
    """A Taiwanese phone number in national form (``0912345678``, ``0223456789``), or None.

    ``+886 912 345 678``, ``886-912-345-678``, ``+886 0912…`` (a common slip), ``912345678`` and
    ``(02) 2345-6789`` all normalise; text without 7–12 digits is not a phone.
    """
    digits = phone_digits(raw)
    if digits.startswith("00886"):  # international dialling prefix from abroad
        digits = digits[2:]
    if digits.startswith("886") and len(digits) >= 11:
        digits = "0" + digits[3:].lstrip("0")
    elif not digits.startswith("0") and len(digits) == 9 and digits.startswith("9"):
        digits = "0" + digits  # a mobile number typed without its leading 0
    if not 7 <= len(digits) <= 11:
        return None
    return digits


def phones_match(a: str | None, b: str | None) -> bool:
    na, nb = normalize_phone(a), normalize_phone(b)
    return na is not None and na == nb


def phone_search_variants(raw: str) -> list[str]:
    """Search terms that, as substrings, hit every usual spelling of this number.

    Searching the subscriber part without the trunk 0 / country code catches ``0912…``,
    ``+886912…`` and ``886912…`` alike; grouped variants catch dashes and spaces. None starts
    with ``+``: HPOS decodes the term twice and turns ``+`` into a space.
    """
    national = normalize_phone(raw)
    if national is None:
        return []
    local = national[1:]
    if national.startswith("09") and len(national) == 10:  # mobile: 0912-345-678
        a, b, c = local[:3], local[3:6], local[6:]
        variants = [local, f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}-{b}{c}", f"{a} {b}{c}"]
    else:
        # Landline: area code then a 7- or 8-digit number, written 2345-6789 / 234-5678.
        number = national[-8:] if len(national) == 10 else national[-7:]
        head, tail = number[:-4], number[-4:]
        variants = [number, f"{head}-{tail}", f"{head} {tail}"]
    return list(dict.fromkeys(variants))


# --------------------------------------------------------------------------------------------
# Query classification

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORDER_NUMBER = re.compile(r"^\s*#\s*\d{1,12}\s*$|^\s*\d{1,7}\s*$")
_PHONE_CHARS = re.compile(r"^[\d\s\-().+\uff10-\uff19]+$")


def classify_query(q: str) -> QueryKind | None:
    text = (q or "").strip()
    if not text:
        return None
    if "@" in text:
        return "email" if _EMAIL.match(text) else None
    if _ORDER_NUMBER.match(text):
        return "order_number"
    if _PHONE_CHARS.match(text) and normalize_phone(text) is not None:
        return "phone"
    if len(text) < 2 and not _is_cjk(text):
        return None
    return "name"


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _fold(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _email(text: str | None) -> str:
    return (text or "").strip().casefold()


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CustomerRef:
    """Who a LINE friend is bound to: a registered customer id and/or a guest email/phone.

    Keep email/phone on registered refs too: the panel finds guest checkouts with them in its
    first wave instead of waiting for the customer record.
    """
    customer_id: int | None = None
    email: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        if self.customer_id is not None and self.customer_id <= 0:
            raise ValueError("customer_id must be positive (guests are identified by email/phone)")
        if self.customer_id is None and not (self.email or self.phone):
            raise ValueError("a customer ref needs a customer id, an email or a phone")

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None


@dataclass(frozen=True)
class CustomerCandidate:
    kind: Literal["registered", "guest"]
    customer_id: int | None
    name: str
    email: str
    phone: str
    order_count: int
    last_order_date: str | None
    matched_by: QueryKind

    @property
    def ref(self) -> CustomerRef:
        return CustomerRef(customer_id=self.customer_id, email=self.email or None,
                           phone=self.phone or None)


@dataclass(frozen=True)
class OrderLine:
    name: str
    quantity: int


@dataclass(frozen=True)
class OrderSummary:
    id: int
    number: str
    date_created: str
    status: str
    status_label: str
    total: str
    currency: str
    currency_symbol: str
    items: tuple[OrderLine, ...]
    edit_url: str
    is_guest_checkout: bool


@dataclass(frozen=True)
class CustomerContext:
    ref: CustomerRef
    kind: Literal["registered", "guest"]
    customer_id: int | None
    name: str
    email: str
    phone: str
    registered_since: str | None  # None for guests (the panel shows "guest")
    order_count: int
    total_spent: str
    currency: str
    currency_symbol: str
    orders: tuple[OrderSummary, ...]


# --------------------------------------------------------------------------------------------
# Search


def search_candidates(woo: WooClient, q: str) -> list[CustomerCandidate]:
    """Candidates (registered customers and guest buyers) for a phone, email, name or order number.

    Never auto-picks: several matches come back as several candidates. At most two sequential
    waves of requests: the searches' first pages, then remaining pages and per-customer counts.
    """
    kind = classify_query(q)
    if kind is None:
        return []
    text = q.strip()
    if kind == "order_number":
        return _by_order_number(woo, text)
    if kind == "phone":
        queries = [OrderQuery(search=v) for v in phone_search_variants(text)]
        keep = lambda o: phones_match(o.billing_phone, text) or phones_match(o.shipping_phone, text)  # noqa: E731
        also = []
    elif kind == "email":
        queries = [OrderQuery(search=text)]
        keep = lambda o: _email(o.billing_email) == _email(text)  # noqa: E731
        also = [lambda: woo.find_customers_by_email(text)]
    else:
        queries = [OrderQuery(search=v) for v in name_search_variants(text)]
        keep = lambda o: name_matches(o, text)  # noqa: E731
        also = [lambda: woo.search_customers(text)]
    plan = _EnrichmentPlan(woo, keep, kind, text)
    order_lists, extra, later = woo.list_orders_many(queries, also, plan.second_wave)
    orders = _unique_orders(o for orders in order_lists for o in orders if keep(o))
    return plan.candidates(orders, later)


def name_search_variants(name: str) -> list[str]:
    """Chinese full names are stored split (first 小明, last 王) and indexed as ``小明 王``, so
    ``王小明`` never matches; also search the index's own spelling and the given name."""
    text = " ".join(name.split())
    variants = [text]
    if " " in text:
        first, _, rest = text.partition(" ")
        variants.append(f"{rest} {first}")
    elif _is_cjk(text) and 2 <= len(text) <= 4:
        # One-character surnames are the rule; two (歐陽, 司馬) happen in four-character names.
        for surname_length in ((1, 2) if len(text) == 4 else (1,)):
            surname, given = text[:surname_length], text[surname_length:]
            variants.append(f"{given} {surname}")
            if len(given) >= 2:
                variants.append(given)
    return list(dict.fromkeys(variants))


def name_matches(order: Order, query: str) -> bool:
    """True when the query is part of the billing or shipping person's name (either order) or of
    the billing company (B2B buyers are known by it)."""
    needle = _fold(query)
    if not needle:
        return False
    names = []
    for first, last in ((order.billing_first_name, order.billing_last_name),
                        (order.shipping_first_name, order.shipping_last_name)):
        names += [_fold(last + first), _fold(first + last)]
    names.append(_fold(order.billing_company))
    return any(needle in n for n in names if n)


def _customer_name_matches(customer: Customer, query: str) -> bool:
    needle = _fold(query)
    values = [_fold(customer.last_name + customer.first_name),
              _fold(customer.first_name + customer.last_name),
              _fold(customer.username), _fold(customer.email)]
    return any(needle and needle in v for v in values if v)


def _unique_orders(orders: Iterable[Order]) -> list[Order]:
    seen: dict[int, Order] = {}
    for order in orders:
        seen.setdefault(order.id, order)
    return list(seen.values())


def _by_order_number(woo: WooClient, text: str) -> list[CustomerCandidate]:
    try:
        order = woo.get_order(parse_order_ref(text))
    except WooNotFound:
        return []
    plan = _EnrichmentPlan(woo, lambda o: True, "order_number", text)
    later = woo.parallel(list(plan.second_wave([[order]], [])))
    return plan.candidates([order], later)


class _EnrichmentPlan:
    """Second-wave calls for the registered customers seen in the first wave (order count, newest
    order, profile), and the assembly of candidates once everything is in."""

    def __init__(self, woo: WooClient, keep, kind: QueryKind, text: str) -> None:
        self.woo, self.keep, self.kind, self.text = woo, keep, kind, text
        self.ids: list[int] = []
        self.known: dict[int, Customer] = {}
        self.missing: list[int] = []

    def second_wave(self, first_lists: list[list[Order]], extra: list) -> list:
        accounts = [c for c in (extra[0] if extra else [])
                    if self.kind != "name" or _customer_name_matches(c, self.text)]
        self.known = {c.id: c for c in accounts}
        seen = {o.customer_id for orders in first_lists for o in orders
                if o.customer_id > 0 and self.keep(o)}
        self.ids = sorted(seen | set(self.known))
        self.missing = [i for i in self.ids if i not in self.known]
        calls = [(lambda cid=cid: self.woo.count_customer_orders(cid)) for cid in self.ids]
        if self.missing:
            calls.append(lambda: self.woo.get_customers(self.missing))
        return calls

    def candidates(self, orders: Sequence[Order], later: list) -> list[CustomerCandidate]:
        counts = dict(zip(self.ids, later[:len(self.ids)]))
        known = dict(self.known)
        if self.missing and len(later) > len(self.ids):
            known.update({c.id: c for c in later[len(self.ids)]})
        # Customers first seen on a later page: no count request was made for them.
        ids = sorted(set(self.ids) | {o.customer_id for o in orders if o.customer_id > 0})
        return _assemble(orders, known, counts, ids, self.kind)


def _assemble(orders: Sequence[Order], known: dict[int, Customer],
              counts: dict[int, tuple[int, str | None]], registered_ids: list[int],
              kind: QueryKind) -> list[CustomerCandidate]:
    registered_emails = {_email(c.email): cid for cid, c in known.items() if c.email}
    candidates: list[CustomerCandidate] = []
    guest_groups: dict[str, list[Order]] = {}
    extra_guest: dict[int, list[Order]] = {}
    for order in orders:
        if order.customer_id > 0:
            continue
        owner = registered_emails.get(_email(order.billing_email))
        if owner is not None:
            extra_guest.setdefault(owner, []).append(order)  # same person, checked out as guest
            continue
        key = _email(order.billing_email) or (normalize_phone(order.billing_phone) or
                                              f"order:{order.id}")
        guest_groups.setdefault(key, []).append(order)

    for cid in registered_ids:
        customer = known.get(cid)
        own = [o for o in orders if o.customer_id == cid]
        guests = extra_guest.get(cid, [])
        count, newest = counts.get(cid, (len(own), None))
        dates = [d for d in [newest] + [o.date_created for o in own + guests] if d]
        sample = own[0] if own else (guests[0] if guests else None)
        name = customer.name if customer else (sample.billing_name if sample else "")
        candidates.append(CustomerCandidate(
            kind="registered", customer_id=cid, name=name,
            email=(customer.email if customer else (sample.billing_email if sample else "")),
            phone=((customer.billing_phone if customer else "") or
                   (sample.billing_phone if sample else "")),
            order_count=count + len(guests), last_order_date=max(dates) if dates else None,
            matched_by=kind))
    for group in guest_groups.values():
        newest = max(group, key=lambda o: (o.date_created, o.id))
        candidates.append(CustomerCandidate(
            kind="guest", customer_id=None, name=newest.billing_name,
            email=newest.billing_email, phone=newest.billing_phone, order_count=len(group),
            last_order_date=newest.date_created, matched_by=kind))
    candidates.sort(key=lambda c: (c.last_order_date or ""), reverse=True)
    return candidates


# --------------------------------------------------------------------------------------------
# Customer panel


def order_edit_url(order_id: int, *, admin_url: str, hpos: bool) -> str:
    """The WP admin screen of an order; HPOS and legacy (posts) storage use different screens.

    https://github.com/woocommerce/woocommerce/wiki/High-Performance-Order-Storage-Upgrade-Recipe-Book
    ``admin_url`` is WordPress' admin URL (``https://shop/wp-admin/``); a bare site URL works too.
    """
    base = admin_url.rstrip("/")
    if not base.endswith("/wp-admin"):
        base += "/wp-admin"
    if hpos:
        return f"{base}/admin.php?page=wc-orders&action=edit&id={int(order_id)}"
    return f"{base}/post.php?post={int(order_id)}&action=edit"


def status_label(status: str) -> str:
    return STATUS_LABELS_ZH_TW.get(status, status)


def _guest_queries(ref: CustomerRef) -> list[OrderQuery]:
    """Searches for guest checkouts only (``customer=0``): the registered customer's own orders
    come from ``customer=<id>``, and another account's orders are never merged in."""
    queries = []
    if ref.email:
        queries.append(OrderQuery(search=ref.email.strip(), customer=0))
    if ref.phone:
        queries += [OrderQuery(search=v, customer=0) for v in phone_search_variants(ref.phone)]
    return queries


def _is_same_guest(order: Order, email: str | None, phone: str | None) -> bool:
    """A guest checkout by the same person: same email, or same phone without a different email.

    Phones are shared (families, offices: the demo shop has three buyers on 0912345678), so a
    phone match whose order carries another email is someone else and is not merged in.
    """
    if order.customer_id != 0:
        return False  # another account's order is never merged in
    order_email = _email(order.billing_email)
    if email and order_email == _email(email):
        return True
    if not phone or not (phones_match(order.billing_phone, phone) or
                         phones_match(order.shipping_phone, phone)):
        return False
    return not email or not order_email


def load_customer_context(woo: WooClient, ref: CustomerRef, *, admin_url: str,
                          hpos: bool) -> CustomerContext:
    """Basic info and *all* orders (registered + guest checkouts under the same email/phone).

    Wave 1 (parallel): the customer record, page 1 of ``customer=<id>`` and page 1 of every guest
    search. Wave 2: all remaining pages, plus, when the ref lacks an email or phone, the guest
    searches built from the customer record (their own extra pages, rare for guest-only
    searches, follow inside that wave).
    """
    queries: list[OrderQuery] = []
    also = []
    if ref.customer_id is not None:
        queries.append(OrderQuery(customer=ref.customer_id))
        also.append(lambda: woo.get_customer(ref.customer_id))
    guest_queries = _guest_queries(ref)

    def late_guest_searches(_first_pages, extra) -> list:
        record = extra[0] if extra else None
        if record is None:
            return []
        late = _guest_queries(CustomerRef(
            customer_id=ref.customer_id,
            email=None if ref.email else (record.email or record.billing_email or None),
            phone=None if ref.phone else (record.billing_phone or None)))
        return [(lambda q=q: woo.list_orders(q)) for q in late]

    order_lists, extra, late_lists = woo.list_orders_many(queries + guest_queries, also,
                                                          late_guest_searches)
    order_lists = list(order_lists) + list(late_lists)
    customer: Customer | None = extra[0] if extra else None
    email, phone = ref.email, ref.phone
    if customer is not None:
        email = email or customer.email or customer.billing_email or None
        phone = phone or customer.billing_phone or None

    own = order_lists[0] if ref.customer_id is not None else []
    guest = [o for orders in order_lists[1 if ref.customer_id is not None else 0:]
             for o in orders if _is_same_guest(o, email, phone)]
    orders = _unique_orders(list(own) + guest)
    orders.sort(key=lambda o: (o.date_created, o.id), reverse=True)

    currency = next((o.currency for o in orders if o.currency), "")
    symbol = next((o.currency_symbol for o in orders if o.currency_symbol), "")
    spent = sum((_money(o.total) for o in orders if o.status in PAID_STATUSES), Decimal(0))
    newest = orders[0] if orders else None
    if customer is not None:
        name = customer.name
        shown_email = customer.email or customer.billing_email
        shown_phone = customer.billing_phone or (phone or "")
    else:
        name = newest.billing_name if newest else ""
        shown_email = (newest.billing_email if newest else "") or (email or "")
        shown_phone = (newest.billing_phone if newest else "") or (phone or "")
    return CustomerContext(
        ref=ref,
        kind="registered" if ref.customer_id is not None else "guest",
        customer_id=ref.customer_id,
        name=name,
        email=shown_email,
        phone=shown_phone,
        registered_since=customer.date_created if customer else None,
        order_count=len(orders),
        total_spent=_money_text(spent),
        currency=currency,
        currency_symbol=symbol,
        orders=tuple(_summary(o, admin_url=admin_url, hpos=hpos) for o in orders),
    )


def context_to_dict(context: CustomerContext) -> dict:
    """JSON-ready (snake_case) form, for the panel API and caches; inverse of context_from_dict."""
    return dataclasses.asdict(context)


def context_from_dict(data: dict) -> CustomerContext:
    orders = tuple(
        OrderSummary(**{**o, "items": tuple(OrderLine(**i) for i in o["items"])})
        for o in data["orders"])
    return CustomerContext(**{**data, "ref": CustomerRef(**data["ref"]), "orders": orders})


def candidate_to_dict(candidate: CustomerCandidate) -> dict:
    return {**dataclasses.asdict(candidate), "ref": dataclasses.asdict(candidate.ref)}


def _summary(order: Order, *, admin_url: str, hpos: bool) -> OrderSummary:
    return OrderSummary(
        id=order.id, number=order.number, date_created=order.date_created,
        status=order.status, status_label=status_label(order.status), total=order.total,
        currency=order.currency, currency_symbol=order.currency_symbol,
        items=tuple(OrderLine(i.name, i.quantity) for i in order.items),
        edit_url=order_edit_url(order.id, admin_url=admin_url, hpos=hpos),
        is_guest_checkout=order.customer_id == 0)


def _money(value: str) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        return Decimal(0)


def _money_text(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


__all__ = [
    "STATUS_LABELS_ZH_TW", "CustomerCandidate", "CustomerContext", "CustomerRef", "OrderLine",
    "OrderSummary", "candidate_to_dict", "classify_query", "context_from_dict", "context_to_dict", "load_customer_context", "name_matches",
    "name_search_variants", "normalize_phone", "order_edit_url", "phone_search_variants",
    "phones_match", "search_candidates", "status_label",
]
