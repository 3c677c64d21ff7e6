"""Inbound LINE message to connected panels: POST /line/webhook start -> `message.created` on
GET /api/v1/stream, against the gunicorn server.

Several panels (SSE clients, Bearer panel token) stay connected; samples are posted one at a
time and the latency of a sample is measured on every panel (the slowest panel counts). Run idle
and again while background webhook traffic flows at a fixed rate. Target: p95 <= 300 ms.

    python bench/live_stream.py [--quick] [--db sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random

import aiohttp

import common
from common import EventFactory, Summary, signed, verdict, webhook_body

TARGET_P95_MS = 300.0


class Panel:
    """One connected SSE client; resolves a future when a message.created for a user arrives."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str):
        self.session, self.url, self.token = session, url, token
        self.waiting: dict[str, asyncio.Future] = {}
        self.ready = asyncio.Event()
        self.events = 0

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with self.session.get(self.url, headers={"Authorization": f"Bearer {self.token}"},
                                    timeout=timeout) as resp:
            resp.raise_for_status()
            loop = asyncio.get_running_loop()
            async for raw in resp.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: hello"):
                    self.ready.set()
                if not line.startswith("data: "):
                    continue
                try:
                    data = json.loads(line[6:])
                except ValueError:
                    continue
                self.events += 1
                if data.get("type") == "message.created":
                    future = self.waiting.pop(data.get("line_user_id"), None)
                    if future is not None and not future.done():
                        future.set_result(loop.time())


async def scenario(base: str, *, samples: int, panels: int, background_rate: float,
                   factory: EventFactory, spacing: float) -> dict:
    hook = base + "/line/webhook"
    token = common.panel_token(lifetime=300)
    connector = aiohttp.TCPConnector(limit=200)
    latencies, per_panel, misses = [], [], 0
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = [Panel(session, base + "/api/v1/stream", token) for _ in range(panels)]
        readers = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), timeout=20)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        background_users = [factory.user(100_000 + i) for i in range(500)]
        rng = random.Random(3)

        async def post_once(body: bytes) -> None:
            try:
                async with session.post(hook, data=body, headers=signed(body)) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                pass

        async def background() -> None:
            """Open-loop webhook traffic from other customers while the samples are measured."""
            if background_rate <= 0:
                return
            t0, i = loop.time(), 0
            pending: set[asyncio.Task] = set()
            while not stop.is_set():
                i += 1
                await asyncio.sleep(max(0.0, t0 + i / background_rate - loop.time()))
                body = webhook_body([factory.text(rng.choice(background_users), f"背景訊息 {i}")])
                task = asyncio.create_task(post_once(body))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending, return_exceptions=True)

        noise = asyncio.create_task(background())
        await asyncio.sleep(1.0 if background_rate else 0.1)
        for i in range(samples):
            user = factory.user(i % 40)
            futures = []
            for c in clients:
                f = loop.create_future()
                c.waiting[user] = f
                futures.append(f)
            body = webhook_body([factory.text(user, f"在嗎？第 {i} 則")])
            started = loop.time()
            async with session.post(hook, data=body, headers=signed(body)) as resp:
                await resp.read()
            try:
                arrived = await asyncio.wait_for(asyncio.gather(*futures), timeout=5)
                times = [(t - started) * 1000 for t in arrived]
                latencies.append(max(times))
                per_panel.extend(times)
            except asyncio.TimeoutError:
                misses += 1
                for c in clients:
                    c.waiting.pop(user, None)
            await asyncio.sleep(spacing)
        stop.set()
        await noise
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return {"slowest_panel": latencies, "every_panel": per_panel, "misses": misses}


def run(db: str, *, quick: bool) -> dict:
    factory = EventFactory()
    samples = 40 if quick else 300
    panels = 3 if quick else 5
    out = {"db": db, "panels": panels, "samples": samples, "scenarios": []}
    with common.fresh_store(db, "live") as url:
        with common.line_emulator() as emu, \
                common.Sidecar(url, line_api_base=emu.base_url, log_name=f"live-{db}") as sidecar:
            for label, rate in (("idle", 0.0), ("with 100 deliveries/s background", 100.0)):
                load = common.loadavg()
                res = asyncio.run(scenario(sidecar.base_url, samples=samples, panels=panels,
                                           background_rate=rate, factory=factory, spacing=0.05))
                slow = Summary.of(res["slowest_panel"])
                every = Summary.of(res["every_panel"])
                ok = res["misses"] == 0 and slow.p95 <= TARGET_P95_MS
                out["scenarios"].append({"scenario": label, "slowest_panel_ms": slow.as_dict(),
                                         "every_panel_ms": every.as_dict(), "misses": res["misses"],
                                         "loadavg_1m_before": load, "target_p95_ms": TARGET_P95_MS,
                                         "pass": ok})
                print(f"[{db}] {label}: slowest of {panels} panels {slow.line()}; every panel "
                      f"p95={every.p95:.1f}ms; missed {res['misses']} -> {verdict(ok)} "
                      f"(target p95 <= {TARGET_P95_MS:.0f} ms); load {load}")
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = {"machine": common.machine(), "runs": []}
    for db in dbs:
        if db == "postgresql" and not common.pg_available():
            print("[postgresql] not reachable; skipped")
            continue
        results["runs"].append(run(db, quick=args.quick))
    previous = common.BENCH_DIR / "live_stream.json"
    if args.db != "both" and previous.exists():
        import json
        old = json.loads(previous.read_text())
        results["runs"] = [r for r in old.get("runs", []) if r["db"] != args.db] + results["runs"]
    common.report(results, "live_stream")
    return results


if __name__ == "__main__":
    main()
