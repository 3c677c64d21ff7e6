"""Fixtures for the sidecar's layers: real SQL stores, real Redis, the LINE emulator, the app."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa

from orderchatz import jobs
from orderchatz.auth import mint_panel_token
from orderchatz.config import Config
from orderchatz.services import Services
from orderchatz.store.db import upgrade

# A database of its own per test run, so parallel runs on one machine do not flush each other.
TEST_REDIS_URL = os.environ.get("ORDERCHATZ_TEST_REDIS_URL",
                                f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}")
TEST_PG_URL = os.environ.get("ORDERCHATZ_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEST_MYSQL_URL = os.environ.get("ORDERCHATZ_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
SHARED_SECRET = "test-shared-secret-0123456789abcdef0123456789"
WP_ORIGIN = "http://wp.test"
CHANNEL_SECRET = "test-channel-secret"
ACCESS_TOKEN = "test-channel-access-token"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template():
    admin = sa.create_engine(TEST_PG_URL, isolation_level="AUTOCOMMIT")
    name = f"oc_tpl_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {TEST_PG_URL}: {exc.__class__.__name__}")
    upgrade(TEST_PG_URL.rsplit("/", 1)[0] + f"/{name}")
    yield admin, name
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _pg_database(pg_template):
    admin, template = pg_template
    name = f"oc_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return TEST_PG_URL.rsplit("/", 1)[0] + f"/{name}", lambda: _drop_pg(admin, name)


def _drop_pg(admin, name):
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, sqlite_template):
    """A fresh, migrated database per test, on SQLite and on the PostgreSQL server."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url, drop = _pg_database(request.getfixturevalue("pg_template"))
    yield url
    drop()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    path = tmp_path / "store.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def redis_url():
    client = redis_lib.Redis.from_url(TEST_REDIS_URL)
    try:
        client.flushdb()
    except redis_lib.RedisError as exc:
        pytest.skip(f"Redis not reachable at {TEST_REDIS_URL}: {exc.__class__.__name__}")
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def line_emulator():
    from orderchatz.emulators.line import LineEmulator
    emu = LineEmulator(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN)
    emu.start()
    yield emu
    emu.stop()


def make_config(database_url: str, redis_url: str, tmp_path: Path, **overrides) -> Config:
    base = dict(
        shared_secret=SHARED_SECRET, wp_origins=(WP_ORIGIN,),
        line_channel_secret=CHANNEL_SECRET, line_channel_access_token=ACCESS_TOKEN,
        database_url=database_url, redis_url=redis_url, media_dir=str(tmp_path / "media"),
        instance_dir=str(tmp_path), line_timeout=2.0, wc_timeout=2.0,
    )
    base.update(overrides)
    return Config(**base)


@pytest.fixture
def make_services(tmp_path, redis_url, line_emulator):
    made = []

    def factory(database_url: str, **overrides) -> Services:
        overrides.setdefault("line_api_base", line_emulator.base_url)
        svc = Services.build(make_config(database_url, redis_url, tmp_path, **overrides))
        made.append(svc)
        jobs.use_services(svc)
        return svc

    yield factory
    jobs.use_services(None)
    for svc in made:
        svc.close()


@pytest.fixture
def svc(make_services, database_url):
    return make_services(database_url)


@pytest.fixture
def app(svc):
    from orderchatz.app import create_app
    return create_app(services=svc)


@pytest.fixture
def client(app):
    return app.test_client()


def panel_token(user_id: str = "1", *, caps=("manage_woocommerce",), **kw) -> str:
    return mint_panel_token(SHARED_SECRET, issuer=WP_ORIGIN, user_id=user_id, name="店長 Admin",
                            caps=caps, **kw)


@pytest.fixture
def auth_headers():
    return {"Authorization": f"Bearer {panel_token()}"}


def run_jobs(svc: Services, *, max_jobs: int | None = None) -> None:
    """Run queued jobs in-process, as an RQ worker would (burst)."""
    from rq import SimpleWorker
    jobs.use_services(svc)
    worker = SimpleWorker([svc.queue], connection=svc.redis)
    worker.work(burst=True, max_jobs=max_jobs, with_scheduler=False, logging_level="WARNING")


@pytest.fixture
def jobs_runner():
    return run_jobs


WC_KEY = "ck_test_0123456789abcdef0123456789abcdef01"
WC_SECRET = "cs_test_0123456789abcdef0123456789abcdef01"


@pytest.fixture
def woo_emulator():
    from orderchatz.emulators.woo import WooEmulator
    from tests.support import shared_fixture
    shared_fixture("woocommerce/recorded/_index.json")
    emu = WooEmulator(storage="hpos", consumer_key=WC_KEY, consumer_secret=WC_SECRET)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def shop_svc(make_services, sqlite_url, woo_emulator):
    """Services wired to both emulators (LINE and the recorded WooCommerce shop)."""
    return make_services(sqlite_url, wc_url=woo_emulator.base_url, wc_consumer_key=WC_KEY,
                         wc_consumer_secret=WC_SECRET)


@pytest.fixture
def shop_client(shop_svc):
    from orderchatz.app import create_app
    return create_app(services=shop_svc).test_client()


@pytest.fixture(scope="session")
def playwright_instance():
    """One Playwright for the whole run: a second sync_playwright() in the same thread fails."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"Chromium is not installed at {chromium} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p
