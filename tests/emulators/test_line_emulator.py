"""The LINE emulator is the contract the sidecar is tested against: drive it with the real SDK.

Every assertion here is about what a bot talking to LINE would observe (status, LINE's error
body, headers) or what LINE would have delivered (`emu.sent`).
"""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    Configuration,
    ApiClient,
    FlexContainer,
    FlexMessage,
    MarkMessagesAsReadByTokenRequest,
    MessagingApi,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
    StickerMessage,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhooks import (
    AccountLinkEvent,
    FileMessageContent,
    FollowEvent,
    ImageMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
)
from linebot.v3.models.events import UnknownEvent

from orderchatz.auth import verify_line_signature
from orderchatz.emulators.line import (
    MSG_BAD_TOKEN,
    MSG_FAILED_TO_SEND,
    MSG_INVALID_REPLY_TOKEN,
    MSG_MONTHLY_LIMIT,
    MSG_NO_AUTH,
    MSG_RATE_LIMIT,
    MSG_RETRY_ACCEPTED,
    LineEmulator,
)
from tests.emulators.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support import free_port, load_shared_json, shared_fixture

ALICE = "U" + "a1" * 16
BOB = "U" + "b2" * 16
STRANGER = "U" + "c3" * 16


def api_error(exc_info) -> tuple[int, dict]:
    exc = exc_info.value
    return exc.status, json.loads(exc.body)


def post(emu: LineEmulator, path: str, body, token: str = ACCESS_TOKEN, **headers) -> requests.Response:
    return requests.post(emu.base_url + path, json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token}", **headers})


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def product_card() -> dict:
    return load_shared_json("line/flex-product-card-example.json")["flex_message"]


# --- reply tokens -------------------------------------------------------------------------------

def test_reply_token_from_a_webhook_is_accepted_once(line_emu, messaging_api):
    event = line_emu.text_event(ALICE, "Is the green tea in stock?")

    response = messaging_api.reply_message(ReplyMessageRequest(
        reply_token=event["replyToken"], messages=[TextMessage(text="Yes, 12 left")]))

    assert len(response.sent_messages) == 1 and response.sent_messages[0].id.isdigit()
    assert response.sent_messages[0].quote_token
    [sent] = line_emu.sent
    assert (sent.kind, sent.to, sent.texts, sent.reply_token) == ("reply", ALICE, ["Yes, 12 left"], event["replyToken"])
    assert sent.delivered and sent.message_ids == [response.sent_messages[0].id]

    with pytest.raises(ApiException) as reused:
        messaging_api.reply_message(ReplyMessageRequest(
            reply_token=event["replyToken"], messages=[TextMessage(text="again")]))
    assert api_error(reused) == (400, {"message": MSG_INVALID_REPLY_TOKEN})
    assert len(line_emu.sent) == 1


def test_expired_reply_token_is_rejected(line_emu, messaging_api, clock):
    event = line_emu.text_event(ALICE, "hello")
    clock.advance(line_emu.reply_token_ttl + 1)

    with pytest.raises(ApiException) as expired:
        messaging_api.reply_message(ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="late")]))

    assert api_error(expired) == (400, {"message": MSG_INVALID_REPLY_TOKEN})
    assert line_emu.sent == []


def test_reply_token_still_valid_just_inside_ttl(line_emu, messaging_api, clock):
    event = line_emu.text_event(ALICE, "hello")
    clock.advance(line_emu.reply_token_ttl - 1)

    messaging_api.reply_message(ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="ok")]))

    assert [s.texts for s in line_emu.sent] == [["ok"]]


@pytest.mark.parametrize("token", ["nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "00000000000000000000000000000000", "f" * 32])
def test_tokens_the_emulator_never_issued_are_rejected(line_emu, messaging_api, token):
    with pytest.raises(ApiException) as unknown:
        messaging_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="x")]))
    assert api_error(unknown) == (400, {"message": MSG_INVALID_REPLY_TOKEN})


def test_expire_reply_token_helper(line_emu, messaging_api):
    token = line_emu.issue_reply_token(ALICE)
    line_emu.expire_reply_token(token)
    with pytest.raises(ApiException) as expired:
        messaging_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="x")]))
    assert expired.value.status == 400


def test_concurrent_replies_with_one_token_deliver_once(line_emu):
    token = line_emu.issue_reply_token(ALICE)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(
            lambda i: post(line_emu, "/v2/bot/message/reply", {"replyToken": token, "messages": [text(f"#{i}")]}).status_code,
            range(32)))
    assert sorted(statuses) == [200] + [400] * 31
    assert len(line_emu.sent) == 1


