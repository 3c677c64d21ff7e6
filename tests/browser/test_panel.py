"""The workbench in a real Chromium, framed by a cross-site parent page, against a real sidecar.

What a customer sends on LINE (through the LINE emulator's signed webhooks) must show up live;
what staff type must reach LINE; customer text must never execute; tokens renew without a reload;
third-party cookies being blocked changes nothing; a cut stream reconnects and catches up.
"""
from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import launch

pytestmark = pytest.mark.timeout(120)

ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32


def deliver_text(stack, line_emulator, user_id: str, text: str, name: str | None = None):
    if name:
        line_emulator.set_profile(user_id, name)
    status, body = line_emulator.deliver(stack.webhook_url, [line_emulator.text_event(user_id, text)])
    assert status == 200, body


def open_panel(page, stack, **params):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Failed fetches are the API's business (some customer endpoints may still 404); script
    # errors and CSP violations are the panel's.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.goto(stack.parent.url(**params))
    frame = page.frame_locator("#panel")
    frame.locator("body[data-ready=true]").wait_for(state="attached")
    return frame, errors


def friend_row(frame, user_id: str):
    return frame.locator(f'[data-line-user-id="{user_id}"]')


def test_customer_message_appears_live_with_unread_badge(page, stack, line_emulator, artifacts):
    deliver_text(stack, line_emulator, BOB, "先前的訊息", name="Bob")
    frame, errors = open_panel(page, stack)
    friend_row(frame, BOB).wait_for()
    frame.locator("body[data-live=connected]").wait_for(state="attached")

    deliver_text(stack, line_emulator, ALICE, "請問訂單 #1234 出貨了嗎？", name="王小美")

    row = friend_row(frame, ALICE)
    row.locator(".unread-badge").wait_for()
    assert row.locator(".unread-badge").inner_text() == "1"
    assert "請問訂單 #1234 出貨了嗎？" in row.locator(".friend-preview").inner_text()
    # Live re-ordering: the newest conversation is on top.
    assert frame.locator(".friend").first.get_attribute("data-line-user-id") == ALICE
    # The parent (WP admin menu badge) is told the unread count.
    page.wait_for_function("window.received.some(m => m.type === 'orderchatz:unread' && m.count >= 1)")
    page.screenshot(path=str(artifacts / "panel-unread.png"))
    assert not errors, errors


def test_open_room_shows_new_message_at_once_and_marks_read(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "你好", name="王小美")
    frame, errors = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    frame.locator("body[data-live=connected]").wait_for(state="attached")

    deliver_text(stack, line_emulator, ALICE, "還在嗎？")
    frame.locator(".msg-in .bubble-text", has_text="還在嗎？").wait_for()
    # The open room marks it read: no badge, and the server agrees.
    deadline = time.monotonic() + 10
    from orderchatz.domain.conversations import get_conversation
    while get_conversation(stack.svc, ALICE)["unread_count"] != 0:
        assert time.monotonic() < deadline, "the open room did not mark the new message read"
        time.sleep(0.1)
    assert friend_row(frame, ALICE).locator(".unread-badge").count() == 0
    assert not errors, errors


def test_reply_from_composer_reaches_line_as_a_reply(page, stack, line_emulator, artifacts):
    deliver_text(stack, line_emulator, ALICE, "我想改寄送地址", name="王小美")
    frame, errors = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")

    composer = frame.locator("#oc-composer-input")
    composer.fill("好的，")
    composer.press("Shift+Enter")
    composer.type("請提供新地址 🙏")
    composer.press("Enter")

    sent = line_emulator.wait_for_sent(1, timeout=15)
    assert sent[0].kind == "reply"  # the fresh reply token was used (free), not a push
    assert sent[0].to == ALICE
    assert sent[0].texts == ["好的，\n請提供新地址 🙏"]
    frame.locator(".msg-out[data-status=sent]").wait_for()
    assert composer.input_value() == ""
    page.screenshot(path=str(artifacts / "panel-reply.png"))
    assert not errors, errors


def test_quote_reply_sends_the_quote_token(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "這件有 M 號嗎？", name="王小美")
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(".msg-in").get_by_role("button", name="回覆").click()
    assert "這件有 M 號嗎？" in frame.locator("#oc-quote").inner_text()
    frame.locator("#oc-composer-input").fill("有的")
    frame.locator("#oc-composer-input").press("Enter")
    sent = line_emulator.wait_for_sent(1, timeout=15)
    assert sent[0].messages[0].get("quoteToken"), sent[0].messages


