"""Settings page: validation, the masked secret, constants, the connection test, capabilities."""
from __future__ import annotations

import pytest

from .conftest import SHARED_SECRET, make_env
from .forms import form_fields

SETTINGS = "/wp-admin/admin.php?page=orderchatz-settings"
NEW_SECRET = "a-brand-new-shared-secret-0123456789-ABCD"


@pytest.fixture(scope="module")
def env():
    """A site without ORDERCHATZ_* constants: the settings page is in charge."""
    made = make_env(sidecar_url=None, shared_secret=None)
    yield made
    made.site.stop()
    made.sidecar.stop()


@pytest.fixture(autouse=True)
def empty_settings(env):
    env.site.php("update_option( 'orderchatz_settings', array( 'sidecar_url' => '', 'shared_secret' => '', 'forward_status_changes' => false ) );")
    yield


def save(env, session, **values):
    page = session.get(env.site.url + SETTINGS, timeout=30)
    action, fields = form_fields(page.text, "options.php")
    fields.update({f"orderchatz_settings[{k}]": v for k, v in values.items()})
    response = session.post(action, data=fields, timeout=30)
    assert response.status_code == 200, response.status_code
    return response


def stored(env) -> dict:
    return env.site.php_json("return get_option( 'orderchatz_settings' );")


def test_admin_saves_url_and_secret_and_the_secret_is_only_shown_masked(env, sidecar):
    admin = env.session("admin")
    page = save(env, admin, sidecar_url=sidecar.url + "/", shared_secret=NEW_SECRET, forward_status_changes="1")
    assert stored(env) == {"sidecar_url": sidecar.url, "shared_secret": NEW_SECRET, "forward_status_changes": True}
    assert NEW_SECRET not in page.text and NEW_SECRET[:-4] not in page.text
    assert "••••••••ABCD" in page.text
    assert f'value="{sidecar.url}/line/webhook"' in page.text

    save(env, admin, sidecar_url=sidecar.url, shared_secret="")  # empty field keeps the secret
    assert stored(env)["shared_secret"] == NEW_SECRET
    assert stored(env)["forward_status_changes"] is False  # unchecked box


@pytest.mark.parametrize("url", ["ftp://chat.example.com", "chat.example.com", "https://",
                                 "https://chat.example.com/?x=1", "https://user:pw@chat.example.com",
                                 "javascript:alert(1)"])
def test_invalid_sidecar_urls_are_refused(env, sidecar, url):
    admin = env.session("admin")
    save(env, admin, sidecar_url="https://chat.example.com", shared_secret=NEW_SECRET)
    page = save(env, admin, sidecar_url=url, shared_secret="")
    assert stored(env)["sidecar_url"] == "https://chat.example.com"
    assert "The saved URL was kept" in page.text


def test_short_secret_is_refused_and_the_old_one_kept(env, sidecar):
    admin = env.session("admin")
    save(env, admin, sidecar_url=sidecar.url, shared_secret=NEW_SECRET)
    page = save(env, admin, sidecar_url=sidecar.url, shared_secret="too-short")
    assert stored(env)["shared_secret"] == NEW_SECRET
    assert "at least 32 characters" in page.text


def test_http_sidecar_is_refused_when_the_admin_runs_on_https(env, sidecar):
    result = env.site.php_json("""
        $page = new OrderChatz_Settings_Page( new OrderChatz_Settings(), new OrderChatz_Sidecar_Client( new OrderChatz_Settings() ),
            new OrderChatz_Event_Queue( new OrderChatz_Sidecar_Client( new OrderChatz_Settings() ) ) );
        $http  = $page->sanitize( array( 'sidecar_url' => 'http://chat.example.com', 'shared_secret' => '' ) );
        $https = $page->sanitize( array( 'sidecar_url' => 'https://chat.example.com', 'shared_secret' => '' ) );
        return array( 'http' => $http['sidecar_url'], 'https' => $https['sidecar_url'],
                      'errors' => wp_list_pluck( get_settings_errors( 'orderchatz_settings' ), 'code' ) );
    """, user="admin", server={"HTTPS": "on"})
    assert result == {"http": "", "https": "https://chat.example.com", "errors": ["orderchatz_sidecar_url"]}


def test_http_sidecar_is_fine_on_a_plain_http_admin(env, sidecar):
    save(env, env.session("admin"), sidecar_url="http://chat.example.com", shared_secret=NEW_SECRET)
    assert stored(env)["sidecar_url"] == "http://chat.example.com"


