#!/usr/bin/env python3
"""The local demo behind `./scripts/run-local.sh` (no LINE credentials): a real WordPress with the
OrderChatz plugin active in front of the sidecar sandbox.

- WordPress: Debian's `wordpress` package served by `php -S`, built by the same harness the
  plugin tests use (tests/harness/wordpress.py), with its TEST-ONLY WooCommerce stand-in
  mu-plugin so the plugin sees WooCommerce as active. The site is rebuilt on every start; the
  users and their passwords stay the same (instance/demo.env).
- The sidecar sandbox (orderchatz.sandbox.Sandbox): web + worker, the LINE emulator, and the
  WooCommerce emulator serving the recorded demo shop, which is where the panel's customers and
  orders come from.

The WordPress user ids are created in the order of the recorded shop's customer ids (1 admin,
2 王小明, 3 林美華, 4 陳大文, 5 大量 買家), so a customer who links their LINE account on the
WordPress side sees their own orders in the panel.

    python scripts/demo.py [--wp-port 8080] [--bind 127.0.0.1:8000] [--line-port 8101] [--woo-port 8102]

Runs in the foreground until Ctrl-C (or SIGTERM), then stops everything it started.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[1]
# The WordPress harness is a test package; the demo reuses it rather than a second installer.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORDERCHATZ_INSTANCE_DIR", str(ROOT / "instance"))

from orderchatz.sandbox import (DEFAULT_LINE_PORT, DEFAULT_WOO_PORT, Sandbox,  # noqa: E402
                                SandboxError, instance_dir, wait_until_stopped)
from tests.harness.wordpress import WordPressError, WordPressSite, WPUser  # noqa: E402

DEMO_ENV = "demo.env"
DB_ENV = "demo-db.env"  # written by scripts/run-local.sh when MariaDB root has no TCP login
DEFAULT_DB_NAME = "orderchatz_demo"
DEFAULT_WP_PORT = 8080
DEFAULT_BIND = "127.0.0.1:8000"
SIMULATE_TEXT = "您好，請問我的訂單出貨了嗎？"
# `orderchatz-sidecar simulate`'s default customer; the LINE emulator answers profile requests for
# it with a LINE-like nickname instead of "LINE user 1111".
SIMULATED_CUSTOMER = "U" + "1" * 32
SIMULATED_CUSTOMER_NAME = "小明"


class DemoError(RuntimeError):
    """The demo could not start; the message says what to fix."""


@dataclass(frozen=True)
class DemoAccount:
    key: str
    login: str
    email: str
    role: str
    display_name: str
    shop_customer_id: int | None  # the recorded shop's WooCommerce customer id, when one


# Creation order = WordPress user id (1 is created by wp_install). Customer ids 2-5 and their
# emails are the recorded shop's (shared/fixtures/woocommerce/recorded/README.md).
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "admin", "admin@example.com", "administrator", "店長 Admin", 1),
    DemoAccount("ming", "ming.wang", "ming.wang@example.com", "customer", "王小明", 2),
    DemoAccount("meihua", "meihua.lin", "meihua.lin@example.com", "customer", "林美華", 3),
    DemoAccount("dawen", "dawen.chen", "dawen.chen@example.com", "customer", "陳大文", 4),
    DemoAccount("bulk", "bulk.buyer", "bulk.buyer@example.com", "customer", "大量 買家", 5),
    DemoAccount("manager", "manager", "manager@example.com", "shop_manager", "客服 小美", None),
)


@dataclass(frozen=True)
class DatabaseLogin:
    host: str
    port: int
    user: str
    password: str


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def demo_passwords() -> dict[str, str]:
    """One password per demo account, generated on the first start and kept in instance/demo.env."""
    path = instance_dir() / DEMO_ENV
    stored = read_env_file(path)
    passwords = {}
    for account in DEMO_ACCOUNTS:
        name = f"ORDERCHATZ_DEMO_PASSWORD_{account.key.upper()}"
        passwords[account.key] = stored.get(name) or f"{account.key}-{secrets.token_urlsafe(9)}"
        stored[name] = passwords[account.key]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# WordPress logins of the local demo (scripts/demo.py). Demo only.\n"
                    + "".join(f"{k}={v}\n" for k, v in sorted(stored.items())), encoding="utf-8")
    path.chmod(0o600)
    return passwords


def database_login(args: argparse.Namespace) -> DatabaseLogin:
    """Arguments, else instance/demo-db.env (run-local.sh), else MariaDB root without a password."""
    saved = read_env_file(instance_dir() / DB_ENV)
    return DatabaseLogin(
        host=args.db_host or saved.get("ORDERCHATZ_DEMO_DB_HOST", "127.0.0.1"),
        port=int(args.db_port or saved.get("ORDERCHATZ_DEMO_DB_PORT", "3306")),
        user=args.db_user or saved.get("ORDERCHATZ_DEMO_DB_USER", "root"),
        password=args.db_password if args.db_password is not None
        else saved.get("ORDERCHATZ_DEMO_DB_PASSWORD", ""),
    )


def check_database(db: DatabaseLogin) -> None:
    """Fail before anything starts when MariaDB is down or refuses the login."""
    try:
        pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                        connect_timeout=5).close()
    except pymysql.MySQLError as exc:
        raise DemoError(f"MariaDB on {db.host}:{db.port} refused user {db.user!r} ({exc}). "
                        "./scripts/run-local.sh starts MariaDB and creates a demo user when root "
                        "has no TCP login; or pass --db-user/--db-password") from exc


def build_site(*, wp_port: int, db_name: str, db: DatabaseLogin, sidecar_url: str,
               shared_secret: str, passwords: dict[str, str]) -> WordPressSite:
    users = tuple(WPUser(a.key, a.login, passwords[a.key], a.email, a.role, a.display_name)
                  for a in DEMO_ACCOUNTS)
    return WordPressSite(port=wp_port, db_name=db_name, sidecar_url=sidecar_url,
                         shared_secret=shared_secret, locale="zh_TW", hpos=True,
                         disable_wp_cron=False, users=users, db_host=db.host, db_port=db.port,
                         db_user=db.user, db_password=db.password)


def check_user_ids(site: WordPressSite) -> None:
    """Account linking binds by WordPress user id: it must be the shop's customer id."""
    wrong = [f"{a.login} is {site.users[a.key].user_id}, expected {a.shop_customer_id}"
             for a in DEMO_ACCOUNTS
             if a.shop_customer_id is not None and site.users[a.key].user_id != a.shop_customer_id]
    if wrong:
        raise DemoError("WordPress user ids do not match the demo shop's customers: " + "; ".join(wrong))


