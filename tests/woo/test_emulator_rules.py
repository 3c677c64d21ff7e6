"""The emulator's own rules, beyond the recordings: validation, OAuth checks, paging links."""
from __future__ import annotations

import base64
import time

import pytest
import requests
from requests_oauthlib import OAuth1

from tests.woo.conftest import CONSUMER_KEY, CONSUMER_SECRET

API = "/wp-json/wc/v3"
HTTPS = {"X-Forwarded-Proto": "https"}


def _basic(emulator, method, path, **kwargs):
    headers = {**HTTPS, **kwargs.pop("headers", {})}
    return requests.request(method, emulator.base_url + API + path, headers=headers,
                            auth=(CONSUMER_KEY, CONSUMER_SECRET), timeout=5, **kwargs)


def _oauth(emulator, method, path, **kwargs):
    auth = OAuth1(CONSUMER_KEY, client_secret=CONSUMER_SECRET, signature_type="query",
                  signature_method=kwargs.pop("signature_method", "HMAC-SHA1"),
                  timestamp=kwargs.pop("timestamp", None), nonce=kwargs.pop("nonce", None))
    return requests.request(method, emulator.base_url + API + path, auth=auth, timeout=5, **kwargs)


@pytest.mark.parametrize("query, detail", [("per_page=0", "rest_out_of_bounds"),
                                           ("per_page=abc", "rest_invalid_type"),
                                           ("page=0", "rest_out_of_bounds"),
                                           ("status=shipped", "rest_not_in_enum"),
                                           ("orderby=price", "rest_not_in_enum"),
                                           ("order=sideways", "rest_not_in_enum")])
