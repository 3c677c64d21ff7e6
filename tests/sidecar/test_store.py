"""The SQLite store's writer lock (threads and processes) and its background WAL checkpoints."""
from __future__ import annotations

import multiprocessing
import os
import time

from sqlalchemy import func, select, text

from orderchatz.store.db import SQLiteWriterLock, Store
from orderchatz.store.models import Tag


def _hold_lock(path: str, holding, marker: str) -> None:
    with SQLiteWriterLock(path):
        holding.set()
        time.sleep(0.3)  # long enough that the parent is surely waiting on the lock
        with open(marker, "w") as f:
            f.write("done")


def test_writer_lock_excludes_another_process(tmp_path):
    lock_path, marker = str(tmp_path / "db.lock"), str(tmp_path / "child-done")
    ctx = multiprocessing.get_context("fork")
    holding = ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(lock_path, holding, marker))
    child.start()
    assert holding.wait(10)
    with SQLiteWriterLock(lock_path):
        # Only possible once the child finished its critical section.
        assert os.path.exists(marker)
    child.join(10)
    assert child.exitcode == 0


def test_writer_lock_is_reentrant_in_a_thread(tmp_path):
    lock = SQLiteWriterLock(str(tmp_path / "db.lock"))
    with lock:
        with lock:
            pass
    with lock:  # released completely: it can be taken again
        pass


def _wal_salt(path: str) -> bytes:
    with open(path + "-wal", "rb") as f:
        return f.read(24)[16:24]  # changes each time a writer starts the log over


def test_background_checkpoints_restart_the_log(sqlite_url):
    store = Store(sqlite_url)
    store.start_checkpointer(interval=0.02)
    path = store.engine.url.database
    try:
        with store.session() as s:
            s.execute(text("INSERT INTO tags (name, created_at) VALUES ('t0', '2026-01-01')"))
        first = _wal_salt(path)
        deadline, i = time.monotonic() + 20, 0
        while _wal_salt(path) == first and time.monotonic() < deadline:
            i += 1
            with store.session() as s:
                s.execute(text("INSERT INTO tags (name, created_at) VALUES (:n, '2026-01-01')"),
                          {"n": f"t{i}"})
            time.sleep(0.002)
        assert _wal_salt(path) != first, "the write-ahead log was never started over"
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Tag)) == i + 1
        # Web and worker connections leave checkpoints to the background thread.
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    finally:
        store.dispose()


def test_short_lived_processes_keep_sqlite_checkpoints(sqlite_url):
    store = Store(sqlite_url)  # `db upgrade`, `simulate`, tests: no background thread
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    store.dispose()


def _child_writes(store: Store) -> None:
    with store.session() as s:
        s.execute(text("INSERT INTO tags (name, created_at) VALUES ('from the child', '2026-01-01')"))


def test_a_forked_child_is_not_stuck_on_a_lock_a_parent_thread_held(database_url):
    # RQ forks a work horse per job while the worker's sweeper or checkpoint thread may be inside
    # a transaction: the child must neither hang on that thread's lock nor reuse the parent's
    # pooled connections.
    import threading

    store = Store(database_url)
    with store.session() as s:  # a pooled connection the child must not share
        s.execute(text("SELECT 1"))
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.session() as s:
            s.execute(text("SELECT 1"))
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(store,))
    child.start()
    time.sleep(0.2)
    release.set()
    holder.join(10)
    child.join(20)
    try:
        assert child.exitcode == 0
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Tag).where(Tag.name == "from the child")) == 1
    finally:
        if child.is_alive():
            child.kill()
        store.dispose()
