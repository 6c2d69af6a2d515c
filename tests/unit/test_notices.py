"""Email notices: preferences and their defaults, and who gets a notice (and how) from each event."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.events import AwardAnnounced, AwardWon, KudosGiven
from app.kudos.changes import add_on
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.notices import handlers
from app.notices.preferences import DEFAULTS, choices_of, parse_choices, preferences, set_choices
from app.notices.services import Fact, forget_before, plan_summaries, record
from app.notices.tables import Choice, Notice, NoticeKind, NoticeMail, NoticePreference
from app.people.tables import Employee
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import as_user, make_department, make_employee, make_request

pytestmark = pytest.mark.usefixtures("db")


async def notices(kind: NoticeKind | None = None) -> list[dict]:
    query = Notice.select(Notice.employee, Notice.kind, Notice.choice, Notice.mail, Notice.headline, Notice.private)
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return await query.order_by(Notice.id)


async def test_defaults_instant_for_kudos_and_awards_daily_for_the_rest_and_a_choice_is_kept() -> None:
    ann = await make_employee(name="Ann")
    assert {p.kind: p.choice for p in await preferences(ann.id)} == {
        NoticeKind.KUDOS: Choice.INSTANT,
        NoticeKind.ADDON: Choice.DAILY,
        NoticeKind.BADGE: Choice.DAILY,
        NoticeKind.AWARD: Choice.INSTANT,
        NoticeKind.REQUEST: Choice.DAILY,
    }
    await set_choices(ann.id, {NoticeKind.KUDOS: Choice.NEVER, NoticeKind.BADGE: Choice.INSTANT})
    await set_choices(ann.id, {NoticeKind.BADGE: Choice.DAILY})  # again: updated, the other kinds kept
    chosen = {p.kind: p.choice for p in await preferences(ann.id)}
    assert chosen[NoticeKind.KUDOS] == Choice.NEVER and chosen[NoticeKind.BADGE] == Choice.DAILY
    assert chosen[NoticeKind.AWARD] == DEFAULTS[NoticeKind.AWARD]
    assert await NoticePreference.count() == 2


async def test_bad_choices_are_refused_with_a_clear_message() -> None:
    with pytest.raises(RuleViolation, match="not a kind of email notice"):
        parse_choices({"gossip": "instant"})
    with pytest.raises(RuleViolation, match="Choose right away, daily or never for “Someone thanks you”"):
        parse_choices({"kudos": "hourly"})
    assert parse_choices({"kudos": "never"}) == {NoticeKind.KUDOS: Choice.NEVER}


async def test_deactivated_people_and_people_who_chose_never_are_left_out() -> None:
    ann, ben, cid = [await make_employee(name=n) for n in ("Ann", "Ben", "Cid")]
    await set_choices(ben.id, {NoticeKind.KUDOS: Choice.NEVER})
    await Employee.update({Employee.active: False}).where(Employee.id == cid.id)
    assert await choices_of(NoticeKind.KUDOS, [ann.id, ben.id, cid.id]) == {ann.id: Choice.INSTANT}


async def test_a_kudos_tells_each_recipient_as_they_chose_never_the_giver_and_a_rerun_adds_nothing() -> None:
    it = await make_department(name="IT")
    gina, ravi, omar, nia = [await make_employee(name=n, department=it) for n in ("Gina", "Ravi", "Omar", "Nia")]
    await set_choices(omar.id, {NoticeKind.KUDOS: Choice.DAILY})
    await set_choices(nia.id, {NoticeKind.KUDOS: Choice.NEVER})
    form = GiveForm(recipient_ids=[ravi.id, omar.id, nia.id], message="Thanks for <the> fix", points="5")
    await give_kudos(await as_user(gina), form)
    await run_stored_events()

    rows = await notices(NoticeKind.KUDOS)
    assert [(r["employee"], r["choice"]) for r in rows] == [(ravi.id, "instant"), (omar.id, "daily")]
    assert rows[0]["headline"] == "Gina thanked you (+5 points)"
    assert rows[0]["mail"] is not None and rows[1]["mail"] is None  # the daily one waits for the summary
    assert await NoticeMail.count() == 1

    before = await Notice.count()
    kudos = await Notice.select(Notice.event_id, Notice.subject_id).where(Notice.kind == NoticeKind.KUDOS).first()
    again = KudosGiven(
        event_id=kudos["event_id"],
        at=now(),
        kudos_id=kudos["subject_id"],
        giver_id=gina.id,
        recipient_ids=(ravi.id, omar.id, nia.id),
        points=5,
        public=True,
    )
    await handlers.kudos_given(again)  # the handler run again (a retried job): nothing new
    assert await Notice.count() == before and await NoticeMail.count() == 1


async def test_a_private_kudos_is_told_to_its_recipient_marked_private() -> None:
    gina, ravi = await make_employee(name="Gina"), await make_employee(name="Ravi")
    form = GiveForm(recipient_ids=[ravi.id], message="Quietly: thanks", points="0", visibility="private")
    await give_kudos(await as_user(gina), form)
    await run_stored_events()
    rows = await notices(NoticeKind.KUDOS)
    assert [(r["employee"], r["private"]) for r in rows] == [(ravi.id, True)]


async def test_an_add_on_tells_the_kudos_recipients_and_giver_but_not_whoever_added_it() -> None:
    gina, ravi, omar = [await make_employee(name=n) for n in ("Gina", "Ravi", "Omar")]
    given = await give_kudos(await as_user(gina), GiveForm(recipient_ids=[ravi.id], message="Thanks", points="0"))
    await run_stored_events()
    await add_on(await as_user(omar), given.kudos_id, comment="Seconded!", points="0")
    await run_stored_events()
    rows = await notices(NoticeKind.ADDON)
    assert sorted(r["employee"] for r in rows) == sorted([ravi.id, gina.id])
    assert {r["choice"] for r in rows} == {"daily"}
    assert rows[0]["headline"] == "Omar added a +1 to your kudos"


async def test_a_completed_request_tells_its_requester_and_a_badge_its_earner() -> None:
    it = await make_department(name="IT")
    rita, olu = await make_employee(name="Rita"), await make_employee(name="Olu", department=it)
    await make_request(rita, it, "New laptop", resolvers=(olu,), status="completed")
    await run_stored_events()
    rows = await notices(NoticeKind.REQUEST)
    assert [(r["employee"], r["choice"], r["headline"]) for r in rows] == [
        (rita.id, "daily", "Olu completed your request “New laptop”")
    ]
    await give_kudos(await as_user(rita), GiveForm(recipient_ids=[olu.id], message="Thanks", points="0"))
    await run_stored_events()  # the first kudos given and received earn badges
    badges = await notices(NoticeKind.BADGE)
    assert {r["employee"] for r in badges} == {rita.id, olu.id}
    assert all(r["headline"].startswith("You earned the badge") for r in badges)


async def test_awards_tell_person_winners_and_a_winning_departments_active_members_not_the_announcer() -> None:
    it = await make_department(name="IT")
    admin = await make_employee(name="Ada", department=it)
    ivy, ian, gone = [await make_employee(name=n, department=it) for n in ("Ivy", "Ian", "Gone")]
    pat = await make_employee(name="Pat")
    await Employee.update({Employee.active: False}).where(Employee.id == gone.id)
    event = AwardAnnounced(
        event_id="award-1",
        at=now(),
        cycle_id=1,
        month=date(2026, 11, 1),
        announced_by=admin.id,
        winners=(
            AwardWon(category="Department of the Month", name="IT", citation="Kept us running", department_id=it.id),
            AwardWon(category="Internal Service Star", name="Ivy", citation="Always there", person_id=ivy.id),
            AwardWon(category="Bridge Builder", name="Pat", citation="", person_id=pat.id),
        ),
    )
    await handlers.award_announced(event)
    await handlers.award_announced(event)
    rows = {r["employee"]: r for r in await notices(NoticeKind.AWARD)}
    assert set(rows) == {ivy.id, ian.id, pat.id}  # not the announcer (though in IT), not the deactivated
    assert rows[pat.id]["headline"] == "You won Bridge Builder for November 2026"
    assert rows[ian.id]["headline"] == "Your department IT won Department of the Month for November 2026"
    assert rows[ivy.id]["headline"] == "2 awards for you for November 2026"
    assert {r["choice"] for r in rows.values()} == {"instant"}


async def test_the_daily_summary_takes_the_waiting_notices_once_a_day() -> None:
    gina, ravi = await make_employee(name="Gina"), await make_employee(name="Ravi")
    await set_choices(ravi.id, {NoticeKind.KUDOS: Choice.DAILY})
    for message in ("One", "Two"):
        await give_kudos(await as_user(gina), GiveForm(recipient_ids=[ravi.id], message=message, points="0"))
    await run_stored_events()
    tz = get_settings().tz
    evening = (now().astimezone(tz) + timedelta(days=1)).replace(hour=20, minute=1)  # tomorrow: after the notices
    morning = evening.replace(hour=6)
    assert await plan_summaries(morning) == 0  # before the daily hour: nothing yet
    assert await plan_summaries(evening) == 2  # Ravi (two kudos) and Gina (her first-kudos badge)
    assert await plan_summaries(evening) == 0  # the same day again: nothing
    mails = await NoticeMail.select().where(NoticeMail.day.is_not_null())
    assert len(mails) == 2 and {m["day"] for m in mails} == {evening.date()}
    ravi_mail = next(m for m in mails if m["employee"] == ravi.id)
    assert await Notice.count().where(Notice.mail == ravi_mail["id"]) == 3  # two kudos, his first-kudos badge
    assert await Notice.count().where(Notice.mail.is_null()) == 0


async def test_the_demos_replayed_past_is_never_mailed() -> None:
    ann, ben = await make_employee(name="Ann"), await make_employee(name="Ben")
    await set_choices(ben.id, {NoticeKind.KUDOS: Choice.DAILY})
    past = Fact(kind=NoticeKind.KUDOS, event_id="old", at=now() - timedelta(days=30), subject_id=1, headline="Old")
    assert await record(past, [ann.id, ben.id]) == 2
    fresh = Fact(kind=NoticeKind.KUDOS, event_id="new", at=now() + timedelta(seconds=5), subject_id=2, headline="New")
    await record(fresh, [ann.id])
    assert await forget_before(now()) == 2
    assert [r["headline"] for r in await notices()] == ["New"]
    assert await NoticeMail.count() == 1
