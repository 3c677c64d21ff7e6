"""The transactional outbox: follow-up jobs recorded with the data, enqueued after commit.

A webhook or an API call writes `Outbox` rows in its own transaction; once committed it tries to
enqueue them into RQ. A row that is not done a few seconds later is checked by the worker's
sweeper: if Redis has no job for it (Redis was down, or restarted without persistence) it is
enqueued again. So nothing is lost and nothing
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


def job_id(svc, row: Outbox) -> str:
    """RQ job ids are global in Redis: the namespace keeps two installs' row ids apart."""
    return _JOB_ID_UNSAFE.sub("_", f"{svc.config.redis_namespace}-{row.job}-{row.ref}-{row.id}")


def add_followup(session: Session, job: str, ref: str) -> Outbox:
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    row = Outbox(job=job, ref=str(ref))
    session.add(row)
    return row


def enqueue_followups(svc, rows: list[Outbox]) -> int:
    """Enqueue committed outbox rows (anything with .id, .job, .ref); how many reached Redis."""
    if not rows or svc.redis_breaker.open:
        return 0
    try:
        pipe = svc.redis.pipeline()
        for row in rows:
            func, retry = JOBS[row.job]
            svc.queue.enqueue(func, row.ref, row.id, job_id=job_id(svc, row),
                              retry=retry, pipeline=pipe, failure_ttl=7 * 86400)
        pipe.execute()
    except redis.RedisError as exc:
        svc.redis_breaker.tripped()
        log.warning("follow-up jobs left for the sweeper: %s", exc.__class__.__name__)
        return 0
    return len(rows)


def mark_done(svc, outbox_id: int | None) -> None:
    if outbox_id is not None:
        with svc.store.session() as s:
            s.execute(update(Outbox).where(Outbox.id == int(outbox_id)).values(done_at=utcnow()))


def sweep_outbox(svc, *, min_age: float = 5.0, limit: int = 500) -> int:
    """Enqueue the rows not done after `min_age` seconds whose job Redis does not have."""
    now = utcnow()
    with svc.store.session() as s:
        waiting = list(s.scalars(select(Outbox).where(
            Outbox.done_at.is_(None), Outbox.created_at <= now - timedelta(seconds=min_age))
            .order_by(Outbox.id).limit(limit)))
        s.execute(delete(Outbox).where(Outbox.done_at < now - timedelta(days=2)))
    if not waiting:
        return 0
    pipe = svc.redis.pipeline()
    for row in waiting:
        pipe.exists(f"rq:job:{job_id(svc, row)}")
    lost = [row for row, exists in zip(waiting, pipe.execute()) if not exists]
    if not lost:
        return 0
    count = enqueue_followups(svc, lost)
    if count:
        log.warning("enqueued %d follow-up jobs Redis did not have", count)
    return count
