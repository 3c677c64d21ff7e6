"""Short-lived Redis cache of a bound customer's panel data (info + all orders).

Keyed by the binding's identity so an order event for that customer can drop it; Redis being down
only means every panel open goes to WooCommerce.
"""
from __future__ import annotations

import json
import logging

import redis

from .customers import normalize_phone

log = logging.getLogger(__name__)

PREFIX = "customer:"  # under the install's Redis namespace


def cache_key(*, customer_id=None, email=None, phone=None) -> str:
    if customer_id:
        return f"{PREFIX}id:{int(customer_id)}"
    if email:
        return f"{PREFIX}email:{email.strip().lower()}"
    return f"{PREFIX}phone:{normalize_phone(phone) or phone}"


def _ns(svc, key: str) -> str:
    return f"{svc.config.redis_namespace}:{key}"


def get(svc, key: str) -> dict | None:
    try:
        raw = svc.redis.get(_ns(svc, key))
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


def put(svc, key: str, value: dict, ttl: int) -> None:
    try:
        svc.redis.set(_ns(svc, key), json.dumps(value, ensure_ascii=False), ex=ttl)
    except redis.RedisError as exc:
        log.info("customer cache not written: %s", exc.__class__.__name__)


def invalidate(svc, *, customer_id=None, email=None, phone=None) -> None:
    keys = []
    if customer_id:
        keys.append(cache_key(customer_id=customer_id))
    if email:
        keys.append(cache_key(email=email))
    if phone and normalize_phone(phone):
        keys.append(cache_key(phone=phone))
    if not keys:
        return
    try:
        # Panel copies are kept per order-storage mode (their edit links differ); stale copies
        # stay, so a later outage still has something to show.
        svc.redis.delete(*(_ns(svc, f"{k}:{mode}") for k in keys for mode in ("hpos", "cpt")))
    except redis.RedisError as exc:
        log.info("customer cache not invalidated: %s", exc.__class__.__name__)
