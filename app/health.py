"""Liveness of the parts Kudos depends on: PostgreSQL, Redis and the arq worker's heartbeat."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

import app.db as db

HEARTBEAT_KEY = "kudos:worker:heartbeat"
HEARTBEAT_STALE_SECONDS = 180


async def record_heartbeat(redis: Redis) -> float:
    now = time.time()
    await redis.set(HEARTBEAT_KEY, str(now), ex=24 * 3600)
    return now


async def check_health(redis: Redis) -> dict[str, Any]:
    """`ok` when PostgreSQL and Redis answer; the worker's last heartbeat is reported, not required."""
    report: dict[str, Any] = {"database": False, "redis": False, "worker_last_seen_seconds_ago": None}
    engine = db.engine()
    with contextlib.suppress(Exception):
        await engine.run_ddl("SELECT 1")
        report["database"] = True
    with contextlib.suppress(RedisError, OSError):
        beat = await redis.get(HEARTBEAT_KEY)
        report["redis"] = True
        if beat is not None:
            report["worker_last_seen_seconds_ago"] = round(time.time() - float(beat))
    last = report["worker_last_seen_seconds_ago"]
    report["worker"] = last is not None and last <= HEARTBEAT_STALE_SECONDS
    report["ok"] = report["database"] and report["redis"]
    return report
