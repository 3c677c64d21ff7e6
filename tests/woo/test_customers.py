"""Finding customers and loading the customer panel, against the emulator in both storage modes."""
from __future__ import annotations

import pytest

from orderchatz.domain.customers import (STATUS_LABELS_ZH_TW, CustomerRef, candidate_to_dict,
                                         classify_query, context_from_dict, context_to_dict,
                                         load_customer_context, name_search_variants,
                                         normalize_phone, order_edit_url, phone_search_variants,
                                         phones_match, search_candidates, status_label)
from orderchatz.gateways.woo import WooUnavailable

MING_FORMATS = ["0912-345-678", "0912345678", "0912 345 678", "+886912345678",
                "+886 912 345 678", "886-912-345-678", "886912345678", "(0912) 345-678",
                "０９１２３４５６７８"]
ADMIN = "https://shop.example/wp-admin/"


@pytest.mark.parametrize("raw, national", [
    ("0912-345-678", "0912345678"), ("+886 912 345 678", "0912345678"),
    ("886-912-345-678", "0912345678"), ("+886 0912 345 678", "0912345678"),
    ("912345678", "0912345678"), ("(02) 2345-6789", "0223456789"),
    ("+886 2 2345 6789", "0223456789"), ("02-2222-3333", "0222223333"),
    ("00886912345678", "0912345678"), ("037-123456", "037123456"),
])
def test_normalize_phone(raw, national):
    assert normalize_phone(raw) == national


@pytest.mark.parametrize("raw", ["", None, "abc", "123", "0912-345-678-999-000", "12345"])
def test_normalize_phone_rejects_non_phones(raw):
    assert normalize_phone(raw) is None


def test_phone_variants_never_start_with_plus_and_cover_the_formats():
    for raw in MING_FORMATS + ["(02) 2345-6789"]:
        variants = phone_search_variants(raw)
        assert variants and not any(v.startswith("+") for v in variants)
    assert "912-345-678" in phone_search_variants("+886912345678")
    assert "2345-6789" in phone_search_variants("02 2345 6789")
    assert phones_match("0912 345 678", "+886-912-345-678")
    assert not phones_match("0912-345-678", "0912-345-679")
    assert not phones_match("", "")


@pytest.mark.parametrize("q, kind", [
    ("0912-345-678", "phone"), ("+886 912 345 678", "phone"), ("(02) 2345-6789", "phone"),
    ("ming.wang@example.com", "email"), ("#12345", "order_number"), ("12345", "order_number"),
    ("王小明", "name"), ("Ming Wang", "name"), ("", None), ("   ", None), ("a@b", None), ("x", None),
])
def test_classify_query(q, kind):
    assert classify_query(q) == kind


def test_name_variants_include_the_index_spelling():
    assert name_search_variants("王小明") == ["王小明", "小明 王", "小明"]
    assert "陽明 歐陽" in name_search_variants("歐陽陽明")
    assert name_search_variants("Ming  Wang") == ["Ming Wang", "Wang Ming"]


def _summary(candidates):
    return sorted((c.kind, c.customer_id, c.email, c.order_count) for c in candidates)


def test_every_phone_format_finds_the_same_candidates(woo):
    expected = None
    for raw in MING_FORMATS:
        woo.reset_counters()
        found = _summary(search_candidates(woo, raw))
        assert woo.waves <= 2, raw
        if expected is None:
            expected = found
        assert found == expected, raw
    # 王小明 (3 orders + his guest checkout 12347) and two guests who saved the same number.
    assert expected == [("guest", None, "guest.one@example.com", 2),
                        ("guest", None, "guest.two@example.com", 1),
                        ("registered", 2, "ming.wang@example.com", 4)]


def test_no_search_term_starts_with_plus(emulator, woo):
    search_candidates(woo, "+886 912 345 678")
    terms = [r.query["search"] for r in emulator.requests if "search" in r.query]
    assert terms and not any(t.startswith("+") or t.startswith(" ") for t in terms)


def test_near_miss_finds_nothing(woo):
    assert search_candidates(woo, "0912-345-679") == []


