"""Sending: reply vs push, retry keys, LINE failures classified, never double-sent."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from orderchatz.domain.outbound import send_outbound_message
from orderchatz.store.models import Message, utcnow
from tests.conftest import run_jobs
from tests.sidecar.test_webhook import USER, deliver

PUSH = "/v2/bot/message/push"
REPLY = "/v2/bot/message/reply"


@pytest.fixture
def inbound(client, svc, line_emulator):
    """A customer wrote a moment ago: the friend exists and has a fresh reply token."""
    line_emulator.add_friend(USER, "王小明")
    event = line_emulator.text_event(USER, "您好，請問我的訂單出貨了嗎？")
    assert deliver(client, line_emulator, [event]).status_code == 200
    return event


def send(client, auth_headers, text="您好，我看到您的訂單了", client_id="c-1", **extra):
    return client.post(f"/api/v1/conversations/{USER}/messages", headers=auth_headers,
                       json={"client_id": client_id, "type": "text", "text": text, **extra})


def outbound(svc) -> Message:
    with svc.store.session() as s:
        return s.scalar(select(Message).where(Message.direction == "out").order_by(Message.id.desc()))


def age_inbound(svc, seconds: float):
    with svc.store.session() as s:
        s.execute(update(Message).where(Message.direction == "in")
                  .values(created_at=utcnow() - timedelta(seconds=seconds)))


def test_fresh_reply_token_is_used_once_for_a_free_reply(client, svc, line_emulator, auth_headers, inbound):
    resp = send(client, auth_headers)
    assert resp.status_code == 202 and resp.json["message"]["status"] == "queued"
    run_jobs(svc)
    assert [(m.kind, m.to) for m in line_emulator.sent] == [("reply", USER)]
    assert line_emulator.sent[0].reply_token == inbound["replyToken"]
    row = outbound(svc)
    assert (row.status, row.sent_via) == ("sent", "reply")
    # the token is used: a second message goes by push
    send(client, auth_headers, "第二則", client_id="c-2")
    run_jobs(svc)
    assert [m.kind for m in line_emulator.sent] == ["reply", "push"]


def test_answer_after_90_seconds_is_exactly_one_push(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    send(client, auth_headers)
    run_jobs(svc)
    assert not line_emulator.requests_to(REPLY)
    assert [m.kind for m in line_emulator.sent] == ["push"]
    assert line_emulator.sent[0].retry_key


def test_invalid_reply_token_falls_back_to_exactly_one_push(client, svc, line_emulator, auth_headers, inbound):
    line_emulator.expire_reply_token(inbound["replyToken"])
    send(client, auth_headers)
    run_jobs(svc)
    assert [r.status for r in line_emulator.requests_to(REPLY)] == [400]
    assert [m.kind for m in line_emulator.sent] == ["push"]
    assert outbound(svc).status == "sent"


def test_client_id_makes_sending_idempotent(client, svc, line_emulator, auth_headers, inbound):
    first = send(client, auth_headers)
    second = send(client, auth_headers)
    assert first.json["message"]["id"] == second.json["message"]["id"]
    assert second.json["created"] is False
    run_jobs(svc)
    assert len(line_emulator.sent) == 1


def test_monthly_quota_fails_clearly_without_retries(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    line_emulator.set_monthly_quota(0)
    send(client, auth_headers)
    run_jobs(svc)
    row = outbound(svc)
    assert row.status == "failed" and row.failure_code == "quota_exhausted"
    assert "額度" in row.failure_reason
    assert len(line_emulator.requests_to(PUSH)) == 1


@pytest.mark.parametrize("fault", [{"status": 429, "body": {"message": "The API rate limit has been exceeded. Try again later."}},
                                   {"status": 500, "body": None},
                                   {"status": None, "delay": 3.0}])
def test_transient_failures_retry_with_the_same_retry_key(client, svc, line_emulator, auth_headers,
                                                          inbound, fault):
    age_inbound(svc, 90)
    line_emulator.fail_next(PUSH, fault["status"], fault.get("body"), delay=fault.get("delay", 0.0))
    send(client, auth_headers)
    row = outbound(svc)
    with pytest.raises(Exception):
        send_outbound_message(svc, row.id, last_attempt=False)
    assert outbound(svc).status == "queued" and outbound(svc).failure_code
    assert send_outbound_message(svc, row.id, last_attempt=False) == "sent"
    keys = {r.headers.get("X-Line-Retry-Key") for r in line_emulator.requests_to(PUSH)}
    assert len(keys) == 1
    assert len(line_emulator.sent) == 1


def test_push_accepted_but_answer_lost_counts_409_as_sent(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    line_emulator.fail_next(PUSH, 500, accepted=True)
    send(client, auth_headers)
    row = outbound(svc)
    with pytest.raises(Exception):
        send_outbound_message(svc, row.id, last_attempt=False)
    assert send_outbound_message(svc, row.id, last_attempt=False) == "sent"
    assert [r.status for r in line_emulator.requests_to(PUSH)] == [500, 409]
    assert len(line_emulator.sent) == 1  # delivered once


def test_last_failed_attempt_is_visible_with_reason(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    line_emulator.fail_next(PUSH, 503, times=10)
    send(client, auth_headers)
    assert send_outbound_message(svc, outbound(svc).id, last_attempt=True) == "failed"
    row = outbound(svc)
    assert row.failure_code == "line_unavailable" and "LINE" in row.failure_reason


def test_invalid_message_shows_lines_property_path(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    line_emulator.fail_next(PUSH, 400, {"message": "The request body has 1 error(s)",
                                        "details": [{"message": "May not be empty",
                                                     "property": "messages[0].text"}]})
    send(client, auth_headers)
    run_jobs(svc)
    row = outbound(svc)
    assert row.status == "failed" and row.failure_code == "invalid_message"
    assert "messages[0].text" in row.failure_reason


def test_blocked_friend_is_never_claimed_as_sent(client, svc, line_emulator, auth_headers, inbound):
    deliver(client, line_emulator, [line_emulator.unfollow_event(USER)])
    send(client, auth_headers)
    run_jobs(svc)
    row = outbound(svc)
    assert row.status == "failed" and row.failure_code == "blocked"
    assert not line_emulator.sent


def test_failed_message_can_be_retried_by_the_agent(client, svc, line_emulator, auth_headers, inbound):
    age_inbound(svc, 90)
    line_emulator.fail_next(PUSH, 503, times=10)
    send(client, auth_headers)
    send_outbound_message(svc, outbound(svc).id, last_attempt=True)
    line_emulator.clear_faults()
    resp = client.post(f"/api/v1/conversations/{USER}/messages/{outbound(svc).id}/retry",
                       headers=auth_headers)
    assert resp.status_code == 202
    run_jobs(svc)
    assert outbound(svc).status == "sent" and len(line_emulator.sent) == 1


@pytest.mark.parametrize("body,code", [
    ({"type": "text", "text": ""}, "invalid_text"),
    ({"type": "text", "text": "😀" * 2501}, "text_too_long"),
    ({"type": "sticker", "package_id": "x"}, "invalid_sticker"),
    ({"type": "image", "original_url": "http://insecure.example/a.jpg"}, "invalid_image"),
    ({"type": "carousel"}, "unsupported_type"),
])
def test_bad_send_requests_are_refused_before_queueing(client, svc, auth_headers, inbound, body, code):
    resp = client.post(f"/api/v1/conversations/{USER}/messages", headers=auth_headers, json=body)
    assert resp.status_code == 400 and resp.json["error"] == code
    assert outbound(svc) is None


def test_text_limit_counts_utf16_units(client, svc, auth_headers, inbound):
    resp = send(client, auth_headers, "😀" * 2500)  # 5,000 UTF-16 units: exactly the limit
    assert resp.status_code == 202


def test_sticker_and_image_are_sent_as_line_messages(client, svc, line_emulator, auth_headers, inbound):
    client.post(f"/api/v1/conversations/{USER}/messages", headers=auth_headers,
                json={"client_id": "s", "type": "sticker", "package_id": "11537", "sticker_id": "52002738"})
    client.post(f"/api/v1/conversations/{USER}/messages", headers=auth_headers,
                json={"client_id": "i", "type": "image", "original_url": "https://shop.example/a.jpg"})
    run_jobs(svc)
    types = [m.messages[0]["type"] for m in line_emulator.sent]
    assert types == ["sticker", "image"]


def test_unknown_friend_is_404(client, auth_headers):
    resp = client.post("/api/v1/conversations/Unobody/messages", headers=auth_headers,
                       json={"type": "text", "text": "hi"})
    assert resp.status_code == 404


def test_client_id_of_another_conversation_is_a_conflict(client, svc, line_emulator, auth_headers, inbound):
    other = "U" + "c" * 32
    deliver(client, line_emulator, [line_emulator.text_event(other, "hi")])
    send(client, auth_headers, client_id="shared-id")
    resp = client.post(f"/api/v1/conversations/{other}/messages", headers=auth_headers,
                       json={"client_id": "shared-id", "type": "text", "text": "x"})
    assert resp.status_code == 409 and resp.json["error"] == "client_id_conflict"
