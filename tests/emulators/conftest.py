"""Fixtures for the emulator tests: a started LINE emulator and the real SDK client pointed at it."""
from __future__ import annotations

import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from orderchatz.emulators.line import LineEmulator
from tests.support import SHARED_FIXTURES, free_port, shared_fixture

CHANNEL_SECRET = "test-channel-secret-0123456789abcdef"
ACCESS_TOKEN = "test-channel-access-token"


class FakeClock:
    """A settable clock so token expiry is tested without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def spec_file():
    """For tests of rules only the full OpenAPI spec carries (Flex, templates): skip without it."""
    return shared_fixture("line/messaging-api.yml")


@pytest.fixture
def line_emu(clock):
    emu = LineEmulator(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN, clock=clock,
                       spec_path=SHARED_FIXTURES / "line" / "messaging-api.yml")
    emu.start(port=free_port())
    try:
        yield emu
    finally:
        emu.stop()
    assert emu.errors == [], "the emulator itself raised while answering"


@pytest.fixture
def sdk_client(line_emu):
    config = Configuration(host=line_emu.base_url, access_token=ACCESS_TOKEN)
    with ApiClient(config) as client:
        yield client


@pytest.fixture
def messaging_api(sdk_client) -> MessagingApi:
    return MessagingApi(sdk_client)


@pytest.fixture
def blob_api(sdk_client) -> MessagingApiBlob:
    return MessagingApiBlob(sdk_client)
