"""The award calendar's jobs with a controllable clock: open → remind → close → announce, a late start, a double
run, and the reminder reaching a real SMTP server exactly once per manager who has not nominated."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from app.awards import cycles, nominations, winners
from app.awards.nominations import NominationForm
from app.awards.tables import AwardCycle, AwardReminder
from app.handlers import register_all
from app.jobs.worker import WorkerSettings
from app.notifications.tables import Kind, Notification
from app.people.tables import Role
from app.settings import get_settings
from tests.awards_world import AFTER, CLOSES, DURING, OPENS, REMIND, World, build_world, run_handlers
from tests.factories import make_employee
from tests.plugins.smtp import SmtpServer

register_all()
pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


@pytest.fixture
async def world() -> World:
    return await build_world()


@pytest.fixture
def smtp_mail(smtp_server: SmtpServer):
    """Mail goes over SMTP to the test server for one test."""
    saved = {k: os.environ.get(k) for k in ("KUDOS_MAIL_BACKEND", "KUDOS_SMTP_HOST", "KUDOS_SMTP_PORT")}
    os.environ.update(
        {"KUDOS_MAIL_BACKEND": "smtp", "KUDOS_SMTP_HOST": smtp_server.host, "KUDOS_SMTP_PORT": str(smtp_server.port)}
    )
    get_settings.cache_clear()
    yield smtp_server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


async def test_the_cycle_runs_itself_and_every_step_is_idempotent(
    world: World, smtp_mail: SmtpServer, run_worker
) -> None:
    # before the window: nothing to open
    assert await cycles.open_due_cycle(at=OPENS - timedelta(minutes=1)) is None
    assert await AwardCycle.count() == 0
    # open, twice
    cycle_id = await cycles.open_due_cycle(at=OPENS)
    assert cycle_id is not None
    assert await cycles.open_due_cycle(at=OPENS + timedelta(minutes=5)) is None
    cycle = await cycles.get_cycle(cycle_id)
    assert cycle is not None and cycle.label == "October 2026" and cycle.phase(DURING) == "open"
    assert (cycle.opens_at, cycle.remind_at, cycle.closes_at) == (OPENS, REMIND, CLOSES)
    # Max nominates; no reminder before the day before the deadline
    max_ = await world.user(world.max)
    await nominations.nominate(max_, NominationForm(str(world.star), f"p{world.ravi.id}", "Great month."), at=DURING)
    assert await cycles.send_due_reminders(at=REMIND - timedelta(minutes=1)) == 0
    # the reminder goes to Mia only (Max nominated; employees and admins do not nominate), once
    assert await cycles.send_due_reminders(at=REMIND) == 1
    assert await cycles.send_due_reminders(at=REMIND + timedelta(hours=1)) == 0
    assert [str(m["To"]) for m in smtp_mail.messages] == ["mia@example.com"]
    message = smtp_mail.messages[0]
    assert "October 2026" in str(message["Subject"])
    body = message.get_body(("plain",))
    assert body is not None and "http://testserver/awards" in body.get_content()
    await run_handlers(run_worker)  # the worker turns the reminder's event into a notification
    reminded = await Notification.select(Notification.recipient).where(Notification.kind == Kind.NOMINATION_REMINDER)
    assert reminded == [{"recipient": world.mia.id}]
    # a manager who joins later still gets their one reminder on the next run
    await make_employee("Nia New", email="nia@example.com", role=Role.MANAGER)
    assert await cycles.send_due_reminders(at=REMIND + timedelta(hours=2)) == 1
    assert await AwardReminder.count() == 2 and len(smtp_mail.messages) == 2
    # close at the deadline, twice; admins are told to review
    assert await cycles.close_due_cycles(at=CLOSES - timedelta(seconds=1)) == []
    assert await cycles.close_due_cycles(at=CLOSES) == [cycle_id]
    assert await cycles.close_due_cycles(at=CLOSES + timedelta(minutes=5)) == []
    await run_handlers(run_worker)
    review = await Notification.select(Notification.recipient).where(Notification.kind == Kind.AWARD_REVIEW)
    assert review == [{"recipient": world.ada.id}]
    # no reminders after the deadline
    await make_employee("Late Manager", email="late@example.com", role=Role.MANAGER)
    assert await cycles.send_due_reminders(at=CLOSES + timedelta(minutes=1)) == 0
    # announce
    ada = await world.user(world.ada)
    await winners.pick_winners(ada, cycle_id, world.star, [(f"p{world.ravi.id}", "")], at=AFTER)
    await winners.announce(ada, cycle_id, at=AFTER)
    cycle = await cycles.get_cycle(cycle_id)
    assert cycle is not None and cycle.phase() == "announced" and cycle.closed_at == CLOSES


async def test_a_late_start_catches_up(world: World, smtp_mail: SmtpServer) -> None:
    # no worker ran from 1 to 6 November: on start at 18:00 on the 6th the cycle opens with the calendar's deadline,
    # and the reminder (due since 09:00) goes out at once
    late = datetime(2026, 11, 6, 18, 0, tzinfo=UTC)
    cycle_id = await cycles.open_due_cycle(at=late)
    assert cycle_id is not None
    assert await cycles.send_due_reminders(at=late) == 2  # Mia and Max
    assert await cycles.close_due_cycles(at=late) == []
    # a worker that comes back after the deadline closes it and sends no reminder
    cycle_id_b = await cycles.open_due_cycle(at=datetime(2026, 12, 9, tzinfo=UTC))  # November's, already closed
    assert cycle_id_b is not None
    assert await cycles.send_due_reminders(at=datetime(2026, 12, 9, tzinfo=UTC)) == 0
    assert sorted(await cycles.close_due_cycles(at=datetime(2026, 12, 9, tzinfo=UTC))) == [cycle_id, cycle_id_b]
    assert len(smtp_mail.messages) == 2


async def test_a_failed_send_is_retried_and_not_recorded(world: World, smtp_mail: SmtpServer, run_worker) -> None:
    await cycles.open_due_cycle(at=OPENS)
    os.environ["KUDOS_SMTP_PORT"] = "1"  # nothing listens there
    get_settings.cache_clear()
    with pytest.raises(OSError):
        await cycles.send_due_reminders(at=REMIND)
    assert await AwardReminder.count() == 0
    await run_handlers(run_worker)  # nothing was published: the event went with the rolled-back reminder
    assert await Notification.count().where(Notification.kind == Kind.NOMINATION_REMINDER) == 0
    os.environ["KUDOS_SMTP_PORT"] = str(smtp_mail.port)
    get_settings.cache_clear()
    assert await cycles.send_due_reminders(at=REMIND) == 2
    await run_handlers(run_worker)
    assert await Notification.count().where(Notification.kind == Kind.NOMINATION_REMINDER) == 2
    assert sorted(str(m["To"]) for m in smtp_mail.messages) == ["max@example.com", "mia@example.com"]


def test_the_worker_runs_the_award_jobs_on_schedule_and_at_start_up() -> None:
    names = {job.name: job for job in WorkerSettings.cron_jobs}
    for name in ("cron:open_award_cycle", "cron:send_nomination_reminders", "cron:close_award_cycles"):
        assert names[name].run_at_startup and names[name].unique
    registered = {getattr(f, "name", getattr(f, "__name__", None)) for f in WorkerSettings.functions}
    assert {"open_award_cycle", "send_nomination_reminders", "close_award_cycles"} <= registered


async def test_a_real_worker_runs_the_award_jobs(world: World, run_worker) -> None:
    from arq.connections import create_pool

    from app.jobs.worker import redis_settings

    pool = await create_pool(redis_settings())
    try:
        for function in ("open_award_cycle", "send_nomination_reminders", "close_award_cycles"):
            await pool.enqueue_job(function)
    finally:
        await pool.aclose()
    worker = await run_worker()
    assert worker.jobs_failed == 0 and worker.jobs_complete >= 3
    # the month just ended has its cycle once today is past the default calendar's opening (the 1st, 09:00)
    from app.awards.calendar import Calendar
    from app.timeutil import month_of, now, previous_month

    opens, _ = Calendar().window(previous_month(month_of(now())))
    assert await AwardCycle.count() == (1 if now() >= opens else 0)


async def _open_prompts(kind: Kind) -> list[int]:
    rows = await Notification.select(Notification.recipient).where(
        (Notification.kind == kind) & Notification.done_at.is_null()
    )
    return sorted(row["recipient"] for row in rows)


async def test_award_prompts_close_when_their_action_is_done_whoever_did_it(world: World, run_worker) -> None:
    """ "N to review" goes for every admin once one announces; a reminder goes when its manager nominates, and
    every reminder goes when nominations close."""
    cycle_id = await cycles.open_due_cycle(at=OPENS)
    assert cycle_id is not None
    assert await cycles.send_due_reminders(at=REMIND) == 2
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.NOMINATION_REMINDER) == sorted([world.mia.id, world.max.id])
    max_ = await world.user(world.max)
    await nominations.nominate(max_, NominationForm(str(world.star), f"p{world.ravi.id}", "Great month."), at=REMIND)
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.NOMINATION_REMINDER) == [world.mia.id]
    other = await make_employee("Oda Otheradmin", email="oda@example.com", role=Role.ADMIN)
    assert await cycles.close_due_cycles(at=CLOSES) == [cycle_id]
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.NOMINATION_REMINDER) == []
    assert await _open_prompts(Kind.AWARD_REVIEW) == sorted([world.ada.id, other.id])
    ada = await world.user(world.ada)
    await winners.pick_winners(ada, cycle_id, world.star, [(f"p{world.ravi.id}", "")], at=AFTER)
    await winners.announce(ada, cycle_id, at=AFTER)
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.AWARD_REVIEW) == []
    unread = await Notification.count().where((Notification.kind == Kind.AWARD_REVIEW) & Notification.read_at.is_null())
    assert unread == 0  # Oda's "to review" is no longer waiting for her either


async def test_a_worker_running_behind_leaves_no_prompt_whose_action_is_done(world: World, run_worker) -> None:
    """The events of a reminder and a nomination, or of the close and the announcement, handled together (in any
    order): no reminder for the manager who nominated, no "to review" for an announced cycle."""
    cycle_id = await cycles.open_due_cycle(at=OPENS)
    assert cycle_id is not None
    assert await cycles.send_due_reminders(at=REMIND) == 2
    max_ = await world.user(world.max)
    await nominations.nominate(max_, NominationForm(str(world.star), f"p{world.ravi.id}", "Great month."), at=REMIND)
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.NOMINATION_REMINDER) == [world.mia.id]
    assert await cycles.close_due_cycles(at=CLOSES) == [cycle_id]
    ada = await world.user(world.ada)
    await winners.pick_winners(ada, cycle_id, world.star, [(f"p{world.ravi.id}", "")], at=AFTER)
    await winners.announce(ada, cycle_id, at=AFTER)
    await run_handlers(run_worker)
    assert await _open_prompts(Kind.NOMINATION_REMINDER) == []
    assert await _open_prompts(Kind.AWARD_REVIEW) == []
    assert await Notification.count().where(Notification.kind == Kind.AWARD_WON) == 1
