"""The local demo (`scripts/demo.py`, what `./scripts/run-local.sh` runs without LINE credentials),
started for real on free ports and used the way its printout tells a new user to.

A real WordPress (Debian's package, `php -S`, MariaDB) with the plugin active, the sidecar sandbox
(web + worker on SQLite, Redis, LINE and WooCommerce emulators). The test follows the banner: logs
into WP admin, opens OrderChatz, checks the framed panel's token is accepted by the sidecar, runs
`orderchatz-sidecar simulate`, answers through the API, and sees the LINE emulator receive the reply;
then stops the demo with SIGINT (Ctrl-C) and checks that everything it started is gone.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.harness.wordpress import php_available
from tests.support import REPO, free_port, shared_fixture

pymysql = pytest.importorskip("pymysql")

pytestmark = [pytest.mark.wordpress, pytest.mark.timeout(420)]

DEMO = REPO / "scripts" / "demo.py"
READY_LINE = "Stop everything with Ctrl-C."
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
CUSTOMER = "U" + "1" * 32
ANSWER = "您好，訂單 12345 已出貨，預計明天送達。"


def _mariadb_root_ok() -> bool:
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=3).close()
        return True
    except pymysql.MySQLError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module", autouse=True)
def _requirements():
    if not php_available():
        pytest.skip("php-cli and Debian's wordpress package are required")
    if not _mariadb_root_ok():
        pytest.skip("MariaDB root without a password on 127.0.0.1:3306 is required")
    shared_fixture("woocommerce/recorded/README.md")  # the demo shop the emulator serves


@dataclass
class Ports:
    wp: int
    sidecar: int
    line: int
    woo: int

    def all(self) -> list[int]:
        return [self.wp, self.sidecar, self.line, self.woo]


class DemoProcess:
    """`scripts/demo.py` in its own process group, its output collected by a reader thread."""

    def __init__(self, tmp_path: Path, redis_url: str, ports: Ports, db_name: str, extra_args: list[str] = ()):
        self.ports = ports
        self.db_name = db_name
        self.instance = tmp_path / "instance"
        # Nothing from the test run's own settings may leak in: the demo is what a new user gets.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCHATZ_")}
        self.env.update({"ORDERCHATZ_INSTANCE_DIR": str(self.instance), "ORDERCHATZ_REDIS_URL": redis_url,
                         "PYTHONUNBUFFERED": "1"})
        self.cwd = tmp_path
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO), "--wp-port", str(ports.wp), "--bind", f"127.0.0.1:{ports.sidecar}",
             "--line-port", str(ports.line), "--woo-port", str(ports.woo), "--db-name", db_name, *extra_args],
            cwd=tmp_path, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                if text in self.output:
                    return
                raise AssertionError(f"demo exited with {self.process.returncode}:\n{self.output[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"demo printed no {text!r} within {timeout:.0f} s:\n{self.output[-4000:]}")

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the demo's process group, as a terminal sends it; returns the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        rc = self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=5)
        return rc

    def kill_everything(self) -> None:
        """Last resort after a failed test: the demo's whole process group."""
        if self.process.poll() is None:
            try:
                self.interrupt()
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        try:
            with pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True) as conn, \
                    conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.db_name}`")
        except pymysql.MySQLError:
            pass


def _ports() -> Ports:
    chosen: set[int] = set()
    while len(chosen) < 4:
        chosen.add(free_port())
    return Ports(*sorted(chosen))


@pytest.fixture
def demo_factory(tmp_path, redis_url):
    started: list[DemoProcess] = []

    def start(*extra_args: str, ports: Ports | None = None) -> DemoProcess:
        demo = DemoProcess(tmp_path, redis_url, ports or _ports(), f"oc_demo_{uuid.uuid4().hex[:10]}",
                           list(extra_args))
        started.append(demo)
        return demo

    yield start
    for demo in started:
        demo.kill_everything()


@dataclass(frozen=True)
class Banner:
    admin_url: str
    admin_password: str
    manager_password: str
    ming_password: str
    orderchatz_url: str
    simulate: list[str]
    sent_url: str


def parse_banner(text: str) -> Banner:
    def find(pattern: str) -> str:
        match = re.search(pattern, text, re.MULTILINE)
        assert match, f"the printout has no {pattern!r}:\n{text}"
        return match.group(1)

    simulate = find(r"source \S*\.venv/bin/activate && (orderchatz-sidecar simulate .+)$")
    return Banner(
        admin_url=find(r"WP admin\s+(http://\S+/wp-admin/)$"),
        admin_password=find(r"log in as\s+admin / (\S+)"),
        manager_password=find(r"manager / (\S+)"),
        ming_password=find(r"ming\.wang / (\S+)"),
        orderchatz_url=find(r"OrderChatz\s+(http://\S+/wp-admin/admin\.php\?page=orderchatz)$"),
        simulate=shlex.split(simulate),
        sent_url=find(r"curl -s (http://\S+/_emulator/sent)$"),
    )


def wp_login(site_url: str, login: str, password: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    session.get(f"{site_url}/wp-login.php", timeout=30)
    response = session.post(f"{site_url}/wp-login.php", data={
        "log": login, "pwd": password, "wp-submit": "Log In", "redirect_to": f"{site_url}/wp-admin/",
        "testcookie": "1"}, allow_redirects=False, timeout=30)
    return session, response


def logged_in(session: requests.Session) -> bool:
    return any(c.name.startswith("wordpress_logged_in_") for c in session.cookies)


def poll(fetch, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_cli(demo: DemoProcess, argv: list[str]) -> subprocess.CompletedProcess:
    """A printed `orderchatz-sidecar …` command, run in the demo's folder and settings."""
    assert argv[0] == "orderchatz-sidecar"
    return subprocess.run([sys.executable, "-m", "orderchatz.cli", *argv[1:]], cwd=demo.cwd, env=demo.env,
                          capture_output=True, text=True, timeout=60)


def test_demo_stack_from_login_to_answered_line_message(demo_factory):
    demo = demo_factory()
    demo.wait_for_output(READY_LINE, START_TIMEOUT)
    banner = parse_banner(demo.output)
    site = f"http://127.0.0.1:{demo.ports.wp}"
    sidecar = f"http://127.0.0.1:{demo.ports.sidecar}"
    assert banner.admin_url == f"{site}/wp-admin/"
    assert banner.orderchatz_url == f"{site}/wp-admin/admin.php?page=orderchatz"
    assert banner.sent_url == f"http://127.0.0.1:{demo.ports.line}/_emulator/sent"
    assert f"WooCommerce emulator on http://127.0.0.1:{demo.ports.woo}" in demo.output

    # A wrong password is refused; the printed one logs in.
    refused, _ = wp_login(site, "admin", banner.admin_password + "x")
    assert not logged_in(refused)
    admin, response = wp_login(site, "admin", banner.admin_password)
    assert response.status_code == 302 and logged_in(admin), response.text[:500]

    # OrderChatz frames the sidecar panel with a token the sidecar accepts.
    page = admin.get(banner.orderchatz_url, timeout=30)
    assert page.status_code == 200
    src = re.search(r'<iframe id="orderchatz-panel-frame"[^>]*\ssrc="([^"]+)"', page.text)
    assert src, page.text[:2000]
    panel_url = urlsplit(src.group(1).replace("&amp;", "&").replace("&#038;", "&"))
    assert f"{panel_url.scheme}://{panel_url.netloc}{panel_url.path}" == f"{sidecar}/panel"
    fragment = {k: v[0] for k, v in parse_qs(panel_url.fragment).items()}
    assert fragment["origin"] == site
    token = fragment["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.get(f"{sidecar}/api/v1/conversations", timeout=10).status_code == 200
    forged = requests.get(f"{sidecar}/api/v1/conversations", timeout=10,
                          headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
    assert forged.status_code == 401
    panel = requests.get(f"{sidecar}/panel", timeout=10)
    assert panel.status_code == 200 and site in panel.headers.get("Content-Security-Policy", "")

    # The WordPress user ids are the recorded shop's customer ids (account linking relies on it).
    ming, response = wp_login(site, "ming.wang", banner.ming_password)
    assert logged_in(ming)
    nonce = ming.get(f"{site}/wp-admin/admin-ajax.php?action=rest-nonce", timeout=30).text.strip()
    me = ming.get(f"{site}/?rest_route=/wp/v2/users/me", headers={"X-WP-Nonce": nonce}, timeout=30)
    assert me.status_code == 200 and me.json()["id"] == 2, me.text[:300]
    manager, _ = wp_login(site, "manager", banner.manager_password)
    assert manager.get(banner.orderchatz_url, timeout=30).status_code == 200

    # The printed simulate command: a customer writes on LINE.
    simulated = run_cli(demo, banner.simulate)
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert simulated.stdout.startswith("200 ")
    conversation = poll(lambda: [c for c in api.get(f"{sidecar}/api/v1/conversations", timeout=10)
                                 .json()["conversations"] if c["line_user_id"] == CUSTOMER],
                        20, "the simulated conversation")[0]
    assert conversation["last_message"]["preview"] == "您好，請問我的訂單出貨了嗎？"

    # Staff bind the customer found by phone; the panel shows the recorded shop's orders.
    candidates = api.get(f"{sidecar}/api/v1/customers/search", params={"q": "0912-345-678"}, timeout=30).json()
    ming_ref = next(c["ref"] for c in candidates["candidates"] if c["customer_id"] == 2)
    assert api.put(f"{sidecar}/api/v1/conversations/{CUSTOMER}/binding", json=ming_ref, timeout=10).status_code == 200
    customer = api.get(f"{sidecar}/api/v1/conversations/{CUSTOMER}/customer", timeout=30).json()
    assert customer["status"] == "ok" and customer["customer"]["name"] == "王小明"
    assert 12345 in [o["id"] for o in customer["orders"]]

    # Answer through the API; the LINE emulator receives it (a free reply, the token is fresh).
    client_id = f"demo-{uuid.uuid4().hex[:12]}"
    sent = api.post(f"{sidecar}/api/v1/conversations/{CUSTOMER}/messages",
                    json={"client_id": client_id, "type": "text", "text": ANSWER}, timeout=10)
    assert sent.status_code == 202, sent.text
    received = poll(lambda: [m for m in requests.get(banner.sent_url, timeout=10).json()
                             if ANSWER in str(m)], 30, "the LINE emulator to receive the answer")
    assert received[0]["to"] == CUSTOMER and received[0]["kind"] == "reply"
    history = poll(lambda: [m for m in api.get(f"{sidecar}/api/v1/conversations/{CUSTOMER}/messages",
                                               timeout=10).json()["messages"]
                            if m.get("client_id") == client_id and m["status"] == "sent"],
                   20, "the answer to be marked sent")
    assert history[0]["text"] == ANSWER

    # Ctrl-C stops everything the demo started.
    assert demo.interrupt() == 0, demo.output[-3000:]
    assert "[demo] stopped" in demo.output
    assert [p for p in demo.ports.all() if _port_open(p)] == []
    with pymysql.connect(host="127.0.0.1", user="root", password="") as conn, conn.cursor() as cur:
        assert cur.execute("SHOW DATABASES LIKE %s", (demo.db_name,)) == 0


def test_wrong_database_login_is_reported_and_nothing_is_left_running(demo_factory):
    demo = demo_factory("--db-user", "orderchatz_nobody", "--db-password", "wrong")
    assert demo.process.wait(timeout=START_TIMEOUT) == 1
    demo._reader.join(timeout=5)
    assert "[demo] cannot start" in demo.output and "orderchatz_nobody" in demo.output
    assert "[demo] stopped" in demo.output
    assert [p for p in demo.ports.all() if _port_open(p)] == []


def test_busy_port_is_reported_and_nothing_is_left_running(demo_factory):
    ports = _ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.line))
        squatter.listen()
        demo = demo_factory(ports=ports)
        assert demo.process.wait(timeout=START_TIMEOUT) == 1
    demo._reader.join(timeout=5)
    assert f"cannot listen on 127.0.0.1:{ports.line}" in demo.output
    assert [p for p in (ports.wp, ports.sidecar, ports.woo) if _port_open(p)] == []


def test_demo_arguments_reject_a_non_numeric_port():
    done = subprocess.run([sys.executable, str(DEMO), "--wp-port", "eighty"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "--wp-port" in done.stderr


# -- scripts/lib.sh: the demo's MariaDB login on a fresh Debian -----------------------------------

MARIADB_STUB = """#!/bin/bash
# Root has no TCP login (a fresh Debian); without -h it is the unix socket, i.e. `sudo mariadb`,
# which this stub forwards to the real server as root. Everything else goes to the real client.
real=/usr/bin/mariadb
args=" $* "
if [[ "$args" == *" -h "* && "$args" == *" -u root "* ]]; then
    echo "ERROR 1698 (28000): Access denied for user 'root'@'localhost'" >&2; exit 1
fi
if [[ "$args" != *" -h "* ]]; then
    echo socket >> "$STUB_LOG"
    exec "$real" -h 127.0.0.1 -P 3306 -u root "$@"
fi
exec "$real" "$@"
"""


def _lib_call(tmp_path: Path, function_call: str) -> subprocess.CompletedProcess:
    script = f'source {shlex.quote(str(REPO / "scripts" / "lib.sh"))}; SUDO=""; {function_call}'
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "STUB_LOG": str(tmp_path / "stub.log")}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_demo_db_login_is_created_over_the_socket_when_root_has_no_tcp_login(tmp_path):
    if not Path("/usr/bin/mariadb").exists():
        pytest.skip("the mariadb client is required")
    (tmp_path / "bin").mkdir()
    stub = tmp_path / "bin" / "mariadb"
    stub.write_text(MARIADB_STUB)
    stub.chmod(0o755)
    suffix = uuid.uuid4().hex[:8]
    user, db, other_db = f"oc_demo_u{suffix}", f"oc_demo_db{suffix}", f"oc_demo_other{suffix}"
    env_file = tmp_path / "instance" / "demo-db.env"
    try:
        done = _lib_call(tmp_path, f"mariadb_demo_login {db} {shlex.quote(str(env_file))} {user}")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "stub.log").read_text().splitlines() == ["socket"]
        assert env_file.stat().st_mode & 0o077 == 0
        saved = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
        assert saved["ORDERCHATZ_DEMO_DB_USER"] == user and len(saved["ORDERCHATZ_DEMO_DB_PASSWORD"]) >= 20
        # The saved login works over TCP and may create (and drop) the demo's database only.
        with pymysql.connect(host="127.0.0.1", port=3306, user=user, password=saved["ORDERCHATZ_DEMO_DB_PASSWORD"],
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db}`")
            cur.execute(f"DROP DATABASE `{db}`")
            with pytest.raises(pymysql.MySQLError):
                cur.execute(f"CREATE DATABASE `{other_db}`")
        with pytest.raises(pymysql.MySQLError):
            pymysql.connect(host="127.0.0.1", port=3306, user=user, password="wrong").close()

        # A second run finds the saved login working: no new password, nothing over the socket.
        again = _lib_call(tmp_path, f"mariadb_demo_login {db} {shlex.quote(str(env_file))} {user}")
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "stub.log").read_text().splitlines() == ["socket"]
        assert dict(line.split("=", 1) for line in env_file.read_text().splitlines()
                    if not line.startswith("#")) == saved

        # A stale file (the password was changed meanwhile) is replaced by a working login.
        env_file.write_text(env_file.read_text().replace(saved["ORDERCHATZ_DEMO_DB_PASSWORD"], "stale"))
        third = _lib_call(tmp_path, f"mariadb_demo_login {db} {shlex.quote(str(env_file))} {user}")
        assert third.returncode == 0, third.stderr
        fresh = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
        assert fresh["ORDERCHATZ_DEMO_DB_PASSWORD"] not in ("stale", saved["ORDERCHATZ_DEMO_DB_PASSWORD"])
        pymysql.connect(host="127.0.0.1", port=3306, user=user,
                        password=fresh["ORDERCHATZ_DEMO_DB_PASSWORD"]).close()
    finally:
        with pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True) as conn, \
                conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")


