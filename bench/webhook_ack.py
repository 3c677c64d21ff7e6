"""Webhook acknowledgement under the real gunicorn server.

Phase 1, latency: open loop at a fixed rate (default 200 deliveries/s) of single-event text
bodies. Each send is scheduled at t0 + i/rate whether or not earlier ones have answered, and its
latency is measured from the *scheduled* time, so a stalled server cannot hide queueing delay
(no coordinated omission). Target: p99 <= 25 ms; also shown as a share of LINE's 2 s deadline.

Phase 2, throughput: 10-event bodies from a fixed number of concurrent senders; events/s over
the whole run. Target >= 1,000 events/s. Some bodies are redelivered later (isRedelivery=true,
same webhookEventIds) and some are sent twice at the same moment (a network duplicate); after
the run the rows in `messages` and `webhook_events` must equal the unique events sent.

    python bench/webhook_ack.py [--quick] [--db sqlite|postgresql|both]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

import aiohttp

import common
from common import EventFactory, Summary, signed, verdict, webhook_body

P99_TARGET_MS = 25.0
THROUGHPUT_TARGET = 1000.0


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    async with session.post(url, data=body, headers=headers) as resp:
        data = await resp.json(content_type=None) if resp.status == 200 else {}
        return resp.status, data


async def open_loop(url: str, bodies: list[tuple[bytes, dict]], rate: float) -> dict:
    """Send bodies[i] at t0 + i/rate; return latencies from scheduled and from actual send."""
    connector = aiohttp.TCPConnector(limit=256, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    from_schedule, from_send, statuses = [], [], {}
    lag, failed = [], []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Open a pool of keep-alive connections first, as LINE's senders keep theirs.
        await asyncio.gather(*(session.get(url.rsplit("/line/", 1)[0] + "/healthz")
                               for _ in range(16)))
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2

        async def one(i: int, body: bytes, headers: dict) -> None:
            scheduled = t0 + i / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            sent = loop.time()
            lag.append((sent - scheduled) * 1000)
            try:
                status, _ = await _post(session, url, body, headers)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            done = loop.time()
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                failed.append(body)
            from_schedule.append((done - scheduled) * 1000)
            from_send.append((done - sent) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(one(i, b, h) for i, (b, h) in enumerate(bodies)))
        elapsed = time.perf_counter() - started
    return {"from_schedule": from_schedule, "from_send": from_send, "statuses": statuses,
            "sender_lag": lag, "elapsed_s": elapsed, "failed": failed}


async def closed_loop(url: str, plan: list[list[tuple[bytes, dict]]], concurrency: int) -> dict:
    """`plan` is a list of steps; the bodies of one step are sent at the same moment (duplicates).
    `concurrency` senders take steps from the plan in order."""
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    timeout = aiohttp.ClientTimeout(total=30)
    latencies, statuses, failed = [], {}, []
    totals = {"stored": 0, "duplicates": 0}
    queue: asyncio.Queue = asyncio.Queue()
    for step in plan:
        queue.put_nowait(step)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def send(body: bytes, headers: dict) -> None:
            started = time.perf_counter()
            try:
                status, data = await _post(session, url, body, headers)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status, data = 0, {}
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                failed.append(body)
            for k in totals:
                totals[k] += int(data.get(k, 0))

        async def sender() -> None:
            while True:
                try:
                    step = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await asyncio.gather(*(send(b, h) for b, h in step))

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "elapsed_s": elapsed, "failed": failed,
            **totals}


def redeliver_failed(url: str, bodies: list[bytes], attempts: int = 5) -> dict:
    """What LINE does with a non-2xx answer (when redelivery is enabled): send the events again,
    marked isRedelivery. Returns how many bodies were eventually accepted."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def again(body: bytes) -> bool:
        payload = json.loads(body)
        for e in payload["events"]:
            e["deliveryContext"] = {"isRedelivery": True}
        data = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()
        with requests.Session() as http:
            for attempt in range(attempts):
                time.sleep(0.1 * attempt)
                try:
                    if http.post(url, data=data, headers=signed(data), timeout=10).status_code == 200:
                        return True
                except requests.RequestException:
                    pass
        return False

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(again, bodies))
    return {"bodies": len(bodies), "accepted": sum(outcomes),
            "still_failing": len(outcomes) - sum(outcomes)}