def banner(*, site: WordPressSite, sandbox: Sandbox, passwords: dict[str, str], bind: str) -> str:
    line = sandbox.settings["ORDERCHATZ_LINE_API_BASE"]
    woo = sandbox.settings["ORDERCHATZ_WC_URL"]
    simulate = f'orderchatz-sidecar simulate --text "{SIMULATE_TEXT}"'
    if bind != DEFAULT_BIND:
        simulate += f" --url http://{bind}/line/webhook"
    # `simulate` finds the sandbox's secrets through ./instance, unless the instance is elsewhere.
    folder = ROOT if instance_dir() == ROOT / "instance" else Path.cwd()
    prefix = "" if instance_dir() == folder / "instance" else f"export ORDERCHATZ_INSTANCE_DIR={instance_dir()}; "
    venv = ".venv" if folder == ROOT else ROOT / ".venv"
    if sandbox.woo_emulated:
        shop = (f"  WooCommerce      NOT installed: the WooCommerce emulator on {woo} stands in,\n"
                f"                   serving the recorded demo shop (customers 王小明, 林美華, 陳大文,\n"
                f"                   大量 買家; orders 12000-12348). WordPress only runs a test-only\n"
                f"                   WooCommerce stand-in so the plugin sees WooCommerce as active;\n"
                f"                   every customer and order in the panel comes from the emulator.")
    else:
        shop = f"  WooCommerce      {woo} (from ORDERCHATZ_WC_URL)"
    return f"""
==========================================================================
  OrderChatz LOCAL DEMO — sandbox: nothing reaches LINE or a real shop
==========================================================================
  WP admin         {site.url}/wp-admin/
    log in as      admin / {passwords['admin']}   (administrator)
                   manager / {passwords['manager']}   (shop manager)
                   ming.wang / {passwords['ming']}   (customer 王小明, for account linking)
  OrderChatz       {site.url}/wp-admin/admin.php?page=orderchatz
  sidecar          http://{bind}   (panel, API, LINE webhook)
  LINE emulator    {line}   stands in for the LINE Platform
{shop}

  WordPress is rebuilt on every start (same users and passwords: {instance_dir() / DEMO_ENV});
  conversations are kept by the sidecar in {instance_dir()}.

  Try it, in a second shell in {folder}:
    1. a customer writes on LINE:
       {prefix}source {venv}/bin/activate && {simulate}
    2. in WP admin open OrderChatz, pick the conversation and answer it
       (search 0912-345-678 in the customer column and bind, to see 王小明's orders)
    3. what the bot sent to LINE:
       curl -s {line}/_emulator/sent

  Stop everything with Ctrl-C.
"""


