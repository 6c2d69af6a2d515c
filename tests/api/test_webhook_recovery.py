"""Webhook deliveries survive what can die (ENGINEERING rule 15): a lost arq job, a database error inside the job,
Redis killed, every PostgreSQL connection terminated — each delivery ends delivered, and only once."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest
from arq.connections import RedisSettings, create_pool
from arq.constants import in_progress_key_prefix

from app.api import webhooks
from app.api.tables import DeliveryStatus, Webhook, WebhookDelivery
from app.jobs import worker as jobs
from app.jobs.outbox import drain
from app.jobs.worker import redis_settings
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.timeutil import now
from tests.events import run_stored_events
from tests.plugins.receiver import Receiver
from tests.web.test_outages import terminate_connections

# The receiver is a local server on 127.0.0.1, which webhooks may reach only with KUDOS_WEBHOOK_ALLOW_PRIVATE=true.
pytestmark = pytest.mark.usefixtures("db", "allow_private_webhooks")


@pytest.fixture
async def receiver():
    found = Receiver()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks/kudos"
    yield found
    server.close()
    await server.wait_closed()


@pytest.fixture
async def hook(receiver) -> None:
    await Webhook.insert(
        Webhook(name="Receiver", url=receiver.url, events=["kudos.given"], secret="whsec_test", created_at=now())
    )


async def thank(org, n: int = 1) -> None:
    giver = await load_current_user(org["ana"].id)
    form = GiveForm(recipient_ids=[org["ravi"].id], message=f"Thanks, number {n}!", points="1", visibility="public")
    await give_kudos(giver, form)
    await run_stored_events()  # the webhook delivery is recorded by the gift's stored handler, as the worker would


def sent(receiver: Receiver) -> Counter[str]:
    return Counter(headers["x-kudos-delivery"] for headers, _ in receiver.received)


async def statuses() -> Counter[str]:
    return Counter(row["status"] for row in await WebhookDelivery.select(WebhookDelivery.status))


async def test_a_delivery_whose_job_was_lost_is_swept_and_sent_once(org, hook, receiver, run_worker, redis) -> None:
    await thank(org)
    await redis.flushdb()  # its job (still in the outbox) and anything queued are gone with Redis
    from app.jobs.tables import JobOutbox

    await JobOutbox.update({JobOutbox.enqueued_at: now()}).where(JobOutbox.enqueued_at.is_null())
    assert await webhooks.sweep() == 0  # not overdue yet: its job may still come
    await WebhookDelivery.update({WebhookDelivery.next_attempt_at: now() - timedelta(minutes=2)}).where(
        WebhookDelivery.id > 0
    )
    await run_worker()  # the sweep at start-up finds it and hands it to arq
    assert await statuses() == {"delivered": 1}
    assert list(sent(receiver).values()) == [1]
    assert await webhooks.sweep(grace=timedelta(0)) == 0  # nothing left to sweep


async def test_an_attempt_held_by_another_job_is_not_sent_twice(org, hook, receiver) -> None:
    await thank(org)
    delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]
    await asyncio.gather(*[webhooks.deliver(delivery_id) for _ in range(3)])
    assert list(sent(receiver).values()) == [1]
    assert await statuses() == {DeliveryStatus.DELIVERED: 1}


async def test_a_database_error_inside_the_job_is_a_retry_not_a_failure(
    org, hook, receiver, run_worker, monkeypatch
) -> None:
    monkeypatch.setattr(jobs, "DATABASE_RETRY_SECONDS", 0.05)
    real, calls = webhooks.deliver, []

    async def flaky(delivery_id: int):
        calls.append(delivery_id)
        if len(calls) == 1:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return await real(delivery_id)

    monkeypatch.setattr(webhooks, "deliver", flaky)
    await thank(org)
    pool = await create_pool(redis_settings())
    await drain(pool)
    await pool.aclose()
    worker = await run_worker()
    assert worker.jobs_failed == 0 and worker.jobs_retried >= 1
    assert len(calls) == 2
    assert await statuses() == {"delivered": 1}


async def test_a_jobs_in_progress_lock_lasts_its_own_timeout_not_the_longest_jobs(org, run_worker, redis) -> None:
    """arq locks a running job for the longest timeout of all (the digest job's hour): a webhook job killed with its
    worker would block its delivery that long. The lock seen while the job runs is the webhook job's own."""
    locks: dict[str, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for key in await redis.keys(in_progress_key_prefix + "outbox-*"):
            locks[key.decode()] = await redis.pttl(key)
        await Receiver().handle(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
    await Webhook.insert(Webhook(name="Receiver", url=url, events=["kudos.given"], secret="s", created_at=now()))
    await thank(org)
    pool = await create_pool(redis_settings())
    await drain(pool)
    await pool.aclose()
    await run_worker()
    server.close()
    assert len(locks) == 1
    assert 0 < next(iter(locks.values())) <= (webhooks.JOB_TIMEOUT_SECONDS + jobs.LOCK_MARGIN_SECONDS) * 1000


# ------------------------------------------------------------------------------ killing servers under a stream


@pytest.fixture
def quick_recovery(monkeypatch):
    monkeypatch.setattr(webhooks, "SWEEP_GRACE", timedelta(seconds=1))
    monkeypatch.setattr(webhooks, "LEASE", timedelta(seconds=3))
    monkeypatch.setattr(jobs, "DATABASE_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(jobs, "REDIS_RETRY_SECONDS", 0.1)


async def stream_under_outage(org, receiver, redis_url: str, outage, *, kudos: int = 30) -> dict[str, int]:
    """Give `kudos` public kudos, one every 50 ms, with a worker running; run `outage()` at a third of the stream.
    Wait (with a deadline) until no delivery waits; the figures."""
    worker = jobs.build_worker(
        redis_settings=RedisSettings.from_dsn(redis_url),
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[
            jobs.scheduled(jobs.DRAIN_OUTBOX, second=set(range(60))),
            jobs.scheduled(jobs.SWEEP, second=set(range(60))),
        ],
    )
    task = asyncio.create_task(worker.async_run())
    try:
        for n in range(kudos):
            if n == kudos // 3:
                await outage()
            await thank(org, n)
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 30
        while (await statuses()).keys() - {"delivered", "failed"} and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # polling the database: nothing to wait on
    finally:
        await worker.close()
        task.cancel()
    counts, seen = await statuses(), sent(receiver)
    return {
        "rows": sum(counts.values()),
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "waiting": counts["pending"] + counts["retrying"],
        "sent": len(seen),
        "duplicated": sum(n - 1 for n in seen.values()),
    }


async def _logged(caplog: pytest.LogCaptureFixture, text: str, *, times: int) -> None:
    """Wait until the log has `text` at least `times` times (what the worker does, not a guess at how long)."""
    async with asyncio.timeout(20):
        while caplog.text.count(text) < times:  # noqa: ASYNC110 — log records have no event to wait on
            await asyncio.sleep(0.02)


async def test_the_worker_waits_for_redis_at_start_and_when_it_goes_away_then_carries_on(
    org, hook, receiver, own_redis, quick_recovery, caplog
) -> None:
    own_redis.stop()
    settings = dataclasses.replace(RedisSettings.from_dsn(own_redis.url), conn_retries=0)  # no arq retries first
    worker = jobs.build_worker(redis_settings=settings, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        await _logged(caplog, "cannot reach Redis", times=3)  # arq alone would have given up after the first
        assert not task.done()
        own_redis.start()
        await thank(org, 1)
        async with asyncio.timeout(20):
            while (await statuses()) != {"delivered": 1}:  # noqa: ASYNC110 — polling the database
                await asyncio.sleep(0.1)
        own_redis.stop()
        await _logged(caplog, "lost Redis", times=1)  # the first failed poll, on which arq would have exited
        assert not task.done()
        own_redis.start()
        await thank(org, 2)
        async with asyncio.timeout(20):
            while (await statuses()) != {"delivered": 2}:  # noqa: ASYNC110 — polling the database
                await asyncio.sleep(0.1)
        await _logged(caplog, "Redis is back", times=1)  # said by the poll that started the job, once it returns
    finally:
        await worker.close()
        task.cancel()
    assert "cannot reach Redis" in caplog.text
    assert "lost Redis" in caplog.text and "Redis is back" in caplog.text


async def test_killing_redis_under_a_stream_loses_no_delivery(org, hook, receiver, own_redis, quick_recovery) -> None:
    async def kill_redis() -> None:
        own_redis.stop()
        await asyncio.sleep(1.5)
        own_redis.start()  # back empty: every queued job is gone

    figures = await stream_under_outage(org, receiver, own_redis.url, kill_redis)
    assert figures["rows"] == 30
    assert (figures["delivered"], figures["waiting"], figures["failed"]) == (30, 0, 0), figures
    assert figures["sent"] == 30 and figures["duplicated"] == 0, figures


async def test_terminating_postgresql_connections_under_a_stream_loses_no_delivery(
    org, hook, receiver, own_redis, quick_recovery
) -> None:
    async def kill_connections() -> None:
        for _ in range(3):
            await terminate_connections()
            await asyncio.sleep(0.1)

    figures = await stream_under_outage(org, receiver, own_redis.url, kill_connections)
    assert (figures["delivered"], figures["waiting"], figures["failed"]) == (30, 0, 0), figures
    # Only an attempt in flight when its connection is cut can be sent twice (sent, then its outcome not recorded):
    # at most one per cut at this pace (a gift every 50 ms, a delivery taking a few).
    assert figures["sent"] == 30 and figures["duplicated"] <= 3, figures