def test_reply_to_group_source_goes_to_the_group(line_emu, messaging_api):
    group = "C" + "d4" * 16
    event = line_emu.text_event(ALICE, "hi all", group_id=group)
    messaging_api.reply_message(ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="hey")]))
    assert line_emu.sent[0].to == group


def test_reply_refuses_a_retry_key(line_emu):
    token = line_emu.issue_reply_token(ALICE)
    response = post(line_emu, "/v2/bot/message/reply", {"replyToken": token, "messages": [text("x")]},
                    **{"X-Line-Retry-Key": str(uuid.uuid4())})
    assert response.status_code == 400
    assert not line_emu.reply_token_used(token)


# --- push and retry keys ------------------------------------------------------------------------

def test_push_with_retry_key_twice_answers_409_with_accepted_request_id(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="Your order shipped")])

    first = messaging_api.push_message_with_http_info(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as again:
        messaging_api.push_message(request, x_line_retry_key=key)

    assert first.status_code == 200
    status, body = api_error(again)
    assert status == 409
    assert body["message"] == MSG_RETRY_ACCEPTED
    assert body["sentMessages"] == [m.to_dict() for m in first.data.sent_messages]
    assert again.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.value.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    [sent] = line_emu.sent
    assert (sent.kind, sent.to, sent.retry_key, sent.texts) == ("push", ALICE, key, ["Your order shipped"])


def test_retry_key_of_a_failed_push_can_be_retried(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    key = str(uuid.uuid4())
    line_emu.fail_next("/v2/bot/message/push", 500)
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="hi")])

    with pytest.raises(ApiException) as failed:
        messaging_api.push_message(request, x_line_retry_key=key)
    messaging_api.push_message(request, x_line_retry_key=key)

    assert failed.value.status == 500
    assert len(line_emu.sent) == 1


def test_push_accepted_but_answer_lost_then_retry_gets_409(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    key = str(uuid.uuid4())
    line_emu.fail_next("/v2/bot/message/push", 503, accepted=True)
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="once")])

    with pytest.raises(ApiException) as lost:
        messaging_api.push_message(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as retried:
        messaging_api.push_message(request, x_line_retry_key=key)

    assert lost.value.status == 503
    assert retried.value.status == 409
    assert [s.texts for s in line_emu.sent] == [["once"]]


def test_concurrent_pushes_with_one_retry_key_deliver_once(line_emu):
    line_emu.add_friend(ALICE)
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda _: post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x")]},
                           **{"X-Line-Retry-Key": key}).status_code, range(16)))
    assert sorted(statuses) == [200] + [409] * 15
    assert len(line_emu.sent) == 1


@pytest.mark.parametrize("key", ["not-a-uuid", "123e4567e89b12d3a456426614174000", ""])
def test_retry_key_must_be_a_uuid(line_emu, key):
    line_emu.add_friend(ALICE)
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x")]}, **{"X-Line-Retry-Key": key})
    assert response.status_code == 400
    assert line_emu.sent == []


def test_retry_key_expires_after_24_hours(line_emu, clock):
    line_emu.add_friend(ALICE)
    key = str(uuid.uuid4())
    assert post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x")]},
                **{"X-Line-Retry-Key": key}).status_code == 200
    clock.advance(24 * 3600 + 1)
    assert post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x")]},
                **{"X-Line-Retry-Key": key}).status_code == 200
    assert len(line_emu.sent) == 2


def test_push_to_unknown_user_fails_to_send(line_emu, messaging_api):
    with pytest.raises(ApiException) as unknown:
        messaging_api.push_message(PushMessageRequest(to=STRANGER, messages=[TextMessage(text="hi")]))
    assert api_error(unknown) == (400, {"message": MSG_FAILED_TO_SEND})


def test_push_to_user_who_blocked_the_account_is_accepted_but_not_delivered(line_emu, messaging_api):
    line_emu.set_monthly_quota(10)
    line_emu.add_friend(ALICE)
    line_emu.block(ALICE)

    response = messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="sale!")]))

    assert len(response.sent_messages) == 1
    [sent] = line_emu.sent
    assert sent.delivered is False
    assert line_emu.delivered == []
    assert line_emu.quota_used == 0
    assert messaging_api.get_message_quota_consumption().total_usage == 0


