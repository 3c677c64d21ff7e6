"""Fixtures for the browser tests: a running sidecar stack and a real Chromium (Playwright)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.harness import (ARTIFACTS, BASE_ARGS, CHROMIUM, CuttableProxy, ParentSite,
                                   ServerThread, WorkerThread)


HERE = str(Path(__file__).resolve().parent)


def pytest_collection_modifyitems(items):
    """Mark this folder's Chromium tests `browser` (and the WordPress e2e `wordpress`)."""
    for item in items:
        if not str(item.fspath).startswith(HERE) or item.module.__name__.endswith("test_static_assets"):
            continue
        item.add_marker(pytest.mark.browser)
        if item.module.__name__.endswith("test_seed_scenario"):
            item.add_marker(pytest.mark.wordpress)


@dataclass
class Stack:
    svc: object
    sidecar: ServerThread
    proxy: CuttableProxy
    parent: ParentSite
    worker: WorkerThread

    @property
    def sidecar_origin(self) -> str:
        """What the browser talks to (through the proxy, so tests can cut it)."""
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def webhook_url(self) -> str:
        """What LINE talks to (directly, unaffected by cutting the browser's connection)."""
        return f"http://127.0.0.1:{self.sidecar.port}/line/webhook"


@pytest.fixture
def make_stack(make_services, sqlite_url):
    """Builds the stack once per test; `woo` wires the WooCommerce emulator (the recorded shop)."""
    from orderchatz.app import create_app
    from tests.conftest import WC_KEY, WC_SECRET
    from tests.support import free_port

    made: list[Stack] = []

    def factory(woo=None, wp_origin: str | None = None) -> Stack:
        """`wp_origin` replaces the test parent page's origin (a real WordPress frames the panel)."""
        # The parent's origin must be known before the services are built (frame-ancestors, issuer).
        parent_port = free_port()
        overrides = {}
        if woo is not None:
            overrides = dict(wc_url=woo.base_url, wc_consumer_key=WC_KEY, wc_consumer_secret=WC_SECRET)
        origin = wp_origin or f"http://shop.test:{parent_port}"
        svc = make_services(sqlite_url, wp_origins=(origin,), token_leeway=0, **overrides)
        sidecar = ServerThread(create_app(services=svc)).start()
        proxy = CuttableProxy(sidecar.port).start()
        parent = ParentSite(sidecar_origin=f"http://127.0.0.1:{proxy.port}", port=parent_port).start()
        worker = WorkerThread(svc).start()
        made.append(Stack(svc=svc, sidecar=sidecar, proxy=proxy, parent=parent, worker=worker))
        return made[-1]

    yield factory
    for st in made:
        st.worker.stop()
        st.parent.stop()
        st.proxy.stop()
        st.sidecar.stop()


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture
def shop_stack(make_stack, woo_emulator):
    return make_stack(woo=woo_emulator)


def launch(playwright_instance, extra_args=()):
    return playwright_instance.chromium.launch(executable_path=str(CHROMIUM),
                                              args=[*BASE_ARGS, *extra_args])


@pytest.fixture
def browser(playwright_instance):
    b = launch(playwright_instance)
    yield b
    b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 820}, locale="zh-TW")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
