"""Run every benchmark, then print one summary table against the targets.

    python bench/run_all.py            # the full run (about 10-15 minutes on 2 cores)
    python bench/run_all.py --quick    # a short smoke run (about 2-3 minutes once seeded)
    python bench/run_all.py --only webhook_ack friend_list

Each benchmark runs in its own process (also runnable alone: `python bench/<name>.py`) and
writes its results as JSON under $ORDERCHATZ_BENCH_DIR (default /tmp/orderchatz-bench); the
summary is also written there as summary.md, in the form docs/benchmarks.md quotes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

BENCHMARKS = ["webhook_ack", "live_stream", "friend_list", "customer_panel"]
TIMEOUT_S = {"webhook_ack": 1200, "live_stream": 600, "friend_list": 1800, "customer_panel": 600}


def ok(flag) -> str:
    return "PASS" if flag else "**FAIL**"


def summarise() -> list[str]:
    def load(name):
        path = common.BENCH_DIR / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    lines = ["| benchmark | measurement | result | target | verdict |", "|---|---|---|---|---|"]
    webhook_runs = [load(name) for name in ("webhook_ack", "webhook_ack_w1")]
    for w in filter(None, webhook_runs):
        for run in w["runs"]:
            lat, thr, integ = run["latency"], run["throughput"], run["integrity"]
            db = run["db"] + ("" if run.get("workers", 2) == 2 else f", {run['workers']} worker")
            s = lat["from_schedule_ms"]
            lines.append(f"| webhook ack ({db}) | {lat['deliveries']} single-event deliveries, open loop "
                         f"{lat['rate_target']:.0f}/s (achieved {lat['rate_achieved']}/s) | p50 {s['p50']} / "
                         f"p95 {s['p95']} / p99 {s['p99']} ms; p99 = {100 * lat['p99_share_of_line_deadline']:.1f}% "
                         f"of LINE's 2 s; server CPU {lat['server_cpu_ms_per_delivery']} ms/delivery | "
                         f"p99 ≤ 25 ms | {ok(lat['pass'])} |")
            lines.append(f"| webhook ack ({db}) | {thr['events']} events in 10-event bodies, "
                         f"{thr['concurrency']} senders | {thr['events_per_s']} events/s; server CPU "
                         f"{thr['server_cpu_ms_per_event']} ms/event (CPU-bound ceiling "
                         f"≈{thr['cpu_bound_ceiling_events_per_s']}/s) | ≥ 1,000 events/s | {ok(thr['pass'])} |")
            lines.append(f"| webhook ack ({db}) | integrity: {integ['unique_events_sent']} unique + "
                         f"{integ['redelivered_events']} redelivered + {integ['network_duplicate_events']} "
                         f"network-duplicate events | messages {integ['messages_rows']}, webhook_events "
                         f"{integ['webhook_events_rows']}; {integ['non_200_bodies']} bodies answered non-200 "
                         f"(then redelivered LINE-style) | 0 lost, 0 duplicated | {ok(integ['pass'])} |")
        for sw in w.get("sweep", []):
            s = sw["latency_ms"]
            db = sw["db"] + ("" if sw.get("workers", 2) == 2 else f", {sw['workers']} worker")
            lines.append(f"| webhook ack ({db}) | sweep: {sw['rate']:.0f} single-event deliveries/s to "
                         f"existing friends, open loop | p50 {s['p50']} / p95 {s['p95']} / p99 {s['p99']} ms; "
                         f"server CPU {sw['server_cpu_ms_per_delivery']} ms/delivery | p99 ≤ 25 ms | "
                         f"{ok(sw['pass'])} |")
    if (live := load("live_stream")):
        for run in live["runs"]:
            for sc in run["scenarios"]:
                s = sc["slowest_panel_ms"]
                lines.append(f"| live stream ({run['db']}) | webhook → `message.created` on {run['panels']} "
                             f"panels, {sc['scenario']} | p50 {s['p50']} / p95 {s['p95']} / p99 {s['p99']} ms "
                             f"(slowest panel), {sc['misses']} missed | p95 ≤ 300 ms | {ok(sc['pass'])} |")
    if (fl := load("friend_list")):
        for run in fl["runs"]:
            for case in run["cases"]:
                d, h = case["direct_ms"], case["http_ms"]
                lines.append(f"| friend list ({run['db']}, {fl['friends']:,} friends / {fl['messages']:,} "
                             f"messages) | {case['case']} ({case['rows']} rows) | direct p50 {d['p50']} / p95 "
                             f"{d['p95']} ms; HTTP p50 {h['p50']} / p95 {h['p95']} ms | ≤ 30 ms | "
                             + (ok(True) if case["pass"] else
                                "PASS at p50, **FAIL** at p95" if case.get("pass_p50") else ok(False))
                             + " |")
    if (cp := load("customer_panel")):
        for p in cp["panels"]:
            c, k = p["cold_ms"], p["cached_ms"]
            lines.append(f"| customer panel | {p['binding']}: {p['orders']} orders, cold | p50 {c['p50']} / "
                         f"max {c['max']} ms; {p['round_trips']} requests in {p['waves']} waves | ≤ 500 ms, "
                         f"≤ 2 waves | {ok(p['pass_cold'] and p['pass_waves'])} |")
            lines.append(f"| customer panel | {p['binding']}: cached (in-process werkzeug server) | p50 "
                         f"{k['p50']} / p95 {k['p95']} ms | ≤ 20 ms | {ok(p['pass_cached'])} |")
            if (g := p.get("cached_gunicorn_ms")):
                lines.append(f"| customer panel | {p['binding']}: cached (gunicorn) | p50 {g['p50']} / p95 "
                             f"{g['p95']} ms | ≤ 20 ms | {ok(p['pass_cached_gunicorn'])} |")
        for s in cp["searches"]:
            lat = s["latency_ms"]
            lines.append(f"| customer search | q=`{s['q']}` → {len(s['candidates'])} candidates | p50 "
                         f"{lat['p50']} / max {lat['max']} ms; {s['round_trips']} requests in {s['waves']} "
                         f"waves | ≤ 2 waves | {ok(s['pass_waves'])} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=BENCHMARKS)
    parser.add_argument("--summary-only", action="store_true",
                        help="rebuild the table from the JSON results already in the bench dir")
    args = parser.parse_args(argv)
    if args.summary_only:
        print("\n".join(summarise()))
        return 0
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    failures = []
    for name in args.only:
        (common.BENCH_DIR / f"{name}.json").unlink(missing_ok=True)
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"\n=== {name}: {' '.join(cmd[1:])} (load {common.loadavg()})", flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd)
        try:
            code = proc.wait(timeout=TIMEOUT_S[name] // (3 if args.quick else 1))
            if code != 0:
                failures.append(f"{name} exited {code}")
        except subprocess.TimeoutExpired:
            # SIGTERM first: the benchmark's handlers stop the servers it started.
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            failures.append(f"{name} timed out")
        print(f"=== {name} took {time.monotonic() - t0:.0f}s", flush=True)
    machine = common.machine()
    header = [f"Run {started:%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'}; "
              f"{machine['nproc']} × {machine['cpu']}, Python {machine['python']}; "
              f"1-min load average at the end {common.loadavg()}.", ""]
    table = header + summarise()
    (common.BENCH_DIR / "summary.md").write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table))
    for f in failures:
        print(f"benchmark problem: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
