"""Email notices through real arq workers to a real SMTP server: HTML and text parts, once per notice, nobody
deactivated or opted out, a daily summary once a day, and nothing lost or doubled when Redis or a worker dies."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import timedelta
from email.utils import parseaddr

from arq.connections import RedisSettings

from app.jobs import handling
from app.jobs import worker as jobs
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.mail.backends import get_backend
from app.notices import delivery
from app.notices.preferences import set_choices
from app.notices.services import Fact, plan_summaries, record
from app.notices.tables import Choice, NoticeKind, NoticeMail
from app.people.tables import Employee
from app.settings import get_settings
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import as_user, make_department, make_employee
from tests.plugins.smtp import SmtpServer
from tests.workers import wait_for, worker_process


async def statuses() -> Counter[str]:
    """The instant mails' statuses (a worker's start also plans today's summaries once the daily hour passed)."""
    return Counter(row["status"] for row in await NoticeMail.select(NoticeMail.status).where(NoticeMail.day.is_null()))


def kudos_mails(server: SmtpServer) -> list:
    return [m for m in server.messages if "thanked you" in str(m["Subject"])]


async def test_a_kudos_sends_its_recipient_one_mail_with_html_and_text_and_escaped_text(
    smtp_settings: SmtpServer, run_worker
) -> None:
    gina = await make_employee(name="Gina Giver", email="gina@example.com")
    ravi = await make_employee(name="Ravi Recipient", email="ravi@example.com")
    form = GiveForm(recipient_ids=[ravi.id], message="<b>Fixed</b> my laptop & data!", points="5", visibility="private")
    given = await give_kudos(await as_user(gina), form)
    await run_stored_events()
    await run_worker()
    await run_worker()  # again: nothing new goes out

    [mail] = kudos_mails(smtp_settings)
    assert parseaddr(str(mail["To"]))[1] == "ravi@example.com"
    assert str(mail["Subject"]) == "Gina Giver thanked you (+5 points)"
    assert mail["X-Kudos-Private-Kudos"] == "1"  # the outbox viewer shows it to Ravi only
    assert str(mail["Message-ID"]).startswith("<notice.")
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "&lt;b&gt;Fixed&lt;/b&gt; my laptop &amp; data!" in html and "<b>Fixed</b>" not in html
    assert "<b>Fixed</b> my laptop & data!" in text
    assert f'href="http://testserver/kudos/{given.kudos_id}"' in html
    assert f"http://testserver/kudos/{given.kudos_id}" in text
    assert "http://testserver/me/settings#settings-notices" in html and "http://testserver/me/settings" in text
    assert await statuses() == Counter({"sent": 1})


async def test_nobody_deactivated_or_opted_out_since_the_event_gets_the_mail(
    smtp_settings: SmtpServer, run_worker
) -> None:
    gina = await make_employee(name="Gina")
    ravi, omar, nia = [await make_employee(name=n, email=f"{n.lower()}@example.com") for n in ("Ravi", "Omar", "Nia")]
    form = GiveForm(recipient_ids=[ravi.id, omar.id, nia.id], message="Thanks all", points="0")
    await give_kudos(await as_user(gina), form)
    await run_stored_events()
    await Employee.update({Employee.active: False}).where(Employee.id == omar.id)  # after the event, before sending
    await set_choices(nia.id, {NoticeKind.KUDOS: Choice.NEVER})
    await run_worker()
    assert [parseaddr(str(m["To"]))[1] for m in kudos_mails(smtp_settings)] == ["ravi@example.com"]
    assert await statuses() == Counter({"sent": 1, "skipped": 2})


async def test_the_daily_summary_sends_one_mail_a_day_with_the_waiting_notices(
    smtp_settings: SmtpServer, run_worker
) -> None:
    gina = await make_employee(name="Gina")
    ravi = await make_employee(name="Ravi", email="ravi@example.com")
    await set_choices(ravi.id, {kind: Choice.DAILY for kind in NoticeKind})
    await set_choices(gina.id, {kind: Choice.NEVER for kind in NoticeKind})
    for message in ("Thanks for Monday", "Thanks for Tuesday"):
        await give_kudos(await as_user(gina), GiveForm(recipient_ids=[ravi.id], message=message, points="0"))
    await run_stored_events()
    assert await NoticeMail.count() == 0  # daily: nothing yet

    evening = (now().astimezone(get_settings().tz) + timedelta(days=1)).replace(hour=20, minute=0)
    assert await plan_summaries(evening.replace(hour=6)) == 0  # before the daily hour
    assert await plan_summaries(evening) == 1
    assert await plan_summaries(evening) == 0  # the trigger run twice: still one summary
    await run_worker()
    await run_worker()
    [mail] = smtp_settings.messages
    assert str(mail["Subject"]) == "Your day on Kudos: Gina thanked you and 2 more"  # two kudos and a badge
    text = mail.get_body(("plain",)).get_content()
    assert "Thanks for Monday" in text and "Thanks for Tuesday" in text and "You earned the badge" in text
    assert mail.get_body(("html",)) is not None


