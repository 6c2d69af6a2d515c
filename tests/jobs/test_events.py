"""Domain events (app/events.py) through the job outbox and a real burst worker: exactly once, retried on database
errors, never run for a rolled-back transaction."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from arq import Retry
from arq.connections import create_pool
from piccolo.engine import engine_finder

from app import events
from app.events import FeedbackRequested, publish
from app.feedback import models
from app.feedback import services as feedback
from app.feedback.models import AskInput
from app.handlers import register_all
from app.jobs import worker
from app.jobs.outbox import drain
from app.jobs.tables import EventReceipt, JobOutbox
from app.notifications.tables import Kind, Notification
from app.people.services import load_current_user
from app.surveys import lifecycle
from tests.events import run_stored_events
from tests.factories import make_employee

register_all()


@pytest.fixture
async def arq_redis(db: None):
    pool = await create_pool(worker.redis_settings())
    yield pool
    await pool.aclose()


async def test_an_event_of_a_rolled_back_transaction_is_never_handled(db) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with engine_finder().transaction():
            await publish(FeedbackRequested(ask_id=1, asker_id=1, recipient_ids=(2,)))
            raise Boom
    assert await JobOutbox.count() == 0


async def test_publishing_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError):
        await publish(FeedbackRequested(ask_id=1, asker_id=1, recipient_ids=(2,)))


async def test_the_worker_runs_stored_handlers_once(arq_redis, run_worker) -> None:
    ann = await make_employee("Ann Asker")
    bob = await make_employee("Bob Answer")
    actor = await load_current_user(ann.id)
    await feedback.ask_for_feedback(
        actor, AskInput(people=(bob.id,), template="went-well", due_on=models.today() + timedelta(days=3))
    )
    assert await drain(arq_redis) == 1  # one outbox row per event, naming its stored handlers (notifications, badges)
    done = await run_worker(cron_jobs=[])  # only the handed-over job: the calendar's cron jobs would add events
    assert done.jobs_failed == 0
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 1
    assert await EventReceipt.count() == 2
    # the same stored jobs run again (a worker killed after commit, a lost result): nothing happens twice
    assert await run_stored_events() == 0
    assert await Notification.count() == 1


async def test_handlers_whose_jobs_redis_lost_are_swept_and_run_once(arq_redis, run_worker) -> None:
    ann = await make_employee("Ann Asker")
    bob = await make_employee("Bob Answer")
    await feedback.ask_for_feedback(
        await load_current_user(ann.id),
        AskInput(people=(bob.id,), template="went-well", due_on=models.today() + timedelta(days=3)),
    )
    assert await drain(arq_redis) == 1
    await arq_redis.flushdb()  # Redis dies and comes back empty: the job is gone
    assert await events.sweep() == 0  # not yet overdue: a slow job is not handed over twice
    await JobOutbox.update({JobOutbox.enqueued_at: events.now() - timedelta(minutes=6)}, force=True)
    found = await worker.sweep({"redis": arq_redis})
    assert found["events"] == 1
    done = await run_worker(cron_jobs=[])  # only the handed-over job: the calendar's cron jobs would add events
    assert done.jobs_failed == 0
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 1
    assert await EventReceipt.count() == 2
    await JobOutbox.update({JobOutbox.enqueued_at: events.now() - timedelta(minutes=6)}, force=True)
    assert await events.sweep() == 0  # every handler has its receipt: nothing left to hand over


async def test_a_database_error_is_a_retry(monkeypatch) -> None:
    async def broken(*args: object) -> bool:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(worker, "run_stored", broken)
    with pytest.raises(Retry):
        await worker.handle_event({"job_try": 1}, handlers=["x"], event="feedback.requested", payload={})


async def test_unknown_handlers_or_events_are_skipped() -> None:
    payload = {"event_id": "e1", "ask_id": 1, "asker_id": 1, "recipient_ids": [2]}
    assert await events.run_stored(["nowhere.handler"], "feedback.requested", payload) == 0
    assert await events.run_stored(["nowhere.handler"], "nothing.happened", {}) == 0


async def test_a_handler_that_failed_is_retried_alone(arq_redis) -> None:
    """One outbox row runs several handlers, each in its own transaction with its receipt: when one fails, the
    retry runs only the handlers that have not run."""
    ann = await make_employee("Ann Asker")
    bob = await make_employee("Bob Answer")
    await feedback.ask_for_feedback(
        await load_current_user(ann.id),
        AskInput(people=(bob.id,), template="went-well", due_on=feedback.today() + timedelta(days=3)),
    )
    row = await JobOutbox.select(JobOutbox.kwargs).first().output(load_json=True)
    handlers = row["kwargs"]["handlers"]
    assert len(handlers) == 2
    assert await events.run_stored(handlers[:1], row["kwargs"]["event"], row["kwargs"]["payload"]) == 1
    assert await events.run_stored(handlers, row["kwargs"]["event"], row["kwargs"]["payload"]) == 1
    assert await EventReceipt.count() == 2


async def test_the_survey_job_advances_rounds(run_worker, arq_redis) -> None:
    await arq_redis.enqueue_job("advance_surveys")
    done = await run_worker()
    assert done.jobs_failed == 0
    assert (await lifecycle.advance()).opened == []
