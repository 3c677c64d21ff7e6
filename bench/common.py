"""Shared pieces of the benchmarks: settings, the real gunicorn server, databases, statistics.

Every benchmark talks only to 127.0.0.1, sends a bounded number of requests and stops the
processes it started. Nothing here asserts timings; the scripts print numbers and a verdict
against the targets of the issue so docs/benchmarks.md can quote them.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import requests

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("ORDERCHATZ_BENCH_DIR", "/tmp/orderchatz-bench"))
REDIS_URL = os.environ.get("ORDERCHATZ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PG_ADMIN_URL = os.environ.get("ORDERCHATZ_BENCH_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHARED_SECRET = "bench-shared-secret-0123456789abcdef0123456789"
WP_ORIGIN = "http://wp.bench"
CHANNEL_SECRET = "bench-channel-secret"
ACCESS_TOKEN = "bench-channel-access-token"
WC_KEY = "ck_bench_0123456789abcdef0123456789abcdef01"
WC_SECRET = "cs_bench_0123456789abcdef0123456789abcdef01"
# How the server is started; overridable to try a patched entry point against the same load.
SERVE_CMD = os.environ.get("ORDERCHATZ_BENCH_SERVE_CMD", "-m orderchatz.cli").split()
LINE_DEADLINE_MS = 2000.0  # LINE drops a webhook delivery not answered within 2 s


def _exit_on_sigterm(signum, frame):
    # Turn SIGTERM (run_all.py's timeout) into SystemExit so `with` blocks stop our servers.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Statistics


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 1000 samples is the 990th)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        return cls(n=len(values), p50=percentile(values, 50), p95=percentile(values, 95),
                   p99=percentile(values, 99), max=max(values) if values else float("nan"),
                   mean=sum(values) / len(values) if values else float("nan"))

    def line(self, unit: str = "ms") -> str:
        return (f"n={self.n} p50={self.p50:.1f}{unit} p95={self.p95:.1f}{unit} "
                f"p99={self.p99:.1f}{unit} max={self.max:.1f}{unit}")

    def as_dict(self) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict, name: str) -> None:
    """Print a machine-readable line too, so run_all.py can gather every benchmark's results."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"RESULT {name} {json.dumps(results, ensure_ascii=False)}")


def timed_ms(fn, *args, **kw) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args, **kw)
    return (time.perf_counter() - started) * 1000, value


# --------------------------------------------------------------------------------------------
# Redis and databases


