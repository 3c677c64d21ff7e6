"""A real WordPress 6.1 site for tests (DESIGN.md §7), reusable by the plugin and browser tests.

The site is built from Debian's `wordpress` package: the core files are copied once into a cache
and hard-linked into a fresh directory per site (a symlinked core would make PHP resolve
`__FILE__` back to /usr/share/wordpress and load Debian's host-based wp-config.php). Each site has
its own wp-config.php, MariaDB database, wp-content (the OrderChatz plugin symlinked in, plus a
TEST-ONLY WooCommerce stand-in as a mu-plugin), and a `php -S` server on 127.0.0.1.

    with WordPressSite(port=free_port(), db_name="oc_wp_test", sidecar_url=..., shared_secret=...) as site:
        session = requests.Session(); site.login(session, "manager")
        site.php("echo get_option('blogname');")

Nothing here knows about the sidecar beyond the two wp-config constants.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import requests

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "wp-plugin" / "orderchatz"
HARNESS_WP_DIR = Path(__file__).resolve().parent / "wp"
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
CORE_CACHE = Path(tempfile.gettempdir()) / "orderchatz-wp-core"
PLUGIN_BASENAME = "orderchatz/orderchatz.php"


class WordPressError(RuntimeError):
    """Setting up, running PHP in, or serving the test site failed; the message says which."""


@dataclass(frozen=True)
class WPUser:
    key: str
    login: str
    password: str
    email: str
    role: str
    display_name: str
    user_id: int = 0


DEFAULT_USERS: tuple[WPUser, ...] = (
    WPUser("admin", "admin", "admin-Pass-2024!", "admin@example.com", "administrator", "店長 Admin"),
    WPUser("manager", "manager", "manager-Pass-2024!", "manager@example.com", "shop_manager", "客服 小美"),
    WPUser("subscriber", "subscriber", "subscriber-Pass-2024!", "subscriber@example.com", "subscriber", "Sub Scriber"),
    WPUser("customer", "ming", "ming-Pass-2024!", "ming.wang@example.com", "customer", "王小明"),
)


def php_available() -> bool:
    return shutil.which("php") is not None and (DEBIAN_WORDPRESS / "wp-load.php").exists()


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    return _php_string(str(value))


def _core_cache() -> Path:
    """A dereferenced copy of Debian's WordPress (without its wp-config.php and plugins)."""
    version_file = DEBIAN_WORDPRESS / "wp-includes" / "version.php"
    # Debian ships the core translations and the default theme in packages of their own
    # (wordpress-l10n, wordpress-theme-*), maybe installed after the first copy.
    extras = [DEBIAN_WORDPRESS / "wp-content" / d for d in ("languages", "themes")]
    stamp = "-".join(str(int(p.stat().st_mtime)) if p.exists() else "0" for p in [version_file, *extras])
    target = CORE_CACHE / stamp
    if target.exists():
        return target
    CORE_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=CORE_CACHE))
    core = staging / "core"
    shutil.copytree(DEBIAN_WORDPRESS, core, symlinks=False,
                    ignore=shutil.ignore_patterns(".htaccess", "akismet"))
    (core / "wp-config.php").unlink()
    try:
        core.rename(target)
    except OSError:
        pass  # a parallel test process won the race; its copy is identical
    shutil.rmtree(staging, ignore_errors=True)
    return target


