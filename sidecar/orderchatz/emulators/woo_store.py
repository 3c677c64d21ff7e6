"""In-memory WooCommerce shop for the emulator: the recorded data and the query semantics
observed on the recorded WooCommerce 7.9 (see shared/fixtures/woocommerce/recorded/README.md).
"""
from __future__ import annotations

import copy
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping
from urllib.parse import unquote_plus

from .woo_data import API_USER_DISPLAY_NAME, SeedData

SHOP_TZ = timezone(timedelta(hours=8))  # Asia/Taipei, as on the recorded shop
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed", "checkout-draft", "trash")
STATUS_TITLES = {"pending": "Pending payment", "processing": "Processing", "on-hold": "On hold",
                 "completed": "Completed", "cancelled": "Cancelled", "refunded": "Refunded",
                 "failed": "Failed", "checkout-draft": "Draft"}
_WHITESPACE = re.compile(r"[\r\n\t ]+")
PRODUCT_STATUSES = ("any", "draft", "pending", "private", "publish", "future", "trash")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, data: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.data = {"status": status, **(data or {})}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    total: int
    total_pages: int
    page: int
    past_last_page: bool


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def local_and_gmt(now: datetime) -> tuple[str, str]:
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    return (now.astimezone(SHOP_TZ).strftime("%Y-%m-%dT%H:%M:%S"),
            now.strftime("%Y-%m-%dT%H:%M:%S"))


def invalid_param(name: str, message: str, detail_code: str = "rest_invalid_param") -> ApiError:
    return ApiError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", {
        "params": {name: message},
        "details": {name: {"code": detail_code, "message": message, "data": None}},
    })


def int_param(params: Mapping[str, str], name: str, default: int, low: int | None = None,
              high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} (inclusive) and {high} (inclusive)" if high is not None else \
            f"greater than or equal to {low}"
        raise invalid_param(name, f"{name} must be {bounds}", "rest_out_of_bounds")
    return value


def id_list(raw: str | None) -> list[int] | None:
    if raw is None or raw == "":
        return None
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise invalid_param("include", "include[0] is not of type integer.", "rest_invalid_type")


def sanitize_text_field(value: str) -> str:
    """WordPress' sanitize_text_field as far as search terms matter: collapse whitespace, trim."""
    return _WHITESPACE.sub(" ", value or "").strip()


