"""Every message kind a customer can send renders as what it is; a failed send says why and can
be retried; the panel passes basic accessibility checks (names, labels, contrast)."""
from __future__ import annotations

import base64

import pytest

from tests.browser.test_panel import ALICE, deliver_text, friend_row, open_panel

pytestmark = pytest.mark.timeout(120)

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


def deliver(stack, line_emulator, *events):
    status, body = line_emulator.deliver(stack.webhook_url, list(events))
    assert status == 200, body


def test_stickers_images_files_locations_and_unsent(page, stack, line_emulator, artifacts):
    line_emulator.set_profile(ALICE, "Alice")
    text = line_emulator.text_event(ALICE, "打錯了")
    deliver(stack, line_emulator,
            line_emulator.sticker_event(ALICE, "11537", "52002738"),
            line_emulator.image_event(ALICE, PNG_1PX, "image/png"),
            line_emulator.media_event(ALICE, "file", b"%PDF-1.4 invoice", "application/pdf",
                                      file_name="發票.pdf"),
            line_emulator.location_event(ALICE, "台北 101", "台北市信義區信義路五段7號", 25.0339, 121.5645),
            text)
    deliver(stack, line_emulator, line_emulator.unsend_event(ALICE, text["message"]["id"]))
    frame, errors = open_panel(page, stack)
    friend_row(frame, ALICE).click()

    sticker = frame.locator(".history img.sticker")
    sticker.wait_for()
    assert sticker.get_attribute("src") == \
        "https://stickershop.line-scdn.net/stickershop/v1/sticker/52002738/android/sticker.png"
    # The image is fetched with the Bearer token and shown through an object URL.
    frame.locator(".history .thumb img[src^='blob:']").wait_for()
    file_card = frame.locator(".history .file-card", has_text="發票.pdf")
    with page.expect_download() as download:
        file_card.get_by_role("button", name="下載").click()
    assert download.value.suggested_filename == "發票.pdf"
    link = frame.locator(".history .location-card a")
    assert "25.0339,121.5645" in link.get_attribute("href")
    assert "台北 101" in frame.locator(".history .location-card").inner_text()
    frame.locator(".history .unsent", has_text="已收回").wait_for()
    assert frame.locator(".history", has_text="打錯了").count() == 0
    page.screenshot(path=str(artifacts / "panel-message-kinds.png"))
    assert not errors, errors


def test_failed_send_shows_the_reason_and_retries(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "在嗎", name="Alice")
    frame, errors = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    line_emulator.fail_next("/v2/bot/message/", 400, {"message": "The request body has 1 error(s)"}, times=5)
    frame.locator("#oc-composer-input").fill("這則會失敗")
    frame.locator("#oc-composer-input").press("Enter")
    failed = frame.locator(".msg-out[data-status=failed]")
    failed.wait_for(timeout=30000)
    assert failed.locator(".failure-reason").inner_text().strip()
    line_emulator.clear_faults()
    failed.get_by_role("button", name="重試").click()
    frame.locator(".msg-out[data-status=sent]").wait_for(timeout=30000)
    sent = line_emulator.wait_for_sent(1, timeout=10)
    assert sent[-1].texts == ["這則會失敗"]
    assert len(line_emulator.sent) == 1  # never delivered twice
    assert not errors, errors


def test_composer_counter_near_the_line_limit(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "hi", name="Alice")
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    composer = frame.locator("#oc-composer-input")
    composer.fill("字" * 4999 + "😀")  # the emoji is two UTF-16 units: 5001 in LINE's count
    counter = frame.locator("#oc-counter")
    assert counter.inner_text() == "5001 / 5000"
    assert "over" in counter.get_attribute("class")
    assert frame.locator("#oc-send").is_disabled()
    composer.press("Enter")
    assert line_emulator.sent == []
    composer.fill("字" * 100)
    assert counter.inner_text() == ""


CONTRAST_AUDIT = """() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                              return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.9) return c;
    }
    return [255, 255, 255];
  };
  const problems = [];
  for (const el of document.querySelectorAll("body *")) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest("[hidden]") || !el.getClientRects().length) continue;
    if (el.closest(".sr-only, .skip-link, option")) continue;
    if (el.matches(":disabled") || el.closest("button:disabled")) continue;
    const fg = parse(style.color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) problems.push(`${el.className || el.tagName}: ${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 20)}"`);
  }
  const unnamed = [...document.querySelectorAll("button, input, textarea, select, [role=option]")]
    .filter((el) => el.getClientRects().length && !el.closest("[hidden]"))
    .filter((el) => !(el.getAttribute("aria-label") || el.labels?.length || el.getAttribute("aria-labelledby")
                      || el.textContent.trim() || el.type === "radio" && el.closest("label")))
    .map((el) => el.id || el.className || el.tagName);
  return { problems, unnamed };
}"""


def test_accessibility_names_labels_and_contrast(page, stack, line_emulator):
    deliver_text(stack, line_emulator, ALICE, "需要協助 https://example.com/x", name="Alice")
    frame, _ = open_panel(page, stack)
    friend_row(frame, ALICE).click()
    frame.locator(f"body[data-room-ready='{ALICE}']").wait_for(state="attached")
    frame.locator(".cust-binding .inline-form").wait_for()
    audit = page.frames[1].evaluate(CONTRAST_AUDIT)
    assert audit["problems"] == []
    assert audit["unnamed"] == []
    # Regions a screen reader can jump to, and a visible focus ring.
    for region in ("#oc-col-list", "#oc-col-room", "#oc-col-customer"):
        assert frame.locator(region).get_attribute("aria-labelledby")
    frame.locator("#oc-search").focus()
    outline = page.frames[1].evaluate("() => getComputedStyle(document.activeElement).boxShadow + getComputedStyle(document.activeElement).outlineStyle")
    assert outline and outline != "nonenone"
