"""Live updates for connected panels, over a Redis stream.

A stream (not plain pub/sub) so a panel that reconnects with `Last-Event-ID` catches up on what
it missed while the connection was down, within the retained window.
"""
from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)

RETAIN = 20_000


class LiveBus:
    def __init__(self, client: redis.Redis, breaker=None, *, stream: str = "orderchatz:live"):
        self._redis = client
        self._breaker = breaker
        self.stream = stream

    def publish(self, event: dict) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict]) -> None:
        """Updates in one Redis round trip. Best effort: a Redis outage must never fail the write
        that caused them; panels catch up by re-reading the API after a reconnect, so a dropped
        update is a delay, not a loss."""
        if not events or (self._breaker is not None and self._breaker.open):
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for event in events:
                pipe.xadd(self.stream, {"data": json.dumps(event, ensure_ascii=False)},
                          maxlen=RETAIN, approximate=True)
            pipe.execute()
        except redis.RedisError as exc:
            if self._breaker is not None:
                self._breaker.tripped()
            log.warning("live updates not published: %s", exc.__class__.__name__)

    def last_id(self) -> str:
        entries = self._redis.xrevrange(self.stream, count=1)
        return entries[0][0].decode() if entries else "0-0"

    def read(self, after: str, *, block_ms: int, client: redis.Redis | None = None
             ) -> list[tuple[str, dict]]:
        conn = client or self._redis
        result = conn.xread({self.stream: after}, block=block_ms, count=200)
        out = []
        for _stream, entries in result or ():
            for entry_id, fields in entries:
                try:
                    out.append((entry_id.decode(), json.loads(fields[b"data"])))
                except (KeyError, ValueError):
                    continue
        return out
