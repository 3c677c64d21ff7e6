"""The admin menu, the panel page (iframe + token) and the token refresh route."""
from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from orderchatz.auth import AuthError, PANEL_AUDIENCE, verify_panel_token

from .conftest import SHARED_SECRET

FRIEND = "U4af4980629a0b4c1d2e3f4a5b6c7d8e9"


def panel_page(env, user: str, query: str = ""):
    session = env.session(user)
    return session, session.get(f"{env.site.url}/wp-admin/admin.php?page=orderchatz{query}", timeout=30)


def iframe_src(page_html: str) -> str:
    match = re.search(r'<iframe id="orderchatz-panel-frame"[^>]*\ssrc="([^"]+)"', page_html)
    assert match, "no panel iframe"
    return html.unescape(match.group(1))


def panel_config(page_html: str) -> dict:
    match = re.search(r"window\.orderchatzPanel = (\{.*?\});\n", page_html)
    assert match, "no panel config"
    return json.loads(match.group(1))


def fragment(src: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(src).fragment).items()}


def test_shop_manager_sees_the_menu_and_the_panel(env, sidecar):
    session, response = panel_page(env, "manager")
    assert response.status_code == 200
    assert 'id="toplevel_page_orderchatz"' in response.text
    src = iframe_src(response.text)
    parts = urlsplit(src)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sidecar.url}/panel"
    assert parts.query == ""  # the token is never in the query string
    frag = fragment(src)
    assert frag["origin"] == env.site.url
    assert "friend" not in frag

    user = verify_panel_token(frag["token"], SHARED_SECRET, issuers=(env.site.url,))
    assert user.user_id == str(env.site.users["manager"].user_id)
    assert user.name == "客服 小美"
    assert "manage_woocommerce" in user.caps and "edit_shop_orders" in user.caps
    assert "manage_options" not in user.caps
    assert user.locale == "en_US" and user.hpos is True
    claims = jwt.decode(frag["token"], SHARED_SECRET, algorithms=["HS256"], audience=PANEL_AUDIENCE)
    assert claims["iss"] == env.site.url and claims["aud"] == "orderchatz-panel"
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["admin_url"] == env.site.url + "/wp-admin/"
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])
    assert jwt.get_unverified_header(frag["token"]) == {"alg": "HS256", "typ": "JWT"}


def test_token_is_refused_with_another_secret_audience_or_after_expiry(env, sidecar):
    _, response = panel_page(env, "manager")
    token = fragment(iframe_src(response.text))["token"]
    with pytest.raises(AuthError):
        verify_panel_token(token, "some-other-secret-some-other-secret-xx", issuers=(env.site.url,))
    with pytest.raises(AuthError):
        verify_panel_token(token, SHARED_SECRET, issuers=("https://elsewhere.example",))
    minted_earlier = env.site.php_json(f"""
        $tokens = new OrderChatz_Panel_Token( new OrderChatz_Settings(), new OrderChatz_Woo() );
        return $tokens->mint_for( get_user_by( 'id', {env.site.users['manager'].user_id} ), time() - 400 );
    """)
    with pytest.raises(AuthError) as expired:
        verify_panel_token(minted_earlier["token"], SHARED_SECRET, issuers=(env.site.url,))
    assert expired.value.code == "token_expired"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, SHARED_SECRET, algorithms=["HS256"], audience="another-audience")


def test_panel_config_for_the_postmessage_bridge(env, sidecar):
    _, response = panel_page(env, "admin")
    config = panel_config(response.text)
    assert config["sidecarOrigin"] == sidecar.url
    assert config["token"] == fragment(iframe_src(response.text))["token"]
    assert config["orderEditUrlTemplate"] == f"{env.site.url}/wp-admin/admin.php?page=wc-orders&action=edit&id={{id}}"
    assert config["customerEditUrlTemplate"] == f"{env.site.url}/wp-admin/user-edit.php?user_id={{id}}"
    assert config["tokenUrl"].endswith("rest_route=/orderchatz/v1/token")
    assert SHARED_SECRET not in response.text
    assert SHARED_SECRET[-12:] not in response.text
    assert "orderchatz-panel.js" in response.text


def test_legacy_storage_order_url_template(env, sidecar):
    env.site.php("update_option( 'ocz_fakewc_hpos', false );")
    try:
        _, response = panel_page(env, "manager")
        config = panel_config(response.text)
        assert config["orderEditUrlTemplate"] == f"{env.site.url}/wp-admin/post.php?post={{id}}&action=edit"
        assert verify_panel_token(config["token"], SHARED_SECRET, issuers=(env.site.url,)).hpos is False
    finally:
        env.site.php("update_option( 'ocz_fakewc_hpos', true );")


def test_deep_link_to_a_friend(env, sidecar):
    _, response = panel_page(env, "manager", f"&friend={FRIEND}")
    assert fragment(iframe_src(response.text))["friend"] == FRIEND


@pytest.mark.parametrize("bad", ["U123", "javascript:alert(1)", "U4af4980629a0b4c1d2e3f4a5b6c7d8e9&token=x",
                                 '"><script>alert(1)</script>'])
