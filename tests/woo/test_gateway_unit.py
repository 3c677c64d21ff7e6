"""WooClient against canned responses (``responses``): what goes on the wire, what comes back."""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from orderchatz.gateways.woo import (OrderQuery, WooAuthRejected, WooClient, WooNotFound,
                                     WooRequestRejected, WooUnauthenticated, WooUnavailable,
                                     parse_order_ref)

KEY = "ck_unit_0123456789"
SECRET = "cs_unit_secret_9876543210"
HTTPS = "https://shop.example"
HTTP = "http://wordpress:8080"
ORDERS = "/wp-json/wc/v3/orders"


def _order(order_id: int, **extra) -> dict:
    return {"id": order_id, "number": str(order_id), "status": "completed", "currency": "TWD",
            "currency_symbol": "NT$", "total": "100", "date_created": "2026-01-01T10:00:00",
            "date_created_gmt": "2026-01-01T02:00:00", "customer_id": 7,
            "billing": {"first_name": "小明", "last_name": "王", "email": "a@example.com",
                        "phone": "0912-345-678"},
            "shipping": {"phone": ""},
            "line_items": [{"name": "咖啡豆", "quantity": 2, "product_id": 18}], **extra}


def _query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)


@pytest.fixture
def https_client():
    client = WooClient(HTTPS, KEY, SECRET, read_timeout=2)
    yield client
    client.close()


@pytest.fixture
def http_client():
    client = WooClient(HTTP, KEY, SECRET, read_timeout=2)
    yield client
    client.close()


@responses.activate
def test_https_uses_basic_auth_explicit_paging_and_trimmed_fields(https_client):
    responses.get(HTTPS + ORDERS, json=[_order(1)], headers={"X-WP-Total": "1", "X-WP-TotalPages": "1"})
    orders = https_client.list_orders(OrderQuery(customer=7))
    call = responses.calls[0]
    assert call.request.headers["Authorization"].startswith("Basic ")
    query = _query(call)
    assert query["per_page"] == ["100"] and query["orderby"] == ["id"] and query["page"] == ["1"]
    assert query["customer"] == ["7"]
    assert "line_items" in query["_fields"][0].split(",")
    assert SECRET not in call.request.url
    assert [o.id for o in orders] == [1]
    assert orders[0].items[0].name == "咖啡豆" and orders[0].items[0].quantity == 2


@responses.activate
def test_http_signs_with_oauth_and_never_sends_the_secret(http_client):
    responses.get(HTTP + ORDERS, json=[], headers={"X-WP-Total": "0", "X-WP-TotalPages": "0"})
    http_client.list_orders(OrderQuery(search="王小明"))
    request = responses.calls[0].request
    query = _query(responses.calls[0])
    assert query["oauth_consumer_key"] == [KEY]
    assert query["oauth_signature_method"] == ["HMAC-SHA256"]
    assert query["oauth_signature"][0]
    assert "consumer_secret" not in query and "consumer_key" not in query
    assert SECRET not in request.url
    assert "Authorization" not in request.headers
    assert query["search"] == ["王小明"]


@responses.activate
def test_plus_and_spaces_are_percent_encoded(https_client):
    responses.get(HTTPS + ORDERS, json=[], headers={"X-WP-TotalPages": "0"})
    https_client.list_orders(OrderQuery(search="+886 912"))
    raw_query = urlsplit(responses.calls[0].request.url).query
    assert "search=%2B886%20912" in raw_query


@responses.activate
def test_follows_total_pages_builds_its_own_urls_and_dedupes(https_client):
    def page(request):
        number = int(parse_qs(urlsplit(request.url).query)["page"][0])
        body = {1: [_order(1), _order(2)], 2: [_order(2), _order(3)], 3: [_order(4)]}[number]
        # A Link header that must never be followed (it would carry a stale OAuth signature).
        return 200, {"X-WP-Total": "4", "X-WP-TotalPages": "3",
                     "Link": '<https://elsewhere.example/next>; rel="next"'}, json.dumps(body)

    responses.add_callback(responses.GET, HTTPS + ORDERS, callback=page)
    orders = https_client.list_orders(OrderQuery(customer=7))
    assert [o.id for o in orders] == [1, 2, 3, 4]
    pages = sorted(int(_query(c)["page"][0]) for c in responses.calls)
    assert pages == [1, 2, 3]
    assert all(urlsplit(c.request.url).netloc == "shop.example" for c in responses.calls)
    assert https_client.round_trips == 3 and https_client.waves == 2


