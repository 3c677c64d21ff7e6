"""Order notes and status changes reach the sidecar signed, in the background, exactly once."""
from __future__ import annotations

import re

import pytest

from orderchatz.auth import verify_wp_event

from .conftest import SHARED_SECRET

DELIVER = "orderchatz_deliver_event"


@pytest.fixture(autouse=True)
def clean_queue(site):
    site.php("""
        global $wpdb;
        $wpdb->query( "DELETE FROM {$wpdb->options} WHERE option_name LIKE 'orderchatz\\\\_event\\\\_%' OR option_name LIKE 'orderchatz\\\\_lock\\\\_%'" );
        wp_unschedule_hook( 'orderchatz_deliver_event' );
        $s = get_option( 'orderchatz_settings' ); $s['forward_status_changes'] = false; update_option( 'orderchatz_settings', $s );
    """)
    yield


def stored_events(site) -> list[dict]:
    return site.php_json("""
        global $wpdb;
        $names = $wpdb->get_col( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE 'orderchatz\\\\_event\\\\_%'" );
        return array_map( function ( $n ) { return get_option( $n ); }, $names );
    """)


def test_customer_note_is_queued_not_sent_inline_then_delivered_once_signed(site, sidecar):
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "您好，您的訂單已出貨", customer_note=True)

    assert sidecar.requests_to("/wp/events") == []  # adding the note did not call the sidecar
    assert [e["args"] for e in site.cron_events(DELIVER)] == [[f"note-{note_id}"]]

    assert site.run_cron(hook_prefix=DELIVER) == [DELIVER]
    posts = sidecar.requests_to("/wp/events")
    assert len(posts) == 1
    verify_wp_event(posts[0].headers["x-orderchatz-signature"], posts[0].body, SHARED_SECRET)
    assert posts[0].headers["content-type"] == "application/json"
    event = posts[0].json()
    assert event["event_id"] == f"note-{note_id}"
    assert event["type"] == "order.customer_note"
    assert event["order_id"] == order_id and event["order_number"] == str(order_id)
    assert event["note_id"] == note_id and event["note"] == "您好，您的訂單已出貨"
    assert event["customer_note"] is True
    assert event["customer_id"] == site.users["customer"].user_id
    assert event["billing_email"] == "ming.wang@example.com"
    assert event["billing_phone"] == "0912-345-678"
    assert event["billing_name"] == "王小明"
    assert event["order_edit_url"] == f"{site.url}/wp-admin/admin.php?page=wc-orders&action=edit&id={order_id}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["created_at"])

    assert stored_events(site) == []  # accepted: nothing left to retry
    assert site.run_cron(advance_seconds=7200, hook_prefix=DELIVER) == []
    assert len(sidecar.requests_to("/wp/events")) == 1
    assert site.php_problems() == []


def test_same_note_hook_twice_queues_one_event(site, sidecar):
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "再次通知", customer_note=True)
    site.php(f"do_action( 'woocommerce_order_note_added', {note_id}, wc_get_order( {order_id} ) );")
    assert len(site.cron_events(DELIVER)) == 1
    site.run_cron(hook_prefix=DELIVER)
    site.php(f"do_action( '{DELIVER}', 'note-{note_id}' );")  # a stray second run of the job
    assert len(sidecar.requests_to("/wp/events")) == 1


def test_private_notes_are_not_forwarded(site, sidecar):
    order_id = site.create_order()
    site.add_order_note(order_id, "店長內部備註", customer_note=False)
    assert site.cron_events(DELIVER) == []
    site.run_cron(hook_prefix=DELIVER)
    assert sidecar.requests_to("/wp/events") == []


def test_note_added_by_the_sidecar_over_rest_is_not_echoed(env, site, sidecar):
    order_id = site.create_order()
    session = env.session("manager")
    nonce = site.rest_nonce(session)
    url = site.rest_url(f"/wc/v3/orders/{order_id}/notes")
    from_sidecar = session.post(url, json={"note": "從 LINE 回覆的備註", "customer_note": True},
                                headers={"X-WP-Nonce": nonce, "X-OrderChatz-Origin": "sidecar"}, timeout=30)
    assert from_sidecar.status_code == 201, from_sidecar.text
    assert site.cron_events(DELIVER) == []

    from_elsewhere = session.post(url, json={"note": "後台客服備註", "customer_note": True},
                                  headers={"X-WP-Nonce": nonce}, timeout=30)
    assert from_elsewhere.status_code == 201
    assert [e["args"] for e in site.cron_events(DELIVER)] == [[f"note-{from_elsewhere.json()['id']}"]]


def test_origin_header_outside_a_rest_request_does_not_suppress(site, sidecar):
    order_id = site.create_order()
    site.add_order_note(order_id, "客戶備註", customer_note=True, server={"HTTP_X_ORDERCHATZ_ORIGIN": "sidecar"})
    assert len(site.cron_events(DELIVER)) == 1