def test_demo_db_login_is_left_alone_when_root_logs_in_over_tcp(tmp_path):
    (tmp_path / "bin").mkdir()
    env_file = tmp_path / "instance" / "demo-db.env"
    done = _lib_call(tmp_path, f"mariadb_demo_login oc_demo_unused {shlex.quote(str(env_file))}")
    assert done.returncode == 0, done.stderr
    assert not env_file.exists()


# -- orderchatz.sandbox settings ------------------------------------------------------------------

def test_sandbox_settings_keep_secrets_and_take_addresses_from_arguments(tmp_path, monkeypatch):
    from orderchatz.sandbox import sandbox_settings

    for key in [k for k in os.environ if k.startswith("ORDERCHATZ_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ORDERCHATZ_INSTANCE_DIR", str(tmp_path))
    first = sandbox_settings("127.0.0.1:8000")
    assert first["ORDERCHATZ_WP_ORIGIN"] == "http://127.0.0.1:8080"
    assert first["ORDERCHATZ_LINE_API_BASE"] == "http://127.0.0.1:8101"
    assert first["ORDERCHATZ_WC_URL"] == "http://127.0.0.1:8102"
    assert len(first["ORDERCHATZ_SHARED_SECRET"].encode()) >= 32
    again = sandbox_settings("127.0.0.1:9000", line_api_port=9101, woo_api_port=9102,
                             wp_origin="http://127.0.0.1:9080")
    generated = ("ORDERCHATZ_SHARED_SECRET", "ORDERCHATZ_LINE_CHANNEL_SECRET",
                 "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN", "ORDERCHATZ_WC_CONSUMER_KEY")
    assert [again[k] for k in generated] == [first[k] for k in generated]
    assert (again["ORDERCHATZ_WP_ORIGIN"], again["ORDERCHATZ_LINE_API_BASE"], again["ORDERCHATZ_WC_URL"],
            again["ORDERCHATZ_SIDECAR_URL"]) == ("http://127.0.0.1:9080", "http://127.0.0.1:9101",
                                                 "http://127.0.0.1:9102", "http://127.0.0.1:9000")
    assert (tmp_path / "sandbox.env").stat().st_mode & 0o077 == 0


def test_sandbox_settings_never_replace_a_real_shop_from_the_environment(tmp_path, monkeypatch):
    from orderchatz.sandbox import sandbox_settings

    for key in [k for k in os.environ if k.startswith("ORDERCHATZ_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ORDERCHATZ_INSTANCE_DIR", str(tmp_path))
    sandbox_settings("127.0.0.1:8000")  # an earlier emulator run wrote its WC URL and keys
    monkeypatch.setenv("ORDERCHATZ_WC_URL", "https://shop.example.tw")
    monkeypatch.setenv("ORDERCHATZ_WC_CONSUMER_KEY", "ck_real")
    monkeypatch.setenv("ORDERCHATZ_WC_CONSUMER_SECRET", "cs_real")
    values = sandbox_settings("127.0.0.1:8000")
    assert (values["ORDERCHATZ_WC_URL"], values["ORDERCHATZ_WC_CONSUMER_KEY"],
            values["ORDERCHATZ_WC_CONSUMER_SECRET"]) == ("https://shop.example.tw", "ck_real", "cs_real")
