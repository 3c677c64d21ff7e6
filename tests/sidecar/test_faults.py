"""Fault cases with real parts: Redis stopped mid-burst, a worker killed mid-send, the DB failing."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import func, select, text, update

from orderchatz import jobs
from orderchatz.app import create_app
from orderchatz.services import Services
from orderchatz.store.models import Friend, Message, Outbox, WebhookEvent, utcnow
from tests.conftest import (ACCESS_TOKEN, CHANNEL_SECRET, SHARED_SECRET, WP_ORIGIN, make_config,
                            run_jobs)
from tests.sidecar.test_webhook import USER, deliver
from tests.support import REPO, free_port


class PrivateRedis:
    """A redis-server of the test's own, so it can be stopped without disturbing anything else."""

    def __init__(self):
        if not shutil.which("redis-server"):
            pytest.skip("redis-server binary not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis_lib.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis():
    r = PrivateRedis()
    r.start()
    yield r
    r.stop()


def test_redis_down_during_a_burst_loses_nothing(tmp_path, database_url, private_redis, line_emulator):
    svc = Services.build(make_config(database_url, private_redis.url, tmp_path,
                                     line_api_base=line_emulator.base_url))
    client = create_app(services=svc).test_client()
    users = [f"U{i:032d}" for i in range(20)]
    for u in users:
        line_emulator.add_friend(u, f"客人{u[-2:]}")
    statuses = []
    for i, u in enumerate(users):
        if i == 5:
            private_redis.stop()  # Redis dies in the middle of the burst
        events = [line_emulator.text_event(u, f"第 {i} 則"), line_emulator.image_event(u)]
        statuses.append(deliver(client, line_emulator, events).status_code)
    assert statuses == [200] * 20
    with svc.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 40
        pending = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.done_at.is_(None)))
    assert pending == 20 * 2  # profile + media of every delivery, none run yet

    private_redis.start()
    svc.redis_breaker.reset()  # as after its few seconds of cool-off
    assert jobs.sweep(svc) == 0  # too fresh: the sweeper leaves just-committed rows to the web app
    with svc.store.session() as s:
        s.execute(update(Outbox).values(created_at=utcnow() - timedelta(seconds=120)))
    # 30 that never reached Redis, plus the 10 the restarted (empty) Redis lost
    assert jobs.sweep(svc) == 40
    assert jobs.sweep(svc) == 0  # queued now: never enqueued twice
    svc.__dict__.pop("queue", None)
    run_jobs(svc)
    with svc.store.session() as s:
        media = list(s.scalars(select(Message.media_status).where(Message.type == "image")))
        named = s.scalar(select(func.count()).select_from(Friend).where(Friend.display_name != ""))
    assert media == ["ready"] * 20
    assert named == 20
    with svc.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.done_at.is_(None))) == 0
    assert jobs.sweep(svc) == 0
    svc.close()


def _worker_env(database_url, redis_url, line_base, tmp_path):
    env = dict(os.environ)
    env.update({
        "ORDERCHATZ_SHARED_SECRET": SHARED_SECRET, "ORDERCHATZ_WP_ORIGIN": WP_ORIGIN,
        "ORDERCHATZ_LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "ORDERCHATZ_LINE_API_BASE": line_base, "ORDERCHATZ_DATABASE_URL": database_url,
        "ORDERCHATZ_REDIS_URL": redis_url, "ORDERCHATZ_MEDIA_DIR": str(tmp_path / "media"),
        "ORDERCHATZ_WC_URL": "http://127.0.0.1:9", "ORDERCHATZ_WC_CONSUMER_KEY": "ck_x",
        "ORDERCHATZ_WC_CONSUMER_SECRET": "cs_x", "PYTHONPATH": str(REPO / "sidecar"),
    })
    return env


