"""Fixtures for the WooCommerce layer: emulators on free ports, clients pointed at them."""
from __future__ import annotations

import pytest

from orderchatz.emulators.woo import WooEmulator
from orderchatz.gateways.woo import WooClient
from tests.support import free_port, shared_fixture

CONSUMER_KEY = "ck_0123456789abcdef0123456789abcdef01234567"
CONSUMER_SECRET = "cs_0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def make_emulator():
    """Factory: ``make_emulator(storage="cpt", latency=0.2, ...)``; every one is stopped at the end."""
    shared_fixture("woocommerce/recorded/_index.json")
    started: list[WooEmulator] = []

    def factory(**options) -> WooEmulator:
        options.setdefault("consumer_key", CONSUMER_KEY)
        options.setdefault("consumer_secret", CONSUMER_SECRET)
        emulator = WooEmulator(**options).start("127.0.0.1", free_port())
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def make_client():
    clients: list[WooClient] = []

    def factory(emulator: WooEmulator, **options) -> WooClient:
        key = options.pop("consumer_key", CONSUMER_KEY)
        secret = options.pop("consumer_secret", CONSUMER_SECRET)
        options.setdefault("connect_timeout", 2.0)
        options.setdefault("read_timeout", 5.0)
        client = WooClient(emulator.base_url, key, secret, **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(params=["hpos", "cpt"])
def storage(request) -> str:
    return request.param


@pytest.fixture
def emulator(make_emulator, storage) -> WooEmulator:
    return make_emulator(storage=storage)


@pytest.fixture
def woo(make_client, emulator) -> WooClient:
    """OAuth 1.0a over plain http, the way a docker-compose sidecar talks to WordPress."""
    return make_client(emulator)
