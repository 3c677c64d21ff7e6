"""The bound customer beside the chat: info and every order, cached briefly, degraded gracefully.

A fresh copy lives `customer_cache_ttl` seconds; a stale copy a day. When WooCommerce is slow or
down the answer comes within `PANEL_DEADLINE` with the stale copy (status "stale") or with
nothing (status "unavailable"); the lookup keeps running and refreshes the cache when it lands.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from sqlalchemy import select

from ..gateways.woo import WooError, WooNotFound
from ..store.models import Binding
from . import customer_cache
from .conversations import friend_or_404
from .customers import CustomerRef, context_to_dict, load_customer_context

log = logging.getLogger(__name__)

PANEL_DEADLINE = 2.5
STALE_TTL = 86_400
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="customer-panel")
_inflight: dict[str, object] = {}
_inflight_lock = threading.Lock()


def _ref_for(svc, line_user_id: str) -> CustomerRef | None:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        b = s.scalar(select(Binding).where(Binding.friend_id == friend.id))
        if b is None:
            return None
        return CustomerRef(customer_id=b.customer_id, email=b.email, phone=b.phone)


def context_json(ctx) -> dict:
    data = context_to_dict(ctx)
    data.pop("ref", None)
    return {"orders": data.pop("orders"), "customer": data}


def _fetch(svc, ref: CustomerRef, key: str, *, admin_url: str, hpos: bool) -> dict:
    ctx = load_customer_context(svc.woo, ref, admin_url=admin_url, hpos=hpos)
    value = {**context_json(ctx), "fetched_at": time.time()}
    customer_cache.put(svc, key, value, svc.config.customer_cache_ttl)
    customer_cache.put(svc, key + ":stale", value, STALE_TTL)
    return value


def customer_panel(svc, line_user_id: str, *, admin_url: str, hpos: bool,
                   refresh: bool = False) -> dict:
    ref = _ref_for(svc, line_user_id)
    if ref is None:
        return {"status": "unbound", "customer": None, "orders": []}
    key = customer_cache.cache_key(customer_id=ref.customer_id, email=ref.email, phone=ref.phone)
    key = f"{key}:{'hpos' if hpos else 'cpt'}"
    if not refresh:
        cached = customer_cache.get(svc, key)
        if cached is not None:
            return {"status": "ok", "cached": True, **cached}
    with _inflight_lock:
        for done in [k for k, f in _inflight.items() if f.done()]:
            del _inflight[done]
        future = _inflight.get(key)
        if future is None:
            future = _pool.submit(_fetch, svc, ref, key, admin_url=admin_url, hpos=hpos)
            _inflight[key] = future
    try:
        return {"status": "ok", "cached": False, **future.result(timeout=PANEL_DEADLINE)}
    except FutureTimeout:
        reason = "WooCommerce 回應緩慢（the shop is slow to answer）"
    except WooNotFound:
        reason = "找不到此會員（customer not found in WooCommerce）"
    except WooError as exc:
        reason = f"WooCommerce 無法連線（{exc.__class__.__name__}）"
        log.warning("customer panel degraded: %s", exc.__class__.__name__)
    stale = customer_cache.get(svc, key + ":stale")
    if stale is not None:
        return {"status": "stale", "message": reason, "cached": True, **stale}
    return {"status": "unavailable", "message": reason, "customer": None, "orders": []}