@responses.activate
def test_without_total_pages_header_it_follows_pages_until_a_short_one(https_client):
    def page(request):
        number = int(parse_qs(urlsplit(request.url).query)["page"][0])
        count = 100 if number < 3 else 5
        start = (number - 1) * 100
        return 200, {}, json.dumps([_order(start + i + 1) for i in range(count)])

    responses.add_callback(responses.GET, HTTPS + ORDERS, callback=page)
    assert len(https_client.list_orders(OrderQuery(customer=7))) == 205


@pytest.mark.parametrize("status, body, error, hint_word", [
    (401, {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid."},
     WooAuthRejected, "consumer key"),
    (401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."},
     WooUnauthenticated, "Authorization header"),
    (403, {"code": "woocommerce_rest_cannot_view", "message": "no"}, WooAuthRejected, "permission"),
    (404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, WooNotFound, None),
    (400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page"},
     WooRequestRejected, None),
    (500, {"code": "internal_server_error", "message": "critical"}, WooUnavailable, "try again"),
    (503, None, WooUnavailable, "try again"),
    (429, None, WooUnavailable, None),
])
@responses.activate
def test_errors_are_typed(https_client, status, body, error, hint_word):
    if body is None:
        responses.get(HTTPS + ORDERS + "/12345", body="<html>busy</html>", status=status,
                      content_type="text/html")
    else:
        responses.get(HTTPS + ORDERS + "/12345", json=body, status=status)
    with pytest.raises(error) as caught:
        https_client.get_order(12345)
    assert caught.value.status == status
    if hint_word:
        assert hint_word in caught.value.hint


@responses.activate
def test_basic_over_plain_http_gets_a_specific_hint():
    client = WooClient(HTTP, KEY, SECRET, auth="basic")
    responses.get(HTTP + ORDERS + "/1", status=401,
                  json={"code": "woocommerce_rest_cannot_view", "message": "Sorry"})
    with pytest.raises(WooUnauthenticated) as caught:
        client.get_order(1)
    assert "OAuth" in caught.value.hint and "https" in caught.value.hint
    client.close()


@responses.activate
def test_non_json_success_and_wrong_shapes_are_unavailable(https_client):
    responses.get(HTTPS + ORDERS + "/1", body="<p>Warning: something</p>", status=200)
    with pytest.raises(WooUnavailable):
        https_client.get_order(1)
    responses.get(HTTPS + ORDERS, json={"not": "a list"}, headers={"X-WP-TotalPages": "1"})
    with pytest.raises(WooUnavailable):
        https_client.list_orders(OrderQuery(customer=1))


@pytest.mark.parametrize("failure", [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow"),
                                     requests.ConnectionError("refused")])
@responses.activate
def test_transport_failures_are_unavailable(https_client, failure):
    responses.get(HTTPS + ORDERS + "/1", body=failure)
    with pytest.raises(WooUnavailable):
        https_client.get_order(1)


@responses.activate
def test_redirects_are_not_followed(https_client):
    responses.get(HTTPS + ORDERS + "/1", status=301, headers={"Location": "https://www.shop.example/"})
    with pytest.raises(WooUnavailable) as caught:
        https_client.get_order(1)
    assert "redirect" in caught.value.hint
    assert len(responses.calls) == 1


@responses.activate
def test_add_order_note_sends_json_booleans(https_client):
    responses.post(HTTPS + ORDERS + "/12345/notes", status=201, json={
        "id": 348, "author": "店長 Admin", "date_created": "2026-12-04T00:05:59",
        "date_created_gmt": "2026-12-03T16:05:59", "note": "已出貨", "customer_note": True})
    note = https_client.add_order_note("#12345", "已出貨", True)
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"note": "已出貨", "customer_note": True, "added_by_user": True}
    assert responses.calls[0].request.headers["Content-Type"] == "application/json"
    assert note.customer_note is True and note.id == 348 and not note.is_private