def _raise_interrupt(*_) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    # SIGTERM while starting unwinds like Ctrl-C, so whatever was started is stopped.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    bind = args.bind
    wp_url = f"http://127.0.0.1:{args.wp_port}"
    passwords = demo_passwords()
    sandbox = Sandbox(bind=bind, with_worker=True, line_api_port=args.line_port,
                      woo_api_port=args.woo_port, wp_origin=wp_url)
    site: WordPressSite | None = None
    try:
        db = database_login(args)
        check_database(db)
        print("[demo] starting the sidecar sandbox (LINE and WooCommerce emulators, web, worker)…", flush=True)
        sandbox.start()
        sandbox.line.set_profile(SIMULATED_CUSTOMER, SIMULATED_CUSTOMER_NAME)
        print(f"[demo] building WordPress on {wp_url} (Debian's wordpress, php -S)…", flush=True)
        site = build_site(wp_port=args.wp_port, db_name=args.db_name, db=db,
                          sidecar_url=sandbox.sidecar_url,
                          shared_secret=sandbox.settings["ORDERCHATZ_SHARED_SECRET"], passwords=passwords)
        site.start()
        check_user_ids(site)
        site.php("update_option( 'blogname', 'OrderChatz 示範咖啡店' );")
        print(banner(site=site, sandbox=sandbox, passwords=passwords, bind=bind), flush=True)

        def failed() -> int | None:
            code = sandbox.failed_child()
            if code is None and site is not None:
                code = site.server_exit_code()
            return code

        _, code = wait_until_stopped(failed)
        if code is not None:
            print(f"[demo] a process of the demo exited with {code}; stopping", file=sys.stderr, flush=True)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    except (SandboxError, WordPressError, DemoError) as exc:
        print(f"[demo] cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    except (pymysql.MySQLError, OSError) as exc:  # e.g. MariaDB refusing the login
        print(f"[demo] cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("[demo] stopping…", flush=True)
        if site is not None:
            site.stop()
        sandbox.stop()
        print("[demo] stopped", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wp-port", type=int, default=int(env("ORDERCHATZ_DEMO_WP_PORT", DEFAULT_WP_PORT)))
    parser.add_argument("--bind", default=env("ORDERCHATZ_BIND", DEFAULT_BIND), help="sidecar HOST:PORT")
    parser.add_argument("--line-port", type=int,
                        default=int(env("ORDERCHATZ_SANDBOX_LINE_PORT", DEFAULT_LINE_PORT)))
    parser.add_argument("--woo-port", type=int,
                        default=int(env("ORDERCHATZ_SANDBOX_WOO_PORT", DEFAULT_WOO_PORT)))
    parser.add_argument("--db-name", default=env("ORDERCHATZ_DEMO_DB_NAME", DEFAULT_DB_NAME))
    parser.add_argument("--db-host", default=env("ORDERCHATZ_DEMO_DB_HOST"))
    parser.add_argument("--db-port", type=int, default=env("ORDERCHATZ_DEMO_DB_PORT"))
    parser.add_argument("--db-user", default=env("ORDERCHATZ_DEMO_DB_USER"))
    parser.add_argument("--db-password", default=env("ORDERCHATZ_DEMO_DB_PASSWORD"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