def run_on(db: str, *, quick: bool, rate: float, seconds: float, bodies10: int,
           concurrency: int, workers: int = 2) -> dict:
    factory = EventFactory()
    users = [factory.user(i) for i in range(2000)]
    rng = random.Random(7)
    unique_events = 0
    with common.fresh_store(db, "webhook") as url:
        with common.line_emulator() as emu, \
                common.Sidecar(url, line_api_base=emu.base_url, workers=workers,
                               log_name=f"webhook-{db}") as sidecar:
            hook = sidecar.base_url + "/line/webhook"

            # Warm-up (counted in the row totals, not in the latencies).
            warm = []
            for i in range(100):
                body = webhook_body([factory.text(users[i % len(users)], f"warm {i}")])
                warm.append((body, signed(body)))
            warmup = asyncio.run(open_loop(hook, warm, rate=100))
            unique_events += len(warm)

            n = int(rate * seconds)
            single = []
            for i in range(n):
                body = webhook_body([factory.text(rng.choice(users), f"您好，訂單 #{12000 + i} 出貨了嗎？")])
                single.append((body, signed(body)))
            unique_events += n
            load1 = common.loadavg()
            cpu0 = sidecar.cpu_seconds()
            phase1 = asyncio.run(open_loop(hook, single, rate))
            cpu1 = sidecar.cpu_seconds()

            plan: list[list[tuple[bytes, dict]]] = []
            originals: list[list[dict]] = []
            redelivered = network_dupes = 0
            for i in range(bodies10):
                events = [factory.text(rng.choice(users), f"第 {i}-{k} 則訊息") for k in range(10)]
                unique_events += len(events)
                body = webhook_body(events)
                step = [(body, signed(body))]
                if i % 50 == 25:  # a network duplicate: the same bytes twice at once
                    step.append((body, signed(body)))
                    network_dupes += len(events)
                plan.append(step)
                originals.append(events)
                if i % 20 == 10 and i >= 40:  # LINE's redelivery of an earlier body
                    again = webhook_body(originals[i - 30], redelivery=True)
                    plan.append([(again, signed(again))])
                    redelivered += 10
            load2 = common.loadavg()
            phase2 = asyncio.run(closed_loop(hook, plan, concurrency))
            cpu2 = sidecar.cpu_seconds()
            failed = warmup["failed"] + phase1["failed"] + phase2["failed"]
            redelivery = redeliver_failed(hook, failed)
        messages = common.count_rows(url, "messages")
        webhook_events = common.count_rows(url, "webhook_events")
        stored_ids = set(common.column_values(url, "SELECT webhook_event_id FROM webhook_events"))
        missing = [e for e in factory.issued if e not in stored_ids]
        by_status = {status: int(n) for status, n in (
            row.split("=") for row in common.column_values(
                url, "SELECT status || '=' || count(*) FROM webhook_events GROUP BY status"))}
        redelivery_rows = common.count_rows(url, "webhook_events", "WHERE redelivery = true"
                                            if db == "postgresql" else "WHERE redelivery = 1")

    lat = Summary.of(phase1["from_schedule"])
    svc_time = Summary.of(phase1["from_send"])
    achieved_rate = len(single) / phase1["elapsed_s"]
    events_sent10 = bodies10 * 10
    throughput = events_sent10 / phase2["elapsed_s"]
    ok_statuses = not failed
    lost = unique_events - messages
    result = {
        "db": db, "workers": workers,
        "latency": {"rate_target": rate, "rate_achieved": round(achieved_rate, 1),
                    "deliveries": n, "statuses": phase1["statuses"],
                    "from_schedule_ms": lat.as_dict(), "from_send_ms": svc_time.as_dict(),
                    "sender_lag_p99_ms": round(common.percentile(phase1["sender_lag"], 99), 2),
                    "p99_share_of_line_deadline": round(lat.p99 / common.LINE_DEADLINE_MS, 4),
                    "server_cpu_ms_per_delivery": round((cpu1 - cpu0) * 1000 / n, 2),
                    "loadavg_1m_before": load1,
                    "target_p99_ms": P99_TARGET_MS, "pass": lat.p99 <= P99_TARGET_MS},
        "throughput": {"bodies": bodies10, "events": events_sent10, "concurrency": concurrency,
                       "elapsed_s": round(phase2["elapsed_s"], 2),
                       "events_per_s": round(throughput, 1), "statuses": phase2["statuses"],
                       "body_latency_ms": Summary.of(phase2["latencies"]).as_dict(),
                       "server_cpu_ms_per_event": round((cpu2 - cpu1) * 1000 / events_sent10, 3),
                       "cpu_bound_ceiling_events_per_s": round(
                           events_sent10 * (os.cpu_count() or 1) / max(cpu2 - cpu1, 1e-9)),
                       "loadavg_1m_before": load2,
                       "target_events_per_s": THROUGHPUT_TARGET,
                       "pass": throughput >= THROUGHPUT_TARGET},
        "integrity": {"unique_events_sent": unique_events, "messages_rows": messages,
                      "webhook_events_rows": webhook_events, "lost": max(0, lost),
                      "duplicated": max(0, messages - unique_events),
                      "redelivered_events": redelivered, "network_duplicate_events": network_dupes,
                      "reported_duplicates": phase2["duplicates"],
                      "all_answers_200": ok_statuses,
                      "warmup_statuses": warmup["statuses"],
                      "non_200_bodies": len(failed), "line_style_redelivery": redelivery,
                      "redelivery_rows": redelivery_rows,
                      "missing_webhook_event_ids": missing[:20],
                      # Every event sent is a valid text message: any other status is a loss.
                      "webhook_events_by_status": by_status,
                      # Zero lost / zero duplicated once LINE has redelivered what got a 5xx;
                      # the 5xx answers themselves are reported (and judged) separately.
                      "pass": messages == unique_events == webhook_events
                      and by_status == {"processed": unique_events}},
    }
    print(f"[{db}, {workers} workers] open loop {rate:.0f}/s x {n}: from schedule {lat.line()}; "
          f"service time {svc_time.line()}; achieved {achieved_rate:.1f}/s; "
          f"p99 = {100 * lat.p99 / common.LINE_DEADLINE_MS:.2f}% of LINE's 2 s "
          f"-> {verdict(lat.p99 <= P99_TARGET_MS)} (target p99 <= {P99_TARGET_MS:.0f} ms); "
          f"server CPU {result['latency']['server_cpu_ms_per_delivery']} ms/delivery; load {load1}")
    print(f"[{db}] throughput: {events_sent10} events in {bodies10} bodies x10, concurrency "
          f"{concurrency}: {throughput:.0f} events/s in {phase2['elapsed_s']:.1f}s; body latency "
          f"{Summary.of(phase2['latencies']).line()} -> {verdict(throughput >= THROUGHPUT_TARGET)} "
          f"(target >= {THROUGHPUT_TARGET:.0f} events/s); server CPU "
          f"{result['throughput']['server_cpu_ms_per_event']} ms/event; load {load2}")
    print(f"[{db}] integrity: sent {unique_events} unique events (+{redelivered} redelivered, "
          f"+{network_dupes} network duplicates); messages={messages} webhook_events={webhook_events}"
          f" (by status {by_status}); statuses warm-up {warmup['statuses']} / latency {phase1['statuses']} / throughput "
          f"{phase2['statuses']}; non-200 bodies redelivered LINE-style: {redelivery} "
          f"-> {verdict(result['integrity']['pass'])}"
          + (f"; MISSING {missing[:5]}" if missing else ""))
    return result