def test_sidecar_down_event_is_retried_with_backoff_and_delivered_once_back(site, sidecar):
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "請問何時出貨？", customer_note=True)
    sidecar.stop()

    site.run_cron(hook_prefix=DELIVER)  # connection refused
    [record] = stored_events(site)
    assert record["state"] == "pending" and record["attempts"] == 1
    assert record["last_error"]
    [retry] = site.cron_events(DELIVER)
    assert retry["args"] == [f"note-{note_id}"]
    assert retry["timestamp"] == record["next_attempt_at"]
    assert 55 <= record["next_attempt_at"] - record["created_at"] <= 65  # first retry after a minute
    assert site.run_cron(hook_prefix=DELIVER) == []  # not due yet

    for expected_attempts in (2, 3, 4):  # an hour of outage: every retry fails, nothing is lost
        assert site.run_cron(advance_seconds=3600, hook_prefix=DELIVER) == [DELIVER]
        [record] = stored_events(site)
        assert record["attempts"] == expected_attempts
    [retry] = site.cron_events(DELIVER)
    assert retry["timestamp"] == record["next_attempt_at"]

    sidecar.start()
    assert site.run_cron(advance_seconds=3600, hook_prefix=DELIVER) == [DELIVER]
    assert [e["event_id"] for e in sidecar.accepted_events] == [f"note-{note_id}"]
    assert stored_events(site) == [] and site.cron_events(DELIVER) == []
    site.run_cron(advance_seconds=86400, hook_prefix="orderchatz_")  # sweeper included
    assert len(sidecar.accepted_events) == 1
    assert len(sidecar.requests_to("/wp/events")) == 1  # the outage attempts never arrived
    assert "delivering event note-" in site.debug_log()


def test_backoff_schedule_doubles_up_to_fifteen_minutes(site):
    delays = site.php_json("""
        return array(
            'server' => array_map( function ( $n ) { return OrderChatz_Event_Queue::backoff_seconds( $n, false ); }, range( 1, 8 ) ),
            'client' => OrderChatz_Event_Queue::backoff_seconds( 1, true ),
        );
    """)
    assert delays["server"] == [60, 120, 240, 480, 900, 900, 900, 900]
    assert delays["client"] == 900


@pytest.mark.parametrize("status", [500, 503, 401, 400])
def test_error_answers_keep_the_event_for_a_retry(site, sidecar, status):
    order_id = site.create_order()
    site.add_order_note(order_id, "狀態測試", customer_note=True)
    sidecar.fail_with = status
    site.run_cron(hook_prefix=DELIVER)
    [record] = stored_events(site)
    assert record["state"] == "pending" and str(status) in record["last_error"]
    [retry] = site.cron_events(DELIVER)
    expected = 900 if status < 500 else 60
    assert retry["timestamp"] == record["next_attempt_at"]
    assert expected - 5 <= record["next_attempt_at"] - record["created_at"] <= expected + 5
    sidecar.fail_with = None
    site.run_cron(advance_seconds=expected, hook_prefix=DELIVER)
    assert len(sidecar.accepted_events) == 1


def test_wrong_secret_is_refused_by_the_sidecar_and_heals_when_fixed(site, sidecar):
    order_id = site.create_order()
    site.add_order_note(order_id, "密鑰測試", customer_note=True)
    real_secret = sidecar.secret
    sidecar.secret = "another-secret-another-secret-another-secret"
    try:
        site.run_cron(hook_prefix=DELIVER)
        assert sidecar.accepted_events == []
        [record] = stored_events(site)
        assert "invalid_signature" in record["last_error"]
    finally:
        sidecar.secret = real_secret
    site.run_cron(advance_seconds=900, hook_prefix=DELIVER)
    assert len(sidecar.accepted_events) == 1


def test_409_counts_as_delivered(site, sidecar):
    order_id = site.create_order()
    site.add_order_note(order_id, "重複", customer_note=True)
    sidecar.fail_with = 409
    site.run_cron(hook_prefix=DELIVER)
    assert stored_events(site) == [] and site.cron_events(DELIVER) == []


def test_events_older_than_48_hours_are_kept_as_dead_and_can_be_retried(site, sidecar):
    order_id = site.create_order()
    site.add_order_note(order_id, "很久以前", customer_note=True)
    sidecar.fail_with = 503
    site.php("""
        global $wpdb;
        $name = $wpdb->get_var( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE 'orderchatz\\\\_event\\\\_%'" );
        $r = get_option( $name ); $r['created_at'] = time() - 3 * DAY_IN_SECONDS; update_option( $name, $r, false );
    """)
    site.run_cron(hook_prefix=DELIVER)
    [record] = stored_events(site)
    assert record["state"] == "dead"
    assert site.cron_events(DELIVER) == []
    assert "gave up delivering event" in site.debug_log()
    sidecar.fail_with = None
    assert site.php_json("return ( new OrderChatz_Event_Queue( new OrderChatz_Sidecar_Client( new OrderChatz_Settings() ) ) )->retry_dead();") == 1
    site.run_cron(hook_prefix=DELIVER)
    assert len(sidecar.accepted_events) == 1


