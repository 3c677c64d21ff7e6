"""The plugin against the real sidecar app (orderchatz.app.create_app), not the fake.

The WordPress site talks to the sidecar through the browser tests' CuttableProxy so a test can
take the sidecar "down" for WordPress while its store stays inspectable.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from tests.browser.harness import CuttableProxy, ServerThread
from tests.conftest import SHARED_SECRET
from tests.harness.wordpress import WordPressSite
from tests.support import free_port

from .forms import form_fields

DELIVER = "orderchatz_deliver_event"
FRIEND = "U" + "0123456789abcdef" * 2


@dataclass
class RealStack:
    svc: object
    proxy: CuttableProxy
    site: WordPressSite

    def session(self, user: str) -> requests.Session:
        session = requests.Session()
        self.site.login(session, user)
        return session


@pytest.fixture
def stack(make_services, sqlite_url):
    from orderchatz.app import create_app

    wp_port = free_port()
    svc = make_services(sqlite_url, wp_origins=(f"http://127.0.0.1:{wp_port}",))
    sidecar = ServerThread(create_app(services=svc)).start()
    proxy = CuttableProxy(sidecar.port).start()
    site = WordPressSite(port=wp_port, db_name=f"oc_wp_{uuid.uuid4().hex[:10]}",
                         sidecar_url=f"http://127.0.0.1:{proxy.port}", shared_secret=SHARED_SECRET)
    try:
        site.start()
        yield RealStack(svc, proxy, site)
    finally:
        site.stop()
        proxy.stop()
        sidecar.stop()


def stored_wp_events(svc, event_id: str) -> int:
    from orderchatz.store.models import WpEvent
    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(WpEvent).where(WpEvent.event_id == event_id))


def test_customer_note_is_stored_by_the_sidecar_exactly_once(stack):
    site = stack.site
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "您好，您的訂單已出貨", customer_note=True)
    assert site.run_cron(hook_prefix=DELIVER) == [DELIVER]
    assert stored_wp_events(stack.svc, f"note-{note_id}") == 1
    assert site.cron_events(DELIVER) == []

    # The same event queued again (e.g. restored from a backup) is a duplicate for the sidecar,
    # which the plugin treats as delivered.
    site.php(f"do_action( 'woocommerce_order_note_added', {note_id}, wc_get_order( {order_id} ) );")
    assert site.run_cron(hook_prefix=DELIVER) == [DELIVER]
    assert stored_wp_events(stack.svc, f"note-{note_id}") == 1
    assert site.cron_events(DELIVER) == []
    assert site.php_problems() == []


def test_sidecar_outage_then_recovery_delivers_once(stack):
    site = stack.site
    order_id = site.create_order()
    note_id = site.add_order_note(order_id, "請問何時出貨？", customer_note=True)
    stack.proxy.down()
    site.run_cron(hook_prefix=DELIVER)
    site.run_cron(advance_seconds=600, hook_prefix=DELIVER)
    assert stored_wp_events(stack.svc, f"note-{note_id}") == 0
    assert len(site.cron_events(DELIVER)) == 1

    stack.proxy.up()
    site.run_cron(advance_seconds=3600, hook_prefix=DELIVER)
    assert stored_wp_events(stack.svc, f"note-{note_id}") == 1
    site.run_cron(advance_seconds=86400)
    assert stored_wp_events(stack.svc, f"note-{note_id}") == 1


def test_connection_test_against_the_real_readyz(stack):
    admin = stack.session("admin")
    page = admin.get(stack.site.url + "/wp-admin/admin.php?page=orderchatz-settings", timeout=30)
    action, fields = form_fields(page.text, "admin-post.php")
    assert "Connected: the sidecar is ready" in admin.post(action, data=fields, timeout=30).text


def test_panel_token_and_unread_count_are_accepted_by_the_sidecar(stack):
    manager = stack.session("manager")
    response = manager.get(stack.site.rest_url("/orderchatz/v1/unread"),
                           headers={"X-WP-Nonce": stack.site.rest_nonce(manager)}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"unread_conversations": 0, "unread_messages": 0}


def test_account_link_end_to_end_binds_the_customer(stack):
    from orderchatz.domain.binding import complete_account_link
    from orderchatz.store.models import Friend, LinkNonce, LinkToken

    with stack.svc.store.session() as s:
        friend = Friend(line_user_id=FRIEND, display_name="小明")
        s.add(friend)
        s.flush()
        s.add(LinkToken(link_token="NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY", friend_id=friend.id, issued_by="test"))

    customer = stack.session("customer")
    link = f"{stack.site.url}/?orderchatz-link=NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY"
    action, fields = form_fields(customer.get(link, timeout=30).text, "orderchatz-link=")
    response = customer.post(action, data=fields, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:300]
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "access.line.me", "/dialog/bot/accountLink")
    nonce = parse_qs(location.query)["nonce"][0]
    with stack.svc.store.session() as s:
        row = s.scalar(select(LinkNonce).where(LinkNonce.nonce == nonce))
        assert row.wp_user_id == stack.site.users["customer"].user_id
        friend = s.scalar(select(Friend).where(Friend.line_user_id == FRIEND))
        assert complete_account_link(s, friend, "ok", nonce).bound  # the accountLink webhook

    order_id = stack.site.create_order()
    manager = stack.session("manager")
    lookup = manager.get(stack.site.rest_url("/orderchatz/v1/binding") + f"&order_id={order_id}",
                         headers={"X-WP-Nonce": stack.site.rest_nonce(manager)}, timeout=30)
    assert lookup.status_code == 200, lookup.text
    body = lookup.json()
    assert body["bound"] is True and [f["line_user_id"] for f in body["friends"]] == [FRIEND]


def test_unknown_link_token_shows_the_expired_page(stack):
    customer = stack.session("customer")
    link = f"{stack.site.url}/?orderchatz-link=UnknownLinkToken0123456789"
    action, fields = form_fields(customer.get(link, timeout=30).text, "orderchatz-link=")
    response = customer.post(action, data=fields, allow_redirects=False, timeout=30)
    assert response.status_code == 410
    assert "This link has expired." in response.text
