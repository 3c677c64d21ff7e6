"""Product cards: a WooCommerce product as a LINE Flex Message bubble.

Limits from the Messaging API reference (https://developers.line.biz/en/reference/messaging-api/#flex-message):
image URLs must be HTTPS (≤ 2000 chars), URI actions ≤ 1000 chars, button labels ≤ 40 chars.
LINE now allows altText up to 1500 characters and bubbles up to 30 KB; we keep to the older,
stricter 400 characters and 10 KB so cards stay light in chat lists and notifications.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from ..gateways.woo import Product

ALT_TEXT_MAX = 400
LABEL_MAX = 40
BUBBLE_MAX_BYTES = 10_000
IMAGE_URL_MAX = 2000
URI_MAX = 1000
NAME_MAX = 120
BUTTON_LABEL = "查看商品"
OUT_OF_STOCK_LABEL = "目前缺貨"


def format_price(amount: str | None, currency_symbol: str = "NT$") -> str | None:
    """``"12800"`` → ``NT$12,800``; decimals only when the price has them; None if no price."""
    if amount is None or str(amount).strip() == "":
        return None
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{currency_symbol}{text}"


def is_https_url(url: str | None, max_length: int) -> bool:
    if not url or len(url) > max_length or any(ch.isspace() for ch in url):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.netloc)


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def product_card(product: Product, *, placeholder_image_url: str | None = None,
                 currency_symbol: str = "NT$") -> dict:
    """A Flex message ``{"type": "flex", "altText": ..., "contents": bubble}`` for one product.

    Hero image only from an absolute https URL (else the placeholder, else no hero); the URI
    button only for an https permalink. A sale shows the sale price and the struck-out regular
    price.
    """
    name = _truncate(product.name or f"#{product.id}", NAME_MAX)
    on_sale = bool(product.on_sale and product.sale_price and product.regular_price
                   and product.sale_price != product.regular_price)
    price = format_price(product.sale_price if on_sale else (product.price or product.regular_price),
                         currency_symbol)
    regular = format_price(product.regular_price, currency_symbol) if on_sale else None
    link = product.permalink if is_https_url(product.permalink, URI_MAX) else None

    price_row: list[dict] = []
    if price:
        price_row.append({"type": "text", "text": price, "size": "lg", "weight": "bold",
                          "color": "#D0021B" if on_sale else "#111111", "flex": 0})
    if regular:
        price_row.append({"type": "text", "text": regular, "size": "sm", "color": "#999999",
                          "decoration": "line-through", "flex": 0})
    body_contents: list[dict] = [{"type": "text", "text": name, "weight": "bold", "size": "md",
                                  "wrap": True, "maxLines": 3}]
    if price_row:
        body_contents.append({"type": "box", "layout": "baseline", "spacing": "sm",
                              "contents": price_row})
    if product.stock_status == "outofstock":
        body_contents.append({"type": "text", "text": OUT_OF_STOCK_LABEL, "size": "xs",
                              "color": "#999999"})
    bubble: dict = {"type": "bubble", "size": "kilo",
                    "body": {"type": "box", "layout": "vertical", "spacing": "sm",
                             "contents": body_contents}}

    image = product.image_url if is_https_url(product.image_url, IMAGE_URL_MAX) else None
    if image is None and is_https_url(placeholder_image_url, IMAGE_URL_MAX):
        image = placeholder_image_url
    if image:
        hero: dict = {"type": "image", "url": image, "size": "full", "aspectRatio": "1:1",
                      "aspectMode": "cover"}
        if link:
            hero["action"] = {"type": "uri", "label": _truncate(BUTTON_LABEL, LABEL_MAX),
                              "uri": link}
        bubble = {"type": "bubble", "size": "kilo", "hero": hero, "body": bubble["body"]}
    if link:
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": [{
            "type": "button", "style": "primary", "height": "sm",
            "action": {"type": "uri", "label": _truncate(BUTTON_LABEL, LABEL_MAX), "uri": link}}]}

    alt_parts = [name] + [p for p in (price,) if p] + ([f"（原價 {regular}）"] if regular else [])
    message = {"type": "flex", "altText": _truncate(" ".join(alt_parts), ALT_TEXT_MAX),
               "contents": bubble}
    if bubble_size(bubble) >= BUBBLE_MAX_BYTES:  # only a pathological name could get here
        body_contents[0]["text"] = _truncate(name, 40)
    return message


def bubble_size(bubble: dict) -> int:
    """Bytes of the bubble as sent (compact UTF-8 JSON), the measure LINE's size limit uses."""
    return len(json.dumps(bubble, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
