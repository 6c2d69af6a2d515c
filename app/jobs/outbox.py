"""Enqueue jobs transactionally: write an outbox row inside the caller's transaction, hand it to arq after commit.

`drain()` runs after a commit in the web process and every few seconds in the worker, so a job decided
while Redis was down is enqueued once Redis is back. The arq job id is derived from the row id, so an
outbox row is never enqueued twice even if marking it fails after the enqueue.
"""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

import app.db as db
from app.jobs.tables import JobOutbox

# Set when this request (or task) recorded a job, so the web layer hands it to arq once the request is answered.
_added: ContextVar[bool] = ContextVar("kudos_outbox_added", default=False)


async def add_job(function: str, **kwargs: Any) -> None:
    """Record a job to run once the surrounding transaction commits (call it inside that transaction)."""
    await JobOutbox.insert(JobOutbox(function=function, kwargs=kwargs, created_at=datetime.now(UTC)))
    _added.set(True)


async def drain(redis: ArqRedis, *, batch: int = 100) -> int:
    """Enqueue pending outbox rows to arq; returns how many were handed over."""
    handed = 0
    while True:
        async with db.transaction():
            rows = (
                await JobOutbox.select(JobOutbox.id, JobOutbox.function, JobOutbox.kwargs)
                .where(JobOutbox.enqueued_at.is_null())
                .order_by(JobOutbox.id)
                .limit(batch)
                .lock_rows("UPDATE", skip_locked=True)
            )
            if not rows:
                return handed
            for row in rows:
                kwargs = json.loads(row["kwargs"]) if isinstance(row["kwargs"], str) else row["kwargs"]
                await redis.enqueue_job(row["function"], _job_id=f"outbox-{row['id']}", **kwargs)
            await JobOutbox.update({JobOutbox.enqueued_at: datetime.now(UTC)}).where(
                JobOutbox.id.is_in([row["id"] for row in rows])
            )
            handed += len(rows)
        if len(rows) < batch:
            return handed


async def hand_over_added(redis: Redis) -> None:
    """After a web request: when it recorded jobs (a domain event's handlers, an import, a detection run), enqueue
    them now instead of at the worker's next drain. When Redis is down nothing is lost; the worker's drain hands
    them over later. A request that added none costs nothing."""
    if not _added.get():
        return
    _added.set(False)
    with contextlib.suppress(RedisError, OSError):
        await drain(ArqRedis(connection_pool=redis.connection_pool))