def test_unfollow_blocks_and_follow_unblocks(line_emu, messaging_api):
    line_emu.unfollow_event(ALICE)
    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="1")]))
    follow = line_emu.follow_event(ALICE)
    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="2")]))

    assert follow["follow"] == {"isUnblocked": True}
    assert [(s.texts, s.delivered) for s in line_emu.sent] == [(["1"], False), (["2"], True)]


def test_multicast_records_each_reachable_recipient(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    line_emu.add_friend(BOB)
    line_emu.block(BOB)
    messaging_api.multicast(MulticastRequest(to=[ALICE, BOB, STRANGER], messages=[TextMessage(text="news")]))
    assert sorted((s.to, s.delivered) for s in line_emu.sent) == [(ALICE, True), (BOB, False)]
    assert line_emu.quota_used == 1


# --- validation ---------------------------------------------------------------------------------

def test_six_messages_are_rejected(line_emu):
    line_emu.add_friend(ALICE)
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text(str(i)) for i in range(6)]})
    assert response.status_code == 400
    assert response.json() == {"message": "The request body has 1 error(s)",
                               "details": [{"message": "Size must be between 1 and 5", "property": "messages"}]}
    assert line_emu.sent == []


def test_five_messages_are_accepted(line_emu):
    line_emu.add_friend(ALICE)
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text(str(i)) for i in range(5)]})
    assert response.status_code == 200
    assert len(response.json()["sentMessages"]) == 5


def test_text_over_5000_characters_is_rejected_counting_emoji_as_two(line_emu):
    line_emu.add_friend(ALICE)
    at_limit = "茶" * 4998 + "🍵"        # 4998 + 2 UTF-16 units = 5000
    over = "茶" * 4999 + "🍵"            # 5001
    ok = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text(at_limit)]})
    bad = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("fine"), text(over)]})
    assert ok.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["details"] == [{"message": "Length must be between 0 and 5000", "property": "messages[1].text"}]


def test_several_errors_are_all_reported_like_line(line_emu):
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text(""), {"type": "carousel"}]})
    body = response.json()
    assert response.status_code == 400
    assert body["message"] == "The request body has 2 error(s)"
    assert body["details"][0] == {"message": "May not be empty", "property": "messages[0].text"}
    assert body["details"][1]["property"] == "messages[1].type"
    assert body["details"][1]["message"].startswith("Must be one of the following values: [")


def test_missing_required_fields(line_emu):
    response = post(line_emu, "/v2/bot/message/reply", {"messages": []})
    assert response.status_code == 400
    assert {d["property"] for d in response.json()["details"]} == {"replyToken", "messages"}


def test_invalid_flex_bubble_is_rejected_with_json_pointer(line_emu, spec_file):
    line_emu.add_friend(ALICE)
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "ok"},
        {"type": "text"},
        {"type": "spacer"},
    ]}}
    response = post(line_emu, "/v2/bot/message/push",
                    {"to": ALICE, "messages": [text("first"), {"type": "flex", "altText": "card", "contents": bubble}]})
    assert response.status_code == 400
    assert response.json() == {
        "message": "A message (messages[1]) in the request body is invalid",
        "details": [{"message": "must be specified", "property": "/body/contents/1/text"},
                    {"message": "invalid property", "property": "/body/contents/2"}],
    }
    assert line_emu.sent == []


def test_flex_rules_the_spec_leaves_out(line_emu, spec_file):
    line_emu.add_friend(ALICE)
    card = product_card()
    card["contents"]["hero"]["url"] = "http://shop.example.com/insecure.jpg"
    del card["contents"]["footer"]["contents"][0]["action"]["label"]
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [card]})
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"message": "invalid uri scheme", "property": "/hero/url"},
        {"message": "must be specified", "property": "/footer/contents/0/action/label"},
    ]


def test_box_missing_layout_and_wrong_enum(line_emu, spec_file):
    line_emu.add_friend(ALICE)
    bubble = {"type": "bubble", "size": "huge", "body": {"type": "box", "contents": []}}
    response = post(line_emu, "/v2/bot/message/push",
                    {"to": ALICE, "messages": [{"type": "flex", "altText": "x", "contents": bubble}]})
    assert response.status_code == 400
    assert sorted(d["property"] for d in response.json()["details"]) == ["/body/layout", "/size"]


def test_valid_flex_product_card_is_accepted_via_sdk(line_emu, messaging_api):
    card = product_card()
    line_emu.add_friend(ALICE)
    message = FlexMessage(alt_text=card["altText"], contents=FlexContainer.from_dict(card["contents"]))

    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[message]))

    [sent] = line_emu.sent
    assert sent.messages[0]["type"] == "flex"
    assert sent.messages[0]["contents"]["footer"]["contents"][0]["action"]["uri"].startswith("https://shop.example.com/")


