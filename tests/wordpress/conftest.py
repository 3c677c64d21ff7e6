"""Fixtures for the WordPress plugin tests: a real WordPress 6.1 per test module, and a fake
sidecar (tests/wordpress/fake_sidecar.py) the plugin talks to."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.harness.wordpress import WordPressSite, php_available
from tests.support import free_port

from .fake_sidecar import FakeSidecar

SHARED_SECRET = "wp-test-shared-secret-0123456789abcdef-XYZ"

HERE = str(Path(__file__).resolve().parent)


def pytest_collection_modifyitems(items):
    """Mark this folder's tests `wordpress` (and `browser` for Chromium ones); skip them all
    when PHP or Debian's WordPress is missing."""
    skip = None if php_available() else pytest.mark.skip(reason="php-cli and Debian's wordpress package are required")
    for item in items:
        if not str(item.fspath).startswith(HERE):
            continue
        item.add_marker(pytest.mark.wordpress)
        if "browser" in item.module.__name__:
            item.add_marker(pytest.mark.browser)
        if skip is not None:
            item.add_marker(skip)


@dataclass
class Env:
    site: WordPressSite
    sidecar: FakeSidecar

    def session(self, user: str) -> requests.Session:
        session = requests.Session()
        self.site.login(session, user)
        return session


def make_env(**site_kwargs) -> Env:
    wp_port, sidecar_port = free_port(), free_port()
    sidecar = FakeSidecar(sidecar_port, SHARED_SECRET, issuer=f"http://127.0.0.1:{wp_port}").start()
    site_kwargs.setdefault("sidecar_url", sidecar.url)
    site_kwargs.setdefault("shared_secret", SHARED_SECRET)
    site = WordPressSite(port=wp_port, db_name=f"oc_wp_{uuid.uuid4().hex[:10]}", **site_kwargs)
    try:
        site.start()
    except BaseException:
        sidecar.stop()
        raise
    return Env(site, sidecar)


@pytest.fixture(scope="module")
def env():
    made = make_env()
    yield made
    made.site.stop()
    made.sidecar.stop()


@pytest.fixture
def sidecar(env):
    """The module's fake sidecar, running and emptied for this test."""
    env.sidecar.stop()
    env.sidecar.start()
    env.sidecar.reset()
    yield env.sidecar
    env.sidecar.reset()


@pytest.fixture
def site(env):
    return env.site