def test_html_in_a_customer_message_is_text_and_runs_nothing(page, stack, line_emulator, artifacts):
    payload = '<img src=x onerror=alert(1)><script>alert(2)</script>'
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    deliver_text(stack, line_emulator, ALICE, payload, name='<b onmouseover=alert(3)>Eve</b>')
    frame, errors = open_panel(page, stack)
    row = friend_row(frame, ALICE)
    row.wait_for()
    assert "<b onmouseover=alert(3)>Eve</b>" in row.locator(".friend-name").inner_text()
    row.click()
    bubble = frame.locator(".msg-in .bubble-text").first
    bubble.wait_for()
    assert bubble.inner_text() == payload
    assert frame.locator(".history img[src=x]").count() == 0
    assert frame.locator(".history script").count() == 0
    row.hover()
    page.wait_for_timeout(500)
    assert dialogs == []
    page.screenshot(path=str(artifacts / "panel-xss.png"))
    assert not [e for e in errors if "alert" in e]


def test_token_renews_before_expiry_without_reload(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "hello", name="Alice")
    frame, errors = open_panel(page, stack, lifetime=6)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    marker = page.frames[1].evaluate("() => (window.__loadedOnce = Math.random())")
    # Past the first token's expiry (6 s, no leeway on the sidecar).
    page.wait_for_timeout(8000)
    assert stack.parent.token_requests >= 1
    frame.locator("#oc-composer-input").fill("still signed in")
    frame.locator("#oc-composer-input").press("Enter")
    sent = line_emulator.wait_for_sent(1, timeout=15)
    assert sent[0].texts == ["still signed in"]
    assert page.frames[1].evaluate("() => window.__loadedOnce") == marker  # no reload happened
    assert not [e for e in errors if "401" not in e], errors


def test_expired_token_401_is_renewed_and_the_request_replayed(page, stack, line_emulator):
    """A token that is already expired when used (a laptop waking from sleep) gets a 401
    token_expired; the panel asks the parent for a new one and retries once."""
    deliver_text(stack, line_emulator, ALICE, "hello", name="Alice")
    # Issued 299 s ago, valid 300 s: the panel schedules renewal minutes away, but it expires now.
    page.goto(stack.parent.url(skew=299, renew_lifetime=300))
    frame = page.frame_locator("#panel")
    frame.locator("body[data-ready=true]").wait_for(state="attached")
    page.wait_for_timeout(1500)
    friend_row(frame, ALICE).click()
    frame.locator(".msg-in .bubble-text", has_text="hello").wait_for()
    assert stack.parent.token_requests >= 1
    page.wait_for_function("window.received.some(m => m.type === 'orderchatz:token-request')")


def test_works_with_third_party_cookies_blocked(playwright_instance, stack, line_emulator, artifacts):
    browser = launch(playwright_instance, ["--test-third-party-cookie-phaseout",
                                           "--enable-features=TestThirdPartyCookiePhaseout"])
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15000)
        # Nothing about the panel may depend on a cookie: none is set, none is sent.
        set_cookies: list[str] = []
        cookies_sent: list[str] = []
        page.on("response", lambda r: set_cookies.append(r.url)
                if r.url.startswith(stack.sidecar_origin) and "set-cookie" in r.headers else None)
        page.on("request", lambda r: cookies_sent.append(r.url)
                if r.url.startswith(stack.sidecar_origin) and "cookie" in r.headers else None)
        deliver_text(stack, line_emulator, ALICE, "cookies?", name="Alice")
        frame, errors = open_panel(page, stack)
        friend_row(frame, ALICE).click()
        frame.locator("#oc-composer-input").fill("works without cookies")
        frame.locator("#oc-composer-input").press("Enter")
        sent = line_emulator.wait_for_sent(1, timeout=15)
        assert sent[0].texts == ["works without cookies"]
        page.screenshot(path=str(artifacts / "panel-no-3p-cookies.png"))
        assert not errors, errors
        assert set_cookies == [] and cookies_sent == []
        assert page.frames[1].evaluate("() => document.cookie") == ""
        context.close()
    finally:
        browser.close()