def test_flex_carousel_limit_of_12_bubbles(line_emu):
    line_emu.add_friend(ALICE)
    bubble = product_card()["contents"]
    carousel = {"type": "carousel", "contents": [bubble] * 13}
    response = post(line_emu, "/v2/bot/message/push",
                    {"to": ALICE, "messages": [{"type": "flex", "altText": "x", "contents": carousel}]})
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "/contents"


def test_sticker_and_template_messages(line_emu, messaging_api, spec_file):
    line_emu.add_friend(ALICE)
    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[StickerMessage(package_id="446", sticker_id="1988")]))
    bad_template = {"type": "template", "altText": "x",
                    "template": {"type": "confirm", "text": "Bind?", "actions": [{"type": "message", "label": "Yes", "text": "yes"}]}}
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [bad_template]})
    assert response.status_code == 400
    assert response.json()["details"] == [{"message": "Size must be between 2 and 2", "property": "messages[0].template.actions"}]


def test_wrong_json_type_names_the_property(line_emu):
    response = post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [{"type": "text", "text": 42}]})
    assert response.status_code == 400
    assert response.json() == {"message": "The property, messages[0].text, in the request body is invalid"}


def test_unparseable_json_and_wrong_content_type(line_emu):
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    broken = requests.post(line_emu.base_url + "/v2/bot/message/push", data=b'{"to": "U1",\n "messages": [',
                           headers={**headers, "Content-Type": "application/json"}, timeout=5)
    form = requests.post(line_emu.base_url + "/v2/bot/message/push", data={"to": "U1"}, headers=headers, timeout=5)
    assert broken.status_code == 400
    assert broken.json()["message"].startswith("The request body could not be parsed as JSON (line: 2, column:")
    assert form.status_code == 415
    assert form.json()["message"] == "The content type, application/x-www-form-urlencoded, is not supported"


def test_validate_endpoint_checks_without_sending(line_emu):
    assert post(line_emu, "/v2/bot/message/validate/push", {"messages": [text("ok")]}).status_code == 200
    assert post(line_emu, "/v2/bot/message/validate/push", {"messages": [text("")]}).status_code == 400
    assert line_emu.sent == []


def test_fallback_validation_without_spec_file(tmp_path):
    with LineEmulator(CHANNEL_SECRET, ACCESS_TOKEN, spec_path=tmp_path / "missing.yml",
                      accept_unknown_recipients=True).start(port=free_port()) as emu:
        assert emu.spec_loaded is False
        assert post(emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("ok")]}).status_code == 200
        six = post(emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x")] * 6})
        long = post(emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text("x" * 5001)]})
        no_text = post(emu, "/v2/bot/message/push", {"to": ALICE, "messages": [{"type": "text"}]})
        assert (six.status_code, long.status_code, no_text.status_code) == (400, 400, 400)
        assert no_text.json()["details"] == [{"message": "May not be empty", "property": "messages[0].text"}]
        assert requests.get(emu.base_url + "/_emulator/health", timeout=5).json()["spec_validation"] is False


# --- auth ---------------------------------------------------------------------------------------

def test_wrong_bearer_token_is_401(line_emu):
    config = Configuration(host=line_emu.base_url, access_token="revoked-token")
    with ApiClient(config) as client:
        with pytest.raises(ApiException) as denied:
            MessagingApi(client).get_bot_info()
    assert api_error(denied) == (401, {"message": MSG_BAD_TOKEN})


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer "])
def test_missing_or_malformed_authorization_is_401(line_emu, header):
    headers = {"Authorization": header} if header is not None else {}
    response = requests.get(line_emu.base_url + "/v2/bot/info", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"message": MSG_NO_AUTH}
    assert line_emu.requests[-1].status == 401


# --- quota, rate limits and injected faults -----------------------------------------------------

def test_rate_limit_and_monthly_limit_are_distinguishable(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="x")])

    line_emu.rate_limit_next()
    with pytest.raises(ApiException) as rate_limited:
        messaging_api.push_message(request)
    messaging_api.push_message(request)
    line_emu.set_monthly_quota(1)
    with pytest.raises(ApiException) as exhausted:
        messaging_api.push_message(request)

    assert api_error(rate_limited) == (429, {"message": MSG_RATE_LIMIT})
    assert api_error(exhausted) == (429, {"message": MSG_MONTHLY_LIMIT})
    assert len(line_emu.sent) == 1