def test_shop_manager_cannot_change_settings(env, sidecar):
    admin = env.session("admin")
    page = admin.get(env.site.url + SETTINGS, timeout=30)
    action, fields = form_fields(page.text, "options.php")
    manager = env.session("manager")
    assert manager.get(env.site.url + SETTINGS, timeout=30).status_code == 403
    fields["orderchatz_settings[sidecar_url]"] = "https://evil.example"
    response = manager.post(action, data=fields, timeout=30)
    assert response.status_code == 403
    assert stored(env)["sidecar_url"] == ""


def test_settings_post_without_a_valid_nonce_is_refused(env, sidecar):
    admin = env.session("admin")
    page = admin.get(env.site.url + SETTINGS, timeout=30)
    action, fields = form_fields(page.text, "options.php")
    fields["_wpnonce"] = "0000000000"
    fields["orderchatz_settings[sidecar_url]"] = "https://evil.example"
    response = admin.post(action, data=fields, timeout=30)
    assert response.status_code == 403
    assert stored(env)["sidecar_url"] == ""


def run_connection_test(env, session) -> str:
    page = session.get(env.site.url + SETTINGS, timeout=30)
    action, fields = form_fields(page.text, "admin-post.php")
    assert fields["action"] == "orderchatz_test_connection"
    return session.post(action, data=fields, timeout=30).text


def test_connection_test_success(env, sidecar):
    admin = env.session("admin")
    save(env, admin, sidecar_url=sidecar.url, shared_secret=SHARED_SECRET)
    result = run_connection_test(env, admin)
    assert "Connected: the sidecar is ready" in result
    [call] = sidecar.requests_to("/readyz")
    assert call.headers["x-orderchatz-signature"].startswith("t=")


def test_connection_test_names_a_wrong_secret(env, sidecar):
    admin = env.session("admin")
    save(env, admin, sidecar_url=sidecar.url, shared_secret=NEW_SECRET)
    assert "the shared secret here differs" in run_connection_test(env, admin)


def test_connection_test_names_an_unreachable_sidecar(env, sidecar):
    admin = env.session("admin")
    save(env, admin, sidecar_url=sidecar.url, shared_secret=SHARED_SECRET)
    sidecar.stop()
    result = run_connection_test(env, admin)
    assert f"Could not reach the sidecar at {sidecar.url}" in result


def test_connection_test_requires_its_nonce(env, sidecar):
    admin = env.session("admin")
    response = admin.post(env.site.url + "/wp-admin/admin-post.php",
                          data={"action": "orderchatz_test_connection", "_wpnonce": "bad"}, timeout=30)
    assert response.status_code == 403
    assert sidecar.requests_to("/readyz") == []


def test_unconfigured_panel_page_explains_what_to_do(env, sidecar):
    page = env.session("admin").get(env.site.url + "/wp-admin/admin.php?page=orderchatz", timeout=30)
    assert page.status_code == 200
    assert "orderchatz-panel-frame" not in page.text
    assert "set the sidecar URL and the shared secret first" in page.text


@pytest.fixture(scope="module")
def constant_env():
    made = make_env()
    yield made
    made.site.stop()
    made.sidecar.stop()


def test_constants_win_and_are_shown_read_only_with_the_secret_masked(constant_env):
    site = constant_env.site
    site.php("update_option( 'orderchatz_settings', array( 'sidecar_url' => 'https://ignored.example', 'shared_secret' => str_repeat( 'z', 40 ), 'forward_status_changes' => false ) );")
    page = constant_env.session("admin").get(site.url + SETTINGS, timeout=30)
    assert f'value="{constant_env.sidecar.url}" readonly' in page.text
    assert "Set by ORDERCHATZ_SHARED_SECRET in wp-config.php." in page.text
    assert "••••••••-XYZ" in page.text
    assert SHARED_SECRET not in page.text and "zzzz" not in page.text
    assert 'name="orderchatz_settings[shared_secret]"' not in page.text
    assert site.php_json("$s = new OrderChatz_Settings(); return array( $s->sidecar_url(), $s->shared_secret() === ORDERCHATZ_SHARED_SECRET );") == [constant_env.sidecar.url, True]


def test_panel_page_refuses_an_http_sidecar_on_an_https_admin(constant_env):
    """The ORDERCHATZ_SIDECAR_URL constant is http here; as seen from an https admin it must not be framed."""
    html = constant_env.site.php("""
        require_once ABSPATH . 'wp-admin/includes/admin.php';
        do_action( 'admin_menu' );
        $menu = new OrderChatz_Admin_Menu( new OrderChatz_Settings(), new OrderChatz_Woo(),
            new OrderChatz_Panel_Token( new OrderChatz_Settings(), new OrderChatz_Woo() ) );
        $menu->prepare_panel_page();
        $menu->render_panel_page();
    """, user="manager", server={"HTTPS": "on"})
    assert "mixed content" in html
    assert "<iframe" not in html
