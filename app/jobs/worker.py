"""arq worker: settings, cron schedule and thin job functions that call services.

Cron only triggers; state lives in PostgreSQL, so a missed or repeated run does no harm.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from arq import Retry, cron
from arq.connections import RedisSettings
from arq.worker import Worker, create_worker, func
from piccolo.engine import engine_finder

from app.admin import imports
from app.api import webhooks
from app.awards import services as awards
from app.db import close_pool, start_pool
from app.digests import delivery as digest_delivery
from app.digests import services as digests
from app.insights import detection as insights_detection
from app.insights import rollups as insights_rollups
from app.jobs.outbox import drain
from app.mail.backends import get_backend
from app.settings import get_settings
from app.web.health import record_heartbeat


async def health_check(ctx: dict[str, Any]) -> dict[str, Any]:
    """Prove the worker reaches PostgreSQL and Redis; records the heartbeat shown on /admin."""
    started = time.perf_counter()
    await engine_finder().run_ddl("SELECT 1")
    beat = await record_heartbeat(ctx["redis"])
    return {"ok": True, "at": beat, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


async def drain_outbox(ctx: dict[str, Any]) -> int:
    """Hand jobs recorded in the outbox table to arq (catches those the web process could not enqueue)."""
    return await drain(ctx["redis"])


async def deliver_webhook(ctx: dict[str, Any], delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failure is retried by arq after the delivery's backoff."""
    attempt = await webhooks.deliver(delivery_id)
    if attempt.retry_in is not None:
        raise Retry(defer=attempt.retry_in)
    return attempt.status


async def open_award_cycle(ctx: dict[str, Any]) -> int | None:
    """Open the cycle for the month just ended once its nomination window begins (idempotent)."""
    return await awards.open_due_cycle()


async def send_nomination_reminders(ctx: dict[str, Any]) -> int:
    """One reminder a day before the deadline to each manager who has not nominated (recorded per manager)."""
    return await awards.send_due_reminders()


async def close_award_cycles(ctx: dict[str, Any]) -> list[int]:
    """Close nominations whose deadline has passed (idempotent)."""
    return await awards.close_due_cycles()


AWARD_TICKS = set(range(0, 60, 5))  # the award calendar is checked every five minutes and at start-up


async def run_import(ctx: dict[str, Any], import_id: int) -> str:
    """Apply a CSV import of people or departments (app/admin/imports.py); resumes after its last batch."""
    return await imports.run(import_id)


async def schedule_digests(ctx: dict[str, Any]) -> str | None:
    """On the 1st at KUDOS_DIGEST_TIME, and at every worker start: start last month's digests once due."""
    started = await digests.run_due()
    return None if started is None else f"{started.month:%Y-%m}: {started.planned}"


async def deliver_digests(ctx: dict[str, Any]) -> dict[str, int]:
    """Send due digests over this worker's mail connection until none is left (queued by a run, and every minute
    for retries and for digests a stopped worker had claimed)."""
    outcome = await digest_delivery.deliver(ctx["mail"])
    return {"sent": outcome.sent, "failed": outcome.failed, "skipped": outcome.skipped}


async def detect_collusion(ctx: dict[str, Any], run_id: int) -> int | None:
    """Collusion detection for one on-demand run (app/insights/detection.py); a finished run is left alone."""
    return await insights_detection.execute_run(run_id)


async def nightly_insights(ctx: dict[str, Any]) -> int | None:
    """Every night and at worker start: on-demand runs whose job was lost; then, unless a nightly run is less than
    NIGHTLY_EVERY old, collusion detection over the last 90 days and the insights rollups for 13 months."""
    for run_id in await insights_detection.pending_runs():
        await insights_detection.execute_run(run_id)
    if not await insights_detection.nightly_due():
        return None
    found = await insights_detection.run_nightly()
    await insights_rollups.refresh_year()
    return found


async def refresh_insights(ctx: dict[str, Any]) -> None:
    """Keep the insights rollups (service map flows, departments' participation and equity) of the current
    periods within ten minutes of the ledger."""
    await insights_rollups.refresh_recent()


async def startup(ctx: dict[str, Any]) -> None:
    # Inside `kudos serve` the web app's lifespan already opened the pool: share it.
    ctx["owns_pool"] = engine_finder().pool is None
    if ctx["owns_pool"]:
        await start_pool(max_size=5)
    ctx["mail"] = get_backend(get_settings())  # one mail connection per worker, shared by its jobs


async def shutdown(ctx: dict[str, Any]) -> None:
    if "mail" in ctx:
        await ctx["mail"].close()
    if ctx.get("owns_pool"):
        await close_pool()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if url is None:
        raise RuntimeError("REDIS_URL is not set")
    return RedisSettings.from_dsn(url)


class WorkerSettings:
    functions = [
        health_check,
        drain_outbox,
        func(deliver_webhook, max_tries=webhooks.MAX_ATTEMPTS),
        open_award_cycle,
        send_nomination_reminders,
        close_award_cycles,
        run_import,
        schedule_digests,
        # A delivery job sends until the queue is empty: a 10,000-person run takes minutes, not the default 300 s.
        func(deliver_digests, timeout=3600),
        func(detect_collusion, timeout=1800),
        func(nightly_insights, timeout=3600),
        refresh_insights,
    ]
    cron_jobs = [
        cron(health_check, second=0, run_at_startup=True, unique=True),
        cron(drain_outbox, second=set(range(0, 60, 10)), unique=True),
        cron(open_award_cycle, minute=AWARD_TICKS, second=0, run_at_startup=True, unique=True),
        cron(send_nomination_reminders, minute=AWARD_TICKS, second=20, run_at_startup=True, unique=True),
        cron(close_award_cycles, minute=AWARD_TICKS, second=40, run_at_startup=True, unique=True),
        cron(
            schedule_digests,
            day=1,
            hour=get_settings().digest_time.hour,
            minute=get_settings().digest_time.minute,
            second=0,
            run_at_startup=True,
            unique=True,
        ),
        cron(deliver_digests, second=30, run_at_startup=True, unique=True, timeout=3600),
        cron(nightly_insights, hour=2, minute=30, second=0, run_at_startup=True, unique=True, timeout=3600),
        cron(refresh_insights, minute=set(range(5, 60, 10)), second=10, run_at_startup=True, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 300
    keep_result = 3600


def build_worker(**overrides: Any) -> Worker:
    """An arq Worker for WorkerSettings, connected to the configured Redis, in the organisation's time zone."""
    options: dict[str, Any] = {
        "redis_settings": redis_settings(),
        "timezone": get_settings().tz,
        # arq keeps each cron job's next run on the CronJob object: every worker needs its own copies, or a second
        # worker in the same process (tests, tools) would skip the run-at-startup jobs the first one already ran.
        "cron_jobs": [copy.copy(job) for job in WorkerSettings.cron_jobs],
    }
    options.update(overrides)
    return create_worker(WorkerSettings, **options)
