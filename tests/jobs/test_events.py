"""Domain events (app/events.py) through the job outbox and a real burst worker: exactly once, retried on database
errors, never run for a rolled-back transaction."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import asyncpg
import pytest
from arq import Retry
from arq.connections import create_pool
from piccolo.engine import engine_finder

import app.db as database
from app import events
from app.events import FeedbackRequested, publish
from app.feedback import models
from app.feedback import services as feedback
from app.feedback.models import AskInput
from app.handlers import register_all
from app.jobs import handling, worker
from app.jobs.outbox import EVENT_ROWS, add_job, drain
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
    assert await handling.sweep() == 0  # not yet overdue: a slow job is not handed over twice
    await JobOutbox.update({JobOutbox.enqueued_at: handling.now() - timedelta(minutes=6)}, force=True)
    found = await worker.sweep({"redis": arq_redis})
    assert found["events"] == 1
    done = await run_worker(cron_jobs=[])  # only the handed-over job: the calendar's cron jobs would add events
    assert done.jobs_failed == 0
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 1
    assert await EventReceipt.count() == 2
    await JobOutbox.update({JobOutbox.enqueued_at: handling.now() - timedelta(minutes=6)}, force=True)
    assert await handling.sweep() == 0  # every handler has its receipt: nothing left to hand over


async def test_a_database_error_is_a_retry(monkeypatch) -> None:
    async def broken(*args: object) -> int:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(worker, "run_rows", broken)
    with pytest.raises(Retry):
        await worker.handle_events({"job_try": 1}, row_ids=[1])


async def test_unknown_handlers_or_events_are_skipped(db) -> None:
    payload = {"event_id": "e1", "ask_id": 1, "asker_id": 1, "recipient_ids": [2]}
    async with database.transaction():
        await add_job(EVENT_ROWS, handlers=["nowhere.handler"], event="feedback.requested", payload=payload)
        await add_job(EVENT_ROWS, handlers=["nowhere.handler"], event="nothing.happened", payload={})
    ids = [row["id"] for row in await JobOutbox.select(JobOutbox.id)]
    assert await handling.run_rows(ids) == 0
    assert await EventReceipt.count() == 0


async def _asks(count: int) -> list[int]:
    """`count` feedback requests (each publishes one event with two stored handlers); their outbox row ids."""
    ann = await make_employee("Ann Asker")
    asker = await load_current_user(ann.id)
    for n in range(count):
        bob = await make_employee(f"Bob Answer {n}")
        due = feedback.today() + timedelta(days=3)
        await feedback.ask_for_feedback(asker, AskInput(people=(bob.id,), template="went-well", due_on=due))
    return [row["id"] for row in await JobOutbox.select(JobOutbox.id).order_by(JobOutbox.id)]


def _failing_for(monkeypatch: pytest.MonkeyPatch, handler: str, ask_ids: set[int]) -> None:
    """Make the stored handler `handler` fail for the events of these asks (a bug, a constraint it trips)."""
    registration = events.registry.get(handler)
    assert registration is not None

    async def failing(event: events.Event) -> None:
        if getattr(event, "ask_id", None) in ask_ids:
            raise RuntimeError("boom")
        await registration.handler(event)

    monkeypatch.setitem(events.registry._by_name, handler, dataclasses.replace(registration, handler=failing))


async def test_a_batch_runs_each_handler_once_per_event_and_a_second_run_nothing(arq_redis, run_worker) -> None:
    ids = await _asks(5)
    assert await drain(arq_redis) == 5
    assert len(await arq_redis.queued_jobs()) == 1  # the drained batch is one job
    done = await run_worker(cron_jobs=[])
    assert done.jobs_failed == 0
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 5
    assert await EventReceipt.count() == 10
    assert await handling.run_rows(ids) == 0  # the job run again (a lost result, a killed worker): nothing twice
    assert await Notification.count() == 5


async def test_one_failing_event_does_not_hold_back_the_others_of_its_batch(db, monkeypatch) -> None:
    """The batch's transaction rolls back; each event then runs alone: all but the failing one are done, the job
    fails (arq retries it) and the retry runs only what has not run."""
    ids = await _asks(3)
    row = await JobOutbox.select(JobOutbox.kwargs).where(JobOutbox.id == ids[1]).first().output(load_json=True)
    notify = next(name for name in row["kwargs"]["handlers"] if "notifications" in name)
    with monkeypatch.context() as patch:
        _failing_for(patch, notify, {row["kwargs"]["payload"]["ask_id"]})
        with pytest.raises(RuntimeError, match="boom"):
            await handling.run_rows(ids)
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 1  # before the failure
    assert await handling.run_rows(ids) == 5  # the retry: the two notices left, then the other handler's three
    assert await Notification.count().where(Notification.kind == Kind.FEEDBACK_REQUESTED) == 3
    assert await EventReceipt.count() == 6
    assert await handling.run_rows(ids) == 0


async def test_the_survey_job_advances_rounds(run_worker, arq_redis) -> None:
    await arq_redis.enqueue_job("advance_surveys")
    done = await run_worker()
    assert done.jobs_failed == 0
    assert (await lifecycle.advance()).opened == []


async def test_the_nightly_prune_deletes_old_handed_over_rows_and_receipts_only(db, arq_redis, run_worker) -> None:
    ids = await _asks(3)
    await handling.run_rows(ids)
    old = handling.now() - handling.KEEP - timedelta(hours=1)
    await JobOutbox.update({JobOutbox.enqueued_at: old}).where(JobOutbox.id.is_in(ids[:2]))
    await JobOutbox.update({JobOutbox.created_at: old, JobOutbox.enqueued_at: None}).where(JobOutbox.id == ids[2])
    await EventReceipt.update({EventReceipt.handled_at: old}).where(EventReceipt.id <= 3)
    await arq_redis.enqueue_job("prune_outbox")
    done = await run_worker(hand_over=False, cron_jobs=[])
    assert done.jobs_failed == 0
    # the two rows handed over a week ago go; the one never handed over stays, however old (and so do the rows of
    # events the handlers published just now)
    left = {row["id"] for row in await JobOutbox.select(JobOutbox.id)}
    assert ids[2] in left and not left & set(ids[:2])
    assert await EventReceipt.count() == 6 - 3
    assert await handling.prune() == {"outbox": 0, "receipts": 0}  # nothing more to do: a second run is harmless


async def test_a_batch_of_gifts_gives_each_gift_its_own_reactions(db) -> None:
    """The handlers of several gifts run together (their kudos read once per handler): each recipient is told of
    their own kudos, in notifications and notices, and only the public kudos go to the webhook."""
    from app.api import webhooks
    from app.api.tables import WebhookDelivery
    from app.kudos.forms import GiveForm
    from app.kudos.giving import give_kudos
    from app.notices.tables import Notice, NoticeKind
    from app.people.tables import Role

    admin = await load_current_user((await make_employee("Ada Admin", role=Role.ADMIN)).id)
    await webhooks.register(admin, name="Feed", url="https://hooks.example.com/k", events=["kudos.given"])
    gina = await load_current_user((await make_employee("Gina Giver")).id)
    people = [await make_employee(name) for name in ("Ravi", "Omar", "Nia")]
    for person, points, visibility in zip(people, ("5", "0", "10"), ("public", "private", "public"), strict=True):
        form = GiveForm(recipient_ids=[person.id], message=f"Thanks, {person.name}", points=points)
        form.visibility = visibility
        await give_kudos(gina, form)
    assert await handling.run_recorded() > 0  # one batch: the three gifts are consecutive events of one type

    thanks = Notification.select(Notification.recipient, Notification.text).where(
        Notification.kind == Kind.KUDOS_RECEIVED
    )
    texts = {row["recipient"]: row["text"] for row in await thanks}
    assert texts == {
        people[0].id: "Gina Giver thanked you (+5 points): “Thanks, Ravi”",
        people[1].id: "Gina Giver thanked you: “Thanks, Omar”",
        people[2].id: "Gina Giver thanked you (+10 points): “Thanks, Nia”",
    }
    notices = (
        await Notice.select(Notice.employee, Notice.headline, Notice.detail, Notice.private)
        .where(Notice.kind == NoticeKind.KUDOS)
        .order_by(Notice.id)
    )
    assert [(n["employee"], n["headline"], n["detail"], n["private"]) for n in notices] == [
        (people[0].id, "Gina Giver thanked you (+5 points)", "Thanks, Ravi", False),
        (people[1].id, "Gina Giver thanked you", "Thanks, Omar", True),
        (people[2].id, "Gina Giver thanked you (+10 points)", "Thanks, Nia", False),
    ]
    bodies = [row["body"] for row in await WebhookDelivery.select(WebhookDelivery.body).order_by(WebhookDelivery.id)]
    assert len(bodies) == 2 and "Thanks, Ravi" in bodies[0] and "Thanks, Nia" in bodies[1]
    assert await handling.run_recorded(handed_over_too=True) == 0  # nothing runs twice