def test_replies_are_free_when_the_monthly_limit_is_reached(line_emu, messaging_api):
    line_emu.set_monthly_quota(0)
    event = line_emu.text_event(ALICE, "hi")
    messaging_api.reply_message(ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="hello")]))
    assert len(line_emu.sent) == 1


def test_quota_endpoints(line_emu, messaging_api):
    assert messaging_api.get_message_quota().type == "none"
    line_emu.set_monthly_quota(200, used=150)
    quota = messaging_api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 200)
    assert messaging_api.get_message_quota_consumption().total_usage == 150


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_5xx_then_recovery(line_emu, messaging_api, status):
    line_emu.add_friend(ALICE)
    line_emu.fail_next("/v2/bot/message/push", status, times=2)
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="x")])
    for _ in range(2):
        with pytest.raises(ApiException) as failed:
            messaging_api.push_message(request)
        assert failed.value.status == status
    messaging_api.push_message(request)
    assert len(line_emu.sent) == 1
    assert [r.status for r in line_emu.requests_to("/v2/bot/message/push")] == [status, status, 200]


def test_fault_only_hits_matching_method(line_emu, messaging_api):
    line_emu.fail_next("/v2/bot/", 500, method="POST")
    assert messaging_api.get_bot_info().display_name == line_emu.bot_display_name


def test_delay_injection_makes_the_client_time_out(line_emu):
    line_emu.add_friend(ALICE)
    line_emu.delay_next("/v2/bot/message/push", 1.0)
    with pytest.raises(requests.Timeout):
        requests.post(line_emu.base_url + "/v2/bot/message/push", json={"to": ALICE, "messages": [text("slow")]},
                      headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=0.2)
    # A delay-only fault still processes the request once the delay is over (LINE got it).
    line_emu.wait_for_sent(1, timeout=5)


def test_sdk_push_times_out_against_a_delayed_answer_and_the_send_still_happened(line_emu, messaging_api):
    import urllib3

    line_emu.add_friend(ALICE)
    line_emu.delay_next("/v2/bot/message/push", 1.0)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="slow")]),
                                   _request_timeout=0.2)
    assert line_emu.wait_for_sent(1, timeout=5)[0].texts == ["slow"]


def test_sdk_retries_gets_on_read_timeout_by_itself(line_emu, messaging_api):
    # urllib3's default Retry re-sends idempotent methods after a read timeout: one slow answer
    # is invisible to a GET caller. (POSTs are not retried — see the push test above.)
    line_emu.fail_next("/v2/bot/info", 500, delay=1.0)
    assert messaging_api.get_bot_info(_request_timeout=0.2).user_id == line_emu.bot_user_id


# --- profiles, content, link tokens, chat helpers -----------------------------------------------

def test_profile_known_unknown_and_blocked(line_emu, messaging_api):
    line_emu.set_profile(ALICE, "王小明", picture_url="https://profile.line-scdn.net/abc",
                         status_message="hi", language="zh-TW")
    profile = messaging_api.get_profile(ALICE)
    assert (profile.user_id, profile.display_name, profile.language) == (ALICE, "王小明", "zh-TW")
    assert profile.picture_url == "https://profile.line-scdn.net/abc"

    with pytest.raises(ApiException) as unknown:
        messaging_api.get_profile(STRANGER)
    assert api_error(unknown) == (404, {"message": "Not found"})

    line_emu.block(ALICE)
    with pytest.raises(ApiException) as blocked:
        messaging_api.get_profile(ALICE)
    assert blocked.value.status == 404


def test_content_download_unknown_and_expired(line_emu, blob_api):
    png = b"\x89PNG\r\n\x1a\nfake-png-bytes"
    event = line_emu.image_event(ALICE, data=png, content_type="image/png")
    message_id = event["message"]["id"]

    got = blob_api.get_message_content_with_http_info(message_id)
    assert (got.status_code, bytes(got.data), got.headers["Content-Type"]) == (200, png, "image/png")

    with pytest.raises(ApiException) as unknown:
        blob_api.get_message_content("999999999999999999")
    assert unknown.value.status == 404

    line_emu.expire_content(message_id)
    with pytest.raises(ApiException) as gone:
        blob_api.get_message_content(message_id)
    assert gone.value.status == 410