def flush_redis(url: str = REDIS_URL) -> None:
    import redis
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def fresh_sqlite(path: Path) -> str:
    """A new, migrated SQLite file (WAL side files removed too)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    migrate(url)
    return url


def migrate(url: str) -> None:
    """`orderchatz-sidecar db upgrade`, as an operator would run it."""
    env = server_env(url, line_api_base="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-m", "orderchatz.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"db upgrade failed:\n{done.stderr[-2000:]}")


def pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}"


def pg_available() -> bool:
    import sqlalchemy as sa
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def pg_create(dbname: str | None = None, *, migrated: bool = True) -> tuple[str, str]:
    """Create an empty PostgreSQL database; returns (name, url)."""
    import sqlalchemy as sa
    name = dbname or f"oc_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    url = pg_url(name)
    if migrated:
        migrate(url)
    return name, url


def pg_drop(name: str) -> None:
    import sqlalchemy as sa
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextmanager
def fresh_store(db: str, name: str) -> Iterator[str]:
    """A flushed Redis and a new migrated store ("sqlite": BENCH_DIR/<name>.sqlite3, else a
    throwaway PostgreSQL database, dropped afterwards); yields its URL."""
    flush_redis()
    if db == "sqlite":
        yield fresh_sqlite(BENCH_DIR / f"{name}.sqlite3")
        return
    pg_name, url = pg_create()
    try:
        yield url
    finally:
        pg_drop(pg_name)


def column_values(url: str, sql: str) -> list:
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def count_rows(url: str, table: str, where: str = "") -> int:
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table} {where}").scalar())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# The real server


def server_env(database_url: str, *, line_api_base: str, wc_url: str = "http://127.0.0.1:9",
               redis_url: str = REDIS_URL) -> dict:
    env = dict(os.environ)
    env.update({
        "ORDERCHATZ_SHARED_SECRET": SHARED_SECRET, "ORDERCHATZ_WP_ORIGIN": WP_ORIGIN,
        "ORDERCHATZ_LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "ORDERCHATZ_LINE_API_BASE": line_api_base, "ORDERCHATZ_DATABASE_URL": database_url,
        "ORDERCHATZ_REDIS_URL": redis_url, "ORDERCHATZ_MEDIA_DIR": str(BENCH_DIR / "media"),
        "ORDERCHATZ_INSTANCE_DIR": str(BENCH_DIR / "instance"),
        "ORDERCHATZ_WC_URL": wc_url, "ORDERCHATZ_WC_CONSUMER_KEY": WC_KEY,
        "ORDERCHATZ_WC_CONSUMER_SECRET": WC_SECRET,
        "PYTHONPATH": str(REPO / "sidecar") + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.pop("ORDERCHATZ_SANDBOX", None)
    return env


class Sidecar:
    """`orderchatz-sidecar serve` under gunicorn (gthread), as deployed."""

    def __init__(self, database_url: str, *, line_api_base: str, workers: int = 2,
                 wc_url: str = "http://127.0.0.1:9", log_name: str = "sidecar"):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(database_url, line_api_base=line_api_base, wc_url=wc_url)
        self.workers = workers
        self.log_path = BENCH_DIR / f"{log_name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Sidecar":
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, *SERVE_CMD, "serve", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited early; see {self.log_path}")
            try:
                if requests.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    self._warm()
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sidecar did not become ready in {timeout:.0f}s; see {self.log_path}")

    def _warm(self) -> None:
        # Both workers import lazily on first request; touch each a few times.
        with requests.Session() as s:
            for _ in range(10 * self.workers):
                s.get(self.base_url + "/readyz", timeout=5)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # gunicorn master: graceful stop of its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group of this server only
                self.proc.wait(timeout=5)
        self.proc = None

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        if self.proc is None:
            return []
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.proc.pid] + [int(c) for c in children]

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes (load-independent cost)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def __enter__(self) -> "Sidecar":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def line_emulator() -> Iterator:
    from orderchatz.emulators.line import LineEmulator
    emu = LineEmulator(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN, keep_requests=1000)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def panel_token(user_id: str = "1", lifetime: int = 300) -> str:
    from orderchatz.auth import mint_panel_token
    return mint_panel_token(SHARED_SECRET, issuer=WP_ORIGIN, user_id=user_id, name="Bench",
                            lifetime=lifetime)


# --------------------------------------------------------------------------------------------
# LINE webhook bodies, built directly (the emulator's builders keep per-event state we don't need)


class EventFactory:
    """Unique text-message events shaped like LINE's, for many bodies quickly."""

    def __init__(self, run_tag: str | None = None):
        self.tag = run_tag or uuid.uuid4().hex[:8].upper()
        self.seq = 0
        self.issued: list[str] = []  # every webhookEventId made, to find lost ones afterwards

    def user(self, i: int) -> str:
        return "U" + f"{self.tag.lower()}{i:024x}"[-32:]

    def text(self, user_id: str, text: str) -> dict:
        self.seq += 1
        now_ms = int(time.time() * 1000)
        event_id = f"01B{self.tag}{self.seq:017d}"
        self.issued.append(event_id)
        return {
            "type": "message", "mode": "active", "timestamp": now_ms,
            "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": user_id},
            "replyToken": uuid.uuid4().hex,
            "message": {"type": "text", "id": f"9{self.tag_digits()}{self.seq:012d}",
                        "quoteToken": uuid.uuid4().hex, "text": text},
        }

    def tag_digits(self) -> str:
        return str(int(self.tag, 16) % 10**6).zfill(6)


def webhook_body(events: list[dict], *, redelivery: bool = False) -> bytes:
    if redelivery:
        events = [{**e, "deliveryContext": {"isRedelivery": True}} for e in events]
    payload = {"destination": "U" + "0" * 31 + "1", "events": events}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signed(body: bytes) -> dict:
    from orderchatz.auth import line_signature
    return {"Content-Type": "application/json",
            "X-Line-Signature": line_signature(body, CHANNEL_SECRET)}


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0],
            "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}


def loadavg() -> float:
    """The 1-minute load average: other work on this 2-core machine skews every latency."""
    return round(os.getloadavg()[0], 2)
