"""Workbench speed: first paint of /panel, time to render an opened conversation, JS+CSS bytes.

Runs a real sidecar (SQLite in a temp dir, Redis db 11) seeded with 300 friends and two
conversations of 300 messages, frames the panel from a cross-site parent page in Chromium, and
prints medians. Budgets (issue): first paint ≤ 500 ms, open ≤ 300 ms, JS+CSS ≤ 150 KB.

    python bench/panel_bench.py [--runs 7] [--redis redis://127.0.0.1:6379/11]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STATIC = REPO / "sidecar" / "orderchatz" / "panel" / "static"
FRIENDS = 300
MESSAGES = 300


def static_bytes() -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(STATIC.iterdir()) if p.suffix in (".js", ".css")}


def seed(svc) -> list[str]:
    from orderchatz.store.models import Friend, Message, utcnow
    now = utcnow()
    heavy = []
    with svc.store.session() as s:
        for i in range(FRIENDS):
            uid = f"U{i:032x}"
            f = Friend(line_user_id=uid, display_name=f"顧客 {i:03d}", unread_count=i % 3,
                       last_activity_at=now - timedelta(minutes=i), last_message_preview="請問出貨了嗎？",
                       last_message_direction="in")
            s.add(f)
            s.flush()
            if i < 2:
                heavy.append(uid)
                for m in range(MESSAGES):
                    inbound = m % 2 == 0
                    s.add(Message(friend_id=f.id, direction="in" if inbound else "out", type="text",
                                  text=f"第 {m} 則訊息 https://shop.example/p/{m} 內容稍長一點點，測試換行與連結。",
                                  status="received" if inbound else "sent",
                                  quote_token=f"q{i}-{m}" if inbound else None,
                                  created_at=now - timedelta(hours=MESSAGES - m),
                                  payload=json.dumps({})))
    return heavy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from orderchatz.app import create_app
    from orderchatz.config import Config
    from orderchatz.services import Services
    from orderchatz.store.db import upgrade
    from tests.browser.harness import BASE_ARGS, CHROMIUM, ParentSite, ServerThread
    from tests.conftest import SHARED_SECRET
    from tests.support import free_port

    files = static_bytes()
    total = sum(files.values())
    print(f"JS+CSS: {total} bytes ({total / 1024:.1f} KB) in {len(files)} files  [budget 150 KB]")
    for name, size in files.items():
        print(f"  {name:14} {size:7d}")

    tmp = Path(tempfile.mkdtemp(prefix="oc-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    upgrade(db_url)
    parent_port = free_port()
    config = Config(shared_secret=SHARED_SECRET, wp_origins=(f"http://shop.test:{parent_port}",),
                    line_channel_secret="bench", line_channel_access_token="bench",
                    database_url=db_url, redis_url=args.redis, media_dir=str(tmp / "media"),
                    instance_dir=str(tmp))
    svc = Services.build(config)
    svc.redis.flushdb()
    heavy = seed(svc)
    sidecar = ServerThread(create_app(services=svc)).start()
    origin = f"http://127.0.0.1:{sidecar.port}"
    parent = ParentSite(sidecar_origin=origin, port=parent_port).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BASE_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 820})
            paints, readies, opens = [], [], []
            for run in range(args.runs):
                page.goto(parent.url())
                frame = page.frames[1]
                frame.wait_for_selector("body[data-ready=true]", state="attached")
                frame.wait_for_selector(".friend")
                timing = frame.evaluate("""() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                    const fp = performance.getEntriesByName('first-paint')[0];
                    return {fp: fp ? fp.startTime : null, fcp: fcp ? fcp.startTime : null,
                            dcl: nav.domContentLoadedEventEnd};
                }""")
                paints.append(timing["fcp"] or timing["fp"])
                readies.append(frame.evaluate("() => performance.now()"))
                for uid in heavy * 2:
                    opens.append(frame.evaluate("""async (uid) => {
                        const t0 = performance.now();
                        document.querySelector(`[data-line-user-id="${uid}"]`).click();
                        await new Promise((resolve) => {
                            const check = () => document.body.dataset.roomReady === uid
                                ? resolve() : requestAnimationFrame(check);
                            check();
                        });
                        // until the frame with the history is actually painted
                        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
                        return performance.now() - t0;
                    }""", uid))
            browser.close()
    finally:
        parent.stop()
        sidecar.stop()
        svc.redis.flushdb()
        svc.close()

    def line(label, values, budget):
        values = [v for v in values if v is not None]
        print(f"{label}: median {statistics.median(values):.0f} ms, max {max(values):.0f} ms "
              f"over {len(values)} runs  [budget {budget} ms]")

    line("first contentful paint of /panel (in the iframe)", paints, 500)
    line("open a conversation (40 of 300 messages rendered)", opens, 300)
    print(f"(friend list with {FRIENDS} friends loaded; page ready after "
          f"{statistics.median(readies):.0f} ms median)")


if __name__ == "__main__":
    main()