def test_add_order_note_rejects_bad_input(https_client):
    with pytest.raises(TypeError):
        https_client.add_order_note(1, "x", "true")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        https_client.add_order_note(1, "   ", False)
    with pytest.raises(ValueError):
        https_client.add_order_note("abc", "x", False)


@pytest.mark.parametrize("ref, expected", [("#12345", 12345), ("12345", 12345), (" # 42 ", 42), (7, 7)])
def test_parse_order_ref(ref, expected):
    assert parse_order_ref(ref) == expected


@pytest.mark.parametrize("ref", ["", "#", "12a", "-5", "0", 0, "#0", "1" * 13, True])
def test_parse_order_ref_rejects(ref):
    with pytest.raises(ValueError):
        parse_order_ref(ref)


def test_constructor_validates_and_repr_hides_secrets():
    with pytest.raises(ValueError):
        WooClient("ftp://shop", KEY, SECRET)
    with pytest.raises(ValueError):
        WooClient(HTTPS, "", SECRET)
    with pytest.raises(ValueError):
        WooClient(HTTPS, KEY, SECRET, auth="digest")  # type: ignore[arg-type]
    client = WooClient(HTTPS, KEY, SECRET)
    assert SECRET not in repr(client) and KEY not in repr(client)
    assert client.auth_mode == "basic" and WooClient(HTTP, KEY, SECRET).auth_mode == "oauth"
    client.close()


@responses.activate
def test_secrets_never_reach_the_logs(caplog, http_client, https_client):
    caplog.set_level(logging.DEBUG)
    responses.get(HTTP + ORDERS + "/1", json=_order(1))
    responses.get(HTTPS + ORDERS + "/1", status=401,
                  json={"code": "woocommerce_rest_authentication_error", "message": "bad"})
    http_client.get_order(1)
    with pytest.raises(WooAuthRejected):
        https_client.get_order(1)
    assert SECRET not in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("orderchatz")]
    assert any("GET /orders/1" in message for message in ours)
    assert not any("oauth_" in message or KEY in message for message in ours)


@responses.activate
def test_parallel_counts_one_wave_and_reraises_after_all_finish(https_client):
    responses.get(HTTPS + ORDERS + "/1", json=_order(1))
    responses.get(HTTPS + ORDERS + "/2", status=404, json={"code": "x", "message": "gone"})
    responses.get(HTTPS + ORDERS + "/3", json=_order(3))
    with pytest.raises(WooNotFound):
        https_client.parallel([lambda: https_client.get_order(1), lambda: https_client.get_order(2),
                               lambda: https_client.get_order(3)])
    assert https_client.round_trips == 3 and https_client.waves == 1


@responses.activate
def test_search_products_merges_name_and_sku_matches_published_only(https_client):
    def products(request):
        query = parse_qs(urlsplit(request.url).query)
        assert query["status"] == ["publish"]
        item = lambda i: {"id": i, "name": f"p{i}", "status": "publish", "permalink": "https://x/",
                          "images": [{"src": f"https://x/{i}.jpg", "alt": ""}]}
        body = [item(1), item(2)] if "search" in query else [item(2), item(3)]
        return 200, {"X-WP-Total": "2", "X-WP-TotalPages": "1"}, json.dumps(body)

    responses.add_callback(responses.GET, HTTPS + "/wp-json/wc/v3/products", callback=products)
    found = https_client.search_products(" BEAN ")
    assert [p.id for p in found] == [1, 2, 3]
    assert found[0].image_url == "https://x/1.jpg"
    assert https_client.search_products("   ") == []
