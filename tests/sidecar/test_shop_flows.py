"""The shop side through the real path: LINE emulator → sidecar → WooCommerce emulator (recorded shop)."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from orderchatz.auth import sign_wp_event
from orderchatz.store.models import Binding, Message, WpEvent
from tests.conftest import SHARED_SECRET, run_jobs
from tests.sidecar.test_webhook import USER, deliver


@pytest.fixture
def friend(shop_client, shop_svc, line_emulator):
    line_emulator.add_friend(USER, "小明")
    deliver(shop_client, line_emulator, [line_emulator.text_event(USER, "您好，請問我的訂單出貨了嗎？")])
    deliver(shop_client, line_emulator, [line_emulator.text_event(USER, "我忘了，我找一下... 0912-345-678")])
    run_jobs(shop_svc)
    return USER


def api(client, method, path, headers, **kw):
    return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)


def post_wp_event(client, event: dict, *, secret=SHARED_SECRET, now=None):
    body = json.dumps(event, ensure_ascii=False).encode()
    return client.post("/wp/events", data=body, headers={
        "Content-Type": "application/json", "X-OrderChatz-Signature": sign_wp_event(body, secret, now=now)})


@pytest.mark.parametrize("q", ["0912-345-678", "0912345678", "0912 345 678", "+886912345678",
                               "+886 912 345 678", "886-912-345-678"])
def test_every_phone_format_finds_ming(shop_client, auth_headers, friend, q):
    resp = api(shop_client, "GET", "/customers/search", auth_headers, query_string={"q": q})
    assert resp.status_code == 200
    registered = [c for c in resp.json["candidates"] if c["kind"] == "registered"]
    assert [c["customer_id"] for c in registered] == [2]


def test_near_miss_finds_nothing_of_his(shop_client, auth_headers, friend):
    resp = api(shop_client, "GET", "/customers/search", auth_headers, query_string={"q": "0912-345-679"})
    assert all(c.get("customer_id") != 2 for c in resp.json["candidates"])


def test_bind_and_see_the_complete_order_history(shop_client, shop_svc, auth_headers, friend):
    resp = api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers,
               json={"customer_id": 2, "display_name": "王小明", "email": "ming.wang@example.com"})
    assert resp.status_code == 200 and resp.json["binding"]["kind"] == "registered"
    panel = api(shop_client, "GET", f"/conversations/{friend}/customer", auth_headers).json
    assert panel["status"] == "ok"
    numbers = [o["number"] for o in panel["orders"]]
    assert {"12345", "12000", "12346", "12347"} <= set(numbers)  # 12347: guest checkout, same email
    first = next(o for o in panel["orders"] if o["number"] == "12345")
    assert any("義式咖啡機" in i["name"] for i in first["items"])
    assert first["status_label"] == "處理中"
    assert first["edit_url"].endswith("admin.php?page=wc-orders&action=edit&id=12345")
    again = api(shop_client, "GET", f"/conversations/{friend}/customer", auth_headers).json
    assert again["cached"] is True
    with shop_svc.store.session() as s:
        assert s.scalar(select(Binding.bound_by)).startswith("店長 Admin")
    conv = api(shop_client, "GET", "/conversations", auth_headers, query_string={"q": "王小明"}).json
    assert [c["line_user_id"] for c in conv["conversations"]] == [friend]
    unbound = api(shop_client, "GET", "/conversations", auth_headers,
                  query_string={"filter": "unbound"}).json
    assert unbound["conversations"] == []


def test_bind_refuses_bad_input(shop_client, auth_headers, friend):
    for body in ({}, {"customer_id": "abc"}, {"customer_id": -1}, {"email": "not-an-email"},
                 {"phone": "12"}):
        resp = api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json=body)
        assert resp.status_code == 400, body
    assert api(shop_client, "PUT", "/conversations/Unobody/binding", auth_headers,
               json={"customer_id": 2}).status_code == 404


def test_unbind_keeps_history(shop_client, auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    assert api(shop_client, "DELETE", f"/conversations/{friend}/binding", auth_headers).status_code == 204
    data = api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json
    assert data["binding"] is None
    assert [h["action"] for h in data["history"]] == ["unbind", "bind"]


def test_product_card_reaches_line_as_valid_flex(shop_client, shop_svc, line_emulator, auth_headers, friend):
    found = api(shop_client, "GET", "/products/search", auth_headers, query_string={"q": "咖啡豆"}).json
    ids = [p["id"] for p in found["products"]]
    assert 24 not in ids and ids  # the draft is never offered
    resp = api(shop_client, "POST", f"/conversations/{friend}/messages", auth_headers,
               json={"client_id": "card-1", "type": "product", "product_id": ids[0]})
    assert resp.status_code == 202
    run_jobs(shop_svc)
    sent = line_emulator.sent[-1]
    assert sent.messages[0]["type"] == "flex"
    assert [r.status for r in line_emulator.requests if r.path.startswith("/v2/bot/message/")][-1] == 200
    draft = api(shop_client, "POST", f"/conversations/{friend}/messages", auth_headers,
                json={"type": "product", "product_id": 24})
    assert draft.status_code == 400


def test_customer_note_reaches_order_and_line_once(shop_client, shop_svc, woo_emulator, line_emulator,
                                                  auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    resp = api(shop_client, "POST", "/orders/%2312345/notes", auth_headers,
               json={"note": "您的義式咖啡機今天下午寄出", "customer_note": True})
    assert resp.status_code == 201
    assert resp.json["customer_note"] is True and resp.json["delivered_on_line"] == [friend]
    note_id = resp.json["note"]["id"]
    assert any(n["id"] == note_id and n["customer_note"] for n in woo_emulator.notes(12345))
    run_jobs(shop_svc)
    assert line_emulator.sent[-1].messages[0]["text"] == "訂單 #12345 備註：您的義式咖啡機今天下午寄出"
    sends = len(line_emulator.sent)
    # the plugin forwards the same note: recognised, not sent again
    echoed = post_wp_event(shop_client, {"event_id": f"note-{note_id}", "type": "order.customer_note",
                                         "order_id": 12345, "order_number": "12345", "note_id": note_id,
                                         "note": "您的義式咖啡機今天下午寄出", "customer_id": 2,
                                         "billing_email": "ming.wang@example.com"})
    assert echoed.json["status"] == "accepted"
    run_jobs(shop_svc)
    assert len(line_emulator.sent) == sends
    with shop_svc.store.session() as s:
        assert s.scalar(select(WpEvent.status)) == "own_note"


def test_private_note_is_not_sent_to_line(shop_client, shop_svc, line_emulator, auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    before = len(line_emulator.sent)
    resp = api(shop_client, "POST", "/orders/12345/notes", auth_headers,
               json={"note": "客人很急", "customer_note": False})
    assert resp.json["customer_note"] is False and resp.json["delivered_on_line"] == []
    run_jobs(shop_svc)
    assert len(line_emulator.sent) == before


@pytest.mark.parametrize("body", [{"note": ""}, {"note": "x", "customer_note": "yes"}, {"customer_note": True}])
def test_bad_note_requests(shop_client, auth_headers, friend, body):
    assert api(shop_client, "POST", "/orders/12345/notes", auth_headers, json=body).status_code == 400


def test_order_lookup_accepts_hash_and_marks_notes(shop_client, auth_headers, friend):
    data = api(shop_client, "GET", "/orders/%2312345", auth_headers).json
    assert data["order"]["id"] == 12345
    kinds = {n["id"]: n["customer_note"] for n in data["notes"]}
    assert kinds[344] is True and kinds[343] is False
    assert api(shop_client, "GET", "/orders/999999", auth_headers).status_code == 404
    assert api(shop_client, "GET", "/orders/abc", auth_headers).status_code == 400


def test_forwarded_customer_note_is_delivered_to_bound_friend(shop_client, shop_svc, line_emulator,
                                                             auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    event = {"event_id": "note-900", "type": "order.customer_note", "order_id": 12345,
             "order_number": "12345", "note_id": 900, "note": "已出貨 &rarr; 黑貓宅急便",
             "customer_id": 2, "billing_email": "ming.wang@example.com", "billing_phone": "0912-345-678"}
    assert post_wp_event(shop_client, event).json["status"] == "accepted"
    assert post_wp_event(shop_client, event).json["status"] == "duplicate"
    run_jobs(shop_svc)
    texts = [m.messages[0].get("text") for m in line_emulator.sent]
    assert texts.count("訂單 #12345 備註：已出貨 → 黑貓宅急便") == 1
    with shop_svc.store.session() as s:
        row = s.scalar(select(Message).where(Message.type == "order_note"))
        assert row.status == "sent"


def test_guest_bound_by_phone_gets_status_changes(shop_client, shop_svc, line_emulator, auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"phone": "0912345678"})
    post_wp_event(shop_client, {"event_id": "status-12003-a", "type": "order.status_changed",
                                "order_id": 12003, "order_number": "12003", "from": "processing",
                                "to": "completed", "customer_id": 0, "billing_phone": "0912345678"})
    run_jobs(shop_svc)
    assert line_emulator.sent[-1].messages[0]["text"] == "訂單 #12003 狀態更新：處理中 → 已完成"


def test_unbound_customer_event_is_recorded_not_sent(shop_client, shop_svc, line_emulator, friend):
    before = len(line_emulator.sent)
    post_wp_event(shop_client, {"event_id": "note-901", "type": "order.customer_note", "order_id": 12156,
                                "note_id": 901, "note": "hi", "customer_id": 0,
                                "billing_email": "guest.three@example.com"})
    run_jobs(shop_svc)
    assert len(line_emulator.sent) == before
    with shop_svc.store.session() as s:
        assert s.scalar(select(WpEvent.status)) == "unbound"


def test_wp_events_refuse_bad_signatures_and_bodies(shop_client, shop_svc):
    event = {"event_id": "e1", "type": "order.customer_note", "order_id": 1}
    assert post_wp_event(shop_client, event, secret="wrong-secret-" * 3).status_code == 401
    assert post_wp_event(shop_client, event, now=time.time() - 600).status_code == 401
    assert shop_client.post("/wp/events", data=b"{}").status_code == 401
    body = b"not json"
    assert shop_client.post("/wp/events", data=body, headers={
        "X-OrderChatz-Signature": sign_wp_event(body, SHARED_SECRET)}).status_code == 400
    assert post_wp_event(shop_client, {"type": "order.customer_note", "order_id": 1}).status_code == 400
    assert post_wp_event(shop_client, {"event_id": "e3", "type": "order.customer_note",
                                       "order_id": "x"}).status_code == 400
    with shop_svc.store.session() as s:
        assert s.scalar(select(WpEvent.id)) is None
    future = post_wp_event(shop_client, {"event_id": "e2", "type": "order.refunded", "order_id": 1})
    assert future.status_code == 200 and future.json["status"] == "ignored"
    with shop_svc.store.session() as s:
        assert s.scalar(select(WpEvent.status)) == "unsupported"


def test_self_service_account_link(shop_client, shop_svc, line_emulator, auth_headers, friend):
    resp = api(shop_client, "POST", f"/conversations/{friend}/binding/link", auth_headers)
    assert resp.status_code == 202
    run_jobs(shop_svc)
    button = line_emulator.sent[-1].messages[0]
    assert button["type"] == "template"
    link_url = button["template"]["actions"][0]["uri"]
    link_token = parse_qs(urlsplit(link_url).query)["orderchatz-link"][0]
    # the plugin's link page, for logged-in WP user 2, asks for a nonce (signed)
    nonce_resp = post_wp_event(shop_client, {"event_id": "link-1", "type": "link.nonce",
                                             "link_token": link_token, "wp_user_id": 2,
                                             "email": "ming.wang@example.com", "display_name": "王小明"})
    assert nonce_resp.status_code == 200
    nonce = nonce_resp.json["nonce"]
    assert len(nonce) >= 22 and "accountLink" in nonce_resp.json["redirect_url"]
    # LINE calls back with accountLink ok
    deliver(shop_client, line_emulator, [line_emulator.complete_account_link(link_token, nonce)])
    binding = api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json["binding"]
    assert binding["customer_id"] == 2 and binding["method"] == "self"
    run_jobs(shop_svc)
    assert line_emulator.sent[-1].messages[0]["text"].startswith("綁定成功")
    assert line_emulator.sent[-1].kind == "reply"


def test_account_link_refuses_failed_unknown_and_reused_nonces(shop_client, shop_svc, line_emulator,
                                                               auth_headers, friend):
    deliver(shop_client, line_emulator, [line_emulator.account_link_event(friend, "guessed-nonce-123", "ok")])
    assert api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json["binding"] is None
    unknown = post_wp_event(shop_client, {"event_id": "l2", "type": "link.nonce", "link_token": "forged",
                                          "wp_user_id": 2})
    assert unknown.status_code == 404 and unknown.json["error"] == "link_token_invalid"
    api(shop_client, "POST", f"/conversations/{friend}/binding/link", auth_headers)
    token = list(line_emulator.link_tokens)[-1]
    nonce = post_wp_event(shop_client, {"event_id": "l3", "type": "link.nonce", "link_token": token,
                                        "wp_user_id": 3}).json["nonce"]
    deliver(shop_client, line_emulator, [line_emulator.account_link_event(friend, nonce, "failed")])
    assert api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json["binding"] is None
    deliver(shop_client, line_emulator, [line_emulator.account_link_event(friend, nonce, "ok")])
    assert api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json["binding"]["customer_id"] == 3
    api(shop_client, "DELETE", f"/conversations/{friend}/binding", auth_headers)
    deliver(shop_client, line_emulator, [line_emulator.account_link_event(friend, nonce, "ok")])  # reused
    assert api(shop_client, "GET", f"/conversations/{friend}/binding", auth_headers).json["binding"] is None


def test_shop_down_degrades_the_panel_not_the_chat(shop_client, shop_svc, woo_emulator, line_emulator,
                                                   auth_headers, friend):
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    woo_emulator.go_down()
    started = time.monotonic()
    panel = api(shop_client, "GET", f"/conversations/{friend}/customer", auth_headers).json
    assert panel["status"] == "unavailable" and panel["message"]
    assert time.monotonic() - started < 5
    woo_emulator.come_back()
    assert api(shop_client, "GET", f"/conversations/{friend}/customer", auth_headers,
               query_string={"refresh": "1"}).json["status"] == "ok"
    woo_emulator.go_down()
    stale = api(shop_client, "GET", f"/conversations/{friend}/customer", auth_headers,
                query_string={"refresh": "1"}).json
    assert stale["status"] == "stale" and stale["orders"]
    # the chat keeps working
    assert api(shop_client, "POST", f"/conversations/{friend}/messages", auth_headers,
               json={"type": "text", "text": "稍等一下喔"}).status_code == 202
    woo_emulator.come_back()


def test_tags_and_staff_notes(shop_client, auth_headers, friend):
    assert api(shop_client, "PUT", f"/conversations/{friend}/tags/VIP", auth_headers).json["tags"] == ["VIP"]
    api(shop_client, "PUT", f"/conversations/{friend}/tags/VIP", auth_headers)
    api(shop_client, "PUT", f"/conversations/{friend}/tags/回購", auth_headers)
    assert api(shop_client, "GET", "/tags", auth_headers).json["tags"] == [
        {"name": "VIP", "count": 1}, {"name": "回購", "count": 1}]
    listed = api(shop_client, "GET", "/conversations", auth_headers, query_string={"tag": "VIP"}).json
    assert [c["line_user_id"] for c in listed["conversations"]] == [friend]
    api(shop_client, "PATCH", "/tags/VIP", auth_headers, json={"name": "貴賓"})
    assert api(shop_client, "DELETE", f"/conversations/{friend}/tags/回購", auth_headers).json["tags"] == ["貴賓"]
    assert api(shop_client, "PUT", f"/conversations/{friend}/tags/{'x' * 65}", auth_headers).status_code == 400

    created = api(shop_client, "POST", f"/conversations/{friend}/notes", auth_headers,
                  json={"category": "待處理", "body": "下週補寄濾紙", "related_order_id": "#12345"})
    assert created.status_code == 201
    note = created.json["note"]
    assert note["related_order_id"] == 12345 and note["author"]["name"] == "店長 Admin"
    patched = api(shop_client, "PATCH", f"/conversations/{friend}/notes/{note['id']}", auth_headers,
                  json={"category": "已完成"}).json["note"]
    assert patched["category"] == "已完成" and patched["body"] == "下週補寄濾紙"
    assert api(shop_client, "POST", f"/conversations/{friend}/notes", auth_headers,
               json={"category": "不存在", "body": "x"}).status_code == 400
    listing = api(shop_client, "GET", f"/conversations/{friend}/notes", auth_headers).json
    assert listing["categories"] == ["重要", "待處理", "已完成", "備忘"]
    assert api(shop_client, "DELETE", f"/conversations/{friend}/notes/{note['id']}", auth_headers).status_code == 204
    assert api(shop_client, "GET", f"/conversations/{friend}/notes", auth_headers).json["notes"] == []


def test_notes_never_reach_someone_who_only_shares_the_phone(shop_client, shop_svc, line_emulator,
                                                            auth_headers, friend):
    # 張志明 (guest.one@) saved 王小明's number; he is bound as a guest by email and phone.
    other = "U" + "b" * 32
    deliver(shop_client, line_emulator, [line_emulator.text_event(other, "我是張志明")])
    api(shop_client, "PUT", f"/conversations/{other}/binding", auth_headers,
        json={"email": "guest.one@example.com", "phone": "0912345678"})
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    resp = api(shop_client, "POST", "/orders/12345/notes", auth_headers,
               json={"note": "已寄出", "customer_note": True})
    assert resp.json["delivered_on_line"] == [friend]
    lookup = api(shop_client, "GET", "/bindings/lookup", auth_headers,
                 query_string={"customer_id": 2, "email": "ming.wang@example.com",
                               "phone": "0912-345-678"}).json
    assert [f["line_user_id"] for f in lookup["friends"]] == [friend]
    # a phone-only guest binding still gets the guest's own order events
    post_wp_event(shop_client, {"event_id": "note-77", "type": "order.customer_note", "order_id": 12003,
                                "note_id": 77, "note": "到貨了", "customer_id": 0,
                                "billing_email": "guest.one@example.com", "billing_phone": "0912345678"})
    run_jobs(shop_svc)
    assert [m.to for m in line_emulator.sent if "到貨了" in m.messages[0].get("text", "")] == [other]


def test_long_customer_notes_are_shortened_to_fit_line(shop_client, shop_svc, line_emulator, auth_headers, friend):
    from orderchatz.domain.messages import utf16_len
    api(shop_client, "PUT", f"/conversations/{friend}/binding", auth_headers, json={"customer_id": 2})
    resp = api(shop_client, "POST", "/orders/12345/notes", auth_headers,
               json={"note": "字" * 5000, "customer_note": True})
    assert resp.status_code == 201
    run_jobs(shop_svc)
    text = line_emulator.sent[-1].messages[0]["text"]
    assert text.startswith("訂單 #12345 備註：") and utf16_len(text) <= 5000


def test_wp_event_with_unusable_fields_is_refused_up_front(shop_client, shop_svc):
    for bad in ({"customer_id": "abc"}, {"customer_id": True}, {"note_id": -1}, {"note": {"x": 1}},
                {"order_id": "99999999999999999999999"}):
        event = {"event_id": f"bad-{len(str(bad))}", "type": "order.customer_note", "order_id": 12345,
                 "note": "hi", **bad}
        resp = post_wp_event(shop_client, event)
        assert resp.status_code == 400, bad


def test_link_button_refused_for_a_blocked_friend(shop_client, line_emulator, auth_headers, friend):
    deliver(shop_client, line_emulator, [line_emulator.unfollow_event(friend)])
    resp = api(shop_client, "POST", f"/conversations/{friend}/binding/link", auth_headers)
    assert resp.status_code == 409 and not line_emulator.link_tokens


def test_full_width_search_input(shop_client, auth_headers, friend):
    resp = api(shop_client, "GET", "/customers/search", auth_headers,
               query_string={"q": "０９１２－３４５－６７８"})
    assert 2 in [c["customer_id"] for c in resp.json["candidates"]]
    assert api(shop_client, "GET", "/orders/＃12345", auth_headers).json["order"]["id"] == 12345
