"""WooClient against the emulator over real HTTP: auth transports, paging, failures, writes."""
from __future__ import annotations

import pytest

from orderchatz.gateways.woo import (OrderQuery, WooAuthRejected, WooNotFound, WooUnauthenticated,
                                     WooUnavailable)


def test_oauth_over_plain_http(emulator, woo):
    orders = woo.list_orders(OrderQuery(customer=2))
    assert sorted(o.id for o in orders) == [12000, 12345, 12346]
    assert {r.auth for r in emulator.requests} == {"oauth"}
    assert all("oauth_signature" in r.query for r in emulator.requests)
    assert not any("consumer_secret" in r.raw_query for r in emulator.requests)


def test_basic_behind_https_forwarding_proxy(make_emulator, make_client):
    emulator = make_emulator(https_forwarded=True)
    woo = make_client(emulator, auth="basic")
    order = woo.get_order("#12345")
    assert order.total == "13840" and order.billing_name == "王小明"
    assert emulator.requests[-1].auth == "basic"


def test_basic_with_forwarded_proto_header(make_emulator, make_client):
    emulator = make_emulator()
    woo = make_client(emulator, auth="basic", extra_headers={"X-Forwarded-Proto": "https"})
    assert woo.get_customer(2).email == "ming.wang@example.com"


def test_basic_over_plain_http_is_ignored_with_a_specific_hint(make_emulator, make_client):
    emulator = make_emulator()
    woo = make_client(emulator, auth="basic")
    with pytest.raises(WooUnauthenticated) as caught:
        woo.list_orders(OrderQuery(customer=2))
    assert caught.value.code == "woocommerce_rest_cannot_view"
    assert "OAuth" in caught.value.hint


def test_stripped_authorization_header_gets_its_hint(make_emulator, make_client):
    emulator = make_emulator(https_forwarded=True, strip_authorization=True)
    woo = make_client(emulator, auth="basic")
    with pytest.raises(WooUnauthenticated) as caught:
        woo.get_order(12345)
    assert "Authorization header" in caught.value.hint


def test_oauth_in_the_query_survives_a_host_that_strips_authorization(make_emulator, make_client):
    emulator = make_emulator(strip_authorization=True)
    assert make_client(emulator).get_order(12345).id == 12345


@pytest.mark.parametrize("https_forwarded, auth", [(False, "oauth"), (True, "basic")])
def test_wrong_secret_is_rejected(make_emulator, make_client, https_forwarded, auth):
    emulator = make_emulator(https_forwarded=https_forwarded)
    woo = make_client(emulator, auth=auth, consumer_secret="cs_wrong")
    with pytest.raises(WooAuthRejected) as caught:
        woo.get_order(12345)
    assert caught.value.code == "woocommerce_rest_authentication_error"


def test_unknown_key_over_oauth_is_rejected(make_emulator, make_client):
    emulator = make_emulator()
    with pytest.raises(WooAuthRejected):
        make_client(emulator, consumer_key="ck_nobody").get_order(12345)


def test_unknown_key_over_basic_reads_as_anonymous(make_emulator, make_client):
    emulator = make_emulator(https_forwarded=True)
    with pytest.raises(WooUnauthenticated):
        make_client(emulator, auth="basic", consumer_key="ck_nobody").get_order(12345)


def test_customer_with_250_orders_gets_all_250_in_two_waves(make_emulator, make_client, storage):
    emulator = make_emulator(storage=storage)
    emulator.add_orders(4, 248)
    woo = make_client(emulator)
    orders = woo.list_orders(OrderQuery(customer=4))
    assert len(orders) == 250 and len({o.id for o in orders}) == 250
    assert woo.waves == 2 and woo.round_trips == 3
    pages = [r for r in emulator.requests if r.query.get("customer") == "4"]
    assert all(r.query["per_page"] == "100" and r.query["orderby"] == "id" for r in pages)


def test_slow_store_times_out_as_unavailable(make_emulator, make_client):
    emulator = make_emulator(latency=1.5)
    woo = make_client(emulator, read_timeout=0.3)
    with pytest.raises(WooUnavailable):
        woo.get_order(12345)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unavailable_and_transient(emulator, woo, status):
    emulator.fail_next("/orders", status)
    with pytest.raises(WooUnavailable) as caught:
        woo.get_order(12345)
    assert caught.value.status == status
    assert woo.get_order(12345).id == 12345


def test_store_down_then_back(emulator, woo):
    emulator.go_down()
    with pytest.raises(WooUnavailable):
        woo.get_customer(2)
    emulator.come_back()
    assert woo.get_customer(2).id == 2


def test_not_found(woo):
    with pytest.raises(WooNotFound):
        woo.get_order(999999)
    with pytest.raises(WooNotFound):
        woo.get_customer(999999)
    with pytest.raises(WooNotFound):
        woo.get_product(999999)
    with pytest.raises(WooNotFound):
        woo.add_order_note(999999, "x", False)


def test_order_with_notes_marks_private_and_customer_notes(woo):
    order, notes = woo.get_order_with_notes("#12345")
    assert order.customer_note == "請平日白天送達，謝謝。"
    assert [n.id for n in notes] == [344, 343, 342, 341, 340]
    assert [n.customer_note for n in notes] == [True, False, False, False, False]
    assert notes[-1].note.endswith("19&rarr;18")  # raw HTML, as WooCommerce stores it
    assert woo.waves == 1


@pytest.mark.parametrize("customer_note", [True, False])
def test_add_order_note_is_recorded_as_asked(emulator, woo, customer_note):
    note = woo.add_order_note(12345, "您好，您的訂單已出貨", customer_note)
    assert note.customer_note is customer_note
    assert note.author == "店長 Admin"  # added_by_user: the API key's user, not "WooCommerce"
    stored = emulator.notes(12345)[-1]
    assert stored["id"] == note.id and stored["customer_note"] is customer_note
    assert woo.list_order_notes(12345, "customer" if customer_note else "internal")[0].id == note.id


def test_update_order_status_adds_a_status_note(emulator, woo):
    order = woo.update_order_status(12157, "processing")
    assert order.status == "processing"
    assert emulator.notes(12157)[-1]["note"] == \
        "Order status changed from Pending payment to Processing."


def test_search_products(woo):
    assert [p.id for p in woo.search_products("咖啡豆")] == [18, 19, 20] or \
        sorted(p.id for p in woo.search_products("咖啡豆")) == [18, 19, 20]
    assert 24 not in {p.id for p in woo.search_products("BEAN")}  # the draft
    assert [p.id for p in woo.search_products("CM-BARISTA")] == [17]  # SKU, partial
    assert sorted(p.id for p in woo.search_products("咖啡機")) == [17, 19]
    assert woo.search_products("不存在的商品") == []


def test_product_without_image(woo):
    product = woo.get_product(21)
    assert product.image_url is None and product.price == "890"


def test_oauth_signed_for_wordpress_site_url_when_dialling_another_host(make_emulator, make_client):
    """docker-compose: the sidecar dials 127.0.0.1:<port>, WordPress thinks it is localhost:8080."""
    emulator = make_emulator(home_url="http://localhost:8080")
    naive = make_client(emulator)
    with pytest.raises(WooAuthRejected) as caught:
        naive.get_order(12345)
    assert "oauth_site_url" in caught.value.hint
    woo = make_client(emulator, oauth_site_url="http://localhost:8080/")
    order = woo.get_order(12345)
    assert order.id == 12345
    product = woo.get_product(17)
    assert product.permalink.startswith("http://localhost:8080/")  # WordPress' own URLs