def test_content_error_with_empty_body(line_emu):
    line_emu.add_content("1234", b"data", "image/jpeg")
    line_emu.fail_next("/v2/bot/message/1234/content", 500, body=b"")
    response = requests.get(line_emu.base_url + "/v2/bot/message/1234/content",
                            headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=5)
    assert (response.status_code, response.content) == (500, b"")
    again = requests.get(line_emu.base_url + "/v2/bot/message/1234/content",
                         headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=5)
    assert (again.status_code, again.content) == (200, b"data")


def test_link_token_and_account_link_completion(line_emu, messaging_api):
    line_emu.add_friend(ALICE)
    link_token = messaging_api.issue_link_token(ALICE).link_token
    assert line_emu.link_tokens[link_token].user_id == ALICE

    ok = line_emu.complete_account_link(link_token, nonce="n0nce")
    reused = line_emu.complete_account_link(link_token, nonce="n0nce")

    assert ok["link"] == {"result": "ok", "nonce": "n0nce"} and ok["source"]["userId"] == ALICE
    assert reused["link"]["result"] == "failed"
    assert "source" not in reused and "replyToken" not in reused


def test_loading_animation_and_mark_as_read(line_emu, messaging_api):
    event = line_emu.text_event(ALICE, "hello")
    messaging_api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=ALICE, loading_seconds=10))
    messaging_api.mark_messages_as_read_by_token(
        MarkMessagesAsReadByTokenRequest(mark_as_read_token=event["message"]["markAsReadToken"]))
    assert line_emu.read_marks == [event["message"]["markAsReadToken"]]

    bad_token = post(line_emu, "/v2/bot/chat/markAsRead", {"markAsReadToken": "never-issued"})
    bad_seconds = post(line_emu, "/v2/bot/chat/loading/start", {"chatId": ALICE, "loadingSeconds": 7})
    partner_only = post(line_emu, "/v2/bot/message/markAsRead", {"chat": {"userId": ALICE}})
    assert (bad_token.status_code, bad_seconds.status_code, partner_only.status_code) == (400, 400, 403)


def test_unknown_path_is_404(line_emu):
    response = requests.get(line_emu.base_url + "/v2/bot/nothing-here",
                            headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=5)
    assert response.status_code == 404


# --- webhooks -----------------------------------------------------------------------------------

