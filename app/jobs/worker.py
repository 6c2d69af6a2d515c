"""arq worker: settings, cron schedule and thin job functions that call services.

Cron only triggers; state lives in PostgreSQL, so a missed or repeated run does no harm. Every job is `durable`:
PostgreSQL unreachable or a dropped connection is a retry a few seconds later, not a failed job, and the job's
in-progress lock in Redis lasts its own timeout (arq would hold every job's for the longest one, an hour).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from arq import Retry, cron
from arq.connections import RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func, get_kwargs
from redis.exceptions import RedisError

import app.db as db
from app.admin.services import imports
from app.api import webhooks
from app.awards import cycles as awards
from app.awards import shortlist, stored
from app.db import UNAVAILABLE, close_pool, start_pool
from app.digests import delivery as digest_delivery
from app.digests import services as digests
from app.handlers import register_all
from app.health import record_heartbeat
from app.insights import rollups as insights_rollups
from app.insights import runs as insights_runs
from app.integrations import deliveries as chat_deliveries
from app.jobs import handling
from app.jobs.handling import run_rows
from app.jobs.outbox import HANDLE_EVENTS_JOB, drain, listen
from app.mail.backends import get_backend
from app.notices import delivery as notice_delivery
from app.notices import services as notices
from app.settings import get_settings
from app.surveys import lifecycle as surveys

log = logging.getLogger("kudos.jobs")

DATABASE_RETRY_SECONDS = 5.0
LOCK_MARGIN_SECONDS = 10  # arq's own margin over a job's timeout
JobFunction = Callable[..., Awaitable[Any]]


def durable(coroutine: JobFunction, *, timeout: float = 300) -> WorkerCoroutine:
    """`coroutine` as a job: its in-progress lock cut to its own timeout, and a database outage a retry."""

    @functools.wraps(coroutine)
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        if "job_id" in ctx:
            lock = in_progress_key_prefix + ctx["job_id"]
            await ctx["redis"].pexpire(lock, int((timeout + LOCK_MARGIN_SECONDS) * 1000))
        try:
            return await coroutine(ctx, *args, **kwargs)
        except UNAVAILABLE as exc:
            log.warning("%s: the database is unavailable (%s); retrying", coroutine.__name__, type(exc).__name__)
            raise Retry(defer=DATABASE_RETRY_SECONDS) from exc

    return run


def job(coroutine: JobFunction, *, timeout: float = 300, **options: Any) -> Function:
    """An arq function for `coroutine`, durable, with its own timeout."""
    return func(durable(coroutine, timeout=timeout), timeout=timeout, **options)


def scheduled(function: Function, **when: Any) -> Any:
    """A cron trigger for a job function, with that function's timeout; one run at a time."""
    return cron(function.coroutine, timeout=function.timeout_s, unique=True, **when)


