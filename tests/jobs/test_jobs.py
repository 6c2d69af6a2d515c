"""The job outbox and the arq worker, through a real burst worker."""

from __future__ import annotations

import asyncio
import logging
import os

import asyncpg
import pytest
from arq.connections import create_pool
from piccolo.engine import engine_finder
from redis.exceptions import ConnectionError as RedisConnectionError

import app.db as database
from app.health import HEARTBEAT_KEY
from app.jobs import outbox
from app.jobs.outbox import add_job, drain
from app.jobs.tables import JobOutbox
from app.jobs.worker import EventBatchesOnTime, QuietCron, build_worker, redis_settings


@pytest.fixture
async def arq_redis():
    pool = await create_pool(redis_settings())
    yield pool
    await pool.aclose()


async def test_jobs_added_in_a_rolled_back_transaction_are_never_enqueued(db, arq_redis) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with engine_finder().transaction():
            await add_job("health_check")
            raise Boom
    assert await JobOutbox.count() == 0
    assert await drain(arq_redis) == 0


async def test_committed_jobs_are_enqueued_once_and_run_by_the_worker(arq_redis, run_worker, redis) -> None:
    async with engine_finder().transaction():
        await add_job("health_check")
        await add_job("health_check")
    assert await drain(arq_redis) == 2
    assert await drain(arq_redis) == 0  # marked as handed over
    assert await JobOutbox.count().where(JobOutbox.enqueued_at.is_null()) == 0
    assert len(await arq_redis.queued_jobs()) == 2

    worker = await run_worker()

    assert worker.jobs_complete >= 2 and worker.jobs_failed == 0
    assert await redis.get(HEARTBEAT_KEY) is not None


async def test_an_outbox_row_is_not_enqueued_twice_even_if_marking_failed(db, arq_redis) -> None:
    await add_job("health_check")
    assert await drain(arq_redis) == 1
    # simulate a crash between the enqueue and the mark: the row looks pending again
    await JobOutbox.update({JobOutbox.enqueued_at: None}, force=True)
    assert await drain(arq_redis) == 1
    assert len(await arq_redis.queued_jobs()) == 1  # arq refused the duplicate job id


async def test_jobs_recorded_one_at_a_time_make_one_arq_job_until_it_ends(db, arq_redis) -> None:
    for _ in range(3):
        async with database.transaction():
            await add_job("deliver_notices", **outbox.one_at_a_time("deliver_notices"))
            await add_job("health_check")
    assert await drain(arq_redis) == 6
    queued = await arq_redis.queued_jobs()
    assert sorted(job.job_id for job in queued if job.function == "deliver_notices") == ["deliver_notices"]
    assert len([job for job in queued if job.function == "health_check"]) == 3  # the others: one each


async def test_worker_drains_the_outbox_itself(arq_redis, run_worker) -> None:
    await add_job("health_check")
    await arq_redis.enqueue_job("drain_outbox")
    # the job alone hands the row over; the calendar's start-up jobs would record events after the drain
    worker = await run_worker(hand_over=False, cron_jobs=[])
    assert worker.jobs_failed == 0
    assert await JobOutbox.count().where(JobOutbox.enqueued_at.is_null()) == 0


async def _beat(redis) -> None:
    async with asyncio.timeout(5):
        while not await redis.get(HEARTBEAT_KEY):  # noqa: ASYNC110 — a Redis key has no event to wait on
            await asyncio.sleep(0.05)
    await redis.delete(HEARTBEAT_KEY)


async def test_a_listening_worker_runs_a_commits_job_at_once_even_after_losing_its_connection(
    db, redis, monkeypatch
) -> None:
    """No drain cron runs here: the commit's notification is what hands the job over. A job recorded while the
    listener has no connection (PostgreSQL restarted, the connection cut) is handed over when it reconnects."""
    monkeypatch.setattr(outbox, "LISTEN_RETRY_SECONDS", 0.1)
    worker = build_worker(handle_signals=False, poll_delay=0.05, cron_jobs=[])
    task = asyncio.create_task(worker.async_run())
    try:
        async with database.transaction():
            await add_job("health_check")
        await _beat(redis)
        admin = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
            assert cut == 1
            await admin.execute(
                "INSERT INTO job_outbox (function, kwargs, created_at) VALUES ('health_check', '{}', now())"
            )
        finally:
            await admin.close()
        await _beat(redis)
    finally:
        await worker.close()
        task.cancel()
    assert await JobOutbox.count().where(JobOutbox.enqueued_at.is_null()) == 0


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("arq.worker", logging.INFO, __file__, 1, msg, args, None)


