"""The customer column against the recorded WooCommerce shop (WooCommerce emulator): binding by
phone, the order history with notes, writing an order note, product cards, tags, staff notes, and
a shop outage that degrades only this column."""
from __future__ import annotations

import pytest

from tests.browser.harness import ARTIFACTS
from tests.browser.test_message_kinds import CONTRAST_AUDIT
from tests.browser.test_panel import deliver_text, friend_row, open_panel

pytestmark = pytest.mark.timeout(150)

MING = "U" + "1" * 32


@pytest.fixture
def ming(shop_stack, line_emulator):
    deliver_text(shop_stack, line_emulator, MING, "您好，請問我的訂單出貨了嗎？", name="小明")
    return MING


def open_ming(page, shop_stack):
    frame, errors = open_panel(page, shop_stack)
    friend_row(frame, MING).click()
    frame.locator(f"body[data-room-ready='{MING}']").wait_for(state="attached")
    return frame, errors


def bind_ming(frame):
    search = frame.locator("#oc-bind-search")
    search.fill("0912-345-678")
    search.press("Enter")
    candidate = frame.locator(".candidate").filter(has_text="註冊會員").first
    candidate.wait_for()
    frame.locator("#oc-col-customer").screenshot(path=str(ARTIFACTS / "panel-bind-candidates.png"))
    candidate.get_by_role("button", name="綁定").click()
    frame.locator(".order-number", has_text="#12345").wait_for()


def test_bind_by_phone_then_orders_notes_and_an_order_note(page, shop_stack, ming, woo_emulator, artifacts):
    frame, errors = open_ming(page, shop_stack)
    bind_ming(frame)
    # The friend list now marks the conversation bound.
    friend_row(frame, MING).locator(".bind-mark.is-bound").wait_for()
    numbers = frame.locator(".order-number").all_inner_texts()
    assert {"#12345", "#12000", "#12346", "#12347"} <= set(numbers)

    order = frame.locator(".order").filter(has=frame.locator(".order-number", has_text="#12345"))
    order.locator(".order-head").click()
    assert order.locator(".order-head").get_attribute("aria-expanded") == "true"
    order.locator(".order-note.note-customer").first.wait_for()
    assert order.locator(".order-note.note-private").count() >= 1
    # WooCommerce note HTML is shown as text, never as markup.
    assert order.locator(".order-note a, .order-note script, .order-note img").count() == 0

    # The bound view (orders, badges, grey and purple notes) meets the same contrast bar.
    audit = page.frames[1].evaluate(CONTRAST_AUDIT)
    assert audit == {"problems": [], "unnamed": []}

    order.locator("textarea").fill("已聯絡顧客，明天出貨")
    order.locator(".note-form").get_by_role("button", name="新增備註").click()
    order.locator(".order-note", has_text="已聯絡顧客，明天出貨").wait_for()
    notes = woo_emulator.notes(12345)
    assert any("已聯絡顧客，明天出貨" in n["note"] and not n["customer_note"] for n in notes)

    order.get_by_role("button", name="在 WooCommerce 開啟").click()
    page.wait_for_function(
        "window.received.some(m => m.type === 'orderchatz:open-order' && m.order_id === 12345)")
    page.screenshot(path=str(artifacts / "panel-customer.png"))
    assert not errors, errors


def test_order_number_search_box(page, shop_stack, ming):
    frame, _ = open_ming(page, shop_stack)
    bind_ming(frame)
    frame.locator("#oc-order-search").fill("12346")
    frame.locator(".order-number", has_text="#12345").wait_for(state="detached")
    assert frame.locator(".order-number").all_inner_texts() == ["#12346"]
    frame.locator("#oc-order-search").fill("999999")
    frame.locator(".orders", has_text="找不到訂單 999999").wait_for()


def test_send_product_card(page, shop_stack, ming, line_emulator, artifacts):
    frame, errors = open_ming(page, shop_stack)
    frame.get_by_role("button", name="傳送商品").click()
    frame.locator("#oc-product-search").fill("咖啡豆")
    frame.locator(".product-row").first.wait_for()
    assert frame.locator(".product-row .price").first.inner_text()
    frame.locator(".product-row").first.click()
    frame.locator(".product-preview strong").wait_for()
    page.screenshot(path=str(artifacts / "panel-product-picker.png"))
    frame.locator(".dialog-foot").get_by_role("button", name="傳送").click()
    sent = line_emulator.wait_for_sent(1, timeout=15)
    assert sent[0].messages[0]["type"] == "flex"
    frame.locator(".msg-out .product-card").wait_for()
    assert not errors, errors


def test_tags_and_staff_notes(page, shop_stack, ming):
    frame, errors = open_ming(page, shop_stack)
    tag_input = frame.locator("#oc-tag-input")
    tag_input.fill("VIP")
    tag_input.press("Enter")
    frame.locator(".tag-chip", has_text="VIP").wait_for()

    frame.get_by_role("button", name="新增筆記").click()
    frame.locator(".staff-form textarea").fill("喜歡深焙咖啡")
    frame.locator(".staff-form").get_by_role("button", name="新增備註").click()
    frame.locator(".staff-note .note-text", has_text="喜歡深焙咖啡").wait_for()
    # Edit in place, then delete.
    note = frame.locator(".staff-note").first  # the only note (its text becomes a form)
    note.get_by_role("button", name="編輯").click()
    note.locator("textarea").fill("喜歡深焙咖啡，不加糖")
    note.get_by_role("button", name="儲存").click()
    frame.locator(".staff-note .note-text", has_text="不加糖").wait_for()
    page.once("dialog", lambda d: d.accept())
    frame.locator(".staff-note", has_text="不加糖").get_by_role("button", name="刪除").click()
    frame.locator(".staff-note", has_text="不加糖").wait_for(state="detached")

    frame.get_by_role("button", name="移除標籤 VIP").click()
    frame.locator(".tag-chip", has_text="VIP").wait_for(state="detached")
    assert not errors, errors


def test_shop_down_shows_a_degraded_customer_panel_and_chat_still_works(page, shop_stack, ming,
                                                                       woo_emulator, line_emulator):
    import requests
    token = shop_stack.parent.mint()
    resp = requests.put(f"{shop_stack.sidecar_origin}/api/v1/conversations/{MING}/binding",
                        json={"customer_id": 2}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    woo_emulator.go_down()  # before the panel ever loaded (and cached) this customer
    try:
        frame, _ = open_ming(page, shop_stack)
        frame.locator(".degraded").first.wait_for()
        assert frame.locator(".degraded").first.inner_text().strip()  # the sidecar's reason
        frame.locator("#oc-composer-input").fill("稍等一下喔")
        frame.locator("#oc-composer-input").press("Enter")
        sent = line_emulator.wait_for_sent(1, timeout=15)
        assert sent[-1].texts == ["稍等一下喔"]
    finally:
        woo_emulator.come_back()