def test_stream_reconnects_and_catches_up_after_a_cut(page, stack, line_emulator, artifacts):
    deliver_text(stack, line_emulator, ALICE, "第一則", name="Alice")
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    frame.locator("body[data-live=connected]").wait_for(state="attached")

    stack.proxy.down()  # the browser loses the sidecar (restart, network blip)
    frame.locator("body[data-live=reconnecting]").wait_for(state="attached")
    deliver_text(stack, line_emulator, ALICE, "斷線時送來的")  # LINE still reaches the sidecar
    deliver_text(stack, line_emulator, BOB, "另一位顧客", name="Bob")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "panel-reconnecting.png"))
    stack.proxy.up()

    frame.locator("body[data-live=connected]").wait_for(state="attached", timeout=40000)
    frame.locator(".msg-in .bubble-text", has_text="斷線時送來的").wait_for()
    friend_row(frame, BOB).wait_for()
    frame.locator(".notice").filter(has_text=re.compile("重新連線")).wait_for(state="detached")


def test_english_locale_and_keyboard_navigation(page, stack, line_emulator, artifacts):
    stack.parent.locale = "en_US"
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    deliver_text(stack, line_emulator, BOB, "hey", name="Bob")
    frame, errors = open_panel(page, stack)
    assert frame.locator("#oc-list-title").inner_text() == "Conversations"
    friend_row(frame, ALICE).wait_for()
    frame.locator("#oc-friends").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    # Enter opens the conversation under the cursor and moves focus to the composer.
    frame.locator("#oc-composer-input:focus").wait_for()
    page.keyboard.press("F6")
    assert page.frames[1].evaluate("() => document.activeElement.id") == "oc-col-customer"
    page.keyboard.press("Alt+1")
    assert page.frames[1].evaluate("() => document.activeElement.id") == "oc-friends"
    page.screenshot(path=str(artifacts / "panel-english.png"))
    assert not errors, errors


def test_open_order_asks_the_parent(page, stack, line_emulator):
    """Order-note system messages carry the order; the button posts open-order to the parent."""
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    from orderchatz.domain.messages import message_json  # noqa: F401 - shape reference
    from orderchatz.store.models import Friend, Message, utcnow
    from sqlalchemy import select
    import json
    with stack.svc.store.session() as s:
        friend = s.scalar(select(Friend).where(Friend.line_user_id == ALICE))
        s.add(Message(friend_id=friend.id, direction="out", type="order_note", status="sent",
                      text="您的訂單已出貨", created_at=utcnow(),
                      payload=json.dumps({"order": {"id": 1234, "number": "1234"}})))
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.get_by_role("button", name="在 WooCommerce 開啟").click()
    page.wait_for_function(
        "window.received.some(m => m.type === 'orderchatz:open-order' && m.order_id === 1234)")


@pytest.mark.parametrize("width", [1280, 1000, 700])
def test_layout_collapses_on_narrow_screens(browser, stack, line_emulator, artifacts, width):
    context = browser.new_context(viewport={"width": width, "height": 760})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        deliver_text(stack, line_emulator, ALICE, "窄螢幕測試", name="Alice")
        frame, errors = open_panel(page, stack)
        friend_row(frame, ALICE).click()
        frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
        composer = frame.locator("#oc-composer-input")
        assert composer.is_visible()
        customer = frame.locator("#oc-col-customer")
        if width >= 1180:
            assert customer.is_visible()
        else:
            # The customer column is a drawer behind a button; at phone width the list hides.
            toggle = frame.locator("#oc-toggle-customer")
            assert toggle.is_visible()
            toggle.click()
            frame.locator("#oc-col-customer .cust-head").wait_for()
            page.wait_for_timeout(400)  # the drawer slides in
            box = customer.bounding_box()
            assert box["x"] + box["width"] <= width + 1 and box["x"] >= 0
        if width < 760:
            assert not frame.locator("#oc-col-list").is_visible() or \
                frame.locator("#oc-col-customer").is_visible()
        page.screenshot(path=str(artifacts / f"panel-width-{width}.png"))
        if width < 1180:
            frame.locator("#oc-close-customer").click()
            frame.locator("#oc-toggle-customer:focus").wait_for()
            assert composer.is_visible()
        assert not errors, errors
    finally:
        context.close()