class _Receiver:
    """A throwaway webhook endpoint recording raw bodies and headers."""

    def __init__(self, status: int = 200):
        received: list[tuple[bytes, dict]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                received.append((self.rfile.read(length), dict(self.headers.items())))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/line/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    r = _Receiver()
    try:
        yield r
    finally:
        r.close()


def test_builders_produce_events_the_sdk_parses_and_signatures_verify(line_emu):
    events = [
        line_emu.text_event(ALICE, "請問綠茶有貨嗎？🍵"),
        line_emu.image_event(ALICE),
        line_emu.sticker_event(ALICE),
        line_emu.media_event(ALICE, "file", b"%PDF-1.4", "application/pdf", file_name="invoice.pdf"),
        line_emu.follow_event(BOB),
        line_emu.unfollow_event(BOB),
        line_emu.unsend_event(ALICE, "325708"),
        line_emu.postback_event(ALICE, "action=bind", {"datetime": "2026-12-25T01:00"}),
        line_emu.account_link_event(ALICE, "nonce-1"),
        line_emu.account_link_event(ALICE, "nonce-2", result="failed"),
    ]
    body = line_emu.webhook_body(events)
    signature = line_emu.sign(body)

    assert verify_line_signature(body, signature, CHANNEL_SECRET)
    assert not verify_line_signature(body + b" ", signature, CHANNEL_SECRET)
    parsed = WebhookParser(CHANNEL_SECRET).parse(body.decode("ascii"), signature)
    assert not any(isinstance(e, UnknownEvent) for e in parsed)
    kinds = [type(e) for e in parsed]
    assert kinds == [MessageEvent] * 4 + [FollowEvent, UnfollowEvent, UnsendEvent, PostbackEvent,
                                          AccountLinkEvent, AccountLinkEvent]
    assert [type(e.message) for e in parsed[:4]] == [TextMessageContent, ImageMessageContent,
                                                     StickerMessageContent, FileMessageContent]
    assert parsed[0].message.text == "請問綠茶有貨嗎？🍵"
    ids = [e["webhookEventId"] for e in events]
    assert len(set(ids)) == len(ids) and all(len(i) == 26 for i in ids)
    assert all(e["mode"] == "active" and e["deliveryContext"] == {"isRedelivery": False} for e in events)
    assert "replyToken" not in events[5] and "replyToken" not in events[9]


def test_webhook_body_escapes_non_ascii_like_line():
    emu = LineEmulator(CHANNEL_SECRET, ACCESS_TOKEN)
    body = emu.webhook_body([emu.text_event(ALICE, "茶🍵")])
    assert body.isascii()
    assert b"\\u8336\\ud83c\\udf75" in body
    assert b", " not in body and b": " not in body


def test_deliver_posts_signed_body_and_reply_token_is_usable(line_emu, receiver, messaging_api):
    event = line_emu.text_event(ALICE, "hi 👋", message_id="500000000000000001")

    status, response_text = line_emu.deliver(receiver.url, [event], destination="U" + "e5" * 16)

    assert (status, response_text) == (200, "OK")
    [(raw, headers)] = receiver.received
    assert verify_line_signature(raw, headers["X-Line-Signature"], CHANNEL_SECRET)
    assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(raw)
    assert payload["destination"] == "U" + "e5" * 16
    assert payload["events"][0]["message"]["id"] == "500000000000000001"
    messaging_api.reply_message(ReplyMessageRequest(reply_token=payload["events"][0]["replyToken"],
                                                    messages=[TextMessage(text="hello!")]))
    assert line_emu.sent[0].to == ALICE
    assert line_emu.deliveries[0].status == 200


def test_deliver_redelivery_wrong_signature_and_raw_body(line_emu, receiver):
    event = line_emu.text_event(ALICE, "again")
    line_emu.deliver(receiver.url, [event], redelivery=True)
    line_emu.deliver(receiver.url, [event], signature="bm90IGEgc2lnbmF0dXJl")
    line_emu.deliver(receiver.url, [], body_bytes=b'{"destination":"U1","events":[]}')
    line_emu.deliver(receiver.url, [event], omit_signature=True)

    (redelivered, _), (tampered, tampered_headers), (raw, raw_headers), (_, unsigned_headers) = receiver.received
    assert json.loads(redelivered)["events"][0]["deliveryContext"] == {"isRedelivery": True}
    assert json.loads(redelivered)["events"][0]["webhookEventId"] == event["webhookEventId"]
    assert not verify_line_signature(tampered, tampered_headers["X-Line-Signature"], CHANNEL_SECRET)
    assert raw == b'{"destination":"U1","events":[]}'
    assert verify_line_signature(raw, raw_headers["X-Line-Signature"], CHANNEL_SECRET)
    assert "X-Line-Signature" not in unsigned_headers


def test_deliver_to_a_dead_endpoint_raises_and_is_recorded(line_emu):
    dead = f"http://127.0.0.1:{free_port()}/line/webhook"
    with pytest.raises(requests.ConnectionError):
        line_emu.deliver(dead, [line_emu.follow_event(ALICE)], timeout=1)
    assert line_emu.deliveries[-1].status is None


def test_signature_matches_lines_documented_vector():
    vector = load_shared_json("line/signature-test-vector.json")
    emu = LineEmulator(channel_secret=vector["channel_secret"])
    assert emu.sign(vector["body"].encode()) == vector["x_line_signature"]


def test_fixture_loader_yields_28_events_with_fresh_reply_tokens(line_emu, messaging_api):
    shared_fixture("line/sdk-v3-test-webhook-sample.json")
    events = line_emu.events_from_fixture()

    assert len(events) == 28
    tokens = [e["replyToken"] for e in events if "replyToken" in e]
    assert tokens and len(set(tokens)) == len(tokens)
    assert "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA" not in tokens
    assert len({e["webhookEventId"] for e in events}) == 28

    body = line_emu.webhook_body(events, destination="U123")
    parsed = WebhookParser(CHANNEL_SECRET).parse(body.decode("ascii"), line_emu.sign(body))
    assert len(parsed) == 28
    assert sum(isinstance(e, UnknownEvent) for e in parsed) == 1      # the sample's "undefined" event

    line_media = [e["message"]["id"] for e in events
                  if e.get("message", {}).get("contentProvider", {}).get("type") == "line"]
    assert line_media == ["354718705033693861"]
    response = requests.get(f"{line_emu.base_url}/v2/bot/message/{line_media[0]}/content",
                            headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"

    first_user_event = next(e for e in events if "replyToken" in e and e["source"]["type"] == "user")
    messaging_api.reply_message(ReplyMessageRequest(reply_token=first_user_event["replyToken"],
                                                    messages=[TextMessage(text="ok")]))
    assert line_emu.sent[0].to == first_user_event["source"]["userId"]


def test_account_link_dialog_delivers_the_webhook(line_emu, receiver):
    line_emu.webhook_url = receiver.url
    token = line_emu.issue_link_token(ALICE)
    page = requests.get(f"{line_emu.base_url}/dialog/bot/accountLink",
                        params={"linkToken": token, "nonce": "abc"}, timeout=5)
    assert page.status_code == 200 and "ok" in page.text
    [(raw, _)] = receiver.received
    [event] = json.loads(raw)["events"]
    assert event["type"] == "accountLink" and event["link"] == {"result": "ok", "nonce": "abc"}


# --- inspection ---------------------------------------------------------------------------------

def test_inspection_endpoints_and_wait_for_sent(line_emu, messaging_api, spec_file):
    line_emu.add_friend(ALICE)
    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="one")]))
    messaging_api.push_message(PushMessageRequest(to=ALICE, messages=[TextMessage(text="two")]))

    assert len(line_emu.wait_for_sent(2, timeout=1)) == 2
    with pytest.raises(TimeoutError):
        line_emu.wait_for_sent(3, timeout=0.1)
    sent = requests.get(line_emu.base_url + "/_emulator/sent", timeout=5).json()
    assert [s["messages"][0]["text"] for s in sent] == ["one", "two"]
    assert requests.get(line_emu.base_url + "/_emulator/health", timeout=5).json() == {"status": "ok",
                                                                                       "spec_validation": True}
    assert all(r.headers.get("Authorization") == "Bearer ***" for r in line_emu.requests)


