"""The seed scenario end to end, through a real WordPress 6.1 admin and a real Chromium.

王小明 asks on LINE whether order #12345 has shipped. The shop manager opens OrderChatz in WP
admin (the plugin frames the sidecar's panel and hands it a token), sees the unread conversation
(also on the WP menu badge), binds the friend by phone to the registered customer, finds order
#12345 with its notes, writes a note *to the customer* (WooCommerce stores it; the sidecar also
delivers it on LINE), replies in the chat, and opens the order's edit screen in WP admin.

WooCommerce data comes from the WooCommerce emulator (the recorded shop); WordPress runs the
plugin with the harness's WooCommerce stand-in for the edit URLs.
"""
from __future__ import annotations

import uuid

import pytest

from tests.browser.test_panel import deliver_text
from tests.conftest import SHARED_SECRET
from tests.harness.wordpress import WordPressSite, php_available
from tests.support import free_port

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not php_available(), reason="php-cli and Debian's wordpress package are required")]

MING = "U" + "0a1b2c3d4e5f6789" * 2


@pytest.fixture
def wp_stack(make_stack, woo_emulator):
    wp_port = free_port()
    stack = make_stack(woo=woo_emulator, wp_origin=f"http://127.0.0.1:{wp_port}")
    site = WordPressSite(port=wp_port, db_name=f"oc_wp_{uuid.uuid4().hex[:10]}",
                         sidecar_url=stack.sidecar_origin, shared_secret=SHARED_SECRET, locale="zh_TW")
    site.start()
    try:
        yield stack, site
    finally:
        site.stop()


def dump_state(stack, line_emulator) -> None:
    """What the sidecar stored and LINE saw, printed when a send does not arrive in time."""
    from sqlalchemy import select

    from orderchatz.store.models import Message
    with stack.svc.store.session() as s:
        for m in s.scalars(select(Message)):
            print("message", m.id, m.direction, m.type, m.status, m.sent_via, m.failure_code, m.text)
    print("LINE requests", [(r.path, r.status) for r in line_emulator.requests])
    print("worker errors", stack.worker.errors)


def test_seed_scenario_through_wp_admin(browser, wp_stack, line_emulator, woo_emulator, artifacts):
    stack, site = wp_stack
    deliver_text(stack, line_emulator, MING, "請問訂單 #12345 出貨了嗎？", name="小明")

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        site.login(context, "manager")
        page.goto(f"{site.url}/wp-admin/admin.php?page=orderchatz")
        frame = page.frame_locator("#orderchatz-panel-frame")
        frame.locator("body[data-ready=true]").wait_for(state="attached")
        row = frame.locator(f'[data-line-user-id="{MING}"]')
        row.locator(".unread-badge").wait_for()
        # The panel tells WP admin, which updates its menu badge.
        page.locator(".orderchatz-unread-badge .pending-count", has_text="1").first.wait_for(state="attached")
        page.screenshot(path=str(artifacts / "seed-1-inbox.png"))

        row.click()
        frame.locator(".msg-in .bubble-text", has_text="請問訂單 #12345 出貨了嗎？").wait_for()

        search = frame.locator("#oc-bind-search")
        search.fill("0912-345-678")
        search.press("Enter")
        candidate = frame.locator(".candidate").filter(has=frame.locator(".kind-registered")).first
        candidate.locator("button").click()
        order = frame.locator(".order").filter(has=frame.locator(".order-number", has_text="#12345"))
        order.wait_for()
        order.locator(".order-head").click()
        order.locator(".order-note").first.wait_for()

        order.locator("textarea").fill("您的咖啡機已出貨，宅配單號 123456789")
        order.locator("input[value=customer]").check()
        order.locator(".note-form button[type=submit]").click()
        order.locator(".order-note.note-customer", has_text="宅配單號 123456789").wait_for()
        assert any("宅配單號 123456789" in n["note"] and n["customer_note"] for n in woo_emulator.notes(12345))
        sent = line_emulator.wait_for_sent(1, timeout=30)
        assert any("宅配單號 123456789" in t for s in sent for t in s.texts)
        frame.locator(".msg-out .order-card").first.wait_for()  # the note shows in the chat too

        composer = frame.locator("#oc-composer-input")
        composer.fill("已經幫您出貨囉，謝謝！")
        composer.press("Enter")
        try:
            sent = line_emulator.wait_for_sent(2, timeout=30)
        except TimeoutError:
            dump_state(stack, line_emulator)
            raise
        assert sent[-1].texts == ["已經幫您出貨囉，謝謝！"] and sent[-1].to == MING
        page.screenshot(path=str(artifacts / "seed-2-bound-and-replied.png"))
        assert errors == []

        order.locator(".order-actions button").click()
        page.wait_for_url(lambda url: "12345" in url and "orderchatz" not in url)
        assert site.php_problems() == []
    finally:
        context.close()
