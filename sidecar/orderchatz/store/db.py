"""Engine, sessions and migrations for the SQL store."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)


class DatabaseNotMigrated(RuntimeError):
    pass


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=1800)
        if parsed.get_backend_name() == "mysql":
            # As PostgreSQL: each statement sees what committed before it (a friend another
            # delivery just created), not the transaction's first snapshot.
            kwargs.update(connect_args={"connect_timeout": 5}, isolation_level="READ COMMITTED")
        elif parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 5}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets gunicorn workers read while one writes; busy_timeout queues writers
            # instead of failing with "database is locked".
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    return engine


def _alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(_alembic_config(url), revision)


def check_migrated(engine: Engine) -> None:
    head = ScriptDirectory.from_config(_alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"database is not migrated (at {current or 'nothing'}, code needs {head}); "
            "run `orderchatz-sidecar db upgrade`"
        )


class SQLiteWriterLock:
    """One transaction at a time on a SQLite file, across threads *and* processes.

    SQLite's own busy handler makes a waiting writer sleep and poll (1, 2, 5, 10 ... 100 ms),
    which turns two gunicorn workers into a latency lottery. A waiter on this lock blocks in
    the kernel (flock) and runs the moment the holder finishes. Reentrant within a thread."""

    def __init__(self, path: str | None):
        self._path = path  # None: an in-memory database, private to this process
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None  # this process's own descriptor (see reset_after_fork)

    def __enter__(self) -> None:
        self._thread.acquire()
        try:
            if self._depth == 0 and self._path:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        self._depth += 1

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._path:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()

    def reset_after_fork(self) -> None:
        # The child has one thread: a lock another thread held at the fork would never be
        # released. And an inherited descriptor shares the parent's flock: the child opens its own.
        self._thread = threading.RLock()
        self._depth = 0
        if self._fd is not None:
            os.close(self._fd)  # the parent keeps its lock: it holds its own copy
            self._fd = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd


class Store:
    """Owns the engine and hands out transactional sessions."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, future=True)
        self._file = None  # a SQLite database file
        self._checkpoints: threading.Event | None = None
        if self.dialect == "sqlite":
            database = self.engine.url.database or ""
            self._file = None if database in ("", ":memory:") else database
            self._lock = SQLiteWriterLock(self._file and self._file + ".lock")

            @event.listens_for(self.engine, "connect")
            def _no_inline_checkpoints(dbapi_conn, _record):
                if self._checkpoints is not None:
                    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0").close()
        else:
            self._lock = nullcontext()
        _STORES.add(self)

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """For long-lived processes on a SQLite file: WAL checkpoints in a background thread.

        By default SQLite checkpoints inside the commit that fills the log past 1,000 pages:
        that transaction, and every writer queued behind it, waited 50-200 ms, about once a
        second under load. A passive checkpoint never blocks readers or writers. Call before
        the process opens its first connection (gunicorn: after the fork)."""
        if self._file is None or self._checkpoints is not None:
            return
        self._checkpoints = stop = threading.Event()

        def run() -> None:
            conn = sqlite3.connect(self._file, timeout=0, check_same_thread=False)
            try:
                while not stop.wait(interval):
                    try:
                        # Copy the log into the database alongside the writers; then, between two
                        # of our transactions, the few frames left, and have the next writer start
                        # the log over (else it only grows).
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                        with self._lock:
                            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                    except sqlite3.Error as exc:  # busy or locked: the next round catches up
                        log.debug("WAL checkpoint skipped: %s", exc)
            finally:
                conn.close()

        threading.Thread(target=run, name="sqlite-checkpoint", daemon=True).start()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any exception."""
        with self._lock, self._sessions() as s:
            with s.begin():
                yield s

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.set()
        self.engine.dispose()


_STORES: "weakref.WeakSet[Store]" = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child (RQ's scheduler, anything else that forks): the parent's pooled
    connections and locks held by threads that did not come along must not be used."""
    for store in list(_STORES):
        if isinstance(store._lock, SQLiteWriterLock):
            store._lock.reset_after_fork()
        store.engine.dispose(close=False)  # new connections in the child; the parent's stay its own


os.register_at_fork(after_in_child=_after_fork)
