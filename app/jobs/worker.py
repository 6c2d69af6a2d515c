"""arq worker: settings, cron schedule and thin job functions that call services.

Cron only triggers; state lives in PostgreSQL, so a missed or repeated run does no harm.
"""

from __future__ import annotations

import ast
import copy
import logging
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
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 300
    keep_result = 3600


def _idle(result: str) -> bool:
    """Whether a job's logged result (arq's repr) says it found nothing to do: None, 0, empty, or all counts 0."""
    if not result.strip():  # arq logs a job that returned None with an empty result
        return True
    try:
        value = ast.literal_eval(result)
    except (ValueError, SyntaxError):
        return False
    if isinstance(value, dict):
        return all(v == 0 for v in value.values())
    return not value


class QuietCron(logging.Filter):
    """arq logs every cron tick twice (start, end) — a line every few seconds. Keep only the end of cron jobs that
    did something; the heartbeat (`health_check`) only when it fails (arq logs failures with another symbol)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) < 2 or not str(args[1]).startswith("cron:"):
            return True
        if "→" in str(record.msg):
            return False
        if "←" in str(record.msg):
            return "health_check" not in str(args[1]) and not (len(args) > 2 and _idle(str(args[2])))
        return True


def quiet_cron_logs() -> None:
    """Install `QuietCron` on arq's worker logger once (every worker in the process shares the logger)."""
    logger = logging.getLogger("arq.worker")
    if not any(isinstance(f, QuietCron) for f in logger.filters):
        logger.addFilter(QuietCron())


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
    quiet_cron_logs()
    return create_worker(WorkerSettings, **options)
