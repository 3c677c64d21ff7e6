"""The order-screen meta box (HPOS and legacy screens) and the binding lookup behind it."""
from __future__ import annotations


import pytest

from orderchatz.auth import verify_panel_token

from .conftest import SHARED_SECRET

FRIEND = "U4af4980629a0b4c1d2e3f4a5b6c7d8e9"


def registered_screens(site, user: str) -> list[str]:
    return site.php_json("""
        require_once ABSPATH . 'wp-admin/includes/template.php';
        require_once ABSPATH . 'wp-admin/includes/screen.php';
        require_once ABSPATH . 'wp-admin/includes/class-wp-screen.php';
        global $wp_meta_boxes;
        do_action( 'add_meta_boxes', 'shop_order', null );
        $screens = array();
        foreach ( (array) $wp_meta_boxes as $screen => $contexts ) {
            if ( isset( $contexts['side']['default']['orderchatz-binding'] ) ) { $screens[] = $screen; }
        }
        sort( $screens );
        return $screens;
    """, user=user)


def test_box_is_registered_on_both_order_screens_for_staff(site):
    assert registered_screens(site, "manager") == ["shop_order", "woocommerce_page_wc-orders"]
    assert registered_screens(site, "subscriber") == []


@pytest.mark.parametrize("argument", ["post", "order"])
def test_box_renders_for_a_legacy_post_and_an_hpos_order(site, argument):
    order_id = site.create_order()
    obj = f"get_post( {order_id} )" if argument == "post" else f"wc_get_order( {order_id} )"
    html = site.php(f"""
        $box = new OrderChatz_Order_Meta_Box( new OrderChatz_Settings() );
        $box->render( {obj} );
    """, user="manager")
    assert f'data-order-id="{order_id}"' in html
    assert "admin.php?page=orderchatz" in html and "Open OrderChatz" in html


def binding(env, session, order_id) -> tuple[int, dict]:
    response = session.get(env.site.rest_url("/orderchatz/v1/binding") + f"&order_id={order_id}",
                           headers={"X-WP-Nonce": env.site.rest_nonce(session)}, timeout=30)
    return response.status_code, response.json()


def test_binding_lookup_for_a_bound_customer(env, sidecar):
    sidecar.binding = {"bound": True, "friends": [
        {"line_user_id": FRIEND, "display_name": "小明 <b>Ming</b>"},
        {"line_user_id": "not-a-line-id", "display_name": "dropped"},
    ]}
    order_id = env.site.create_order()
    status, body = binding(env, env.session("manager"), order_id)
    assert status == 200
    assert body == {"bound": True, "friends": [{
        "line_user_id": FRIEND, "display_name": "小明 Ming",
        "panel_url": f"{env.site.url}/wp-admin/admin.php?page=orderchatz&friend={FRIEND}"}]}
    [call] = sidecar.requests_to("/api/v1/bindings/lookup")
    assert {k: v[0] for k, v in call.query.items()} == {
        "customer_id": str(env.site.users["customer"].user_id),
        "email": "ming.wang@example.com", "phone": "0912-345-678"}
    verify_panel_token(call.headers["authorization"].removeprefix("Bearer "), SHARED_SECRET,
                       issuers=(env.site.url,))


def test_binding_lookup_unbound_guest(env, sidecar):
    sidecar.binding = {"bound": False, "friends": []}
    order_id = env.site.create_order(customer=None, billing_email="guest.one@example.com")
    status, body = binding(env, env.session("manager"), order_id)
    assert (status, body) == (200, {"bound": False, "friends": []})
    [call] = sidecar.requests_to("/api/v1/bindings/lookup")
    assert "customer_id" not in call.query


def test_binding_lookup_errors(env, sidecar):
    manager = env.session("manager")
    assert binding(env, manager, 999999)[0] == 404
    order_id = env.site.create_order()
    sidecar.stop()
    status, body = binding(env, manager, order_id)
    assert status == 502 and body["code"] == "orderchatz_sidecar_unavailable"
    subscriber = env.session("subscriber")
    assert binding(env, subscriber, order_id)[0] == 403