def sweep(db: str, rates: list[float], seconds: float, workers: int = 2) -> list[dict]:
    """Latency only, at several fixed rates: where does the p99 cross 25 ms on this machine?"""
    factory = EventFactory()
    users = [factory.user(i) for i in range(300)]
    rng = random.Random(11)
    out = []
    with common.fresh_store(db, "sweep") as url:
        with common.line_emulator() as emu, \
                common.Sidecar(url, line_api_base=emu.base_url, workers=workers,
                               log_name=f"sweep-{db}") as sidecar:
            hook = sidecar.base_url + "/line/webhook"
            warm = [webhook_body([factory.text(u, "warm")]) for u in users]  # every friend exists
            asyncio.run(open_loop(hook, [(b, signed(b)) for b in warm], rate=100))
            for rate in rates:
                bodies = [webhook_body([factory.text(rng.choice(users), "您好")])
                          for _ in range(int(rate * seconds))]
                load = common.loadavg()
                cpu0 = sidecar.cpu_seconds()
                res = asyncio.run(open_loop(hook, [(b, signed(b)) for b in bodies], rate))
                cpu = (sidecar.cpu_seconds() - cpu0) * 1000 / len(bodies)
                lat = Summary.of(res["from_schedule"])
                out.append({"db": db, "workers": workers, "rate": rate, "latency_ms": lat.as_dict(), "statuses": res["statuses"],
                            "server_cpu_ms_per_delivery": round(cpu, 2), "loadavg_1m_before": load,
                            "pass": lat.p99 <= P99_TARGET_MS})
                print(f"[{db}, {workers} workers] sweep {rate:.0f}/s (existing friends): {lat.line()}; server CPU "
                      f"{cpu:.2f} ms/delivery; load {load} -> {verdict(lat.p99 <= P99_TARGET_MS)}")
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--bodies", type=int, default=None, help="10-event bodies in phase 2")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--sweep-only", action="store_true", help="only the latency sweep")
    parser.add_argument("--no-sweep", action="store_true",
                        help="skip the latency sweep at 25/50/100/200 deliveries/s")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 30.0)
    bodies = args.bodies or (200 if args.quick else 2000)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = {"machine": common.machine(), "runs": []}
    for db in dbs:
        if db == "postgresql" and not common.pg_available():
            print("[postgresql] not reachable; skipped")
            continue
        if not args.sweep_only:
            results["runs"].append(run_on(db, quick=args.quick, rate=args.rate, seconds=seconds,
                                          bodies10=bodies, concurrency=args.concurrency,
                                          workers=args.workers))
        if not args.no_sweep:
            results.setdefault("sweep", []).extend(
                sweep(db, [25, 50, 100, 200], 2.0 if args.quick else 10.0, workers=args.workers))
    name = "webhook_ack" if args.workers == 2 else f"webhook_ack_w{args.workers}"
    previous = common.BENCH_DIR / f"{name}.json"
    if args.db != "both" and previous.exists():
        # Keep the other database's results from an earlier run of this same benchmark.
        import json
        old = json.loads(previous.read_text())
        results["runs"] = [r for r in old.get("runs", []) if r["db"] != args.db] + results["runs"]
        results["sweep"] = ([r for r in old.get("sweep", []) if r["db"] != args.db]
                            + results.get("sweep", []))
    common.report(results, name)
    return results


if __name__ == "__main__":
    main()
