"""The customer-facing account-link page: {site}/?orderchatz-link=<linkToken>."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from orderchatz.auth import verify_wp_event

from .conftest import SHARED_SECRET
from .forms import form_fields

LINK_TOKEN = "NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY"


def link_url(site, token: str = LINK_TOKEN) -> str:
    return f"{site.url}/?orderchatz-link={token}"


def confirm(env, session, token: str = LINK_TOKEN) -> requests.Response:
    page = session.get(link_url(env.site, token), timeout=30)
    assert page.status_code == 200, page.text[:500]
    action, fields = form_fields(page.text, "orderchatz-link=")
    return session.post(action, data=fields, allow_redirects=False, timeout=30)


def test_visitor_is_sent_to_the_standard_login_and_back(env, sidecar):
    response = requests.get(link_url(env.site), allow_redirects=False, timeout=30)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/wp-login.php"
    assert parse_qs(location.query)["redirect_to"] == [link_url(env.site)]
    assert sidecar.requests == []


def test_logged_in_customer_confirms_and_is_redirected_to_line(env, sidecar):
    session = env.session("customer")
    page = session.get(link_url(env.site), timeout=30)
    assert "王小明" in page.text  # "you are logged in as …"
    assert sidecar.requests == []  # nothing happens before the customer confirms

    response = confirm(env, session)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://access.line.me/dialog/bot/accountLink?linkToken=abc&nonce=n0nce"
    [call] = sidecar.requests_to("/wp/events")
    verify_wp_event(call.headers["x-orderchatz-signature"], call.body, SHARED_SECRET)
    event = call.json()
    assert event["type"] == "link.nonce" and event["event_id"].startswith("link-")
    assert event["link_token"] == LINK_TOKEN
    customer = env.site.users["customer"]
    assert (event["wp_user_id"], event["email"], event["display_name"]) == (customer.user_id, customer.email, "王小明")


def test_confirmation_without_the_nonce_is_refused(env, sidecar):
    session = env.session("customer")
    response = session.post(link_url(env.site), data={"_wpnonce": "forged"}, allow_redirects=False, timeout=30)
    assert response.status_code == 403
    assert sidecar.requests == []


def test_nonce_is_bound_to_the_link_token(env, sidecar):
    session = env.session("customer")
    page = session.get(link_url(env.site), timeout=30)
    _, fields = form_fields(page.text, "orderchatz-link=")
    other = link_url(env.site, "AnotherLinkToken1234567890")
    response = session.post(other, data=fields, allow_redirects=False, timeout=30)
    assert response.status_code == 403
    assert sidecar.requests == []


@pytest.fixture
def zh_tw_site(env):
    env.site.php("update_option( 'WPLANG', 'zh_TW' );")
    yield env.site
    env.site.php("update_option( 'WPLANG', '' );")


def test_expired_link_token_shows_a_friendly_zh_tw_page(env, sidecar, zh_tw_site):
    sidecar.link_response = (400, {"error": "link_token_invalid", "message": "unknown or expired link token"})
    try:
        response = confirm(env, env.session("customer"))
    finally:
        sidecar.link_response = FakeDefaults.link_response
    assert response.status_code == 410
    assert '<html lang="zh-TW">' in response.text
    assert "這個連結已過期" in response.text


def test_sidecar_down_shows_a_friendly_zh_tw_page(env, sidecar, zh_tw_site):
    session = env.session("customer")
    page = session.get(link_url(env.site), timeout=30)
    action, fields = form_fields(page.text, "orderchatz-link=")
    sidecar.stop()
    response = session.post(action, data=fields, allow_redirects=False, timeout=30)
    assert response.status_code == 503
    assert "暫時無法連結您的帳號" in response.text
    assert "account link failed" in env.site.debug_log()


def test_wrong_shared_secret_is_not_blamed_on_the_customer(env, sidecar):
    real = sidecar.secret
    sidecar.secret = "not-the-same-secret-not-the-same-secret"
    try:
        response = confirm(env, env.session("customer"))
    finally:
        sidecar.secret = real
    assert response.status_code == 503


@pytest.mark.parametrize("redirect", ["https://evil.example/phish", "http://access.line.me/dialog",
                                      "javascript:alert(1)", ""])
def test_only_lines_dialog_is_an_allowed_redirect(env, sidecar, redirect):
    sidecar.link_response = (200, {"nonce": "n", "redirect_url": redirect})
    try:
        response = confirm(env, env.session("customer"))
    finally:
        sidecar.link_response = FakeDefaults.link_response
    assert response.status_code == 503
    assert "Location" not in response.headers


def test_sidecar_host_is_allowed_for_a_local_line_emulator(env, sidecar):
    emulator_dialog = f"http://127.0.0.1:9/dialog/bot/accountLink?linkToken={LINK_TOKEN}&nonce=n"
    sidecar.link_response = (200, {"nonce": "n", "redirect_url": emulator_dialog})
    try:
        response = confirm(env, env.session("customer"))
    finally:
        sidecar.link_response = FakeDefaults.link_response
    assert response.status_code == 302 and response.headers["Location"] == emulator_dialog


@pytest.mark.parametrize("token", ["short", "has space", "<script>", "a" * 300])
def test_malformed_link_tokens_get_an_error_page(env, sidecar, token):
    response = requests.get(env.site.url + "/", params={"orderchatz-link": token}, allow_redirects=False, timeout=30)
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert sidecar.requests == []


class FakeDefaults:
    link_response = (200, {"nonce": "n0nce",
                           "redirect_url": "https://access.line.me/dialog/bot/accountLink?linkToken=abc&nonce=n0nce"})
