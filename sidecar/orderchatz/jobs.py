"""RQ job entry points. They take ids, call use cases, and let exceptions escape so RQ retries.

The worker process builds its services once from the environment (`use_services` lets tests and
the sandbox hand in their own).
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from rq import get_current_job
from sqlalchemy import select

from .config import Config
from .services import Services

log = logging.getLogger(__name__)

_services: Services | None = None
_lock = threading.Lock()


def use_services(svc: Services | None) -> None:
    global _services
    _services = svc


def services() -> Services:
    global _services
    with _lock:
        if _services is None:
            _services = Services.build(Config.from_env())
        return _services


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _message_id(ref: str) -> int:
    return int(str(ref).split(":", 1)[0])


def _run(outbox_id, work) -> str:
    """Run a use case; its outbox row is done when it finishes, or when the last retry fails
    (the failure stays in RQ's failed registry; the sweeper must not run it again)."""
    from .domain.followups import mark_done
    last = _last_attempt()
    try:
        result = work(last)
    except Exception:
        if last:
            mark_done(services(), outbox_id)
        raise
    mark_done(services(), outbox_id)
    return result


def send_message(ref: str, outbox_id: int | None = None) -> str:
    from .domain.outbound import send_outbound_message
    return _run(outbox_id, lambda last: send_outbound_message(services(), _message_id(ref),
                                                              last_attempt=last))


def refresh_profile(ref: str, outbox_id: int | None = None) -> str:
    from .domain.friends import refresh_friend_profile
    return _run(outbox_id, lambda last: refresh_friend_profile(services(), str(ref).split(":", 1)[0]))


def download_media(ref: str, outbox_id: int | None = None) -> str:
    from .domain.media import download_message_media
    return _run(outbox_id, lambda last: download_message_media(services(), _message_id(ref),
                                                               last_attempt=last))


def process_wp_event(ref: str, outbox_id: int | None = None) -> str:
    from .domain.order_events import deliver_wp_event
    return _run(outbox_id, lambda last: deliver_wp_event(services(), int(ref), last_attempt=last))


def sweep(svc: Services) -> int:
    """Enqueue what never reached Redis, and re-drive sends a killed worker left mid-flight."""
    from .domain.followups import add_followup, enqueue_followups, sweep_outbox
    from .store.models import Message, Outbox, utcnow

    count = sweep_outbox(svc)
    cutoff = utcnow() - timedelta(minutes=3)
    with svc.store.session() as s:
        # A send takes seconds; one "sending" for minutes lost its worker mid-flight.
        stuck = list(s.scalars(select(Message).where(Message.direction == "out",
                                                     Message.status == "sending",
                                                     Message.attempted_at < cutoff).limit(100)))
        refs = {f"{m.id}:stuck{m.attempts}" for m in stuck}
        known = set(s.scalars(select(Outbox.ref).where(Outbox.job == "send", Outbox.ref.in_(refs)))) \
            if refs else set()
        rows = [add_followup(s, "send", ref) for ref in sorted(refs - known)]
    if rows:
        try:
            count += enqueue_followups(svc, rows)
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.exception("could not re-drive stuck sends")
    return count


def run_sweeper(svc: Services, stop: threading.Event, interval: float = 5.0) -> None:
    while not stop.wait(interval):
        try:
            sweep(svc)
        except Exception:  # noqa: BLE001 - a DB or Redis blip must not kill the sweeper
            log.exception("outbox sweep failed")
