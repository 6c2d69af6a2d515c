"""Liveness of the parts Kudos depends on: PostgreSQL, Redis and the arq worker's heartbeat."""

from __future__ import annotations

import contextlib
import time

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

import app.db as db

HEARTBEAT_KEY = "kudos:worker:heartbeat"
HEARTBEAT_STALE_SECONDS = 180


async def record_heartbeat(redis: Redis) -> float:
    now = time.time()
    await redis.set(HEARTBEAT_KEY, str(now), ex=24 * 3600)
    return now


class Health(msgspec.Struct, frozen=True):
    """What /healthz answers (in this field order) and the admin overview shows."""

    database: bool
    redis: bool
    worker_last_seen_seconds_ago: int | None
    worker: bool  # its heartbeat is recent
    ok: bool  # PostgreSQL and Redis answer


async def check_health(redis: Redis) -> Health:
    """`ok` when PostgreSQL and Redis answer; the worker's last heartbeat is reported, not required."""
    database = answering = False
    last: int | None = None
    engine = db.engine()
    with contextlib.suppress(Exception):
        await engine.run_ddl("SELECT 1")
        database = True
    with contextlib.suppress(RedisError, OSError):
        beat = await redis.get(HEARTBEAT_KEY)
        answering = True
        if beat is not None:
            last = round(time.time() - float(beat))
    worker = last is not None and last <= HEARTBEAT_STALE_SECONDS
    return Health(database, answering, last, worker, database and answering)
