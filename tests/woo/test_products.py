"""Product cards: LINE Flex bubbles built from WooCommerce products."""
from __future__ import annotations

import dataclasses
import json

import pytest
from linebot.v3.messaging import FlexMessage

from orderchatz.domain.products import (ALT_TEXT_MAX, BUBBLE_MAX_BYTES, LABEL_MAX, bubble_size,
                                        format_price, product_card)
from orderchatz.gateways.woo import Product

PLACEHOLDER = "https://cdn.example/placeholder.png"


def _product(**changes) -> Product:
    base = Product(id=17, name="義式咖啡機 Barista Pro", permalink="https://shop.example/product/barista/",
                   status="publish", sku="CM-BARISTA-PRO", price="12800", regular_price="12800",
                   sale_price="", on_sale=False, stock_status="instock",
                   image_url="https://shop.example/wp-content/uploads/barista-pro.jpg")
    return dataclasses.replace(base, **changes)


def _texts(card: dict) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card["contents"])
    return found


def _labels(card: dict) -> list[str]:
    text = json.dumps(card, ensure_ascii=False)
    labels = []
    for chunk in text.split('"label": "')[1:]:
        labels.append(chunk.split('"', 1)[0])
    return labels


def _assert_valid(card: dict) -> None:
    FlexMessage.from_dict(card)  # the LINE SDK's own model accepts it
    assert card["type"] == "flex" and card["contents"]["type"] == "bubble"
    assert 0 < len(card["altText"]) <= ALT_TEXT_MAX
    assert all(0 < len(label) <= LABEL_MAX for label in _labels(card))
    assert bubble_size(card["contents"]) < BUBBLE_MAX_BYTES


@pytest.mark.parametrize("amount, text", [("12800", "NT$12,800"), ("450", "NT$450"),
                                          ("1234.5", "NT$1,234.50"), ("0", "NT$0")])
def test_format_price(amount, text):
    assert format_price(amount) == text


@pytest.mark.parametrize("amount", ["", None, "abc", "-5", "NaN"])
def test_format_price_rejects(amount):
    assert format_price(amount) is None


def test_card_with_image_price_and_button():
    card = product_card(_product())
    _assert_valid(card)
    bubble = card["contents"]
    assert bubble["hero"]["url"].endswith("barista-pro.jpg")
    assert "NT$12,800" in _texts(card) and "義式咖啡機 Barista Pro" in _texts(card)
    button = bubble["footer"]["contents"][0]["action"]
    assert button == {"type": "uri", "label": "查看商品", "uri": "https://shop.example/product/barista/"}
    assert card["altText"] == "義式咖啡機 Barista Pro NT$12,800"


def test_sale_shows_sale_and_regular_price():
    card = product_card(_product(price="520", regular_price="620", sale_price="520", on_sale=True))
    _assert_valid(card)
    texts = _texts(card)
    assert "NT$520" in texts and "NT$620" in texts
    struck = [n for n in card["contents"]["body"]["contents"][1]["contents"] if n["text"] == "NT$620"]
    assert struck[0]["decoration"] == "line-through"
    assert "NT$620" in card["altText"]


@pytest.mark.parametrize("image", [None, "", "http://shop.example/a.jpg", "/wp-content/a.jpg",
                                   "https://", "javascript:alert(1)", "https://x/" + "a" * 2100])
def test_non_https_images_fall_back_to_placeholder_or_no_hero(image):
    with_placeholder = product_card(_product(image_url=image), placeholder_image_url=PLACEHOLDER)
    _assert_valid(with_placeholder)
    assert with_placeholder["contents"]["hero"]["url"] == PLACEHOLDER
    without = product_card(_product(image_url=image))
    _assert_valid(without)
    assert "hero" not in without["contents"]
    bad_placeholder = product_card(_product(image_url=image), placeholder_image_url="http://x/p.png")
    assert "hero" not in bad_placeholder["contents"]


@pytest.mark.parametrize("permalink", ["", "http://shop.example/p/", "/product/x/",
                                       "https://shop.example/" + "p" * 1000])
def test_no_button_without_an_https_permalink(permalink):
    card = product_card(_product(permalink=permalink))
    _assert_valid(card)
    assert "footer" not in card["contents"]
    assert "action" not in card["contents"]["hero"]


def test_huge_names_stay_within_line_limits():
    card = product_card(_product(name="極" * 5000))
    _assert_valid(card)
    assert len(card["altText"]) <= ALT_TEXT_MAX


def test_missing_price_and_out_of_stock():
    card = product_card(_product(price="", regular_price="", stock_status="outofstock"))
    _assert_valid(card)
    assert "目前缺貨" in _texts(card) and not any(t.startswith("NT$") for t in _texts(card))


def test_cards_for_the_recorded_catalogue(make_emulator, make_client):
    emulator = make_emulator(https_forwarded=True)
    woo = make_client(emulator, auth="basic")
    for product in woo.search_products("咖啡") + [woo.get_product(21), woo.get_product(22)]:
        card = product_card(product, placeholder_image_url=PLACEHOLDER)
        _assert_valid(card)
        assert card["contents"]["footer"]["contents"][0]["action"]["uri"] == product.permalink
    no_image = product_card(woo.get_product(21), placeholder_image_url=PLACEHOLDER)
    assert no_image["contents"]["hero"]["url"] == PLACEHOLDER


def test_plain_http_shop_gives_cards_without_links(make_emulator, make_client):
    """Over plain http WordPress hands out http:// URLs, which LINE would refuse."""
    woo = make_client(make_emulator())
    card = product_card(woo.get_product(17))
    _assert_valid(card)
    assert "hero" not in card["contents"] and "footer" not in card["contents"]