def _kill_tree(pid: int) -> None:
    """SIGKILL a worker and its work horse (RQ runs each job in a forked child of its own session)."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    for child in children:
        _kill_tree(int(child))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_worker_killed_mid_send_is_retried_without_a_second_delivery(
        tmp_path, sqlite_url, redis_url, line_emulator, auth_headers):
    svc = Services.build(make_config(sqlite_url, redis_url, tmp_path, line_api_base=line_emulator.base_url))
    client = create_app(services=svc).test_client()
    line_emulator.add_friend(USER, "王小明")
    deliver(client, line_emulator, [line_emulator.text_event(USER, "在嗎？")])
    with svc.store.session() as s:  # too old for a reply: it will be a push
        s.execute(update(Message).values(created_at=utcnow() - timedelta(seconds=120)))
    run_jobs(svc)  # the profile fetch
    line_emulator.delay_next("/v2/bot/message/push", 2.0)  # LINE is slow to answer
    client.post(f"/api/v1/conversations/{USER}/messages", headers=auth_headers,
                json={"client_id": "kill-1", "type": "text", "text": "您好！"})
    worker = subprocess.Popen([sys.executable, "-m", "orderchatz.cli", "worker"],
                              env=_worker_env(sqlite_url, redis_url, line_emulator.base_url, tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.time() + 20
        status = None
        while time.time() < deadline and status != "sending":
            time.sleep(0.05)
            with svc.store.session() as s:
                status = s.scalar(select(Message.status).where(Message.direction == "out"))
        assert status == "sending", "worker never started the push"
        time.sleep(0.5)
        _kill_tree(worker.pid)  # killed while LINE is still answering the push
    finally:
        if worker.poll() is None:
            _kill_tree(worker.pid)
        worker.wait(timeout=10)
    line_emulator.wait_for_sent(1, timeout=5)  # LINE did accept it
    with svc.store.session() as s:
        row = s.scalar(select(Message).where(Message.direction == "out"))
        assert row.status == "sending"
        s.execute(update(Message).where(Message.id == row.id)
                  .values(attempted_at=utcnow() - timedelta(minutes=5)))
    assert jobs.sweep(svc) >= 1  # the sweeper re-drives the interrupted send
    assert jobs.sweep(svc) == 0  # once
    run_jobs(svc)
    with svc.store.session() as s:
        assert s.scalar(select(Message.status).where(Message.direction == "out")) == "sent"
    pushes = [r.status for r in line_emulator.requests_to("/v2/bot/message/push")]
    assert pushes[-1] == 409
    assert len(line_emulator.sent) == 1
    svc.close()


def test_database_unreachable_answers_5xx(tmp_path, redis_url, line_emulator, sqlite_url):
    svc = Services.build(make_config(sqlite_url, redis_url, tmp_path, line_api_base=line_emulator.base_url))
    client = create_app(services=svc).test_client()
    svc.store.dispose()
    svc.store.engine = __import__("orderchatz.store.db", fromlist=["make_engine"]).make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    svc.store._sessions.configure(bind=svc.store.engine)
    resp = deliver(client, line_emulator, [line_emulator.text_event(USER, "hello")])
    assert resp.status_code == 503 and resp.json["error"] == "store_unavailable"
    svc.close()


def test_database_error_mid_batch_writes_nothing(tmp_path, redis_url, line_emulator, pg_template):
    from tests.conftest import _pg_database
    url, drop = _pg_database(pg_template)
    svc = Services.build(make_config(url, redis_url, tmp_path, line_api_base=line_emulator.base_url))
    try:
        with svc.store.engine.begin() as conn:  # the database fails on the third message
            conn.execute(text("""
                CREATE FUNCTION fail_on_boom() RETURNS trigger AS $$
                BEGIN IF NEW.text = 'boom' THEN RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full'; END IF; RETURN NEW; END
                $$ LANGUAGE plpgsql;
                CREATE TRIGGER boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION fail_on_boom();
            """))
        client = create_app(services=svc).test_client()
        events = [line_emulator.text_event(USER, "one"), line_emulator.text_event(USER, "two"),
                  line_emulator.text_event(USER, "boom")]
        resp = deliver(client, line_emulator, events)
        assert resp.status_code == 503
        with svc.store.session() as s:
            for model in (WebhookEvent, Friend, Message, Outbox):
                assert s.scalar(select(func.count()).select_from(model)) == 0, model
        with svc.store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER boom ON messages"))
        assert deliver(client, line_emulator, events).status_code == 200  # LINE's redelivery
        with svc.store.session() as s:
            assert s.scalar(select(func.count()).select_from(Message)) == 3
    finally:
        svc.close()
        drop()


def test_hung_redis_does_not_make_the_webhook_miss_lines_deadline(tmp_path, sqlite_url, line_emulator):
    """A Redis that accepts connections and never answers costs one short timeout, not one per call."""
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = False

    def accept():
        listener.settimeout(0.2)
        while not stop:
            try:
                accepted.append(listener.accept()[0])  # and never answer
            except OSError:
                continue

    import threading
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        svc = Services.build(make_config(sqlite_url, f"redis://127.0.0.1:{listener.getsockname()[1]}/0",
                                         tmp_path, line_api_base=line_emulator.base_url))
        client = create_app(services=svc).test_client()
        timings = []
        for i in range(3):
            events = [line_emulator.text_event(f"U{i:032d}", "在嗎"), line_emulator.image_event(f"U{i:032d}")]
            started = time.monotonic()
            assert deliver(client, line_emulator, events).status_code == 200
            timings.append(time.monotonic() - started)
        assert max(timings) < 2.0, timings
        with svc.store.session() as s:
            assert s.scalar(select(func.count()).select_from(Message)) == 6
        svc.close()
    finally:
        stop = True
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        listener.close()