async def health_check(ctx: dict[str, Any]) -> dict[str, Any]:
    """Prove the worker reaches PostgreSQL and Redis; records the heartbeat shown on /admin."""
    started = time.perf_counter()
    await db.engine().run_ddl("SELECT 1")
    beat = await record_heartbeat(ctx["redis"])
    return {"ok": True, "at": beat, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


async def drain_outbox(ctx: dict[str, Any]) -> int:
    """Hand jobs recorded in the outbox table to arq (catches those the web process could not enqueue)."""
    return await drain(ctx["redis"])


async def deliver_webhook(ctx: dict[str, Any], delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failure is retried by arq after the delivery's backoff (and by the
    sweeper if this job is lost)."""
    attempt = await webhooks.deliver(delivery_id)
    if attempt.retry_in is not None:
        raise Retry(defer=attempt.retry_in)
    return attempt.status


async def deliver_chat(ctx: dict[str, Any], delivery_id: int) -> str:
    """One attempt at a Slack or Teams message (app/integrations/deliveries.py), retried as webhook deliveries are."""
    attempt = await chat_deliveries.deliver(delivery_id)
    if attempt.retry_in is not None:
        raise Retry(defer=attempt.retry_in)
    return attempt.status


EVENT_ATTEMPTS = 10


async def handle_events(ctx: dict[str, Any], row_ids: list[int]) -> int:
    """Run the stored handlers of a batch of published events (app/events.py), each once per event; a database
    error is a retry, not a failure."""
    try:
        return await run_rows(row_ids)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise Retry(defer=min(60, 2 ** ctx.get("job_try", 1))) from exc


async def open_award_cycle(ctx: dict[str, Any]) -> int | None:
    """Open the cycle for the month just ended once its nomination window begins (idempotent), and compute its
    shortlists at once."""
    opened = await awards.open_due_cycle()
    if opened is not None:
        await stored.refresh_due()
    return opened


async def refresh_award_shortlists(ctx: dict[str, Any]) -> int:
    """Compute the open cycles' stored shortlists that are missing or behind a change to their month's figures
    (every five minutes, so a burst of changes costs one computation; state in PostgreSQL)."""
    return await stored.refresh_due()


async def send_nomination_reminders(ctx: dict[str, Any]) -> int:
    """One reminder a day before the deadline to each manager who has not nominated (recorded per manager)."""
    return await awards.send_due_reminders()


async def close_award_cycles(ctx: dict[str, Any]) -> list[int]:
    """Close nominations whose deadline has passed (idempotent)."""
    return await awards.close_due_cycles()


async def advance_surveys(ctx: dict[str, Any]) -> dict[str, list[int]]:
    """Open, remind and close survey rounds that are due (idempotent; state in PostgreSQL)."""
    done = await surveys.advance()
    return {"opened": done.opened, "reminded": done.reminded, "closed": done.closed}


AWARD_TICKS = set(range(0, 60, 5))  # the award calendar is checked every five minutes and at start-up


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Give webhook and chat deliveries, imports and stored event handlers that lost their job a new one, and hand
    them to arq now."""
    found = {
        "webhooks": await webhooks.sweep(),
        "chats": await chat_deliveries.sweep(),
        "imports": await imports.sweep(),
        "events": await handling.sweep(),
    }
    if any(found.values()):
        log.warning("re-enqueued work that had lost its job: %s", found)
        await drain(ctx["redis"])
    return found


async def prune_outbox(ctx: dict[str, Any]) -> dict[str, int]:
    """Every night: outbox rows and event receipts older than a week go (app/jobs/handling.py)."""
    return await handling.prune()


async def run_import(ctx: dict[str, Any], import_id: int) -> str:
    """Apply a CSV import of people or departments (app/admin/services/imports.py); resumes after its last batch."""
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


async def plan_notice_summaries(ctx: dict[str, Any]) -> int:
    """Daily at KUDOS_NOTICE_DAILY_TIME, and at every worker start: one summary mail per person with daily email
    notices waiting (once a day; state in PostgreSQL)."""
    return await notices.plan_summaries()


async def deliver_notices(ctx: dict[str, Any]) -> dict[str, int]:
    """Send due email notices and daily summaries until none is left (queued by a notice or a plan, and every minute
    for retries and for mails a stopped worker had claimed)."""
    outcome = await notice_delivery.deliver(ctx["mail"])
    return {"sent": outcome.sent, "failed": outcome.failed, "skipped": outcome.skipped}


async def detect_collusion(ctx: dict[str, Any], run_id: int) -> int | None:
    """Collusion detection for one on-demand run (app/insights/runs.py); a finished run is left alone."""
    return await insights_runs.execute_run(run_id)


async def nightly_insights(ctx: dict[str, Any]) -> int | None:
    """Every night and at worker start: on-demand runs whose job was lost; then, unless a nightly run is less than
    NIGHTLY_EVERY old, collusion detection over the last 90 days and the insights rollups for 13 months."""
    for run_id in await insights_runs.pending_runs():
        await insights_runs.execute_run(run_id)
    if not await insights_runs.nightly_due():
        return None
    found = await insights_runs.run_nightly()
    await insights_rollups.refresh_year()
    return found


async def refresh_insights(ctx: dict[str, Any]) -> None:
    """Keep the insights rollups (service map flows, departments' participation and equity) of the current
    periods within ten minutes of the ledger."""
    await insights_rollups.refresh_recent()


async def startup(ctx: dict[Any, Any]) -> None:
    register_all()  # digests, reminders and webhook bodies link by route name: `kudos worker` and `kudos serve`
    # registered the routes before starting the worker (app/mail/links.py)
    # Inside `kudos serve` the web app's lifespan already opened the pool: share it.
    ctx["owns_pool"] = db.engine().pool is None
    if ctx["owns_pool"]:
        await start_pool(max_size=5)
    ctx["mail"] = get_backend(get_settings())  # one mail connection per worker, shared by its jobs
    database_url = get_settings().database_url
    if ctx.get("listen_outbox") and database_url:
        # jobs recorded by a commit anywhere reach arq at once; the drain cron is the fallback
        ctx["outbox_listener"] = asyncio.create_task(listen(database_url, ctx["redis"]))


async def shutdown(ctx: dict[Any, Any]) -> None:
    if listener := ctx.pop("outbox_listener", None):
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    if "mail" in ctx:
        await ctx["mail"].close()
    if ctx.get("owns_pool"):
        await close_pool()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if url is None:
        raise RuntimeError("REDIS_URL is not set")
    return RedisSettings.from_dsn(url)


HEALTH_CHECK = job(health_check, timeout=30)
DRAIN_OUTBOX = job(drain_outbox, timeout=60)
# Attempts are counted on the delivery row; arq's tries only bound a run of database outages (the sweeper follows).
DELIVER_WEBHOOK = job(deliver_webhook, timeout=webhooks.JOB_TIMEOUT_SECONDS, max_tries=webhooks.MAX_ATTEMPTS * 4)
DELIVER_CHAT = job(
    deliver_chat, timeout=webhooks.JOB_TIMEOUT_SECONDS, max_tries=webhooks.MAX_ATTEMPTS * 4, name=chat_deliveries.JOB
)
OPEN_AWARD_CYCLE = job(open_award_cycle, timeout=120)
SEND_NOMINATION_REMINDERS = job(send_nomination_reminders)
CLOSE_AWARD_CYCLES = job(close_award_cycles, timeout=120)
# one queued or running is enough (recorded by the category form with `one_at_a_time`)
REFRESH_AWARD_SHORTLISTS = job(refresh_award_shortlists, timeout=600, name=shortlist.REFRESH_JOB, keep_result=0)
ADVANCE_SURVEYS = job(advance_surveys, timeout=120)
HANDLE_EVENTS = job(handle_events, timeout=120, name=HANDLE_EVENTS_JOB, max_tries=EVENT_ATTEMPTS)
SWEEP = job(sweep, timeout=60)
PRUNE_OUTBOX = job(prune_outbox, timeout=600)
RUN_IMPORT = job(run_import, timeout=imports.JOB_TIMEOUT_SECONDS)
SCHEDULE_DIGESTS = job(schedule_digests)
# A delivery job sends until the queue is empty: a 10,000-person run takes minutes, not the default 300 s.
DELIVER_DIGESTS = job(deliver_digests, timeout=3600)
PLAN_NOTICE_SUMMARIES = job(plan_notice_summaries, timeout=120)
DELIVER_NOTICES = job(deliver_notices, timeout=3600, name=notices.DELIVER_JOB, keep_result=0)  # one_at_a_time
DETECT_COLLUSION = job(detect_collusion, timeout=1800)
NIGHTLY_INSIGHTS = job(nightly_insights, timeout=3600)
REFRESH_INSIGHTS = job(refresh_insights)


class WorkerSettings:
    functions = [
        HEALTH_CHECK,
        DRAIN_OUTBOX,
        DELIVER_WEBHOOK,
        DELIVER_CHAT,
        OPEN_AWARD_CYCLE,
        SEND_NOMINATION_REMINDERS,
        CLOSE_AWARD_CYCLES,
        REFRESH_AWARD_SHORTLISTS,
        ADVANCE_SURVEYS,
        HANDLE_EVENTS,
        SWEEP,
        PRUNE_OUTBOX,
        RUN_IMPORT,
        SCHEDULE_DIGESTS,
        DELIVER_DIGESTS,
        PLAN_NOTICE_SUMMARIES,
        DELIVER_NOTICES,
        DETECT_COLLUSION,
        NIGHTLY_INSIGHTS,
        REFRESH_INSIGHTS,
    ]
    cron_jobs = [
        scheduled(HEALTH_CHECK, second=0, run_at_startup=True),
        scheduled(DRAIN_OUTBOX, second=set(range(0, 60, 10))),
        scheduled(OPEN_AWARD_CYCLE, minute=AWARD_TICKS, second=0, run_at_startup=True),
        scheduled(SEND_NOMINATION_REMINDERS, minute=AWARD_TICKS, second=20, run_at_startup=True),
        scheduled(CLOSE_AWARD_CYCLES, minute=AWARD_TICKS, second=40, run_at_startup=True),
        scheduled(REFRESH_AWARD_SHORTLISTS, minute=AWARD_TICKS, second=30, run_at_startup=True),
        scheduled(ADVANCE_SURVEYS, minute=AWARD_TICKS, second=50, run_at_startup=True),
        scheduled(SWEEP, second=set(range(5, 60, 15)), run_at_startup=True),
        scheduled(PRUNE_OUTBOX, hour=3, minute=15, second=0),
        scheduled(
            SCHEDULE_DIGESTS,
            day=1,
            hour=get_settings().digest_time.hour,
            minute=get_settings().digest_time.minute,
            second=0,
            run_at_startup=True,
        ),
        scheduled(DELIVER_DIGESTS, second=30, run_at_startup=True),
        scheduled(
            PLAN_NOTICE_SUMMARIES,
            hour=get_settings().notice_daily_time.hour,
            minute=get_settings().notice_daily_time.minute,
            second=0,
            run_at_startup=True,
        ),
        scheduled(DELIVER_NOTICES, second=45, run_at_startup=True),
        scheduled(NIGHTLY_INSIGHTS, hour=2, minute=30, second=0, run_at_startup=True),
        scheduled(REFRESH_INSIGHTS, minute=set(range(5, 60, 10)), second=10, run_at_startup=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 300
    keep_result = 3600


REDIS_RETRY_SECONDS = 1.0


class DurableWorker(Worker):
    """An arq worker that outlives Redis: arq's main loop ends on the first Redis error (and arq gives up starting
    after five seconds without Redis); this one logs the outage, polls again every REDIS_RETRY_SECONDS and carries
    on when Redis answers (jobs in flight finish meanwhile)."""

    redis_lost = False

    async def main(self) -> None:
        while self._pool is None:  # started while Redis is down: wait for it rather than exit
            try:
                self._pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except (RedisError, OSError) as exc:
                log.warning("cannot reach Redis (%s: %s); waiting for it", type(exc).__name__, exc)
                await asyncio.sleep(REDIS_RETRY_SECONDS)
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            if not self.redis_lost:
                log.warning("lost Redis (%s: %s); waiting for it to come back", type(exc).__name__, exc)
            self.redis_lost = True
            await asyncio.sleep(REDIS_RETRY_SECONDS)
        else:
            if self.redis_lost:
                log.warning("Redis is back; the worker carries on")
            self.redis_lost = False

    async def close(self) -> None:
        """arq's close, except that a job task that ended in an error — one that failed on Redis during an outage and
        was not reaped yet, or one cancelled while it recorded its result — does not stop the shutdown half-way
        (arq re-raises the first such error and never closes its pool). arq runs an unfinished job again."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        for outcome in await asyncio.gather(*self.tasks.values(), return_exceptions=True):
            if isinstance(outcome, Exception):
                log.warning("a job ended with %s while the worker stopped: %s", type(outcome).__name__, outcome)
        with contextlib.suppress(RedisError, OSError):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except (RedisError, OSError):
                # arq counted the job as started before Redis failed it: give its slot back, or after `max_jobs`
                # such failures the worker would never start another job.
                self.job_counter -= 1
                self.sem.release()
                raise


def _idle(result: str) -> bool:
    """Whether a job's logged result (arq's repr) says it found nothing to do: None, 0, empty, or nothing but zero
    counts and empty lists."""
    if not result.strip():  # arq logs a job that returned None with an empty result
        return True
    try:
        value = ast.literal_eval(result)
    except (ValueError, SyntaxError):
        return False
    if isinstance(value, dict):
        return not any(value.values())
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


class EventBatchesOnTime(logging.Filter):
    """arq notes ` delayed=…s` on a job started long after it was due; event batches are due an hour early on
    purpose (app/jobs/outbox.py: they go ahead of the queue), so that note would always say an hour. The time they
    really waited, since they were queued, is the line's first figure and stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 4 and str(args[1]).endswith(f":{HANDLE_EVENTS_JOB}") and " delayed=" in str(args[3]):
            record.args = (*args[:3], str(args[3]).split(" delayed=")[0])
        return True


def quiet_worker_logs() -> None:
    """Install `QuietCron` and `EventBatchesOnTime` on arq's worker logger once (every worker in the process shares
    the logger)."""
    logger = logging.getLogger("arq.worker")
    for kind in (QuietCron, EventBatchesOnTime):
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def build_worker(**overrides: Any) -> Worker:
    """An arq Worker for WorkerSettings, connected to the configured Redis, in the organisation's time zone."""
    options: dict[str, Any] = {
        "redis_settings": redis_settings(),
        "timezone": get_settings().tz,
        # arq keeps each cron job's next run on the CronJob object: every worker needs its own copies, or a second
        # worker in the same process (tests, tools) would skip the run-at-startup jobs the first one already ran.
        "cron_jobs": [copy.copy(trigger) for trigger in WorkerSettings.cron_jobs],
    }
    options.update(overrides)
    # A long-running worker listens for new outbox rows; a burst worker (tests, tools) runs what is queued and stops.
    options["ctx"] = {"listen_outbox": not options.get("burst", False), **options.get("ctx", {})}
    quiet_worker_logs()
    # arq's WorkerSettingsBase protocol types `on_startup` as an attribute, which a class's function never matches.
    return DurableWorker(**{**get_kwargs(WorkerSettings), **options})  # type: ignore[arg-type]