class WordPressSite:
    """One disposable WordPress site. `start()` builds and serves it; `stop()` removes everything.

    `shared_secret` / `sidecar_url` of None leave the `ORDERCHATZ_*` constants undefined so the
    settings page is in charge. `extra_constants` are added to wp-config.php verbatim (name → value).
    """

    def __init__(self, *, port: int, db_name: str, sidecar_url: str | None, shared_secret: str | None,
                 locale: str = "en_US", hpos: bool = True, disable_wp_cron: bool = True,
                 with_woocommerce: bool = True, activate_plugin: bool = True,
                 extra_constants: dict[str, Any] | None = None, users: tuple[WPUser, ...] = DEFAULT_USERS,
                 server_workers: int = 4, keep: bool = False, db_host: str = "127.0.0.1",
                 db_port: int = 3306, db_user: str = "root", db_password: str = ""):
        if not db_name.replace("_", "").isalnum():
            raise ValueError("db_name must be letters, digits and underscores")
        self.port = port
        self.db_name = db_name
        self.sidecar_url = sidecar_url
        self.shared_secret = shared_secret
        self.locale = locale
        self.hpos = hpos
        self.disable_wp_cron = disable_wp_cron
        self.with_woocommerce = with_woocommerce
        self.activate_plugin_on_start = activate_plugin
        self.extra_constants = dict(extra_constants or {})
        self.server_workers = server_workers
        self.keep = keep
        # A fresh Debian MariaDB lets root in over the unix socket only; the demo passes a
        # dedicated TCP user instead (scripts/run-local.sh creates it).
        self.db_host = db_host
        self.db_port = db_port
        self.db_user = db_user
        self.db_password = db_password
        self.url = f"http://127.0.0.1:{port}"
        self.root: Path | None = None
        self.users: dict[str, WPUser] = {u.key: u for u in users}
        self._process: subprocess.Popen | None = None
        self._server_log = None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> "WordPressSite":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "WordPressSite":
        if not php_available():
            raise WordPressError("php-cli and Debian's wordpress package are required")
        try:
            self._build_files()
            self._create_database()
            self._install()
            self.serve()
        except BaseException:
            self.stop()
            raise
        return self

    def serve(self) -> None:
        """Start `php -S` (several workers so an iframe, REST calls and cron spawns can overlap)."""
        assert self.root is not None
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": str(self.server_workers)}
        self._server_log = open(self.root / "php-server.log", "ab")
        self._process = subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot),
             str(HARNESS_WP_DIR / "router.php")],
            cwd=self.docroot, env=env, stdout=self._server_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise WordPressError(f"php -S exited: {self.server_log()[-2000:]}")
            try:
                requests.get(self.url + "/wp-login.php", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise WordPressError("php -S did not answer within 15 s")

    def server_exit_code(self) -> int | None:
        """`php -S`'s exit code once it has exited, else None (running or never started)."""
        return self._process.poll() if self._process is not None else None

    def stop_server(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                os.killpg(self._process.pid, 15)
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self._process.pid, 9)
                    self._process.wait(timeout=5)
            self._process = None
        if self._server_log is not None:
            self._server_log.close()
            self._server_log = None

    def stop(self) -> None:
        self.stop_server()
        if self.keep:
            return
        try:
            with self._db() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.db_name}`")
        except pymysql.MySQLError:
            pass
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- building --------------------------------------------------------------------------------

    @property
    def docroot(self) -> Path:
        assert self.root is not None, "site not built"
        return self.root / "wordpress"

    @property
    def debug_log_path(self) -> Path:
        assert self.root is not None, "site not built"
        return self.root / "debug.log"

    def _build_files(self) -> None:
        core = _core_cache()
        self.root = Path(tempfile.mkdtemp(prefix=f"oc-wp-{self.port}-"))
        try:
            shutil.copytree(core, self.docroot, copy_function=os.link)
        except OSError:
            shutil.copytree(core, self.docroot)
        content = self.docroot / "wp-content"
        (content / "plugins").mkdir(exist_ok=True)
        (content / "plugins" / "orderchatz").symlink_to(PLUGIN_DIR, target_is_directory=True)
        (content / "mu-plugins").mkdir(exist_ok=True)
        (content / "mu-plugins" / "orderchatz-test-woocommerce.php").symlink_to(
            HARNESS_WP_DIR / "orderchatz-test-woocommerce.php")
        (self.docroot / "wp-config.php").write_text(self._wp_config(), encoding="utf-8")

    def _wp_config(self) -> str:
        constants: dict[str, Any] = {
            "DB_NAME": self.db_name, "DB_USER": self.db_user, "DB_PASSWORD": self.db_password,
            "DB_HOST": f"{self.db_host}:{self.db_port}",
            "DB_CHARSET": "utf8mb4", "DB_COLLATE": "",
            "WP_HOME": self.url, "WP_SITEURL": self.url,
            "WP_DEBUG": True, "WP_DEBUG_LOG": str(self.debug_log_path), "WP_DEBUG_DISPLAY": False,
            "SCRIPT_DEBUG": False, "DISABLE_WP_CRON": self.disable_wp_cron,
            # No internet here: never let core wait on api.wordpress.org. Loopback stays allowed.
            "WP_HTTP_BLOCK_EXTERNAL": True, "AUTOMATIC_UPDATER_DISABLED": True,
            "WP_AUTO_UPDATE_CORE": False, "FS_METHOD": "direct", "WP_ENVIRONMENT_TYPE": "local",
        }
        for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                     "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"):
            constants[name] = secrets.token_hex(32)
        if self.sidecar_url is not None:
            constants["ORDERCHATZ_SIDECAR_URL"] = self.sidecar_url
        if self.shared_secret is not None:
            constants["ORDERCHATZ_SHARED_SECRET"] = self.shared_secret
        constants.update(self.extra_constants)
        lines = ["<?php", "// Generated by tests/harness/wordpress.py for one test site."]
        lines += [f"define( {_php_string(k)}, {_php_literal(v)} );" for k, v in constants.items()]
        lines += ["$table_prefix = 'wp_';",
                  "if ( ! defined( 'ABSPATH' ) ) { define( 'ABSPATH', __DIR__ . '/' ); }",
                  "require_once ABSPATH . 'wp-settings.php';", ""]
        return "\n".join(lines)

    def _db(self):
        return pymysql.connect(host=self.db_host, port=self.db_port, user=self.db_user,
                               password=self.db_password, autocommit=True, connect_timeout=10)

    def _create_database(self) -> None:
        with self._db() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.db_name}`")
            cur.execute(f"CREATE DATABASE `{self.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def _install(self) -> None:
        admin = self.users["admin"]
        self.php(f"""
            require_once ABSPATH . 'wp-admin/includes/upgrade.php';
            $result = wp_install( 'OrderChatz Test Shop', {_php_string(admin.login)}, {_php_string(admin.email)},
                                  false, '', {_php_string(admin.password)}, {_php_string('' if self.locale == 'en_US' else self.locale)} );
            if ( is_wp_error( $result ) ) {{ fwrite( STDERR, $result->get_error_message() ); exit( 1 ); }}
        """, installing=True)
        self.php(f"""
            update_option( 'ocz_fakewc_hpos', {_php_literal(self.hpos)} );
            update_option( 'ocz_fakewc_disabled', {_php_literal(not self.with_woocommerce)} );
            update_option( 'WPLANG', {_php_string('' if self.locale == 'en_US' else self.locale)} );
        """)
        created: dict[str, WPUser] = {}
        for user in self.users.values():
            user_id = int(self.php(f"""
                $user = get_user_by( 'login', {_php_string(user.login)} );
                $id = $user ? $user->ID : wp_insert_user( array(
                    'user_login' => {_php_string(user.login)}, 'user_pass' => {_php_string(user.password)},
                    'user_email' => {_php_string(user.email)}, 'role' => {_php_string(user.role)},
                    'display_name' => {_php_string(user.display_name)} ) );
                if ( is_wp_error( $id ) ) {{ fwrite( STDERR, $id->get_error_message() ); exit( 1 ); }}
                wp_update_user( array( 'ID' => $id, 'display_name' => {_php_string(user.display_name)},
                                       'role' => {_php_string(user.role)} ) );
                echo $id;
            """).strip())
            created[user.key] = WPUser(**{**user.__dict__, "user_id": user_id})
        self.users = created
        if self.activate_plugin_on_start:
            self.activate_plugin()

    # -- PHP -----------------------------------------------------------------------------------------

    def php(self, code: str, *, user: str | None = None, installing: bool = False,
            server: dict[str, str] | None = None, timeout: float = 60, check: bool = True) -> str:
        """Run `code` with PHP CLI after loading WordPress; returns stdout.

        `user` is a key of `users` to `wp_set_current_user()` first; `server` adds `$_SERVER`
        entries (e.g. `{"HTTP_X_ORDERCHATZ_ORIGIN": "sidecar"}`). Raises WordPressError on a
        non-zero exit when `check`.
        """
        assert self.root is not None, "site not built"
        server_vars = {"HTTP_HOST": f"127.0.0.1:{self.port}", "SERVER_NAME": "127.0.0.1",
                       "SERVER_PORT": str(self.port), "REQUEST_URI": "/", "REQUEST_METHOD": "GET",
                       "REMOTE_ADDR": "127.0.0.1", **(server or {})}
        prelude = ["<?php"]
        prelude += [f"$_SERVER[{_php_string(k)}] = {_php_string(v)};" for k, v in server_vars.items()]
        if installing:
            prelude.append("define( 'WP_INSTALLING', true );")
        prelude.append(f"require {_php_string(str(self.docroot / 'wp-load.php'))};")
        if user is not None:
            prelude.append(f"wp_set_current_user( {self.users[user].user_id} );")
        with tempfile.NamedTemporaryFile("w", suffix=".php", dir=self.root, delete=False,
                                         encoding="utf-8") as script:
            script.write("\n".join(prelude) + "\n" + code + "\n")
        try:
            done = subprocess.run(["php", script.name], cwd=self.docroot, capture_output=True,
                                  timeout=timeout, text=True)
        except subprocess.TimeoutExpired as exc:
            raise WordPressError(f"PHP CLI timed out after {timeout} s") from exc
        finally:
            os.unlink(script.name)
        if check and done.returncode != 0:
            detail = (done.stderr or "").strip() or done.stdout[-1500:]
            raise WordPressError(f"PHP CLI exit {done.returncode}: {detail}\n"
                                 f"debug.log tail: {self.debug_log()[-1500:]}")
        return done.stdout

    def php_json(self, expression_code: str, **kwargs) -> Any:
        """Run code whose last statement is `return <value>;` and decode the value from JSON."""
        wrapped = ("$ocz_test_result = (function () {\n" + expression_code +
                   "\n})();\necho \"\\n@@OCZ-JSON@@\" . wp_json_encode( $ocz_test_result );")
        out = self.php(wrapped, **kwargs)
        return json.loads(out.rsplit("@@OCZ-JSON@@", 1)[1])

    def activate_plugin(self) -> None:
        self.php(f"""
            require_once ABSPATH . 'wp-admin/includes/plugin.php';
            $r = activate_plugin( {_php_string(PLUGIN_BASENAME)} );
            if ( is_wp_error( $r ) ) {{ fwrite( STDERR, $r->get_error_message() ); exit( 1 ); }}
        """, user="admin")

    def deactivate_plugin(self) -> None:
        self.php(f"""
            require_once ABSPATH . 'wp-admin/includes/plugin.php';
            deactivate_plugins( {_php_string(PLUGIN_BASENAME)} );
        """, user="admin")

    def uninstall_plugin(self) -> None:
        """What WordPress does when the admin deletes the plugin (runs its uninstall.php)."""
        self.php(f"""
            require_once ABSPATH . 'wp-admin/includes/plugin.php';
            uninstall_plugin( {_php_string(PLUGIN_BASENAME)} );
        """, user="admin")

    def run_cron(self, *, advance_seconds: int = 0, hook_prefix: str = "orderchatz_") -> list[str]:
        """Run the WP-Cron events due by now + `advance_seconds` (as wp-cron.php would, minus the
        lock), only hooks starting with `hook_prefix` ("" for all, core included). Returns the hooks run, in order."""
        return self.php_json(f"""
            $ran = array();
            $horizon = time() + {int(advance_seconds)};
            $crons = _get_cron_array();
            foreach ( (array) $crons as $timestamp => $hooks ) {{
                if ( $timestamp > $horizon ) {{ continue; }}
                foreach ( $hooks as $hook => $events ) {{
                    if ( {_php_string(hook_prefix)} !== '' && 0 !== strpos( $hook, {_php_string(hook_prefix)} ) ) {{ continue; }}
                    foreach ( $events as $event ) {{
                        if ( $event['schedule'] ) {{
                            wp_reschedule_event( $timestamp, $event['schedule'], $hook, $event['args'] );
                        }}
                        wp_unschedule_event( $timestamp, $hook, $event['args'] );
                        do_action_ref_array( $hook, $event['args'] );
                        $ran[] = $hook;
                    }}
                }}
            }}
            return $ran;
        """)

    def cron_events(self, hook_prefix: str = "") -> list[dict[str, Any]]:
        """Scheduled WP-Cron events: `[{"hook", "timestamp", "args"}]`."""
        return self.php_json(f"""
            $out = array();
            foreach ( (array) _get_cron_array() as $timestamp => $hooks ) {{
                foreach ( $hooks as $hook => $events ) {{
                    if ( 0 !== strpos( $hook, {_php_string(hook_prefix)} ) ) {{ continue; }}
                    foreach ( $events as $event ) {{
                        $out[] = array( 'hook' => $hook, 'timestamp' => $timestamp, 'args' => $event['args'] );
                    }}
                }}
            }}
            return $out;
        """)

    # -- WooCommerce stand-in helpers -------------------------------------------------------------

    def create_order(self, *, status: str = "pending", customer: str | None = "customer",
                     billing_email: str = "ming.wang@example.com", billing_phone: str = "0912-345-678",
                     billing_first_name: str = "小明", billing_last_name: str = "王") -> int:
        customer_id = self.users[customer].user_id if customer else 0
        return int(self.php(f"""
            echo ocz_fakewc_create_order( array( 'status' => {_php_string(status)}, 'customer_id' => {customer_id},
                'billing_email' => {_php_string(billing_email)}, 'billing_phone' => {_php_string(billing_phone)},
                'billing_first_name' => {_php_string(billing_first_name)},
                'billing_last_name' => {_php_string(billing_last_name)} ) );
        """).strip())

    def add_order_note(self, order_id: int, note: str, *, customer_note: bool, user: str | None = "admin",
                       server: dict[str, str] | None = None) -> int:
        """`wc_get_order($id)->add_order_note()` from PHP CLI; returns the note (comment) id."""
        return int(self.php(f"""
            echo wc_get_order( {int(order_id)} )->add_order_note( {_php_string(note)}, {int(customer_note)}, true );
        """, user=user, server=server).strip())

    def update_order_status(self, order_id: int, status: str, *, user: str | None = "admin") -> None:
        self.php(f"wc_get_order( {int(order_id)} )->update_status( {_php_string(status)} );", user=user)

    # -- HTTP ------------------------------------------------------------------------------------------

    def login(self, session_or_browser: Any, user: str) -> Any:
        """Log `user` (a key of `users`) in through wp-login.php.

        Accepts a `requests.Session` (cookies land in it), or a Playwright `BrowserContext` / `Page`
        (the same cookies are added to its context). Returns the session / context.
        """
        account = self.users[user]
        if isinstance(session_or_browser, requests.Session):
            session = session_or_browser
        else:
            session = requests.Session()
        session.get(self.url + "/wp-login.php", timeout=30)
        response = session.post(self.url + "/wp-login.php", data={
            "log": account.login, "pwd": account.password, "wp-submit": "Log In",
            "redirect_to": self.url + "/wp-admin/", "testcookie": "1",
        }, allow_redirects=False, timeout=30)
        if response.status_code != 302 or not any(c.name.startswith("wordpress_logged_in_") for c in session.cookies):
            raise WordPressError(f"login as {user} failed: HTTP {response.status_code}")
        if session is session_or_browser:
            return session
        context = getattr(session_or_browser, "context", session_or_browser)
        context = context() if callable(context) else context
        context.add_cookies([{"name": c.name, "value": c.value, "domain": "127.0.0.1", "path": c.path or "/"}
                             for c in session.cookies])
        return context

    def rest_nonce(self, session: requests.Session) -> str:
        """A `wp_rest` nonce for the logged-in session (what wp_localize_script would hand JS)."""
        response = session.get(self.url + "/wp-admin/admin-ajax.php?action=rest-nonce", timeout=30)
        if response.status_code != 200 or not response.text.strip():
            raise WordPressError(f"could not get a REST nonce: HTTP {response.status_code}")
        return response.text.strip()

    def rest_url(self, route: str) -> str:
        """URL of a REST route with plain permalinks, e.g. `rest_url('/orderchatz/v1/token')`."""
        return f"{self.url}/?rest_route={route}"

    # -- logs ------------------------------------------------------------------------------------------

    def debug_log(self) -> str:
        path = self.debug_log_path
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def php_problems(self) -> list[str]:
        """debug.log lines that are PHP errors/warnings/notices raised in the OrderChatz plugin
        (or in the harness's WooCommerce stand-in), plus every fatal error from anywhere.
        WordPress 6.1 core's own PHP 8.2 deprecation notices are not counted."""
        ours = (str(PLUGIN_DIR), "/plugins/orderchatz/", str(HARNESS_WP_DIR))
        problems = []
        for line in self.debug_log().splitlines():
            if "PHP Fatal error" in line or "PHP Parse error" in line:
                problems.append(line)
            elif "PHP " in line and any(marker in line for marker in ours):
                problems.append(line)
        return problems

    def clear_debug_log(self) -> None:
        if self.debug_log_path.exists():
            self.debug_log_path.unlink()

    def server_log(self) -> str:
        assert self.root is not None
        path = self.root / "php-server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
