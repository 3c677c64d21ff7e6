"""POST /line/webhook: signature, durability, dedupe, tolerance (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from orderchatz.store.models import Friend, Message, Outbox, WebhookEvent
from tests.conftest import CHANNEL_SECRET
from tests.support import load_shared_json, shared_fixture

USER = "U" + "4af4980629" * 3 + "ab"


def post(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Line-Signature"] = signature
    return client.post("/line/webhook", data=body, headers=headers)


def deliver(client, emu, events, **kw):
    body = emu.webhook_body(events, **kw)
    return post(client, body, emu.sign(body))


def count(svc, model, *where):
    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def messages(svc):
    with svc.store.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)))


def test_escaped_emoji_body_verifies_and_is_stored_decoded(client, svc, line_emulator):
    event = line_emulator.text_event(USER, "\U0001F928 order 1001?")
    body = line_emulator.webhook_body([event])
    assert b"\\ud83e\\udd28" in body.lower()  # sent with escapes exactly as LINE sends them
    resp = post(client, body, line_emulator.sign(body))
    assert resp.status_code == 200
    assert [m.text for m in messages(svc)] == ["🤨 order 1001?"]
    with svc.store.session() as s:
        raw = json.loads(s.scalar(select(WebhookEvent.raw)))
    assert raw["message"]["text"] == "🤨 order 1001?"


def test_documented_signature_vector_is_accepted():
    from orderchatz.auth import line_signature, verify_line_signature
    vector = load_shared_json("line/signature-test-vector.json")
    secret = vector.get("channel_secret") or vector.get("channelSecret") or vector.get("secret")
    body = (vector.get("body") or vector.get("request_body")).encode()
    expected = vector.get("signature") or vector.get("expected_signature") or vector.get("x_line_signature")
    assert line_signature(body, secret) == expected
    assert verify_line_signature(body, expected, secret)


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU=", "garbage!"])
def test_bad_or_missing_signature_is_400_and_stores_nothing(client, svc, line_emulator, signature):
    body = line_emulator.webhook_body([line_emulator.text_event(USER, "hi")])
    resp = post(client, body, signature)
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_signature"
    assert count(svc, WebhookEvent) == 0 and count(svc, Friend) == 0


def test_signature_over_reserialised_json_is_rejected(client, svc, line_emulator):
    body = line_emulator.webhook_body([line_emulator.text_event(USER, "你好")])
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    resp = post(client, body, line_emulator.sign(reserialised))
    assert resp.status_code == 400
    assert count(svc, Message) == 0


def test_redelivery_and_duplicates_are_no_ops(client, svc, line_emulator):
    event = line_emulator.text_event(USER, "請問出貨了嗎？")
    assert deliver(client, line_emulator, [event]).status_code == 200
    again = deliver(client, line_emulator, [event], redelivery=True)
    assert again.status_code == 200 and again.json["duplicates"] == 1
    assert deliver(client, line_emulator, [event, event]).json["duplicates"] == 2
    assert count(svc, Message) == 1
    assert count(svc, WebhookEvent) == 1
    assert count(svc, Outbox, Outbox.job == "profile") == 1  # one follow-up job, not three


def test_unknown_types_do_not_break_the_batch(client, svc, line_emulator):
    text = line_emulator.text_event(USER, "hello")
    future_event = {"type": "someFutureEvent", "mode": "active", "timestamp": text["timestamp"],
                    "webhookEventId": "01FUTUREEVENT0000000000001",
                    "deliveryContext": {"isRedelivery": False},
                    "source": {"type": "user", "userId": USER}}
    future_message = line_emulator.text_event(USER, "x")
    future_message["message"] = {"type": "someFutureType", "id": "99887766"}
    broken = line_emulator.text_event(USER, "y")
    del broken["message"]
    resp = deliver(client, line_emulator, [text, future_event, future_message, broken])
    assert resp.status_code == 200
    assert resp.json == {"received": 4, "stored": 1, "duplicates": 0, "unsupported": 2, "invalid": 1}
    with svc.store.session() as s:
        statuses = dict(s.execute(select(WebhookEvent.event_type, WebhookEvent.status)
                                  .where(WebhookEvent.event_type != "message")).all())
        kinds = [(m.type, m.text) for m in s.scalars(select(Message).order_by(Message.id))]
    assert statuses == {"someFutureEvent": "unsupported"}
    assert kinds == [("text", "hello"), ("unsupported", None)]


def test_verify_requests_have_no_side_effects(client, svc):
    legacy = load_shared_json("line/legacy-verify-button-dummy-payload.json")["payload"]
    for body in (b'{"destination":"U0","events":[]}', json.dumps(legacy).encode()):
        from orderchatz.auth import line_signature
        resp = post(client, body, line_signature(body, CHANNEL_SECRET))
        assert resp.status_code == 200
    assert count(svc, Friend) == 0 and count(svc, WebhookEvent) == 0 and count(svc, Outbox) == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"events": {}}', b'{"destination": "U"}',
                                  b"\xff\xfe"])
def test_malformed_bodies_get_a_clear_400(client, svc, body):
    from orderchatz.auth import line_signature
    resp = post(client, body, line_signature(body, CHANNEL_SECRET))
    assert resp.status_code == 400 and resp.json["error"] == "malformed_body"
    assert count(svc, WebhookEvent) == 0


def test_oversized_body_is_413(client, svc):
    from orderchatz.auth import line_signature
    body = b'{"events":[],"pad":"' + b"x" * 1_100_000 + b'"}'
    resp = post(client, body, line_signature(body, CHANNEL_SECRET))
    assert resp.status_code == 413
    assert count(svc, WebhookEvent) == 0


def test_all_28_sdk_sample_events_are_processed(client, svc, line_emulator):
    shared_fixture("line/sdk-v3-test-webhook-sample.json")
    events = line_emulator.events_from_fixture()
    assert len(events) == 28
    resp = deliver(client, line_emulator, events)
    assert resp.status_code == 200
    data = resp.json
    assert data["received"] == 28 and data["invalid"] == 0 and data["duplicates"] == 0
    assert count(svc, WebhookEvent) == 28


def test_event_lifecycle_follow_message_unsend_unfollow(client, svc, line_emulator):
    assert deliver(client, line_emulator, [line_emulator.follow_event(USER)]).status_code == 200
    text = line_emulator.text_event(USER, "我要收回這句")
    sticker = line_emulator.sticker_event(USER)
    deliver(client, line_emulator, [text, sticker])
    deliver(client, line_emulator, [line_emulator.unsend_event(USER, text["message"]["id"])])
    deliver(client, line_emulator, [line_emulator.postback_event(USER, "action=track&order=12345")])
    deliver(client, line_emulator, [line_emulator.unfollow_event(USER)])
    with svc.store.session() as s:
        friend = s.scalar(select(Friend))
        rows = list(s.scalars(select(Message).order_by(Message.id)))
    assert friend.blocked is True
    assert [r.type for r in rows] == ["follow", "text", "sticker", "postback", "unfollow"]
    unsent = rows[1]
    assert unsent.unsent_at is not None and unsent.text == "我要收回這句"  # hidden, kept for audit
    assert friend.unread_count == 2
    # unblocking: a follow after an unfollow
    deliver(client, line_emulator, [line_emulator.follow_event(USER, is_unblocked=True)])
    with svc.store.session() as s:
        assert s.scalar(select(Friend.blocked)) is False


def test_quote_tokens_and_media_follow_ups_are_kept(client, svc, line_emulator):
    text = line_emulator.text_event(USER, "看這張")
    image = line_emulator.image_event(USER)
    deliver(client, line_emulator, [text, image])
    rows = messages(svc)
    assert rows[0].quote_token == text["message"]["quoteToken"]
    assert rows[1].media_status == "pending"
    assert count(svc, Outbox, Outbox.job == "media") == 1


@pytest.mark.parametrize("breakage", ["text_object", "quote_object", "reply_object", "bad_user",
                                      "long_user", "no_source", "null_text"])
def test_one_badly_typed_event_never_costs_the_batch(client, svc, line_emulator, breakage):
    good = line_emulator.text_event(USER, "好的訊息")
    bad = line_emulator.text_event(USER, "壞的")
    if breakage == "text_object":
        bad["message"]["text"] = {"a": 1}
    elif breakage == "quote_object":
        bad["message"]["quoteToken"] = {"x": 1}
    elif breakage == "reply_object":
        bad["replyToken"] = ["x"]
    elif breakage == "bad_user":
        bad["source"]["userId"] = "../../etc"
    elif breakage == "long_user":
        bad["source"]["userId"] = "U" + "a" * 300
    elif breakage == "no_source":
        del bad["source"]
    else:
        bad["message"]["text"] = None
    resp = deliver(client, line_emulator, [bad, good])
    assert resp.status_code == 200
    assert resp.json["stored"] == 1 and resp.json["invalid"] == 1, resp.json
    assert [m.text for m in messages(svc)] == ["好的訊息"]


def test_deeply_nested_and_chunked_oversized_bodies(client, svc):
    from orderchatz.auth import line_signature
    nested = b'{"events":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    resp = post(client, nested, line_signature(nested, CHANNEL_SECRET))
    assert resp.status_code in (400, 413)

    import io
    # A chunked body carries no Content-Length: the cap must hold while reading.
    resp = client.post("/line/webhook", input_stream=io.BytesIO(b"x" * 1_200_000),
                       headers={"X-Line-Signature": "x", "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413


def test_characters_no_store_can_keep_are_replaced_the_same_everywhere(client, svc, line_emulator):
    # NUL (PostgreSQL refuses it) and lone UTF-16 surrogates (not encodable) arrive as JSON
    # escapes; they become U+FFFD on every store instead of failing the delivery (a 500 or 503
    # that every redelivery would repeat). A real emoji pair stays an emoji.
    events = [line_emulator.text_event(USER, "第一則"), line_emulator.text_event(USER, "壞\x00的\ud800"),
              line_emulator.text_event(USER, "🤨"), {"type": "fol\x00low", "webhookEventId": "E\x00\udc00"}]
    events[1]["message"]["id"] += "\x00"
    body = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
    assert b"\\u0000" in body and b"\\ud800" in body
    resp = post(client, body, line_emulator.sign(body))
    assert resp.status_code == 200, resp.json
    assert (resp.json["stored"], resp.json["unsupported"], resp.json["invalid"]) == (3, 1, 0)
    assert [m.text for m in messages(svc)] == ["第一則", "壞\ufffd的\ufffd", "🤨"]
    with svc.store.session() as s:
        assert set(s.scalars(select(WebhookEvent.webhook_event_id))) >= {"E\ufffd\ufffd"}
    assert post(client, body, line_emulator.sign(body)).json["duplicates"] == 4  # redelivery


def test_a_value_the_store_refuses_costs_only_its_own_event(client, svc, line_emulator, monkeypatch):
    # When the database refuses a value in the delivery's bulk insert, the delivery is recorded
    # again event by event, and only that event ends up invalid (kept raw).
    from sqlalchemy.exc import DataError

    from orderchatz.domain import inbox
    write = inbox._Batch.write_messages

    def refusing(batch):
        if any(row["text"] == "壞的" for _, row in batch.pending):
            batch.pending = []
            raise DataError("INSERT INTO messages …", {}, Exception("value refused"))
        write(batch)

    monkeypatch.setattr(inbox._Batch, "write_messages", refusing)
    events = [line_emulator.text_event(USER, "第一則"), line_emulator.text_event(USER, "壞的"),
              line_emulator.follow_event(USER), line_emulator.text_event(USER, "第三則")]
    resp = deliver(client, line_emulator, events)
    assert resp.status_code == 200
    assert (resp.json["stored"], resp.json["invalid"]) == (3, 1)
    assert [(m.type, m.text) for m in messages(svc)] == [
        ("text", "第一則"), ("follow", "followed"), ("text", "第三則")]
    assert count(svc, WebhookEvent) == 4
    assert count(svc, WebhookEvent, WebhookEvent.status == "invalid") == 1
    with svc.store.session() as s:
        friend = s.scalar(select(Friend))
    assert friend.unread_count == 2
    assert friend.last_message_preview == "第三則"


def test_odd_deliveries(client, svc, line_emulator):
    # Items that are not objects are kept raw as invalid; a timestamp from the future counts as
    # now (it would pin its friend atop the list); an unsend names only its sender's messages.
    other = "U" + "7c" * 16
    mine = line_emulator.text_event(USER, "我的訊息")
    future = line_emulator.text_event(other, "來自未來")
    future["timestamp"] = 253402300799000
    resp = deliver(client, line_emulator, [1, "x", None, [], mine, future,
                                           line_emulator.unsend_event(other, mine["message"]["id"])])
    assert resp.status_code == 200
    assert (resp.json["stored"], resp.json["invalid"]) == (3, 4)
    assert count(svc, WebhookEvent, WebhookEvent.status == "invalid") == 4
    rows = messages(svc)
    assert [(m.text, m.unsent_at) for m in rows] == [("我的訊息", None), ("來自未來", None)]
    assert rows[1].created_at.year == rows[0].created_at.year < 9999


def test_a_delivery_with_more_events_than_one_statement_can_name(client, svc, line_emulator):
    # Drivers cap the parameters of one statement (SQLite 32,766, psycopg 65,535); LINE never
    # sends this many, but a body under the size limit can, and must not fail on every retry.
    events = [{"n": i} for i in range(66_000)]  # no type: unsupported, each its own hash key
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    resp = post(client, body, line_emulator.sign(body))
    assert resp.status_code == 200
    assert resp.json["unsupported"] == 66_000
    assert count(svc, WebhookEvent) == 66_000


def test_events_of_one_delivery_apply_in_order(client, svc, line_emulator):
    # A message and its unsend in the same delivery: the unsend must find the message.
    follow = line_emulator.follow_event(USER)  # made in delivery order: timestamps ascend
    text = line_emulator.text_event(USER, "打錯了")
    unsend = line_emulator.unsend_event(USER, text["message"]["id"])
    later = line_emulator.text_event(USER, "這才對")
    events = [follow, text, unsend, later]
    assert deliver(client, line_emulator, events).json["stored"] == 4
    with svc.store.session() as s:
        friend = s.scalar(select(Friend))
        rows = list(s.scalars(select(Message).order_by(Message.id)))
    assert [(r.type, r.unsent_at is not None) for r in rows] == [
        ("follow", False), ("text", True), ("text", False)]
    assert friend.unread_count == 2
    assert friend.last_message_preview == "這才對"
    # Unsending an older message leaves the newer preview alone.
    deliver(client, line_emulator, [line_emulator.unsend_event(USER, rows[1].line_message_id)])
    with svc.store.session() as s:
        assert s.scalar(select(Friend.last_message_preview)) == "這才對"


def test_concurrent_deliveries_for_one_friend_lose_no_count(svc, line_emulator):
    # Counters move in SQL: parallel deliveries (two gunicorn workers) never overwrite each other.
    from concurrent.futures import ThreadPoolExecutor

    from orderchatz.domain.inbox import handle_line_webhook
    handle_line_webhook(svc, line_emulator.webhook_body([line_emulator.text_event(USER, "先來")]))
    bodies = [line_emulator.webhook_body([line_emulator.text_event(USER, f"第 {i} 則")])
              for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda b: handle_line_webhook(svc, b), bodies))
    assert sum(r.stored for r in results) == 40
    with svc.store.session() as s:
        friend = s.scalar(select(Friend))
    assert friend.unread_count == 41
    assert count(svc, Message) == 41


def test_deliveries_naming_friends_in_opposite_orders_do_not_deadlock(svc, line_emulator):
    from concurrent.futures import ThreadPoolExecutor

    from orderchatz.domain.inbox import handle_line_webhook
    users = ["U" + f"{i:02d}" * 16 for i in range(10)]
    handle_line_webhook(svc, line_emulator.webhook_body([line_emulator.follow_event(u) for u in users]))

    def send(order):
        return [handle_line_webhook(svc, line_emulator.webhook_body(
            [line_emulator.text_event(u, "嗨") for u in order])).stored for _ in range(15)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        stored = list(pool.map(send, [users, users[::-1]]))
    assert stored == [[10] * 15, [10] * 15]
    with svc.store.session() as s:
        assert set(s.scalars(select(Friend.unread_count))) == {30}


def test_second_review_findings(client, svc, line_emulator):
    # A message id longer than the column is invalid (cut, it would never match its duplicate
    # and every redelivery would fail); deep nesting next to an unstorable character is fine; a
    # user id with a final newline is not LINE's; ignored and unknown events make no friend.
    long_id = line_emulator.text_event(USER, "長編號")
    long_id["message"]["id"] = "9" * 70
    assert deliver(client, line_emulator, [long_id]).json["invalid"] == 1
    again = dict(long_id, webhookEventId=long_id["webhookEventId"] + "b")
    resp = deliver(client, line_emulator, [line_emulator.text_event(USER, "GOOD"), again])
    assert resp.status_code == 200 and (resp.json["stored"], resp.json["invalid"]) == (1, 1)

    deep = line_emulator.text_event(USER, "深")
    deep["junk"] = "PH"
    body = json.dumps({"events": [line_emulator.text_event(USER, "innocent"), deep]})
    body = body.replace('"PH"', "[" * 600 + '"\\ud800"' + "]" * 600).encode()
    assert post(client, body, line_emulator.sign(body)).json["stored"] == 2

    newline = line_emulator.text_event(USER, "換行")
    newline["source"]["userId"] = "U" + "a" * 32 + "\n"
    stranger = "U" + "e" * 32
    resp = deliver(client, line_emulator, [newline, {"type": "videoPlayComplete", "source": {
        "type": "user", "userId": stranger}, "webhookEventId": "V1"}, {"type": "someFutureEvent",
        "source": {"type": "user", "userId": stranger}, "webhookEventId": "V2"}])
    assert resp.json["invalid"] == 1
    with svc.store.session() as s:
        assert list(s.scalars(select(Friend.line_user_id))) == [USER]
    assert [m.text for m in messages(svc)] == ["GOOD", "innocent", "深"]


def test_a_huge_number_costs_only_its_event(client, svc, line_emulator):
    bad = line_emulator.text_event(USER, "巨大數字")
    bad["message"]["id"] = "HUGE"
    body = json.dumps({"events": [line_emulator.text_event(USER, "正常"), bad]})
    body = body.replace('"HUGE"', "7" + "0" * 5000).encode()  # a number, not a string: invalid
    resp = post(client, body, line_emulator.sign(body))
    assert resp.status_code == 200 and (resp.json["stored"], resp.json["invalid"]) == (1, 1)