def test_malformed_friend_is_ignored(env, sidecar, bad):
    from urllib.parse import quote
    _, response = panel_page(env, "manager", f"&friend={quote(bad)}")
    assert response.status_code == 200
    frag = fragment(iframe_src(response.text))
    assert "friend" not in frag and "<script>alert" not in response.text


def test_user_locale_is_in_the_token(env, sidecar):
    manager = env.site.users["manager"].user_id
    env.site.php(f"update_user_meta( {manager}, 'locale', 'zh_TW' );")
    try:
        _, response = panel_page(env, "manager")
        token = fragment(iframe_src(response.text))["token"]
        assert verify_panel_token(token, SHARED_SECRET, issuers=(env.site.url,)).locale == "zh_TW"
        assert 'title="OrderChatz 對話"' in response.text  # the plugin's strings follow the admin locale
    finally:
        env.site.php(f"delete_user_meta( {manager}, 'locale' );")


@pytest.mark.parametrize("user", ["subscriber", "customer"])
def test_subscribers_and_customers_get_nothing(env, sidecar, user):
    session, response = panel_page(env, user)
    assert response.status_code == 403
    assert "orderchatz-panel-frame" not in response.text
    dashboard = session.get(f"{env.site.url}/wp-admin/profile.php", timeout=30)
    assert dashboard.status_code == 200
    assert "toplevel_page_orderchatz" not in dashboard.text
    settings = session.get(f"{env.site.url}/wp-admin/admin.php?page=orderchatz-settings", timeout=30)
    assert settings.status_code == 403


def test_logged_out_visitor_is_sent_to_login(env, sidecar):
    import requests
    response = requests.get(f"{env.site.url}/wp-admin/admin.php?page=orderchatz", allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "wp-login.php" in response.headers["Location"]


# -- token refresh route -----------------------------------------------------------------------

def token_route(env) -> str:
    return env.site.rest_url("/orderchatz/v1/token")


def test_token_refresh_with_cookie_nonce_and_capability(env, sidecar):
    session = env.session("manager")
    response = session.post(token_route(env), headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    user = verify_panel_token(body["token"], SHARED_SECRET, issuers=(env.site.url,))
    assert user.user_id == str(env.site.users["manager"].user_id) and user.expires_at == body["expires_at"]
    assert re.search(r"no-store|no-cache", response.headers.get("Cache-Control", ""))


def test_token_refresh_without_nonce_is_refused(env, sidecar):
    session = env.session("manager")
    response = session.post(token_route(env), timeout=30)
    assert response.status_code in (401, 403)
    assert "token" not in response.json()


def test_token_refresh_with_a_wrong_nonce_is_refused(env, sidecar):
    session = env.session("manager")
    response = session.post(token_route(env), headers={"X-WP-Nonce": "0123456789"}, timeout=30)
    assert response.status_code == 403 and response.json()["code"] == "rest_cookie_invalid_nonce"


def test_token_refresh_without_cookie_is_refused(env, sidecar):
    import requests
    session = env.session("manager")
    nonce = env.site.rest_nonce(session)
    response = requests.post(token_route(env), headers={"X-WP-Nonce": nonce}, timeout=30)
    assert response.status_code in (401, 403)


def test_token_refresh_for_a_subscriber_is_refused(env, sidecar):
    session = env.session("subscriber")
    response = session.post(token_route(env), headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    assert response.status_code == 403 and response.json()["code"] == "rest_forbidden"


def test_token_route_is_post_only(env, sidecar):
    session = env.session("manager")
    response = session.get(token_route(env), headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    assert response.status_code == 404


# -- unread badge ------------------------------------------------------------------------------

def test_unread_badge_is_fetched_asynchronously_and_cached(env, sidecar):
    env.site.php("delete_transient( 'orderchatz_unread' );")
    session = env.session("manager")
    dashboard = session.get(f"{env.site.url}/wp-admin/", timeout=30)
    assert "orderchatz-badge.js" in dashboard.text  # nothing cached: the page asks after load
    assert sidecar.requests_to("/api/v1/unread") == []  # …and rendering did not call the sidecar

    response = session.get(env.site.rest_url("/orderchatz/v1/unread"),
                           headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    assert response.json() == {"unread_conversations": 3, "unread_messages": 7}
    [call] = sidecar.requests_to("/api/v1/unread")
    assert call.headers["authorization"].startswith("Bearer ")

    dashboard = session.get(f"{env.site.url}/wp-admin/", timeout=30)
    assert "orderchatz-badge.js" not in dashboard.text
    assert re.search(r'awaiting-mod count-3 orderchatz-unread-badge"><span class="pending-count"[^>]*>3<', dashboard.text)
    assert len(sidecar.requests_to("/api/v1/unread")) == 1


def test_unread_failure_is_cached_too(env, sidecar):
    env.site.php("delete_transient( 'orderchatz_unread' );")
    sidecar.stop()
    session = env.session("manager")
    response = session.get(env.site.rest_url("/orderchatz/v1/unread"),
                           headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    assert response.status_code == 502
    dashboard = session.get(f"{env.site.url}/wp-admin/", timeout=30)
    assert dashboard.status_code == 200 and "orderchatz-badge.js" not in dashboard.text
    env.site.php("delete_transient( 'orderchatz_unread' );")