def test_sweeper_reschedules_an_event_whose_cron_entry_was_lost(site, sidecar):
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "遺失的排程", customer_note=True)
    site.php(f"""
        wp_unschedule_hook( '{DELIVER}' );
        global $wpdb;
        $name = $wpdb->get_var( "SELECT option_name FROM {{$wpdb->options}} WHERE option_name LIKE 'orderchatz\\\\_event\\\\_%'" );
        $r = get_option( $name ); $r['next_attempt_at'] = time() - 600; update_option( $name, $r, false );
    """)
    assert site.cron_events(DELIVER) == []
    site.php("do_action( 'orderchatz_sweep_events' );")
    assert [e["args"] for e in site.cron_events(DELIVER)] == [[f"note-{note_id}"]]
    site.run_cron(hook_prefix=DELIVER)
    assert [e["event_id"] for e in sidecar.accepted_events] == [f"note-{note_id}"]


def test_status_changes_are_forwarded_only_when_enabled(site, sidecar):
    order_id = site.create_order(status="pending")
    site.update_order_status(order_id, "processing")
    site.run_cron(hook_prefix=DELIVER)
    assert sidecar.accepted_events == []

    site.php("$s = get_option( 'orderchatz_settings' ); $s['forward_status_changes'] = true; update_option( 'orderchatz_settings', $s );")
    site.update_order_status(order_id, "completed")
    site.update_order_status(order_id, "completed")  # unchanged: WooCommerce fires nothing
    site.run_cron(hook_prefix=DELIVER)
    [event] = sidecar.accepted_events
    assert event["type"] == "order.status_changed"
    assert (event["from"], event["to"]) == ("processing", "completed")
    assert event["order_id"] == order_id and event["billing_email"] == "ming.wang@example.com"
    assert re.fullmatch(rf"status-{order_id}-processing-completed-n\d+", event["event_id"])


def test_legacy_storage_edit_url(site, sidecar):
    site.php("update_option( 'ocz_fakewc_hpos', false );")
    try:
        order_id = site.create_order()
        site.add_order_note(order_id, "舊版儲存", customer_note=True)
        site.run_cron(hook_prefix=DELIVER)
        [event] = sidecar.accepted_events
        assert event["order_edit_url"] == f"{site.url}/wp-admin/post.php?post={order_id}&action=edit"
    finally:
        site.php("update_option( 'ocz_fakewc_hpos', true );")


def test_guest_order_with_latin_name(site, sidecar):
    order_id = site.create_order(customer=None, billing_email="guest.one@example.com",
                                 billing_first_name="Ming", billing_last_name="Wang")
    site.add_order_note(order_id, "Guest note", customer_note=True)
    site.run_cron(hook_prefix=DELIVER)
    [event] = sidecar.accepted_events
    assert event["customer_id"] == 0 and event["billing_name"] == "Ming Wang"


def test_adding_a_note_in_the_admin_does_not_wait_for_a_slow_sidecar(env, site, sidecar):
    """The note request only schedules; even a black-holed sidecar cannot slow it down."""
    order_id = site.create_order()
    sidecar.stop()
    session = env.session("manager")
    response = session.post(site.rest_url(f"/wc/v3/orders/{order_id}/notes"),
                            json={"note": "後台新增", "customer_note": True},
                            headers={"X-WP-Nonce": site.rest_nonce(session)}, timeout=30)
    assert response.status_code == 201
    assert sidecar.requests == []
    assert len(site.cron_events(DELIVER)) == 1


def test_action_scheduler_is_used_when_woocommerce_provides_it(site, sidecar):
    """With Action Scheduler loaded (it ships with WooCommerce) the queue uses it, not WP-Cron."""
    order_id = site.create_order()
    sidecar.fail_with = 503
    calls = site.php_json(f"""
        $GLOBALS['ocz_as_calls'] = array();
        function as_enqueue_async_action( $hook, $args = array(), $group = '', $unique = false ) {{
            $GLOBALS['ocz_as_calls'][] = array( 'enqueue_async', $hook, $args, $group, $unique ); return 1;
        }}
        function as_schedule_single_action( $timestamp, $hook, $args = array(), $group = '' ) {{
            $GLOBALS['ocz_as_calls'][] = array( 'schedule_single', $hook, $args, $group, $timestamp - time() ); return 2;
        }}
        function as_has_scheduled_action( $hook, $args = null, $group = '' ) {{ return false; }}
        wp_set_current_user( 1 );
        $note_id = wc_get_order( {order_id} )->add_order_note( 'AS 測試', 1, true );
        do_action( 'orderchatz_deliver_event', 'note-' . $note_id );
        return array( 'note_id' => $note_id, 'calls' => $GLOBALS['ocz_as_calls'] );
    """)
    note_event = [f"note-{calls['note_id']}"]
    assert calls["calls"][0] == ["enqueue_async", DELIVER, note_event, "orderchatz", True]
    kind, hook, args, group, delay = calls["calls"][1]
    assert (kind, hook, args, group) == ("schedule_single", DELIVER, note_event, "orderchatz")
    assert 55 <= delay <= 60
    assert site.cron_events(DELIVER) == []
