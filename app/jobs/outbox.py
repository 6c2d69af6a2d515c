"""Enqueue jobs transactionally: write an outbox row inside the caller's transaction, hand it to arq after commit.

An insert into `job_outbox` notifies the channel `job_outbox` (a trigger; PostgreSQL delivers it when the
transaction commits, and not at all when it rolls back). The workers listen (`listen()`, started by the worker)
and `drain()` at once, so a web request never talks to Redis or reads the outbox back; the worker's drain every
few seconds catches what a notification missed (no worker listening, Redis down), so a job decided while Redis
was down is enqueued once Redis is back.

Rows holding a published domain event (`EVENT_ROWS`) are handed over together: one arq job `HANDLE_EVENTS_JOB`
per drained batch runs them all (app/events.py, `run_rows`), each handler once per event. Every other row is one
arq job whose id is derived from the row id, so it is never enqueued twice even if marking it fails after the
enqueue; a job recorded `one_at_a_time` has its name as id instead, so a stream of them makes one job, not one
each.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from arq.connections import ArqRedis
from redis.exceptions import RedisError

import app.db as db
from app.jobs.tables import JobOutbox

log = logging.getLogger("kudos.jobs")

CHANNEL = "job_outbox"  # notified by the trigger of migration jobs_2026_12_07t19_10
EVENT_ROWS = "handle_event"  # outbox rows that each hold one published event and the names of its stored handlers
HANDLE_EVENTS_JOB = "handle_events"  # the arq job that runs a batch of them
LISTEN_RETRY_SECONDS = 1.0
# After a wake-up, let the commits of the next half second land, so one drain hands them over as one batch: a
# reaction comes at most that much later, and under load the batches are big enough for the worker to keep up.
GATHER_SECONDS = 0.5
AHEAD = timedelta(hours=1)  # how far ahead of the queue's other jobs event batches are put
EVENTS_EXPIRE = timedelta(days=1)  # as arq's default: a batch not started by then is left to the sweeper


_ADD_SQL = "INSERT INTO job_outbox (function, kwargs, created_at) VALUES ({}, {}::jsonb, {})"


def one_at_a_time(function: str) -> dict[str, str]:
    """`add_job` options for a job of which one queued or running is enough (it works until nothing is left):
    its arq id is its name, so arq refuses another while one waits or runs. The worker registers it without a
    kept result, so the name is free again once it ends; what was recorded in the moment it was ending is left to
    its cron run."""
    return {"_job_id": function}


async def add_job(function: str, **kwargs: Any) -> None:
    """Record a job to run once the surrounding transaction commits (call it inside that transaction); an arq
    option such as `_job_id` may be among `kwargs` (see `one_at_a_time`)."""
    await JobOutbox.raw(_ADD_SQL, function, msgspec.json.encode(kwargs).decode(), datetime.now(UTC))


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
            if events := [row["id"] for row in rows if row["function"] == EVENT_ROWS]:
                # ahead of the queue: arq starts the job due earliest first, so a batch "due" AHEAD ago comes before
                # a backlog of webhook deliveries (arq's own idiom for priority; its expiry is set to match)
                await redis.enqueue_job(
                    HANDLE_EVENTS_JOB,
                    row_ids=events,
                    _defer_until=datetime.now(UTC) - AHEAD,
                    _expires=AHEAD + EVENTS_EXPIRE,
                )
            for row in rows:
                if row["function"] != EVENT_ROWS:
                    kwargs = json.loads(row["kwargs"]) if isinstance(row["kwargs"], str) else row["kwargs"]
                    kwargs.setdefault("_job_id", f"outbox-{row['id']}")  # unless the job names its own (ONE_AT_A_TIME)
                    await redis.enqueue_job(row["function"], **kwargs)
            await JobOutbox.update({JobOutbox.enqueued_at: datetime.now(UTC)}).where(
                JobOutbox.id.is_in([row["id"] for row in rows])
            )
            handed += len(rows)
        if len(rows) < batch:
            return handed


async def listen(dsn: str, redis: ArqRedis) -> None:
    """Until cancelled: drain the outbox whenever a transaction that added rows commits. Reconnects after losing
    PostgreSQL; a failed drain (Redis down) is left to the next wake-up or the worker's periodic drain."""
    wake = asyncio.Event()
    while True:
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(dsn)
            await connection.add_listener(CHANNEL, lambda *_: wake.set())
            wake.set()  # what was added while nobody listened
            while not connection.is_closed():
                try:
                    await asyncio.wait_for(wake.wait(), LISTEN_RETRY_SECONDS)
                except TimeoutError:
                    continue  # only to notice a closed connection
                await asyncio.sleep(GATHER_SECONDS)
                wake.clear()
                await drain(redis)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, RedisError) as exc:
            log.warning("outbox listener: %s: %s; trying again", type(exc).__name__, exc)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)
        finally:
            if connection is not None and not connection.is_closed():
                await connection.close()
