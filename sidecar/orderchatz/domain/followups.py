"""The transactional outbox: follow-up jobs recorded with the data, enqueued after commit.

A webhook or an API call writes `Outbox` rows in its own transaction; once committed it tries to
enqueue them into RQ. When Redis is down the rows simply wait and the worker's sweeper enqueues
them later; when Redis lost a queued job (a restart without persistence) the sweeper sees the row
is not done and the job no longer exists, and enqueues it again. So nothing is lost and nothing
runs before its data is durable. Job ids are derived from the row, and every job is idempotent,
so enqueuing twice is harmless.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import redis
from rq import Retry
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..store.models import Outbox, utcnow

log = logging.getLogger(__name__)

# job name → (function path, retry policy). Backoff in seconds; RQ's scheduler runs the retries.
JOBS = {
    "send": ("orderchatz.jobs.send_message", Retry(max=6, interval=[2, 5, 15, 60, 180, 600])),
    "profile": ("orderchatz.jobs.refresh_profile", Retry(max=3, interval=[10, 60, 300])),
    "media": ("orderchatz.jobs.download_media", Retry(max=4, interval=[5, 30, 120, 600])),
    "wp_event": ("orderchatz.jobs.process_wp_event", Retry(max=6, interval=[2, 10, 30, 120, 600, 1800])),
}


_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def job_id(row: Outbox) -> str:
    return _JOB_ID_UNSAFE.sub("_", f"{row.job}-{row.ref}-{row.id}")


def add_followup(session: Session, job: str, ref: str) -> Outbox:
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    row = Outbox(job=job, ref=str(ref))
    session.add(row)
    return row


def enqueue_followups(svc, rows: list[Outbox]) -> int:
    """Enqueue committed outbox rows; returns how many reached Redis."""
    if not rows or svc.redis_breaker.open:
        return 0
    done = []
    try:
        pipe = svc.redis.pipeline()
        for row in rows:
            func, retry = JOBS[row.job]
            svc.queue.enqueue(func, row.ref, row.id, job_id=job_id(row),
                              retry=retry, pipeline=pipe, failure_ttl=7 * 86400)
            done.append(row.id)
        pipe.execute()
    except redis.RedisError as exc:
        svc.redis_breaker.tripped()
        log.warning("follow-up jobs left for the sweeper: %s", exc.__class__.__name__)
        return 0
    with svc.store.session() as s:
        s.execute(update(Outbox).where(Outbox.id.in_(done)).values(enqueued_at=utcnow()))
    return len(done)


def mark_done(svc, outbox_id: int | None) -> None:
    if outbox_id is not None:
        with svc.store.session() as s:
            s.execute(update(Outbox).where(Outbox.id == int(outbox_id)).values(done_at=utcnow()))


def sweep_outbox(svc, *, min_age: float = 5.0, lost_after: float = 60.0, limit: int = 500) -> int:
    """Enqueue rows that never reached Redis, or whose job Redis no longer has."""
    now = utcnow()
    with svc.store.session() as s:
        never = list(s.scalars(select(Outbox).where(Outbox.done_at.is_(None), Outbox.enqueued_at.is_(None),
                                                    Outbox.created_at <= now - timedelta(seconds=min_age))
                               .order_by(Outbox.id).limit(limit)))
        waiting = list(s.scalars(select(Outbox).where(
            Outbox.done_at.is_(None),
            Outbox.enqueued_at <= now - timedelta(seconds=lost_after)).order_by(Outbox.id).limit(limit)))
        s.execute(delete(Outbox).where(Outbox.done_at < now - timedelta(days=2)))
    lost = []
    if waiting:
        pipe = svc.redis.pipeline()
        for row in waiting:
            pipe.exists(f"rq:job:{job_id(row)}")
        lost = [row for row, exists in zip(waiting, pipe.execute()) if not exists]
        if lost:
            log.warning("re-enqueuing %d follow-up jobs Redis no longer has", len(lost))
    return enqueue_followups(svc, never + lost)