def test_landline(woo):
    for raw in ["(02) 2345-6789", "02-2345-6789", "0223456789", "+886 2 2345 6789"]:
        found = search_candidates(woo, raw)
        assert [(c.kind, c.name, c.email) for c in found] == \
            [("guest", "吳建國", "guest.three@example.com")], raw


def test_number_saved_with_country_code_found_by_national_form(woo):
    found = search_candidates(woo, "0933111222")  # stored as "+886 933 111 222"
    assert [(c.kind, c.customer_id, c.name, c.order_count) for c in found] == \
        [("registered", 4, "陳大文", 2)]


def test_email_registered_and_guest(woo):
    ming = search_candidates(woo, "Ming.Wang@example.com")
    assert [(c.kind, c.customer_id, c.order_count, c.last_order_date) for c in ming] == \
        [("registered", 2, 4, "2026-12-01T08:30:00")]
    guest = search_candidates(woo, "guest.one@example.com")
    assert [(c.kind, c.name, c.phone, c.order_count) for c in guest] == \
        [("guest", "張志明", "0912345678", 2)]
    assert guest[0].ref == CustomerRef(email="guest.one@example.com", phone="0912345678")
    assert search_candidates(woo, "nobody@example.com") == []


@pytest.mark.parametrize("q", ["王小明", "小明", "王 小明"])
def test_name_finds_only_true_matches(woo, q):
    found = search_candidates(woo, q)
    # CPT's full-text fallback returns 林美華's gift order 12158 for 王小明; it must not show.
    assert [(c.kind, c.customer_id) for c in found] == [("registered", 2)]


def test_name_of_another_customer(woo):
    assert [c.customer_id for c in search_candidates(woo, "林美華")] == [3]


def test_company_name_finds_the_buyer(woo):
    found = search_candidates(woo, "範例設計工作室")
    assert [(c.kind, c.name) for c in found] == [("guest", "吳建國")]


@pytest.mark.parametrize("q, expected", [
    ("#12345", [("registered", 2)]), ("12347", [("guest", None)]), ("999999", [])])
def test_order_number(woo, q, expected):
    assert [(c.kind, c.customer_id) for c in search_candidates(woo, q)] == expected


def test_bulk_buyer_phone_counts_all_orders_in_two_waves(woo):
    found = search_candidates(woo, "02 2222 3333")
    assert [(c.customer_id, c.order_count) for c in found] == [(5, 150)]
    assert woo.waves <= 2


@pytest.mark.parametrize("q", ["", "   ", "@", "x"])
def test_unusable_queries_return_nothing_without_calls(woo, q):
    assert search_candidates(woo, q) == []
    assert woo.round_trips == 0


def test_customer_context_merges_same_person_guest_checkouts(woo, storage):
    ref = CustomerRef(customer_id=2, email="ming.wang@example.com", phone="0912-345-678")
    context = load_customer_context(woo, ref, admin_url=ADMIN, hpos=storage == "hpos")
    assert woo.waves <= 2
    assert [o.id for o in context.orders] == [12346, 12347, 12345, 12000]
    assert (context.name, context.email, context.phone) == \
        ("王小明", "ming.wang@example.com", "0912-345-678")
    assert context.kind == "registered" and context.registered_since == "2026-02-10T20:15:00"
    assert context.order_count == 4
    assert context.total_spent == "28050" and context.currency == "TWD"
    assert context.currency_symbol == "NT$"
    first = context.orders[0]
    assert (first.status, first.status_label, first.total) == ("on-hold", "保留", "900")
    assert [(i.name, i.quantity) for i in first.items] == [("哥倫比亞 咖啡豆 500g", 1), ("濾紙 100 入", 1)]
    assert context.orders[1].is_guest_checkout
    if storage == "hpos":
        assert first.edit_url == \
            "https://shop.example/wp-admin/admin.php?page=wc-orders&action=edit&id=12346"
    else:
        assert first.edit_url == "https://shop.example/wp-admin/post.php?post=12346&action=edit"


def test_context_from_customer_id_alone(woo):
    context = load_customer_context(woo, CustomerRef(customer_id=2), admin_url=ADMIN, hpos=True)
    assert [o.id for o in context.orders] == [12346, 12347, 12345, 12000]
    assert woo.waves <= 2  # guest searches from the customer record ride in the second wave


