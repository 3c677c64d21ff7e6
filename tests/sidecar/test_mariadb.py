"""The webhook's store paths on MariaDB, the docker-compose deployment's database.

The rest of the suite runs on SQLite and PostgreSQL; MariaDB takes other branches here
(`INSERT IGNORE`, READ COMMITTED, its own RETURNING support), so they get their own test.
"""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select

from orderchatz.domain.inbox import handle_line_webhook
from orderchatz.store.db import upgrade
from orderchatz.store.models import Friend, Message, Outbox, WebhookEvent
from tests.conftest import TEST_MYSQL_URL

USER = "U" + "5b" * 16


@pytest.fixture
def mariadb_url():
    pytest.importorskip("pymysql")
    admin = create_engine(TEST_MYSQL_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - no MariaDB server here
        pytest.skip(f"MariaDB not reachable at {TEST_MYSQL_URL}: {exc.__class__.__name__}")
    name = f"oc_m_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = TEST_MYSQL_URL.rstrip("/") + f"/{name}?charset=utf8mb4"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


def _count(svc, model, *where):
    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_webhook_on_mariadb(make_services, mariadb_url, line_emulator):
    svc = make_services(mariadb_url)
    emu = line_emulator
    text = emu.text_event(USER, "<script>alert(1)</script> 訂單 1001？🤨")
    first = emu.webhook_body([emu.follow_event(USER), text, emu.image_event(USER),
                              emu.sticker_event(USER), {"type": "someFutureEvent"}])
    result = handle_line_webhook(svc, first)
    assert (result.stored, result.unsupported, result.invalid) == (4, 1, 0)
    assert handle_line_webhook(svc, first).duplicates == 5  # a redelivery is a no-op
    handle_line_webhook(svc, emu.webhook_body([emu.unsend_event(USER, text["message"]["id"])]))
    with svc.store.session() as s:
        friend = s.scalar(select(Friend))
        rows = list(s.scalars(select(Message).order_by(Message.id)))
    assert [r.type for r in rows] == ["follow", "text", "image", "sticker"]
    assert rows[1].text == "<script>alert(1)</script> 訂單 1001？🤨" and rows[1].unsent_at is not None
    assert friend.unread_count == 3 and friend.last_message_preview == "[貼圖]"
    assert _count(svc, Outbox, Outbox.job == "media") == 1
    assert _count(svc, WebhookEvent) == 6

    # Parallel deliveries: one friend's counter, and many new friends at once.
    bodies = [emu.webhook_body([emu.text_event(USER, f"第 {i} 則")]) for i in range(24)]
    newcomers = ["U" + uuid.uuid4().hex for _ in range(6)]
    bodies += [emu.webhook_body([emu.text_event(u, "你好") for u in newcomers]) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda b: handle_line_webhook(svc, b), bodies))
    assert sum(r.stored for r in results) == 24 + 36
    with svc.store.session() as s:
        assert s.scalar(select(Friend.unread_count).where(Friend.line_user_id == USER)) == 3 + 24
        assert s.scalar(select(func.count()).select_from(Friend)) == 1 + 6
        # one per new friend; the follow event asks for one more
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.job == "profile")) == 2 + 6