def test_requests_record_rejected_calls_too(line_emu):
    post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": []})
    [record] = line_emu.requests
    assert (record.status, record.path, record.json) == (400, "/v2/bot/message/push", {"to": ALICE, "messages": []})
    assert record.response_json["message"] == "The request body has 1 error(s)"


def test_reset_forgets_everything(line_emu, messaging_api):
    event = line_emu.text_event(ALICE, "hi")
    line_emu.set_monthly_quota(0)
    line_emu.fail_next("/v2/bot/", 500)
    line_emu.reset()

    assert line_emu.sent == [] and line_emu.requests == []
    with pytest.raises(ApiException) as forgotten:
        messaging_api.reply_message(ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="x")]))
    assert api_error(forgotten) == (400, {"message": MSG_INVALID_REPLY_TOKEN})
    assert messaging_api.get_message_quota().type == "none"


def test_wait_for_sent_sees_sends_from_other_threads(line_emu):
    line_emu.add_friend(ALICE)
    worker = threading.Thread(target=lambda: post(line_emu, "/v2/bot/message/push",
                                                  {"to": ALICE, "messages": [text("async")]}))
    worker.start()
    try:
        [sent] = line_emu.wait_for_sent(1, timeout=5)
    finally:
        worker.join(timeout=5)
    assert sent.texts == ["async"]


def test_simulate_endpoint_delivers_a_customer_message(line_emu, receiver):
    no_url = requests.post(line_emu.base_url + "/_emulator/events", json={"user_id": ALICE, "text": "hi"}, timeout=5)
    line_emu.webhook_url = receiver.url
    ok = requests.post(line_emu.base_url + "/_emulator/events",
                       json={"type": "text", "user_id": ALICE, "text": "想訂兩盒", "display_name": "Alice"}, timeout=5)
    bad = requests.post(line_emu.base_url + "/_emulator/events", json={"type": "dance", "user_id": ALICE}, timeout=5)

    assert (no_url.status_code, ok.status_code, bad.status_code) == (409, 200, 400)
    assert ok.json()["webhook_status"] == 200
    [(raw, headers)] = receiver.received
    assert verify_line_signature(raw, headers["X-Line-Signature"], CHANNEL_SECRET)
    assert json.loads(raw)["events"][0]["message"]["text"] == "想訂兩盒"
    assert requests.post(line_emu.base_url + "/_emulator/reset", timeout=5).status_code == 200
    assert line_emu.deliveries == []


def test_throughput_under_concurrency_is_sane(line_emu):
    # Not a timing assertion: 400 concurrent pushes must all be answered and recorded exactly once.
    line_emu.add_friend(ALICE)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda i: post(line_emu, "/v2/bot/message/push", {"to": ALICE, "messages": [text(str(i))]}).status_code,
            range(400)))
    assert statuses == [200] * 400
    assert sorted(int(s.texts[0]) for s in line_emu.sent) == list(range(400))
