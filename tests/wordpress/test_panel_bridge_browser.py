"""The parent-side postMessage bridge (assets/js/orderchatz-panel.js) in a real Chromium, with the
fake sidecar's stand-in panel inside the iframe."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from orderchatz.auth import verify_panel_token

from .conftest import SHARED_SECRET

CHROMIUM = Path("/usr/bin/chromium")
FRIEND = "U4af4980629a0b4c1d2e3f4a5b6c7d8e9"
TIMEOUT_MS = 15000


@pytest.fixture(scope="module")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    yield b
    b.close()


@pytest.fixture
def panel(env, sidecar, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 820})
    env.site.login(context, "manager")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{env.site.url}/wp-admin/admin.php?page=orderchatz&friend={FRIEND}")
    frame = page.frame_locator("#orderchatz-panel-frame")
    frame.locator("#state").wait_for()
    inner = next(f for f in page.frames if f.url.startswith(sidecar.url + "/panel"))
    yield page, inner
    context.close()


def wait_for_messages(inner, count: int) -> list:
    inner.wait_for_function(f"window.received.length >= {count}", timeout=TIMEOUT_MS)
    return inner.evaluate("window.received")


def test_ready_gets_the_page_token_and_a_request_gets_a_fresh_one(env, panel):
    page, inner = panel
    assert inner.evaluate("window.friend") == FRIEND
    # The page token may be offered more than once (at start-up and per `ready`), never another
    # token unasked.
    first = wait_for_messages(inner, 1)[0]
    assert first["type"] == "orderchatz:token"
    assert first["token"] == inner.evaluate("window.fragmentToken")
    assert verify_panel_token(first["token"], SHARED_SECRET, issuers=(env.site.url,)).expires_at == first["expires_at"]
    page.wait_for_timeout(700)
    assert all(m["token"] == first["token"] for m in inner.evaluate("window.received"))

    inner.evaluate("send({type: 'orderchatz:token-request'})")
    inner.wait_for_function(f"window.received.some(m => m.token !== {first['token']!r})",
                            timeout=TIMEOUT_MS)
    second = next(m for m in inner.evaluate("window.received") if m["token"] != first["token"])
    assert second["type"] == "orderchatz:token" and second["token"] != first["token"]
    user = verify_panel_token(second["token"], SHARED_SECRET, issuers=(env.site.url,))
    assert user.user_id == str(env.site.users["manager"].user_id)


def test_the_iframe_fills_the_content_area(panel):
    page, _ = panel
    box = page.locator("#orderchatz-panel-frame").bounding_box()
    assert box["height"] > 600 and box["width"] > 1000


def test_unread_count_updates_the_menu_badge(panel):
    page, inner = panel
    inner.evaluate("send({type: 'orderchatz:unread', count: 5})")
    badge = page.locator("#toplevel_page_orderchatz .orderchatz-unread-badge .pending-count")
    badge.wait_for(state="visible")
    assert badge.inner_text() == "5"


def test_messages_from_elsewhere_and_bad_ids_are_ignored(env, panel):
    page, inner = panel
    start = page.url
    page.evaluate("window.postMessage({type: 'orderchatz:open-order', order_id: 7}, '*')")  # wrong source
    inner.evaluate("send({type: 'orderchatz:open-order', order_id: '7&action=trash'})")
    inner.evaluate("send({type: 'orderchatz:open-customer', customer_id: -3})")
    inner.evaluate("send({type: 'orderchatz:open-order', order_id: 0})")
    inner.evaluate("send({type: 'orderchatz:unknown'})")
    inner.evaluate("send('orderchatz:open-order')")
    page.wait_for_timeout(300)
    assert page.url == start


def test_open_order_goes_to_the_hpos_edit_screen(env, panel):
    page, inner = panel
    inner.evaluate("send({type: 'orderchatz:open-order', order_id: 12345})")
    page.wait_for_url(re.compile(r".*/wp-admin/admin\.php\?page=wc-orders&action=edit&id=12345$"))


def test_open_customer_goes_to_the_profile(env, panel):
    page, inner = panel
    customer = env.site.users["customer"].user_id
    inner.evaluate(f"send({{type: 'orderchatz:open-customer', customer_id: {customer}}})")
    page.wait_for_url(re.compile(rf".*/wp-admin/user-edit\.php\?user_id={customer}$"))
