"""The webhook intake's own cost, without HTTP: `handle_line_webhook` called in this process.

Splits a delivery into recording (the database transaction), enqueueing follow-up jobs and
publishing live updates, for single-event deliveries to a known friend and to a new one, and per
event in 10-event bodies. CPU time (`process_time`) and wall time per delivery; the wall time
includes waiting for PostgreSQL and Redis. No target of its own: it shows where the server's
time per request goes (docs/benchmarks.md §1).

    python bench/webhook_inprocess.py [--quick] [--db sqlite|postgresql|both]
"""
from __future__ import annotations

import argparse
import os
import random
import time

import common
from common import EventFactory, webhook_body


def _timed(clock: dict, key: str, fn):
    def wrapper(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[key][0] += time.process_time() - cpu
            clock[key][1] += time.perf_counter() - wall
    return wrapper


def run(db: str, n: int) -> dict:
    with common.fresh_store(db, "inprocess") as url:
        os.environ.update(common.server_env(url, line_api_base="http://127.0.0.1:9"))
        from orderchatz.config import Config
        from orderchatz.domain import followups, inbox
        from orderchatz.services import Services

        svc = Services.build(Config.from_env())
        factory = EventFactory()
        known = [factory.user(i) for i in range(300)]
        for user in known:
            inbox.handle_line_webhook(svc, webhook_body([factory.text(user, "warm")]))
        clock: dict[str, list[float]] = {}
        record, enqueue, publish = inbox._record, followups.enqueue_followups, svc.live.publish_many
        inbox._record = _timed(clock, "record", record)
        followups.enqueue_followups = _timed(clock, "enqueue", enqueue)
        svc.live.publish_many = _timed(clock, "publish", publish)
        rng = random.Random(5)
        cases = {
            "known friend": lambda: [factory.text(rng.choice(known), "您好，訂單 #12000 出貨了嗎？")],
            "new friend": lambda: [factory.text(factory.user(10**6 + rng.randrange(10**12)), "您好")],
            "10-event body (per event)": lambda: [factory.text(rng.choice(known), "第 k 則")
                                                  for _ in range(10)],
        }
        out = {"db": db, "deliveries": n, "cases": {}}
        try:
            for label, make in cases.items():
                bodies = [webhook_body(make()) for _ in range(n)]
                per = 10 if label.startswith("10-event") else 1
                for key in ("record", "enqueue", "publish"):
                    clock[key] = [0.0, 0.0]
                cpu, wall = time.process_time(), time.perf_counter()
                for body in bodies:
                    inbox.handle_line_webhook(svc, body)
                units = n * per
                row = {"cpu_ms": round((time.process_time() - cpu) * 1000 / units, 3),
                       "wall_ms": round((time.perf_counter() - wall) * 1000 / units, 3),
                       **{f"{k}_cpu_ms": round(v[0] * 1000 / units, 3) for k, v in clock.items()}}
                out["cases"][label] = row
                print(f"[{db}] {label}: CPU {row['cpu_ms']} ms (record {row['record_cpu_ms']}, enqueue "
                      f"{row['enqueue_cpu_ms']}, publish {row['publish_cpu_ms']}), wall {row['wall_ms']} ms")
        finally:
            inbox._record, followups.enqueue_followups, svc.live.publish_many = record, enqueue, publish
            svc.close()
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    results = {"machine": common.machine(), "runs": []}
    for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        if db == "postgresql" and not common.pg_available():
            print("[postgresql] not reachable; skipped")
            continue
        results["runs"].append(run(db, 200 if args.quick else 1000))
    common.report(results, "webhook_inprocess")
    return results


if __name__ == "__main__":
    main()
