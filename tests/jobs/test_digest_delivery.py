"""Digest delivery through real arq workers to a real SMTP server: exactly once per eligible person, retries,
a worker killed mid-run, and two workers on one run."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import timedelta
from email.utils import parseaddr

import pytest

from app.digests import delivery
from app.digests.delivery import claim, message_id, reap
from app.digests.services import Trigger, last_month, progress, retry_failed, set_subscribed, start_run
from app.digests.tables import DeliveryStatus, DigestDelivery, DigestKind
from app.jobs.outbox import drain
from app.mail.queue import MAX_ATTEMPTS
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.timeutil import month_bounds, now
from tests.digest_org import small_org
from tests.factories import make_department, make_employee
from tests.plugins.smtp import SmtpServer
from tests.workers import wait_for, worker_process


def recipients(server: SmtpServer) -> Counter[tuple[str, str]]:
    """(address, kind) of every message the server accepted."""
    return Counter(
        (parseaddr(str(message["To"]))[1], "manager" if "Your team" in str(message["Subject"]) else "employee")
        for message in server.messages
    )


async def emails(ids: set[int]) -> set[str]:
    return {row["email"] for row in await Employee.select(Employee.email).where(Employee.id.is_in(list(ids)))}


async def test_a_run_sends_every_eligible_person_exactly_one_digest_and_a_rerun_sends_nothing(
    smtp_settings: SmtpServer, run_worker, arq_redis
) -> None:
    org = await small_org()
    started = await start_run(org.month, trigger=Trigger.CLI)
    assert started.new_run and started.planned == {"employee": 5, "manager": 1}
    assert await drain(arq_redis) == 2  # the run's delivery jobs, handed to arq after the commit

    worker = await run_worker()

    assert worker.jobs_failed == 0
    expected = {(email, "employee") for email in await emails(org.eligible_employees)}
    expected |= {(email, "manager") for email in await emails(org.eligible_managers)}
    assert recipients(smtp_settings) == Counter(expected)  # each exactly once; Dan, Eve and Ben-as-manager none
    assert smtp_settings.connections == 1  # the worker's jobs shared one SMTP connection
    assert (await progress(org.month)).counts == {"sent": 6}

    by_to = {(parseaddr(str(m["To"]))[1], str(m["Subject"])): m for m in smtp_settings.messages}
    ann = by_to[("ann@example.com", f"Your recognition in {org.month:%B %Y}")]
    assert ann["Message-ID"] == message_id(org.ann.id, org.month, DigestKind.EMPLOYEE)
    assert ann["List-Unsubscribe"].strip().startswith("<http://testserver/unsubscribe/")  # (may be folded)
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = ann.get_body(("html",)).get_content()
    text = ann.get_body(("plain",)).get_content()
    assert "Private thanks for covering my shift." in html and "Private thanks for covering my shift." in text
    assert "&lt;b&gt;laptop&lt;/b&gt; &amp; data!" in html and "<b>laptop</b>" not in html
    assert "<style" not in html and 'style="' in html  # CSS inlined for mail clients
    assert "#1</strong> of 2 in the organisation" in html
    assert "Carl Clerk" in text.split("THANK THEM BACK?")[1]  # Carl thanked Ann; she has not thanked him back
    ben = by_to[("ben@example.com", f"Your recognition in {org.month:%B %Y}")].get_body(("plain",)).get_content()
    assert "Your rank is not shown" in ben and "ranked #" not in ben
    mia = by_to[("mia@example.com", f"Your team in {org.month:%B %Y}")].get_body(("plain",)).get_content()
    assert "Gus Quiet: never recognised yet (60 days or more)" in mia
    assert "IT: SERVICE SCORECARD" in mia

    again = await start_run(org.month, trigger=Trigger.CLI)
    assert not again.new_run and again.planned == {"employee": 0, "manager": 0}
    await drain(arq_redis)
    await run_worker()
    assert len(smtp_settings.messages) == 6


async def test_a_refused_address_is_retried_with_backoff_then_failed_with_the_error_kept(
    smtp_settings: SmtpServer, run_worker
) -> None:
    org = await small_org()
    smtp_settings.refuse.add("gus@example.com")
    await start_run(org.month, trigger=Trigger.CLI)
    await run_worker()
    row = await DigestDelivery.objects().get(DigestDelivery.employee == org.gus.id)
    assert row.status == DeliveryStatus.PENDING and row.attempts == 1
    assert "No such mailbox" in row.last_error
    assert row.next_attempt_at - now() > timedelta(seconds=30)  # waits before the next attempt
    assert len(smtp_settings.messages) == 5  # the others went out on the same connection

    for _ in range(MAX_ATTEMPTS - 1):  # each later attempt once its time has come
        await DigestDelivery.update({DigestDelivery.next_attempt_at: now()}).where(DigestDelivery.id == row.id)
        await run_worker()
    row = await DigestDelivery.objects().get(DigestDelivery.id == row.id)
    assert row.status == DeliveryStatus.FAILED and row.attempts == MAX_ATTEMPTS
    assert "550" in row.last_error

    smtp_settings.refuse.clear()
    admin = await make_employee(role=Role.ADMIN)
    assert await retry_failed(org.month, by=await load_current_user(admin.id)) == 1
    await run_worker()
    assert (await progress(org.month)).counts == {"sent": 6}
    assert Counter(parseaddr(str(m["To"]))[1] for m in smtp_settings.messages)["gus@example.com"] == 1


async def test_the_reaper_returns_stale_claims_and_fails_rows_that_keep_killing_workers(db) -> None:
    org = await small_org()
    await start_run(org.month, trigger=Trigger.CLI)
    claimed = await claim("dead-worker", batch=2)
    assert len(claimed) == 2
    assert await reap() == 0  # claims younger than the lease are left alone
    assert await reap(lease=timedelta(0)) == 2
    assert (await progress(org.month)).counts == {"pending": 6}
    await DigestDelivery.update({DigestDelivery.attempts: MAX_ATTEMPTS - 1}, force=True)
    await claim("dead-again", batch=1)
    await reap(lease=timedelta(0))
    failed = await DigestDelivery.objects().where(DigestDelivery.status == DeliveryStatus.FAILED)
    assert len(failed) == 1 and failed[0].last_error == delivery.STOPPED


async def test_every_claim_reaps_first_and_a_dead_workers_rows_go_out_before_the_rest(db) -> None:
    org = await small_org()
    await start_run(org.month, trigger=Trigger.CLI)
    dead = await claim("dead-worker", batch=2)
    await DigestDelivery.update({DigestDelivery.claimed_at: now() - timedelta(hours=1)}).where(
        DigestDelivery.claimed_by == "dead-worker"
    )
    live = await claim("live-worker", batch=3)  # no separate reaper run, no waiting for the next minute
    assert [row.id for row in live][:2] == [row.id for row in dead]
    assert {row.attempts for row in live[:2]} == {2}


async def test_nobody_inactive_opted_out_or_joined_later_gets_one_even_if_it_changes_after_planning(
    smtp_settings: SmtpServer, run_worker
) -> None:
    org = await small_org()
    await set_subscribed(org.carl.id, DigestKind.EMPLOYEE, False)
    started = await start_run(org.month, trigger=Trigger.CLI)
    assert started.planned == {"employee": 4, "manager": 1}
    await set_subscribed(org.ann.id, DigestKind.EMPLOYEE, False)  # after the run was planned
    await Employee.update({Employee.active: False}).where(Employee.id == org.gus.id)
    await run_worker()
    assert {to for to, _ in recipients(smtp_settings)} == {"mia@example.com", "ben@example.com"}
    assert (await progress(org.month)).counts == {"sent": 3, "skipped": 2}


async def _crowd(count: int) -> None:
    """`count` active people who joined long before last month (no activity needed for a digest)."""
    department = await make_department()
    joined = month_bounds(last_month())[0] - timedelta(days=120)
    await Employee.insert(
        *[
            Employee(name=f"Crowd {n}", email=f"crowd{n}@example.com", department=department.id, created_at=joined)
            for n in range(count)
        ]
    )


async def _counts() -> dict[str, int]:
    rows = await DigestDelivery.raw("SELECT status, count(*) AS n FROM digest_delivery GROUP BY status")
    return {row["status"]: row["n"] for row in rows}


async def test_a_worker_killed_mid_run_leaves_no_one_without_a_digest(
    db, smtp_server: SmtpServer, arq_redis, tmp_path
) -> None:
    await _crowd(40)
    smtp_server.delay = 0.03  # a slow server: the kill lands mid-run
    month = last_month()
    await start_run(month, trigger=Trigger.CLI)
    await drain(arq_redis)
    first = worker_process(smtp_server, tmp_path / "worker.log")
    try:

        async def some_sent() -> bool:
            return (await _counts()).get("sent", 0) >= 10

        await wait_for(some_sent)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = await _counts()
    in_flight = at_kill.get("sending", 0)
    assert in_flight > 0 and at_kill.get("pending", 0) + in_flight > 0  # the kill left work behind
    accepted_at_kill = len(smtp_server.messages)

    # The dead worker's claims outlive the lease (2 s here): aged past it in the table rather than slept through.
    await DigestDelivery.raw(
        "UPDATE digest_delivery SET claimed_at = claimed_at - interval '1 minute' WHERE status = 'sending'"
    )
    second = worker_process(smtp_server, tmp_path / "worker.log")
    try:

        async def all_sent() -> bool:
            return (await _counts()) == {"sent": 40}

        await wait_for(all_sent)
    finally:
        second.terminate()
        second.wait(timeout=20)

    ids = Counter(str(message["Message-ID"]) for message in smtp_server.messages)
    assert len(ids) == 40  # nobody is missing a digest
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates <= in_flight  # only mail handed to the server but not yet recorded at the kill
    assert accepted_at_kill >= 10


async def test_two_workers_on_one_run_send_no_duplicates(
    smtp_settings: SmtpServer, run_worker, arq_redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _crowd(120)
    monkeypatch.setattr(delivery, "BATCH", 10)  # many small claims, so the workers interleave
    smtp_settings.delay = 0.005
    month = last_month()
    await start_run(month, trigger=Trigger.CLI)
    await drain(arq_redis)
    for _ in range(4):
        await arq_redis.enqueue_job("deliver_digests")
    await asyncio.gather(run_worker(max_jobs=1), run_worker(max_jobs=1))  # one job at a time each: they share
    ids = Counter(str(message["Message-ID"]) for message in smtp_settings.messages)
    assert len(ids) == 120 and max(ids.values()) == 1
    assert smtp_settings.connections == 2  # one connection per worker
    assert await _counts() == {"sent": 120}