def seed_friends(svc, n_friends: int, n_messages: int = 0) -> list[str]:
    """Many friends (and one long conversation) straight into the store."""
    import json
    from datetime import timedelta
    from orderchatz.store.models import Friend, Message, utcnow
    now = utcnow()
    ids = []
    with svc.store.session() as s:
        for i in range(n_friends):
            f = Friend(line_user_id=f"U{i:032x}", display_name=f"顧客 {i:03d}",
                       last_activity_at=now - timedelta(minutes=i), last_message_preview=f"訊息 {i}",
                       last_message_direction="in")
            s.add(f)
            s.flush()
            ids.append(f.line_user_id)
            if i == 0:
                for m in range(n_messages):
                    s.add(Message(friend_id=f.id, direction="in", type="text", text=f"歷史訊息 {m}",
                                  status="received", payload=json.dumps({}),
                                  created_at=now - timedelta(hours=n_messages - m)))
    return ids


def test_infinite_scroll_of_the_list_and_the_history(page, stack):
    ids = seed_friends(stack.svc, 95, n_messages=130)
    frame, errors = open_panel(page, stack)
    friend_row(frame, ids[0]).wait_for()
    for _ in range(10):
        if frame.locator(".friend").count() == 95:
            break
        frame.locator("#oc-friends").evaluate("el => el.scrollTop = el.scrollHeight")
        page.wait_for_timeout(300)
    assert frame.locator(".friend").count() == 95
    order = [el.get_attribute("data-line-user-id") for el in frame.locator(".friend").element_handles()]
    assert order == ids  # newest activity first, no duplicates across pages

    friend_row(frame, ids[0]).click()
    frame.locator(".msg-in .bubble-text", has_text="歷史訊息 129").wait_for()
    assert frame.locator(".msg-in").count() == 40
    for _ in range(10):
        if frame.locator(".history-start").count():
            break
        frame.locator("#oc-history").evaluate("el => el.scrollTop = 0")
        page.wait_for_timeout(300)
    frame.locator(".history-start").wait_for()
    texts = frame.locator(".msg-in .bubble-text").all_inner_texts()
    assert texts == [f"歷史訊息 {m}" for m in range(130)]
    # Day separators between the days the history spans.
    assert frame.locator(".day-sep").count() >= 5
    assert not errors, errors


def test_deep_link_opens_the_friend(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    deliver_text(stack, line_emulator, BOB, "hey", name="Bob")
    frame, _ = open_panel(page, stack, friend=ALICE)
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    assert frame.locator("#oc-room-title").inner_text() == "Alice"
    # The token left the address bar.
    assert "token=" not in page.frames[1].evaluate("() => location.href")


def test_a_parent_origin_not_configured_gets_no_messages(page, stack, line_emulator):
    """The fragment names an origin the sidecar was not configured for: the panel still works
    with its token but says nothing to the parent (no token requests, no unread counts)."""
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    page.goto(stack.parent.url(fragment_origin="http://evil.test:1"))
    frame = page.frame_locator("#panel")
    frame.locator("body[data-ready=true]").wait_for(state="attached")
    friend_row(frame, ALICE).wait_for()
    page.wait_for_timeout(1000)
    assert page.evaluate("window.received") == []


def test_other_sites_cannot_frame_the_panel(page, stack):
    """CSP frame-ancestors lists only the shop: another site's frame stays empty."""
    port = stack.parent.port
    page.goto(f"http://evil.test:{port}/admin")
    page.wait_for_timeout(2000)
    panel = page.frames[1] if len(page.frames) > 1 else None
    assert panel is None or panel.evaluate("() => document.body && document.body.dataset.ready") is None
    assert page.evaluate("window.received") == []


def test_no_polling_while_the_stream_is_healthy(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    frame.locator("body[data-live=connected]").wait_for(state="attached")
    # The profile job's friend.updated is a real event (it legitimately causes a read): wait for it.
    friend_row(frame, ALICE).locator(".friend-name", has_text="Alice").wait_for()
    page.wait_for_timeout(1500)  # let the open's follow-ups (read, unread count) settle
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    page.wait_for_timeout(5000)
    assert requests == []
    # …and one live event costs a handful of targeted reads, not a reload.
    deliver_text(stack, line_emulator, BOB, "hello", name="Bob")
    friend_row(frame, BOB).wait_for()
    page.wait_for_timeout(500)
    assert len(requests) <= 3, requests