def test_cron_ticks_that_did_nothing_are_not_logged() -> None:
    quiet = QuietCron()
    assert not quiet.filter(_record("%6.2fs → %s(%s)%s", 0.5, "cron:drain_outbox", "", ""))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:drain_outbox", "0"))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:close_award_cycles", "[]"))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:open_award_cycle", "None"))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:schedule_digests", ""))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:deliver_digests", "{'sent': 0, 'failed': 0}"))
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:health_check", "{'ok': True, 'at': 1.5}"))
    survey_tick = "{'opened': [], 'reminded': [], 'closed': []}"
    assert not quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:advance_surveys", survey_tick))
    assert not quiet.filter(
        _record("%6.2fs ← %s ● %s", 0.01, "cron:sweep", "{'webhooks': 0, 'imports': 0, 'events': 0}")
    )
    # jobs that did something, jobs that are not cron ticks, failures and other worker lines stay
    assert quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:drain_outbox", "3"))
    assert quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:deliver_digests", "{'sent': 12, 'failed': 0}"))
    assert quiet.filter(_record("%6.2fs ← %s ● %s", 0.01, "cron:advance_surveys", "{'opened': [4], 'closed': []}"))
    assert quiet.filter(_record("%6.2fs → %s(%s)%s", 0.5, "a1b2:run_import", "import_id=3", ""))
    assert quiet.filter(_record("%6.2fs ! %s max retries %d exceeded", 0.5, "cron:health_check", 1))
    assert quiet.filter(_record("Starting worker for %d functions: %s", 9, "health_check"))


async def test_closing_the_pool_cuts_a_connection_nobody_gives_back(db, monkeypatch, caplog) -> None:
    """`kudos serve` stops the worker, then closes the pool: a connection a job never returned must not make the
    process wait for ever (asyncpg's close waits for every connection)."""
    monkeypatch.setattr(database, "POOL_CLOSE_SECONDS", 0.2)
    pool = database.engine().pool
    assert pool is not None
    await pool.acquire()  # never released
    try:
        async with asyncio.timeout(5):
            await database.close_pool()
        assert database.engine().pool is None and pool._closed  # asyncpg has no public flag
        assert "database connections still in use after" in caplog.text
    finally:
        await database.start_pool(max_size=20)  # the session's pool, for the tests that follow


async def test_stopping_does_not_fail_on_jobs_that_ended_badly() -> None:
    """A job task that failed on Redis during an outage waits for the next poll to be reaped, and one cancelled
    while it recorded its result ends cancelled: a worker stopped then (Ctrl-C right after Redis came back, or
    as a job finishes) still stops cleanly and closes its pool, instead of raising their errors half-way."""
    worker = build_worker(handle_signals=False, cron_jobs=[])
    worker._pool = await create_pool(redis_settings())

    async def failed_on_redis() -> None:
        raise RedisConnectionError("Error 2 connecting to redis.sock. No such file or directory.")

    async def finishing() -> None:
        await asyncio.sleep(10)

    failed, cancelled = asyncio.create_task(failed_on_redis()), asyncio.create_task(finishing())
    await asyncio.wait([failed], timeout=1)
    worker.tasks.update({"job-1": failed, "job-2": cancelled})  # close() cancels the one still running
    await worker.close()
    assert worker._pool is None and cancelled.cancelled()


def test_event_batches_log_how_long_they_waited_not_their_early_due_time() -> None:
    record = _record("%6.2fs → %s(%s)%s", 0.27, "dd26:handle_events", "row_ids=[829]", " try=2 delayed=3600.27s")
    assert EventBatchesOnTime().filter(record)
    assert record.getMessage() == "  0.27s → dd26:handle_events(row_ids=[829]) try=2"
    other = _record("%6.2fs → %s(%s)%s", 5.0, "outbox-4:deliver_webhook", "delivery_id=1", " delayed=5.00s")
    assert EventBatchesOnTime().filter(other)
    assert other.getMessage().endswith("delayed=5.00s")  # a job really late keeps arq's note
