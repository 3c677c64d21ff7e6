"""Seed data for the WooCommerce emulator, rebuilt from the recorded demo shop.

Every order, customer, product and note body comes from the recorded cassettes in
``shared/fixtures/woocommerce/recorded/`` (never copied into the repo). One order, 12001, appears
in no recorded body (it sat on an unrecorded second page); it is rebuilt from the README's table
using line items of the same products from other recorded orders.
"""
from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORDED_BASE = "https://127.0.0.1:8089"
RECORDED_DIR = Path("woocommerce") / "recorded"
API_USER_DISPLAY_NAME = "店長 Admin"
FIRST_FREE_NOTE_ID = 348  # the recorded POSTs created 348, 349, 350 and the PUT 351


def default_fixtures_dir() -> Path:
    env = os.environ.get("ORDERCHATZ_SHARED_FIXTURES")
    if env:
        return Path(env)
    # <repo>/sidecar/orderchatz/emulators/woo_data.py → <repo>/../shared/fixtures
    return Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"


@dataclass
class SeedData:
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    next_note_id: int = FIRST_FREE_NOTE_ID


class SeedDataMissing(FileNotFoundError):
    """The recorded fixtures are not where the emulator looked for them."""


def _is_full_order(body: Any) -> bool:
    return isinstance(body, dict) and {"id", "billing", "shipping", "line_items",
                                       "shipping_lines", "_links"} <= body.keys()


def load_seed(fixtures_dir: Path | None = None) -> SeedData:
    """The recorded shop. Parsed once per folder; callers get it to deep-copy, never to mutate."""
    return _load_seed((fixtures_dir or default_fixtures_dir()).resolve())


@functools.lru_cache(maxsize=4)
def _load_seed(fixtures_dir: Path) -> SeedData:
    folder = fixtures_dir / RECORDED_DIR
    if not (folder / "_index.json").exists():
        raise SeedDataMissing(f"recorded WooCommerce fixtures not found in {folder}")
    seed = SeedData()
    # Bodies recorded before any write (sequence order) win: they show the initial state.
    entries = []
    for path in sorted(folder.glob("*__*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        entries.append(data)
    entries.sort(key=lambda d: d.get("sequence", 0))
    for data in entries:
        request, response = data["request"], data["response"]
        if request["method"] != "GET" or response["status"] != 200:
            continue
        body = response["body"]
        items = body if isinstance(body, list) else [body]
        resource = request["path"].split("/wc/v3/", 1)[-1]
        if resource.startswith("orders") and resource.endswith("/notes"):
            order_id = int(resource.split("/")[1])
            if data["name"].endswith(".before") and order_id not in seed.notes:
                seed.notes[order_id] = [_strip_links(n) for n in items]
            continue
        for item in items:
            if resource.startswith("orders") and _is_full_order(item):
                seed.orders.setdefault(item["id"], item)
            elif resource.startswith("customers") and isinstance(item, dict) and "role" in item:
                seed.customers.setdefault(item["id"], item)
            elif resource.startswith("products") and isinstance(item, dict) and "sku" in item:
                seed.products.setdefault(item["id"], item)
    if 12001 not in seed.orders:
        seed.orders[12001] = _rebuild_order_12001(seed.orders)
    return seed


def _strip_links(note: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in note.items() if k != "_links"}


def _line_item_like(orders: dict[int, dict[str, Any]], product_id: int, item_id: int,
                    quantity: int) -> dict[str, Any]:
    for order in orders.values():
        for item in order["line_items"]:
            if item["product_id"] == product_id:
                clone = copy.deepcopy(item)
                clone["id"] = item_id
                clone["quantity"] = quantity
                amount = str(int(item["price"]) * quantity)
                clone["subtotal"] = clone["total"] = amount
                clone["meta_data"] = []
                return clone
    raise SeedDataMissing(f"no recorded line item for product {product_id}")


def _rebuild_order_12001(orders: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """林美華's completed order: 哥倫比亞 ×2, 濾紙 ×1, home delivery, total 1580 (README table)."""
    template = copy.deepcopy(orders[12004])  # her cancelled order: same billing/shipping
    items = [_line_item_like(orders, 19, 4, 2), _line_item_like(orders, 23, 5, 1)]
    delivery = next(line for order in orders.values() for line in order["shipping_lines"]
                    if line["method_title"] == "宅配到府")
    shipping = copy.deepcopy(delivery)
    shipping["id"] = 6
    template.update({
        "id": 12001, "number": "12001", "status": "completed", "total": "1580",
        "shipping_total": shipping["total"], "line_items": items, "shipping_lines": [shipping],
        "payment_method": "cod", "payment_method_title": "貨到付款",
        "date_created": "2026-04-02T14:30:00", "date_created_gmt": "2026-04-02T06:30:00",
        "date_modified": "2026-04-05T10:01:00", "date_modified_gmt": "2026-04-05T02:01:00",
        "date_paid": "2026-04-05T10:00:00", "date_paid_gmt": "2026-04-05T02:00:00",
        "date_completed": "2026-04-05T10:00:00", "date_completed_gmt": "2026-04-05T02:00:00",
        "order_key": "wc_order_rebuilt12001", "needs_processing": True,
    })
    template["payment_url"] = (f"{RECORDED_BASE}/checkout/order-pay/12001/"
                               "?pay_for_order=true&key=wc_order_rebuilt12001")
    template["_links"] = {
        "self": [{"href": f"{RECORDED_BASE}/wp-json/wc/v3/orders/12001"}],
        "collection": [{"href": f"{RECORDED_BASE}/wp-json/wc/v3/orders"}],
        "customer": [{"href": f"{RECORDED_BASE}/wp-json/wc/v3/customers/3"}],
    }
    return template