def test_invalid_list_parameters(emulator, query, detail):
    response = _basic(emulator, "GET", "/orders?" + query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param"
    assert next(iter(body["data"]["details"].values()))["code"] == detail


def test_status_filter_and_guest_filter(emulator):
    response = _basic(emulator, "GET", "/orders?status=on-hold&per_page=100")
    assert response.headers["X-WP-Total"] == "6"
    guests = _basic(emulator, "GET", "/orders?customer=0&search=0912&per_page=100").json()
    assert {o["id"] for o in guests} == {12003, 12347, 12348}  # 12155 is +886912…


def test_link_has_prev_and_next_in_the_middle(emulator):
    response = _basic(emulator, "GET", "/orders?customer=5&per_page=50&page=2&orderby=id")
    assert response.headers["X-WP-TotalPages"] == "3"
    assert 'rel="prev"' in response.headers["Link"] and 'rel="next"' in response.headers["Link"]


def test_unknown_routes_and_non_numeric_ids(emulator):
    for path in ("/coupons", "/orders/abc", "/orders/12345/refunds"):
        response = _basic(emulator, "GET", path)
        assert response.status_code == 404 and response.json()["code"] == "rest_no_route"


@pytest.mark.parametrize("body, status, code", [
    ({}, 400, "rest_missing_callback_param"),
    ({"note": "x", "customer_note": "maybe"}, 400, "rest_invalid_param"),
    ({"note": 5}, 400, "rest_invalid_param"),
    ({"note": "  "}, 400, "woocommerce_api_missing_order_note"),
])
def test_note_validation(emulator, body, status, code):
    response = _basic(emulator, "POST", "/orders/12345/notes", json=body)
    assert response.status_code == status and response.json()["code"] == code
    assert len(emulator.notes(12345)) == 5


def test_note_booleans_are_coerced_like_wordpress(emulator):
    response = _basic(emulator, "POST", "/orders/12345/notes",
                      json={"note": "x", "customer_note": "false"})
    assert response.status_code == 201 and response.json()["customer_note"] is False
    assert response.json()["author"] == "WooCommerce"


def test_invalid_json_body(emulator):
    response = _basic(emulator, "POST", "/orders/12345/notes", data=b"{nope",
                      headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "rest_invalid_json"


def test_anonymous_writes_are_refused(emulator):
    response = requests.post(emulator.base_url + API + "/orders/12345/notes", json={"note": "x"},
                             timeout=5)
    assert response.status_code == 401 and response.json()["code"] == "woocommerce_rest_cannot_create"
    response = requests.put(emulator.base_url + API + "/orders/12157", json={"status": "completed"},
                            timeout=5)
    assert response.json()["code"] == "woocommerce_rest_cannot_edit"
    assert max(n["id"] for n in emulator.notes(12345)) == 344


def test_invalid_status_update(emulator):
    response = _basic(emulator, "PUT", "/orders/12157", json={"status": "shipped"})
    assert response.status_code == 400
    assert _basic(emulator, "GET", "/orders/12157").json()["status"] == "pending"


def test_oauth_sha1_and_sha256_accepted(emulator):
    for method in ("HMAC-SHA1", "HMAC-SHA256"):
        assert _oauth(emulator, "GET", "/orders/12345", signature_method=method).status_code == 200


def test_oauth_nonce_replay_and_old_timestamp_rejected(emulator):
    now = str(int(time.time()))
    assert _oauth(emulator, "GET", "/orders/12345", nonce="n1", timestamp=now).status_code == 200
    replay = _oauth(emulator, "GET", "/orders/12345", nonce="n1", timestamp=now)
    assert replay.status_code == 401 and "nonce" in replay.json()["message"]
    old = _oauth(emulator, "GET", "/orders/12345", timestamp=str(int(time.time()) - 3600))
    assert old.status_code == 401 and old.json()["message"] == "Invalid timestamp."


def test_oauth_tampered_query_rejected(emulator):
    prepared = requests.Request("GET", emulator.base_url + API + "/orders?customer=2",
                                auth=OAuth1(CONSUMER_KEY, client_secret=CONSUMER_SECRET,
                                            signature_type="query")).prepare()
    response = requests.get(prepared.url.replace("customer=2", "customer=5"), timeout=5)
    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_authentication_error"


def test_oauth_in_authorization_header_is_accepted(emulator):
    auth = OAuth1(CONSUMER_KEY, client_secret=CONSUMER_SECRET)  # header placement
    response = requests.get(emulator.base_url + API + "/customers/2", auth=auth, timeout=5)
    assert response.status_code == 200


def test_oauth_is_ignored_over_https(make_emulator):
    emulator = make_emulator(https_forwarded=True)
    response = _oauth(emulator, "GET", "/orders/12345")
    assert response.status_code == 401 and response.json()["code"] == "woocommerce_rest_cannot_view"


def test_query_string_keys_over_https(emulator):
    response = requests.get(emulator.base_url + API + "/orders/12345", headers=HTTPS, timeout=5,
                            params={"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET})
    assert response.status_code == 200
    plain = requests.get(emulator.base_url + API + "/orders/12345", timeout=5,
                         params={"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET})
    assert plain.status_code == 401


def test_malformed_basic_header_is_anonymous(emulator):
    response = requests.get(emulator.base_url + API + "/orders/12345", timeout=5,
                            headers={**HTTPS, "Authorization": "Basic !!!notbase64"})
    assert response.status_code == 401 and response.json()["code"] == "woocommerce_rest_cannot_view"


def test_customers_search_rules(emulator):
    def ids(query):
        return [c["id"] for c in _basic(emulator, "GET", "/customers?" + query).json()]

    assert ids("search=ming") == [2]
    assert ids("search=example.com") == [5, 4, 3, 2]
    assert ids("search=2") == [2]  # all-digit: id or login
    assert ids("email=MING.WANG@example.com") == [2]
    assert ids("include=3,5") == [5, 3]
    assert ids("role=administrator") == [1]


def test_products_filters(emulator):
    def ids(query):
        return sorted(p["id"] for p in _basic(emulator, "GET", "/products?" + query).json())

    assert ids("sku=BEAN-COL-500,DRIP-SET-01") == [19, 21]
    assert ids("status=draft") == [24]
    assert ids("search=咖啡 機") == [17, 19]
    assert _basic(emulator, "GET", "/products/999").json()["code"] == "woocommerce_rest_product_invalid_id"


def test_fields_filtering_rules(emulator):
    order = _basic(emulator, "GET", "/orders/12345?_fields=id,billing.email,line_items.name").json()
    assert order == {"id": 12345, "billing": {"email": "ming.wang@example.com"}}
    order = _basic(emulator, "GET", "/orders/12345?_fields=line_items,line_items.name").json()
    assert len(order["line_items"][0]) > 2  # the whole object wins over a sub-path
    product = _basic(emulator, "GET", "/products/17?_fields=id,images.src").json()
    assert product == {"id": 17}


def test_request_log_and_latency_knob(emulator):
    emulator.set_latency(0.05)
    _basic(emulator, "GET", "/orders/12345?_fields=id")
    logged = emulator.requests[-1]
    assert (logged.method, logged.path, logged.auth, logged.https) == \
        ("GET", API + "/orders/12345", "basic", True)
    assert logged.query == {"_fields": "id"}


def test_fail_next_counts_down(emulator):
    emulator.fail_next("orders/12345", 503, times=2)
    assert [_basic(emulator, "GET", "/orders/12345").status_code for _ in range(3)] == [503, 503, 200]
    assert _basic(emulator, "GET", "/customers/2").status_code == 200


def test_base64_credentials_with_colon_in_secret(make_emulator):
    emulator = make_emulator(consumer_secret="cs_with:colon", https_forwarded=True)
    header = "Basic " + base64.b64encode(f"{CONSUMER_KEY}:cs_with:colon".encode()).decode()
    response = requests.get(emulator.base_url + API + "/orders/12345", timeout=5,
                            headers={"Authorization": header})
    assert response.status_code == 200


def test_cpt_also_matches_the_profile_phone(emulator, storage):
    """README quirk 7: CPT finds a customer's orders by the phone on the *profile*."""
    emulator.shop.customers[2]["billing"]["phone"] = "0900-000-001"
    found = _basic(emulator, "GET", "/orders?search=0900-000-001&per_page=100").json()
    expected = [12346, 12345, 12000] if storage == "cpt" else []
    assert [o["id"] for o in found] == expected


def test_hpos_loses_plus_but_cpt_keeps_it(emulator, storage):
    found = _basic(emulator, "GET", "/orders?search=%2B886%20933%20111%20222").json()
    assert [o["id"] for o in found] == ([] if storage == "hpos" else [12157, 12002])
