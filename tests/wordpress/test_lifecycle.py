"""Activation, deactivation and uninstall on a real WordPress; behaviour without WooCommerce."""
from __future__ import annotations


from .conftest import make_env


def orderchatz_traces(site) -> dict:
    return site.php_json("""
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        global $wpdb;
        $options = $wpdb->get_col( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE '%orderchatz%'" );
        $cron = array();
        foreach ( (array) _get_cron_array() as $hooks ) {
            foreach ( array_keys( (array) $hooks ) as $hook ) {
                if ( false !== strpos( $hook, 'orderchatz' ) ) { $cron[] = $hook; }
            }
        }
        $usermeta = $wpdb->get_col( "SELECT meta_key FROM {$wpdb->usermeta} WHERE meta_key LIKE '%orderchatz%'" );
        sort( $options );
        return array( 'options' => $options, 'cron' => array_values( array_unique( $cron ) ), 'usermeta' => $usermeta,
                      'active' => is_plugin_active( 'orderchatz/orderchatz.php' ) );
    """)


def test_activation_creates_settings_and_the_sweeper_without_php_errors(env):
    traces = orderchatz_traces(env.site)
    assert traces["active"] is True
    assert traces["options"] == ["orderchatz_settings"]
    assert traces["cron"] == ["orderchatz_sweep_events"]
    assert env.site.php_problems() == []


def test_hpos_compatibility_is_declared(env):
    declared = env.site.php_json("return Automattic\\WooCommerce\\Utilities\\FeaturesUtil::$declared;")
    assert list(declared["custom_order_tables"].values()) == [True]
    assert list(declared["custom_order_tables"])[0].endswith("orderchatz/orderchatz.php")


def test_admin_pages_render_without_php_errors(env):
    env.site.clear_debug_log()
    session = env.session("admin")
    for path in ("/wp-admin/", "/wp-admin/admin.php?page=orderchatz", "/wp-admin/admin.php?page=orderchatz-settings",
                 "/wp-admin/plugins.php"):
        assert session.get(env.site.url + path, timeout=30).status_code == 200, path
    assert env.site.php_problems() == []


def test_deactivate_keeps_pending_events_and_reactivation_delivers_them(env, sidecar):
    site = env.site
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "停用期間的備註", customer_note=True)
    site.deactivate_plugin()
    traces = orderchatz_traces(site)
    assert traces["active"] is False and traces["cron"] == []
    assert any(name.startswith("orderchatz_event_") for name in traces["options"])

    site.activate_plugin()
    assert [e["args"] for e in site.cron_events("orderchatz_deliver_event")] == [[f"note-{note_id}"]]
    site.run_cron(hook_prefix="orderchatz_deliver_event")
    assert [e["event_id"] for e in sidecar.accepted_events] == [f"note-{note_id}"]
    assert site.php_problems() == []


def test_uninstall_removes_exactly_what_the_plugin_created(env, sidecar):
    site = env.site
    order_id = site.create_order()
    site.add_order_note(order_id, "解除安裝前的備註", customer_note=True)  # a queued event
    sidecar.stop()
    site.run_cron()  # …which failed once and is waiting for a retry
    site.php("set_transient( 'orderchatz_unread', array( 'count' => 2 ), 60 );")
    notes_before = site.php_json(f"return count( get_comments( array( 'post_id' => {order_id}, 'type' => 'order_note' ) ) );")
    before = orderchatz_traces(site)
    assert len(before["options"]) > 1

    site.deactivate_plugin()
    site.uninstall_plugin()

    assert orderchatz_traces(site) == {"options": [], "cron": [], "usermeta": [], "active": False}
    assert site.php_json(f"return count( get_comments( array( 'post_id' => {order_id}, 'type' => 'order_note' ) ) );") == notes_before
    assert site.php_json("return (bool) get_role( 'shop_manager' );") is True
    assert site.php_problems() == []

    site.activate_plugin()  # leave the module's site as it was
    assert orderchatz_traces(site)["options"] == ["orderchatz_settings"]


def test_without_woocommerce_an_admin_notice_replaces_the_plugin():
    env = make_env(with_woocommerce=False)
    try:
        admin = env.session("admin")
        dashboard = admin.get(env.site.url + "/wp-admin/", timeout=30)
        assert dashboard.status_code == 200
        assert "OrderChatz needs WooCommerce" in dashboard.text
        assert "toplevel_page_orderchatz" not in dashboard.text
        manager = env.session("manager")
        assert "OrderChatz needs WooCommerce" not in manager.get(env.site.url + "/wp-admin/", timeout=30).text
        front = admin.get(env.site.url + "/?orderchatz-link=NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY", timeout=30)
        assert front.status_code == 200 and "orderchatz-button" not in front.text
        assert env.site.php_problems() == []
    finally:
        env.site.stop()
        env.sidecar.stop()
