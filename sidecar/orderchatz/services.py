"""Builds the sidecar's services from a Config; shared by the web app, the worker and the CLI."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import redis
from rq import Queue

from .config import Config
from .gateways.line import LineGateway
from .live import LiveBus
from .store.db import Store


class RedisBreaker:
    """After a Redis failure, skip Redis for a few seconds instead of waiting on it again.

    The webhook must answer LINE within 2 s; a Redis that accepts connections but never answers
    would otherwise cost a full socket timeout for every enqueue and publish of a delivery.
    """

    def __init__(self, cool_off: float = 5.0):
        self.cool_off = cool_off
        self._down_until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._down_until

    def tripped(self) -> None:
        self._down_until = time.monotonic() + self.cool_off

    def reset(self) -> None:
        self._down_until = 0.0


@dataclass
class Services:
    config: Config
    store: Store

    @classmethod
    def build(cls, config: Config) -> "Services":
        return cls(config=config, store=Store(config.database_url))

    @cached_property
    def redis(self) -> redis.Redis:
        # Short timeouts: the webhook must still answer LINE fast when Redis is down.
        return redis.Redis.from_url(self.config.redis_url, socket_connect_timeout=0.5,
                                    socket_timeout=1.0, health_check_interval=30)

    @cached_property
    def redis_breaker(self) -> RedisBreaker:
        return RedisBreaker()

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.config.redis_namespace, connection=self.redis, default_timeout=120)

    @cached_property
    def live(self) -> LiveBus:
        return LiveBus(self.redis, self.redis_breaker, stream=f"{self.config.redis_namespace}:live")

    @cached_property
    def line(self) -> LineGateway:
        return LineGateway(self.config.line_channel_access_token,
                           api_base=self.config.line_api_base, timeout=self.config.line_timeout)

    @cached_property
    def woo(self):
        from .gateways.woo import WooClient
        c = self.config
        # The plugin skips forwarding notes added by requests carrying this header (no echo).
        return WooClient(c.wc_url, c.wc_consumer_key, c.wc_consumer_secret,
                         read_timeout=c.wc_timeout, oauth_site_url=c.wc_site_url or None,
                         extra_headers={"X-OrderChatz-Origin": "sidecar"})

    @property
    def media_dir(self) -> Path:
        path = Path(self.config.media_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        self.store.dispose()
        if "line" in self.__dict__:
            self.line.close()
        if "woo" in self.__dict__:
            self.woo.close()
        if "redis" in self.__dict__:
            self.redis.close()
