"""Products for the chat: search results for the picker, and the card sent to LINE."""
from __future__ import annotations

from ..gateways.woo import Product, WooNotFound
from .errors import DomainError, positive_id
from .products import format_price, product_card


def product_json(p: Product) -> dict:
    on_sale = bool(p.on_sale and p.sale_price and p.sale_price != p.regular_price)
    return {"id": p.id, "name": p.name, "sku": p.sku, "permalink": p.permalink,
            "price": p.price, "regular_price": p.regular_price, "sale_price": p.sale_price,
            "on_sale": on_sale,
            "price_label": format_price(p.sale_price if on_sale else (p.price or p.regular_price)),
            "regular_price_label": format_price(p.regular_price) if on_sale else None,
            "image_url": p.image_url, "stock_status": p.stock_status}


def search_products(svc, q: str) -> list[dict]:
    q = (q or "").strip()
    if not q:
        return []
    return [product_json(p) for p in svc.woo.search_products(q)]


def with_product_card(svc, body: dict) -> tuple[dict, dict]:
    """(LINE Flex message, the send body plus the product summary) for a published product."""
    pid = positive_id(body.get("product_id"), "invalid_product", "product_id")
    try:
        product = svc.woo.get_product(pid)
    except WooNotFound:
        raise DomainError("invalid_product", f"product {pid} does not exist", 404) from None
    if product.status != "publish":
        raise DomainError("invalid_product", "only published products can be sent")
    card = product_card(product, placeholder_image_url=svc.config.placeholder_image_url or None)
    return card, {**body, "product": product_json(product)}
