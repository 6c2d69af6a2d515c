"""Digests: unsubscribe tokens, the schedule and its catch-up, planning runs, preferences, previews, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

import pytest

from app.digests import services
from app.digests.services import Subscriptions, Trigger, last_month, run_due, scheduled_moment, start_run
from app.digests.tables import DigestDelivery, DigestKind, DigestOptOut, DigestRun, DigestSchedule
from app.digests.tokens import make_token, read_token
from app.jobs.tables import JobOutbox
from app.kudos.changes import add_on
from app.kudos.tables import Kudos
from app.mail.backends import list_outbox
from app.people.services import load_current_user
from app.people.tables import Employee
from app.rules import RuleViolation
from app.settings import SettingsError, get_settings, load_settings
from app.timeutil import month_bounds, next_month
from tests.digest_org import small_org
from tests.factories import make_employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


def test_a_token_names_one_person_and_one_kind() -> None:
    token = make_token(42, DigestKind.MANAGER)
    found = read_token(token)
    assert found is not None and (found.employee_id, found.kind) == (42, DigestKind.MANAGER)
    assert make_token(42, DigestKind.EMPLOYEE) != token


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: make_token(43, DigestKind.MANAGER).split(".")[0] + "." + t.split(".")[1],  # someone else's id
        lambda t: make_token(42, DigestKind.EMPLOYEE).split(".")[0] + "." + t.split(".")[1],  # another kind
        lambda t: t.split(".")[0],  # no signature
        lambda t: "not a token",
        lambda t: "",
        lambda t: "%%%.%%%",
        lambda t: t.split(".")[0] + "==." + t.split(".")[1],  # the same bytes, padded
        lambda t: t.split(".")[0] + "." + t.split(".")[1] + "=",  # a padded signature
        lambda t: t.split(".")[0][:-1] + chr(ord(t.split(".")[0][-1]) + 1) + "." + t.split(".")[1],  # unused bits set
    ],
)
def test_tampered_tokens_are_refused(tamper) -> None:
    assert make_token(42, DigestKind.MANAGER).split(".")[0] == "NDIubWFuYWdlcg"  # 10 bytes: 4 unused bits
    assert read_token(tamper(make_token(42, DigestKind.MANAGER))) is None


def test_digest_time_setting(tmp_path) -> None:
    base = {"KUDOS_DATA_DIR": str(tmp_path), "KUDOS_SECRET_KEY": "k" * 40}
    assert load_settings(base).digest_time == time(8, 0)
    assert load_settings({**base, "KUDOS_DIGEST_TIME": "06:30"}).digest_time == time(6, 30)
    for wrong in ("25:00", "8", "eight", "08:60"):
        with pytest.raises(SettingsError, match="KUDOS_DIGEST_TIME"):
            load_settings({**base, "KUDOS_DIGEST_TIME": wrong})


async def test_the_schedule_starts_last_month_once_due_and_catches_up_a_missed_run() -> None:
    org = await small_org()
    due = scheduled_moment(org.month)
    assert due == datetime.combine(next_month(org.month), time(8, 0), tzinfo=UTC)
    await DigestSchedule.insert(DigestSchedule(id=1, since=due - timedelta(days=40)))
    assert await run_due(at=due - timedelta(minutes=1)) is None  # not yet
    assert await DigestRun.count() == 0

    late = due + timedelta(days=2, hours=3)  # no worker ran at 08:00 on the 1st: the next start catches up
    started = await run_due(at=late)
    assert started is not None and started.month == org.month and started.planned == {"employee": 5, "manager": 1}
    run = await DigestRun.objects().first()
    assert run.trigger == Trigger.CATCH_UP
    assert await JobOutbox.count().where(JobOutbox.function == "deliver_digests") == services.DELIVERY_JOBS
    assert await run_due(at=late + timedelta(minutes=5)) is None  # started once
    assert await DigestDelivery.count() == 6


async def test_a_new_installation_does_not_mail_about_the_month_before_it_existed() -> None:
    org = await small_org()
    moment = scheduled_moment(org.month) + timedelta(days=3)
    assert await run_due(at=moment) is None  # the schedule begins now: last month fell due before it
    assert await DigestRun.count() == 0
    assert (await DigestSchedule.objects().first()).since == moment


async def test_on_time_runs_are_recorded_as_the_schedule() -> None:
    org = await small_org()
    due = scheduled_moment(org.month)
    await DigestSchedule.insert(DigestSchedule(id=1, since=due - timedelta(days=1)))
    started = await run_due(at=due + timedelta(seconds=1))
    assert started is not None
    assert (await DigestRun.objects().first()).trigger == Trigger.SCHEDULE


async def test_a_month_that_has_not_ended_is_refused_and_nothing_changes() -> None:
    this_month = next_month(last_month())
    with pytest.raises(RuleViolation, match="has not ended yet"):
        await start_run(this_month, trigger=Trigger.CLI)
    assert await DigestRun.count() == 0 and await DigestDelivery.count() == 0


@pytest.mark.parametrize(
    "text", ["", "2026", "2026-13", "2026-00", "26-01", "1999-05", "9999-12", "99999-01", "next month"]
)
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        services.parse_month(text)
    assert "month" in refused.value.errors


async def test_starting_a_month_again_plans_only_newcomers() -> None:
    org = await small_org()
    first = await start_run(org.month, trigger=Trigger.CLI)
    assert first.new_run
    await services.set_subscribed(org.carl.id, DigestKind.EMPLOYEE, True)  # already subscribed: no change
    late = await make_employee("Lee Late")
    await Employee.update({Employee.created_at: month_bounds(org.month)[0]}).where(Employee.id == late.id)
    again = await start_run(org.month, trigger=Trigger.CLI)
    assert not again.new_run and again.planned == {"employee": 1, "manager": 0}
    assert await DigestRun.count() == 1


async def test_subscriptions_are_per_kind_and_idempotent() -> None:
    org = await small_org()
    assert await services.subscriptions(org.mia.id) == Subscriptions(employee=True, manager=True, is_manager=True)
    assert (await services.subscriptions(org.ann.id)).is_manager is False
    for _ in range(2):
        await services.set_subscribed(org.mia.id, DigestKind.MANAGER, False)
    assert await services.subscriptions(org.mia.id) == Subscriptions(employee=True, manager=False, is_manager=True)
    assert await DigestOptOut.count() == 1
    await services.set_subscribed(org.mia.id, DigestKind.MANAGER, True)
    assert await DigestOptOut.count() == 0


async def test_unsubscribe_changes_only_the_tokens_person_and_kind() -> None:
    org = await small_org()
    token = make_token(org.ann.id, DigestKind.EMPLOYEE)
    target = await services.unsubscribe_target(token)
    assert target.name == "Ann Analyst" and target.subscribed
    await services.unsubscribe(token)
    assert await services.subscriptions(org.ann.id) == Subscriptions(employee=False, manager=True, is_manager=False)
    assert (await services.subscriptions(org.mia.id)).employee is True
    forged = make_token(org.mia.id, DigestKind.EMPLOYEE).split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(RuleViolation) as refused:
        await services.unsubscribe(forged)
    assert refused.value.status_code == 404
    assert (await services.subscriptions(org.mia.id)).employee is True


async def test_preview_renders_any_persons_digest_and_says_whether_they_get_it() -> None:
    org = await small_org()
    reader = await load_current_user(org.mia.id)
    shown = await services.preview("eve@example.com", f"{org.month:%Y-%m}", "employee", reader=reader)
    assert not shown.eligible  # joined after the month ended
    shown = await services.preview(str(org.mia.id), f"{org.month:%Y-%m}", "manager", reader=reader)
    assert shown.eligible and "Gus Quiet" in shown.mail.text
    assert await DigestDelivery.count() == 0  # a preview records nothing
    with pytest.raises(RuleViolation) as refused:
        await services.preview("nobody@example.com", "2026-99", "weekly", reader=reader)
    assert set(refused.value.errors) == {"person", "month", "kind"}


def _kudos(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app.cli", "digest", "run", *args]
    return subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True, timeout=60)


async def test_cli_digest_run_sends_last_months_digests_to_the_outbox() -> None:
    org = await small_org()
    done = await asyncio.to_thread(_kudos)
    assert done.returncode == 0, done.stderr
    assert f"Digests for {org.month:%B %Y}: planned 5 employee, 1 manager." in done.stdout
    assert "Sent 6 to the outbox" in done.stdout
    subjects = [entry.subject for entry in list_outbox(get_settings().outbox_dir, limit=500)]
    assert subjects.count(f"Your team in {org.month:%B %Y}") >= 1
    again = await asyncio.to_thread(_kudos)
    assert "planned 0 employee, 0 manager" in again.stdout and "Sent 0" in again.stdout
    bad = await asyncio.to_thread(_kudos, "--month", "2999-01")
    assert bad.returncode == 1 and "has not ended yet" in bad.stderr


async def test_every_figure_of_the_employee_digest_is_explained_by_what_it_lists() -> None:
    """Points from +1s are split from the points the listed kudos carry; one name per person to thank back."""
    org = await small_org()
    start, _ = month_bounds(org.month)
    kudos = await Kudos.select(Kudos.id).where(Kudos.message == "Great pairing session.").first()
    await add_on(
        await load_current_user(org.carl.id), kudos["id"], comment="Seconded!", points=7, at=start + timedelta(days=5)
    )
    shown = await services.preview(
        "ben@example.com", f"{org.month:%Y-%m}", "employee", reader=await load_current_user(org.ben.id)
    )
    text = " ".join(shown.mail.text.split())
    assert "1 kudos received, 12 points, from 1 colleague." in text
    assert "5 points came with the kudos below, and 7 points with 1 +1 that colleagues added" in text
    assert "Ann Analyst, " in text and ", 5 points" in text
    html = " ".join(shown.mail.html.split())
    assert "5 points came with the kudos below, and 7 points with 1 +1" in html
    # Ben thanked Ann back, so nobody to thank back; Ann has Carl (and Ben thanked her privately and she thanked him)
    shown = await services.preview(
        "ann@example.com", f"{org.month:%Y-%m}", "employee", reader=await load_current_user(org.ann.id)
    )
    html = " ".join(shown.mail.html.split())
    assert "1 colleague thanked you in" in html and "has not heard back from you since" in html
    assert ">Thank Carl Clerk</a> (1 kudos from them)" in html
    assert html.count("Carl Clerk") == 2  # the kudos he gave, and the one line to thank him back
    assert "came with the kudos below" not in html  # no +1s: the figures speak for themselves