def rest_boolean(name: str, value: Any) -> bool:
    """WordPress' rest_sanitize_boolean with rest_is_boolean validation."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", ""):
        return value.lower() in ("true", "1")
    raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")


def paginate(items: list[dict[str, Any]], params: Mapping[str, str]) -> tuple[list[dict], int, int, int]:
    per_page = int_param(params, "per_page", 10, 1, 100)
    page = int_param(params, "page", 1, 1)
    total = len(items)
    total_pages = math.ceil(total / per_page) if total else 0
    start = (page - 1) * per_page
    return items[start:start + per_page], total, total_pages, page


def _lower(value: Any) -> str:
    return str(value or "").casefold()


class WooShop:
    """Thread-safe state of the emulated shop."""

    def __init__(self, seed: SeedData, storage: str,
                 clock: Callable[[], datetime] | None = None) -> None:
        if storage not in ("hpos", "cpt"):
            raise ValueError("storage must be 'hpos' or 'cpt'")
        self.storage = storage
        self.clock = clock or utc_now
        self._lock = threading.RLock()
        self.orders = copy.deepcopy(seed.orders)
        self.customers = copy.deepcopy(seed.customers)
        self.products = copy.deepcopy(seed.products)
        self._notes = copy.deepcopy(seed.notes)
        self._next_note_id = seed.next_note_id
        self._next_item_id = 10_000
        self._index_cache: dict[int, list[str]] = {}  # order id → lower-cased search haystacks

    # -- orders --------------------------------------------------------------------------------

    def _order_index(self, order: dict[str, Any]) -> list[str]:
        cached = self._index_cache.get(order["id"])
        if cached is None:
            cached = self._index_cache[order["id"]] = self._build_index(order)
        return cached

    @staticmethod
    def _build_index(order: dict[str, Any]) -> list[str]:
        b, s = order.get("billing", {}), order.get("shipping", {})
        billing = " ".join(_lower(b.get(k)) for k in ("first_name", "last_name", "company",
                           "address_1", "address_2", "city", "state", "postcode", "country",
                           "email", "phone"))
        shipping = " ".join(_lower(s.get(k)) for k in ("first_name", "last_name", "company",
                            "address_1", "address_2", "city", "state", "postcode", "country",
                            "phone"))
        return [billing, shipping] + [_lower(i.get("name")) for i in order.get("line_items", [])]

    @staticmethod
    def _order_title(order: dict[str, Any]) -> str:
        created = datetime.strptime(order["date_created"], "%Y-%m-%dT%H:%M:%S")
        return "Order &ndash; " + created.strftime("%B %d, %Y @ %I:%M %p")

    def _search_orders(self, term: str, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.storage == "hpos":
            # HPOS url-decodes the already-decoded term once more: '%2B' arrives as '+', becomes ' '.
            term = unquote_plus(term)
        needle = term.casefold()
        if not needle:
            return candidates
        matched: set[int] = set()
        for order in candidates:
            if any(needle in text for text in self._order_index(order)):
                matched.add(order["id"])
        if term.isdigit():
            matched.update(o["id"] for o in candidates if o["id"] == int(term))
        if self.storage == "cpt":
            # CPT also matches every order of a customer whose *profile* phone equals the term.
            owners = {c["id"] for c in self.customers.values()
                      if term and term in (c.get("billing", {}).get("phone"),
                                           c.get("shipping", {}).get("phone"))}
            matched.update(o["id"] for o in candidates if o.get("customer_id") in owners)
            if not matched:
                # ... and falls back to WordPress' post search over title / excerpt / content.
                words = [w.casefold() for w in term.split() if w]
                for order in candidates:
                    haystacks = (self._order_title(order).casefold(),
                                 _lower(order.get("customer_note")))
                    if words and all(any(w in h for h in haystacks) for w in words):
                        matched.add(order["id"])
        return [o for o in candidates if o["id"] in matched]

    def list_orders(self, params: Mapping[str, str]) -> ListResult:
        with self._lock:
            orders = list(self.orders.values())
        statuses = [s for s in (params.get("status") or "any").split(",") if s]
        for status in statuses:
            if status != "any" and status not in ORDER_STATUSES:
                raise invalid_param("status", f"status[0] is not one of any, "
                                    f"{', '.join(ORDER_STATUSES)}.", "rest_not_in_enum")
        if "any" not in statuses:
            orders = [o for o in orders if o["status"] in statuses]
        else:
            orders = [o for o in orders if o["status"] not in ("trash", "checkout-draft")]
        if params.get("customer") not in (None, ""):
            customer = int_param(params, "customer", 0, 0)
            orders = [o for o in orders if o.get("customer_id") == customer]
        include = id_list(params.get("include"))
        if include is not None:
            orders = [o for o in orders if o["id"] in include]
        search = sanitize_text_field(params.get("search", ""))
        if search:
            orders = self._search_orders(search, orders)
        orderby = params.get("orderby") or "date"
        if orderby not in ("date", "id", "include", "title", "slug", "modified"):
            raise invalid_param("orderby", "orderby is not one of date, id, include, title, slug, "
                                "modified.", "rest_not_in_enum")
        order = (params.get("order") or "desc").lower()
        if order not in ("asc", "desc"):
            raise invalid_param("order", "order is not one of asc and desc.", "rest_not_in_enum")
        reverse = order == "desc"
        if orderby == "id":
            orders.sort(key=lambda o: o["id"], reverse=reverse)
        elif orderby == "modified":
            orders.sort(key=lambda o: (o["date_modified_gmt"], o["id"]), reverse=reverse)
        else:
            # Recorded: identical dates are broken by id in the same direction (stable pages).
            orders.sort(key=lambda o: (o["date_created_gmt"], o["id"]), reverse=reverse)
        items, total, total_pages, page = paginate(orders, params)
        past = page > total_pages and page > 1
        if past and self.storage == "hpos":
            total, total_pages = 0, 0  # recorded: HPOS reports zeros past the last page
        return ListResult(items, total, total_pages, page, past)

    def get_order(self, order_id: int, code: str = "woocommerce_rest_shop_order_invalid_id",
                  message: str = "Invalid ID.") -> dict[str, Any]:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                raise ApiError(404, code, message)
            return copy.deepcopy(order)

    def update_order(self, order_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                raise ApiError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            local, gmt = local_and_gmt(self.clock())
            if "status" in changes:
                new = str(changes["status"])
                if new not in ORDER_STATUSES[:-1]:
                    raise invalid_param("status", "status is not one of "
                                        f"{', '.join(ORDER_STATUSES[:-1])}.", "rest_not_in_enum")
                old = order["status"]
                if new != old:
                    order["status"] = new
                    if new in ("processing", "completed") and not order.get("date_paid"):
                        order["date_paid"], order["date_paid_gmt"] = local, gmt
                    if new == "completed":
                        order["date_completed"], order["date_completed_gmt"] = local, gmt
                    # WC_Order::is_editable() / needs_payment() follow the status.
                    order["is_editable"] = new in ("pending", "on-hold", "checkout-draft")
                    order["needs_payment"] = new in ("pending", "failed") and \
                        float(order.get("total") or 0) > 0
                    self._add_note(order_id, f"Order status changed from {STATUS_TITLES[old]} to "
                                   f"{STATUS_TITLES[new]}.", False, "WooCommerce")
            if "customer_note" in changes:
                order["customer_note"] = str(changes["customer_note"])
            order["date_modified"], order["date_modified_gmt"] = local, gmt
            return copy.deepcopy(order)

    def add_orders(self, customer_id: int, count: int, *, start_date: str = "2025-01-01T09:00:00",
                   status: str = "completed", template_id: int = 12005) -> list[int]:
        """Give a customer (0 = guest) ``count`` more orders, one day apart, cloned from a template."""
        with self._lock:
            template = self.orders[template_id]
            customer = self.customers.get(customer_id) if customer_id else None
            first_id = max(self.orders) + 1
            start = datetime.strptime(start_date, "%Y-%m-%dT%H:%M:%S")
            created = []
            for offset in range(count):
                order = copy.deepcopy(template)
                order_id = first_id + offset
                when = start + timedelta(days=offset)
                local = when.strftime("%Y-%m-%dT%H:%M:%S")
                gmt = (when - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")
                order.update({"id": order_id, "number": str(order_id), "status": status,
                              "customer_id": customer_id, "date_created": local,
                              "date_created_gmt": gmt, "date_modified": local,
                              "date_modified_gmt": gmt})
                if customer is not None:
                    order["billing"] = {**order["billing"], **customer["billing"]}
                    order["shipping"] = {**order["shipping"], **customer["shipping"]}
                for item in order["line_items"] + order["shipping_lines"]:
                    self._next_item_id += 1
                    item["id"] = self._next_item_id
                order["_links"] = {
                    "self": [{"href": f"https://127.0.0.1:8089/wp-json/wc/v3/orders/{order_id}"}],
                    "collection": [{"href": "https://127.0.0.1:8089/wp-json/wc/v3/orders"}],
                }
                if customer_id:
                    order["_links"]["customer"] = [
                        {"href": f"https://127.0.0.1:8089/wp-json/wc/v3/customers/{customer_id}"}]
                self.orders[order_id] = order
                created.append(order_id)
            return created

    # -- notes ---------------------------------------------------------------------------------

    def _add_note(self, order_id: int, text: str, customer_note: bool, author: str) -> dict:
        local, gmt = local_and_gmt(self.clock())
        note = {"id": self._next_note_id, "author": author, "date_created": local,
                "date_created_gmt": gmt, "note": text, "customer_note": customer_note}
        self._next_note_id += 1
        self._notes.setdefault(order_id, []).append(note)
        return note

    def add_note(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if order_id not in self.orders:
                raise ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            text = body.get("note")
            if text is None:
                raise ApiError(400, "rest_missing_callback_param", "Missing parameter(s): note",
                               {"params": ["note"]})
            if not isinstance(text, str):
                raise invalid_param("note", "note is not of type string.", "rest_invalid_type")
            customer_note = rest_boolean("customer_note", body.get("customer_note", False))
            by_user = rest_boolean("added_by_user", body.get("added_by_user", False))
            if not text.strip():
                raise ApiError(400, "woocommerce_api_missing_order_note",
                               "Order note is required.")
            # Recorded: the author is "WooCommerce" unless added_by_user is true.
            author = API_USER_DISPLAY_NAME if by_user else "WooCommerce"
            return copy.deepcopy(self._add_note(order_id, text, customer_note, author))

    def list_notes(self, order_id: int, note_type: str = "any") -> list[dict[str, Any]]:
        with self._lock:
            if order_id not in self.orders:
                raise ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            if note_type not in ("any", "customer", "internal"):
                raise invalid_param("type", "type is not one of any, customer, and internal.",
                                    "rest_not_in_enum")
            notes = list(self._notes.get(order_id, []))
        if note_type == "customer":
            notes = [n for n in notes if n["customer_note"]]
        elif note_type == "internal":
            notes = [n for n in notes if not n["customer_note"]]
        # Recorded quirk: newest second first, but ascending id within the same second.
        notes.sort(key=lambda n: n["id"])
        notes.sort(key=lambda n: n["date_created_gmt"], reverse=True)
        return copy.deepcopy(notes)

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._notes.get(order_id, []))

    # -- customers -----------------------------------------------------------------------------

    def list_customers(self, params: Mapping[str, str]) -> ListResult:
        with self._lock:
            customers = list(self.customers.values())
        role = params.get("role") or "customer"
        if role != "all":
            customers = [c for c in customers if c.get("role") == role]
        include = id_list(params.get("include"))
        if include is not None:
            customers = [c for c in customers if c["id"] in include]
        email = params.get("email")
        if email:
            customers = [c for c in customers if _lower(c.get("email")) == email.casefold()]
        search = sanitize_text_field(params.get("search", ""))
        if search:
            customers = [c for c in customers if self._customer_matches(c, search)]
        # Recorded default order: newest registration first.
        customers.sort(key=lambda c: (c["date_created_gmt"], c["id"]), reverse=True)
        items, total, total_pages, page = paginate(customers, params)
        return ListResult(items, total, total_pages, page, page > total_pages and page > 1)

    @staticmethod
    def _customer_matches(customer: dict[str, Any], term: str) -> bool:
        """WP_User_Query search with both-side wildcards, columns chosen as WordPress does."""
        needle = term.casefold()
        login = _lower(customer.get("username"))
        if "@" in term:
            return needle in _lower(customer.get("email"))
        if term.isdigit():
            return needle in login or str(customer["id"]) == term
        nicename = login.replace(".", "-").replace("@", "")
        display_name = login  # display_name is the username for every recorded account
        return any(needle in value for value in (login, _lower(customer.get("email")),
                                                 nicename, display_name))

    def get_customer(self, customer_id: int) -> dict[str, Any]:
        with self._lock:
            customer = self.customers.get(customer_id)
            if customer is None:
                raise ApiError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            return copy.deepcopy(customer)

    # -- products ------------------------------------------------------------------------------

    def list_products(self, params: Mapping[str, str]) -> ListResult:
        with self._lock:
            products = list(self.products.values())
        status = params.get("status") or "any"
        if status not in PRODUCT_STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(PRODUCT_STATUSES)}.",
                                "rest_not_in_enum")
        if status == "any":
            products = [p for p in products if p["status"] != "trash"]
        else:
            products = [p for p in products if p["status"] == status]
        include = id_list(params.get("include"))
        if include is not None:
            products = [p for p in products if p["id"] in include]
        sku = params.get("sku")
        if sku:
            wanted = {s.strip() for s in sku.split(",")}
            products = [p for p in products if p.get("sku") in wanted]
        search_sku = params.get("search_sku")
        if search_sku:
            products = [p for p in products if search_sku.casefold() in _lower(p.get("sku"))]
        search = sanitize_text_field(params.get("search", ""))
        if search:
            words = [w.casefold() for w in search.split()]
            products = [p for p in products if all(
                any(w in _lower(p.get(k)) for k in ("name", "short_description", "description"))
                for w in words)]
        # Dates tie on the recorded shop and MySQL breaks those ties arbitrarily; we use id.
        products.sort(key=lambda p: p["id"])
        products.sort(key=lambda p: p["date_created_gmt"], reverse=True)
        items, total, total_pages, page = paginate(products, params)
        return ListResult(items, total, total_pages, page, page > total_pages and page > 1)

    def get_product(self, product_id: int) -> dict[str, Any]:
        with self._lock:
            product = self.products.get(product_id)
            if product is None:
                raise ApiError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return copy.deepcopy(product)


# WooCommerce computes these order fields only when ``_fields`` names them exactly (the
# controller intersects its "extra fields" with the requested list), so ``line_items.name`` alone
# returns no line items at all (recorded: orders.search.phone-0912-345-678._fields).
ORDER_EXTRA_FIELDS = frozenset({"meta_data", "line_items", "tax_lines", "shipping_lines",
                                "fee_lines", "coupon_lines", "refunds", "payment_url",
                                "is_editable", "needs_payment", "needs_processing"})


def filter_fields(body: Any, fields: str | None,
                  exact_only: frozenset[str] | None = None) -> Any:
    """WordPress' ``_fields``: comma list of top-level or dotted nested paths; drops ``_links``.

    Top-level keys in ``exact_only`` survive only when listed by their own name. ``exact_only``
    of ``ALL_EXACT`` applies that to every key (products compute each field by exact name).
    """
    if not fields:
        return body
    tree: dict[str, Any] = {}
    for path in (p.strip() for p in fields.split(",")):
        if not path:
            continue
        node = tree
        parts = path.split(".")
        for index, part in enumerate(parts):
            if node.get(part) is True:
                break
            if index == len(parts) - 1:
                node[part] = True
            else:
                node = node.setdefault(part, {})
    if exact_only is not None:
        tree = {k: v for k, v in tree.items()
                if v is True or (exact_only is not ALL_EXACT and k not in exact_only)}
    return _apply_mask(body, tree)


ALL_EXACT: frozenset[str] = frozenset({"*"})


def _apply_mask(value: Any, mask: dict[str, Any] | bool) -> Any:
    if mask is True:
        return value
    if isinstance(value, list):
        return [_apply_mask(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _apply_mask(value[k], sub) for k, sub in mask.items() if k in value}
    return value
