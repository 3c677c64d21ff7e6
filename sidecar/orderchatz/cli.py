"""`orderchatz-sidecar`: serve, worker, db upgrade, simulate, token, sandbox."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from .config import Config, ConfigError


def _config(args=None) -> Config:
    try:
        cfg = Config.from_env()
    except ConfigError as exc:
        sys.exit(f"orderchatz-sidecar: {exc}\n(for the sandbox, run this in the folder where it was "
                 "started, or set ORDERCHATZ_INSTANCE_DIR to its instance folder)")
    logging.getLogger("orderchatz").info("settings: %s", cfg.redacted())
    return cfg


def cmd_db_upgrade(args) -> None:
    from .store.db import upgrade
    cfg = _config()
    upgrade(cfg.database_url)
    print("database is at the newest schema")


def cmd_serve(args) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app
    from .store.db import DatabaseNotMigrated

    cfg = _config()
    try:
        app = create_app(cfg)
    except DatabaseNotMigrated as exc:
        sys.exit(f"orderchatz-sidecar: {exc}")
    # The migration check opened a pooled connection in this (master) process; forked workers
    # must not share it (PostgreSQL answered 503s and "can't change autocommit" under load).
    store = app.extensions["orderchatz"].store
    store.dispose()
    # What is loaded now lives as long as the server: keep it out of the collector's full passes
    # (each one walked the whole heap and paused a worker for 100-230 ms, holding up requests).
    import gc
    gc.collect()
    gc.freeze()
    # A process per core; SQLite writers of both queue on one lock (store/db.py).
    workers = args.workers or 2
    threads = args.threads or 16

    class _Server(BaseApplication):
        def load_config(self):
            # gthread: the live stream holds a thread per connected panel, not a whole worker.
            self.cfg.set("bind", args.bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("keepalive", 5)
            self.cfg.set("post_fork", lambda _server, _worker: store.start_checkpointer())
            self.cfg.set("accesslog", "-" if args.access_log else None)
            self.cfg.set("forwarded_allow_ips", os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn ≥ 27 opens one control socket per user (~/.gunicorn); two sidecars
                # on one host would fight over it, and we do not use it.
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return app

    _Server().run()


def cmd_worker(args) -> None:
    import threading

    from rq import SimpleWorker

    from . import jobs
    from .services import Services

    cfg = _config()
    svc = Services.build(cfg)
    svc.store.start_checkpointer()
    jobs.use_services(svc)
    stop = threading.Event()
    sweeper = threading.Thread(target=jobs.run_sweeper, args=(svc, stop), daemon=True)
    sweeper.start()
    try:
        jobs.sweep(svc)
    except Exception:  # noqa: BLE001 - Redis may still be starting; the sweeper retries
        logging.getLogger(__name__).warning("initial sweep failed; will retry")
    # Jobs run in this process (no fork per job): a fork while the sweeper or checkpoint thread
    # holds a lock (ours, SQLite's, a pooled connection) left work horses hanging until their
    # timeout. A job's own timeout still applies (SIGALRM in this main thread).
    import redis
    try:
        while True:
            try:
                SimpleWorker([svc.queue], connection=svc.redis).work(
                    with_scheduler=True, burst=args.burst, logging_level="INFO")
                break
            except redis.ConnectionError as exc:
                # Redis not up yet, or gone: wait for it (the web app keeps storing meanwhile).
                logging.getLogger(__name__).warning("Redis unreachable (%s); retrying in 5 s", exc)
                time.sleep(5)
    finally:
        stop.set()


def cmd_token(args) -> None:
    from .auth import mint_panel_token
    from .sandbox import apply_sandbox_env

    apply_sandbox_env()
    cfg = _config()
    print(mint_panel_token(cfg.shared_secret, issuer=cfg.wp_issuer, user_id=args.user,
                           name=args.name, locale=args.locale, lifetime=args.lifetime))


def cmd_simulate(args) -> None:
    import requests

    import secrets

    from .auth import line_signature

    from .sandbox import apply_sandbox_env

    apply_sandbox_env()
    secret = os.environ.get("ORDERCHATZ_LINE_CHANNEL_SECRET", "")
    if not secret:
        sys.exit("orderchatz-sidecar simulate: set ORDERCHATZ_LINE_CHANNEL_SECRET "
                 "(the sandbox prints it, and writes it to instance/sandbox.env)")
    reply_token = secrets.token_hex(16)
    emulator = args.emulator or os.environ.get("ORDERCHATZ_LINE_API_BASE", "")
    if emulator:
        # A reply token the LINE emulator will honour, as if LINE had issued it.
        resp = requests.post(f"{emulator.rstrip('/')}/_emulator/reply-tokens",
                             json={"user_id": args.user}, timeout=5)
        if resp.ok:
            reply_token = resp.json()["reply_token"]
    now_ms = int(time.time() * 1000)
    event = {"type": args.kind, "mode": "active", "timestamp": now_ms,
             "webhookEventId": "01SIM" + secrets.token_hex(11).upper(),
             "deliveryContext": {"isRedelivery": False},
             "source": {"type": "user", "userId": args.user}}
    if args.kind == "text":
        event["type"] = "message"
        event["message"] = {"type": "text", "id": str(now_ms) + str(secrets.randbelow(1000)),
                            "quoteToken": secrets.token_urlsafe(16), "text": args.text}
    if args.kind != "unfollow":
        event["replyToken"] = reply_token
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event]},
                      ensure_ascii=True, separators=(",", ":")).encode()
    url = args.url or (os.environ.get("ORDERCHATZ_SIDECAR_URL", "http://127.0.0.1:8000").rstrip("/")
                       + "/line/webhook")
    try:
        resp = requests.post(url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Line-Signature": line_signature(body, secret)})
    except requests.RequestException as exc:
        sys.exit(f"orderchatz-sidecar simulate: could not reach {url} ({exc.__class__.__name__}); "
                 "is the sidecar running? (--url sets the webhook URL)")
    print(f"{resp.status_code} {resp.text.strip()}")
    sys.exit(0 if resp.ok else 1)


def cmd_sandbox(args) -> None:
    from .sandbox import run_sandbox
    run_sandbox(bind=args.bind, with_worker=not args.no_worker)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="orderchatz-sidecar")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web app under gunicorn")
    p.add_argument("--bind", default=os.environ.get("ORDERCHATZ_BIND", "127.0.0.1:8000"))
    p.add_argument("--workers", type=int, default=0, help="default: 2")
    p.add_argument("--threads", type=int, default=0, help="default: 16")
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run an RQ worker (with scheduler, for retries)")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply Alembic migrations").set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("simulate", help="sign and post a LINE webhook event to a running sidecar")
    p.add_argument("kind", nargs="?", default="text", choices=["text", "follow", "unfollow"])
    p.add_argument("--user", default="U" + "1" * 32, help="LINE user id of the customer")
    p.add_argument("--text", default="您好，請問我的訂單出貨了嗎？")
    p.add_argument("--url", default=os.environ.get("ORDERCHATZ_WEBHOOK_URL", ""),
                   help="webhook URL (default: the running sandbox's, else http://127.0.0.1:8000/line/webhook)")
    p.add_argument("--emulator", default="",
                   help="LINE emulator base URL; gives the event a reply token it will honour")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("token", help="mint a panel token for local use")
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--locale", default="zh_TW")
    p.add_argument("--lifetime", type=int, default=300)
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("sandbox", help="the local stack with the LINE and WooCommerce emulators")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--no-worker", action="store_true")
    p.set_defaults(func=cmd_sandbox)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