async def test_a_mail_whose_job_redis_lost_is_sent_once_when_the_worker_runs_again(
    smtp_settings: SmtpServer, run_worker, redis
) -> None:
    gina, ravi = await make_employee(name="Gina"), await make_employee(name="Ravi", email="ravi@example.com")
    await give_kudos(await as_user(gina), GiveForm(recipient_ids=[ravi.id], message="Thanks", points="0"))
    await run_stored_events()
    await run_worker()
    smtp_settings.messages.clear()
    await NoticeMail.update({NoticeMail.status: "pending", NoticeMail.sent_at: None}, force=True)
    await redis.flushdb()  # Redis lost: every queued job is gone; the mail row is still pending in PostgreSQL
    await run_worker(hand_over=False)  # the delivery cron's run at start-up finds it
    assert [parseaddr(str(m["To"]))[1] for m in kudos_mails(smtp_settings)] == ["ravi@example.com"]
    await run_worker(hand_over=False)
    assert len(kudos_mails(smtp_settings)) == 1 and await statuses() == Counter({"sent": 1})


async def test_a_worker_killed_mid_send_leaves_nobody_without_their_notice(
    db, smtp_server: SmtpServer, tmp_path
) -> None:
    team = await make_department(name="Crowd")
    giver = await make_employee(name="Gina")
    people = [await make_employee(name=f"Crowd {n}", department=team) for n in range(60)]
    fact = Fact(
        kind=NoticeKind.KUDOS, event_id="crowd", at=now(), subject_id=1, headline="Gina thanked you", actor_id=giver.id
    )
    assert await record(fact, [p.id for p in people]) == 60
    smtp_server.delay = 0.03  # a slow server: the kill lands mid-run
    first = worker_process(smtp_server, tmp_path / "worker.log")
    try:

        async def some_sent() -> bool:
            return (await statuses())["sent"] >= 10

        await wait_for(some_sent)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = await statuses()
    in_flight = at_kill["sending"]
    assert in_flight > 0 and at_kill["pending"] + in_flight > 0  # the kill left work behind

    # the dead worker's claims outlive the lease (2 s here): aged past it in the table rather than slept through
    await NoticeMail.raw(
        "UPDATE notice_mail SET claimed_at = claimed_at - interval '1 minute' WHERE status = 'sending'"
    )
    second = worker_process(smtp_server, tmp_path / "worker.log")
    try:

        async def all_sent() -> bool:
            return await statuses() == Counter({"sent": 60})

        await wait_for(all_sent)
    finally:
        second.terminate()
        second.wait(timeout=20)
    ids = Counter(str(message["Message-ID"]) for message in smtp_server.messages)
    assert len(ids) == 60  # nobody is missing their notice
    assert sum(n - 1 for n in ids.values()) <= in_flight  # only mail handed over but not yet recorded at the kill


async def test_a_refused_address_is_retried_later_and_the_rest_go_out(db, smtp_settings: SmtpServer) -> None:
    people = [await make_employee(name=f"P{n}", email=f"p{n}@example.com") for n in range(7)]
    smtp_settings.refuse.add("p3@example.com")
    fact = Fact(kind=NoticeKind.AWARD, event_id="award", at=now(), subject_id=1, headline="You won an award")
    await record(fact, [p.id for p in people])
    async with get_backend(get_settings()) as backend:
        outcome = await delivery.deliver(backend, batch=3)  # three claims on one connection
    assert (outcome.sent, outcome.failed) == (6, 1)
    row = await NoticeMail.objects().get(NoticeMail.status == "pending")
    assert row.attempts == 1 and "550" in row.last_error and row.next_attempt_at > now()


async def test_killing_redis_under_a_stream_of_kudos_loses_no_notice_and_doubles_none(
    db, smtp_settings: SmtpServer, own_redis, monkeypatch, caplog
) -> None:
    """A worker runs while kudos come in; Redis dies a third of the way and comes back empty (every queued job
    gone): each recipient still gets exactly one mail."""
    monkeypatch.setattr(jobs, "REDIS_RETRY_SECONDS", 0.1)
    monkeypatch.setattr(handling, "SWEEP_GRACE", timedelta(seconds=1))  # events whose job Redis lost run again soon
    gina = await make_employee(name="Gina")
    people = [await make_employee(name=f"R{n}", email=f"r{n}@example.com") for n in range(15)]
    worker = jobs.build_worker(
        redis_settings=RedisSettings.from_dsn(own_redis.url),
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[
            jobs.scheduled(jobs.DRAIN_OUTBOX, second=set(range(60))),
            jobs.scheduled(jobs.SWEEP, second=set(range(60))),
            jobs.scheduled(jobs.DELIVER_NOTICES, second=set(range(60))),
        ],
    )
    task = asyncio.create_task(worker.async_run())
    try:
        for n, person in enumerate(people):
            if n == len(people) // 3:
                own_redis.stop()
                await asyncio.sleep(1.5)
                own_redis.start()  # back empty
            form = GiveForm(recipient_ids=[person.id], message=f"Thanks, number {n}!", points="0")
            await give_kudos(await as_user(gina), form)
            await asyncio.sleep(0.05)

        async def all_sent() -> bool:
            return await statuses() == Counter({"sent": len(people)})

        await wait_for(all_sent)
    finally:
        await worker.close()
        task.cancel()
    assert "lost Redis" in caplog.text  # the worker did see Redis go
    received = Counter(parseaddr(str(m["To"]))[1] for m in kudos_mails(smtp_settings))
    assert received == Counter({f"r{n}@example.com": 1 for n in range(len(people))})