def test_guest_context_by_email_and_by_phone(woo):
    by_email = load_customer_context(woo, CustomerRef(email="guest.one@example.com"),
                                     admin_url=ADMIN, hpos=True)
    assert by_email.kind == "guest" and by_email.registered_since is None
    assert [o.id for o in by_email.orders] == [12348, 12003]
    assert by_email.name == "張志明" and by_email.total_spent == "1100"
    by_phone = load_customer_context(woo, CustomerRef(phone="+886 912 345 678"),
                                     admin_url=ADMIN, hpos=True)
    # Phone-only binding: every guest checkout on that number; never registered accounts' orders.
    assert [o.id for o in by_phone.orders] == [12348, 12347, 12155, 12003]


def test_context_of_bulk_buyer_sorts_identical_dates_by_id(woo):
    ref = CustomerRef(customer_id=5, email="bulk.buyer@example.com", phone="02-2222-3333")
    context = load_customer_context(woo, ref, admin_url=ADMIN, hpos=False)
    assert woo.waves <= 2
    ids = [o.id for o in context.orders]
    assert len(ids) == 150 and len(set(ids)) == 150
    same_day = [o.id for o in context.orders if o.date_created == "2026-09-01T10:00:00"]
    assert same_day == sorted(same_day, reverse=True) and len(same_day) == 120
    assert ids[-3:] == [12154, 12153, 12152]  # back-dated phone orders come last


def test_context_of_a_250_order_customer(make_emulator, make_client, storage):
    emulator = make_emulator(storage=storage)
    emulator.add_orders(4, 248)
    woo = make_client(emulator)
    context = load_customer_context(
        woo, CustomerRef(customer_id=4, email="dawen.chen@example.com", phone="+886 933 111 222"),
        admin_url=ADMIN, hpos=True)
    assert context.order_count == 250 and len(context.orders) == 250
    assert woo.waves <= 2


def test_panel_with_slow_store_stays_within_two_waves(make_emulator, make_client):
    emulator = make_emulator(latency=0.2)
    woo = make_client(emulator)
    ref = CustomerRef(customer_id=2, email="ming.wang@example.com", phone="0912-345-678")
    context = load_customer_context(woo, ref, admin_url=ADMIN, hpos=True)
    assert context.order_count == 4 and woo.waves <= 2


def test_context_when_store_is_down(emulator, woo):
    emulator.go_down()
    with pytest.raises(WooUnavailable):
        load_customer_context(woo, CustomerRef(customer_id=2), admin_url=ADMIN, hpos=True)


def test_customer_ref_validation():
    with pytest.raises(ValueError):
        CustomerRef()
    with pytest.raises(ValueError):
        CustomerRef(customer_id=0)
    assert CustomerRef(phone="0912345678").is_guest


def test_status_labels_and_edit_urls():
    assert STATUS_LABELS_ZH_TW["checkout-draft"] == "草稿"
    assert status_label("refunded") == "已退款" and status_label("custom-x") == "custom-x"
    assert order_edit_url(5, admin_url="https://s.example", hpos=False) == \
        "https://s.example/wp-admin/post.php?post=5&action=edit"
    assert order_edit_url(5, admin_url="https://s.example/wp-admin", hpos=True) == \
        "https://s.example/wp-admin/admin.php?page=wc-orders&action=edit&id=5"


def test_context_and_candidates_round_trip_through_json(woo):
    import json

    ref = CustomerRef(customer_id=2, email="ming.wang@example.com", phone="0912-345-678")
    context = load_customer_context(woo, ref, admin_url=ADMIN, hpos=True)
    assert context_from_dict(json.loads(json.dumps(context_to_dict(context)))) == context
    candidate = search_candidates(woo, "ming.wang@example.com")[0]
    as_json = json.loads(json.dumps(candidate_to_dict(candidate)))
    assert as_json["ref"] == {"customer_id": 2, "email": "ming.wang@example.com",
                              "phone": "0912-345-678"}
    assert as_json["order_count"] == 4
