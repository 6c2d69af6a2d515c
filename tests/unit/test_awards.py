"""Awards (SPEC F9, B5): the calendar, nomination rules, withdrawal, picking winners, the announcement and what it
changes, reading (hall of fame, profiles, digests) and the shortlist figures against hand-computed values."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.api import webhooks
from app.api.tables import WebhookDelivery
from app.awards import categories, cycles, nominations, queries, shortlist, winners
from app.awards.calendar import Calendar, CalendarForm, get_calendar, update_calendar
from app.awards.categories import CategoryForm
from app.awards.nominations import NominationForm
from app.awards.tables import AwardCategory, AwardCycle, AwardWinner, Nomination, NominationEvidence
from app.boards.tables import BadgeAward
from app.digests.delivery import render_for
from app.digests.tables import DigestKind
from app.handlers import register_all
from app.kudos.controllers import feed_page
from app.kudos.tables import Kudos, Visibility
from app.notifications.tables import Kind, Notification
from app.people.services import led_departments
from app.people.tables import Employee
from app.rules import RuleViolation
from tests.awards_world import (
    AFTER,
    CLOSES,
    DURING,
    OCT,
    OPENS,
    World,
    build_world,
    october_figures,
    run_handlers,
    thank,
)
from tests.events import run_stored_events
from tests.plugins.receiver import Receiver

register_all()

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


@pytest.fixture
async def world() -> World:
    return await build_world()


@pytest.fixture
async def cycle(world: World) -> int:
    cycle_id = await cycles.open_due_cycle(at=OPENS)
    assert cycle_id is not None
    return cycle_id


def form(category: int, nominee: str, reason: str = "Helped everyone.", evidence: list[int] | None = None):
    return NominationForm(
        category=str(category), nominee=nominee, reason=reason, evidence=[str(k) for k in evidence or []]
    )


async def refused(coroutine, status: int, field: str | None = None) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        await coroutine
    assert caught.value.status_code == status, caught.value.errors
    if field:
        assert field in caught.value.errors, caught.value.errors
    return caught.value


# ---------------------------------------------------------------------------------------------------- calendar


async def test_calendar_defaults_and_window_in_its_time_zone(world: World) -> None:
    assert await get_calendar() == Calendar()
    opens, closes = Calendar(open_day=2, close_day=9, time_of_day="17:30", timezone="Europe/Berlin").window(
        date(2026, 10, 1)
    )
    assert opens == datetime(2026, 11, 2, 16, 30, tzinfo=UTC)  # CET is UTC+1 in November
    assert closes == datetime(2026, 11, 9, 16, 30, tzinfo=UTC)


async def test_calendar_update_validates_and_is_for_admins(world: World) -> None:
    ada, mia = await world.user(world.ada), await world.user(world.mia)
    await refused(update_calendar(mia, CalendarForm(open_day="1", close_day="7", time_of_day="09:00")), 403)
    bad = {"open_day": "8", "close_day": "3", "time_of_day": "25:00", "timezone": "Mars/Olympus"}
    errors = (await refused(update_calendar(ada, CalendarForm(**bad)), 422)).errors
    assert set(errors) == {"close_day", "time_of_day", "timezone"}
    await refused(
        update_calendar(ada, CalendarForm(open_day="0", close_day="31", time_of_day="09:00")), 422, "open_day"
    )
    assert await get_calendar() == Calendar()
    saved = await update_calendar(ada, CalendarForm(open_day="3", close_day="10", time_of_day="12:00", timezone=""))
    assert await get_calendar() == saved == Calendar(open_day=3, close_day=10, time_of_day="12:00", timezone="")


# ------------------------------------------------------------------------------------------------- nominations


async def test_a_manager_nominates_with_evidence_and_sees_it(world: World, cycle: int) -> None:
    kudos = await thank(world.ana, [world.ravi], 10, OCT, "Fixed my laptop in ten minutes")
    mia = await world.user(world.mia)
    await nominations.nominate(mia, form(world.star, f"p{world.ravi.id}", "  Always there.  ", [kudos]), at=DURING)
    mine = await nominations.my_nominations(world.mia.id, cycle)
    assert [(m.nominee_name, m.reason, [k.id for k in m.evidence]) for m in mine] == [
        ("Ravi Patel", "Always there.", [kudos])
    ]
    windows = await queries.nomination_windows([world.mia.id, world.ravi.id], OCT.date().replace(day=1), at=DURING)
    assert list(windows) == [world.mia.id]  # Ravi is not a manager: no nominations to remind him of
    assert windows[world.mia.id].closes_at == CLOSES
    assert [n.nominee_name for n in windows[world.mia.id].nominations] == ["Ravi Patel"]
    assert await queries.nomination_windows([world.mia.id], OCT.date().replace(day=1), at=AFTER) == {}
    ahead = await queries.nomination_windows([world.max.id], date(2026, 11, 1), at=DURING)  # not opened yet
    assert ahead[world.max.id].opens_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert ahead[world.max.id].nominations == []


async def test_nomination_rules_refuse_and_change_nothing(world: World, cycle: int) -> None:
    mia, max_, ravi, ada = [await world.user(p) for p in (world.mia, world.max, world.ravi, world.ada)]
    public = await thank(world.ana, [world.olu], 5, OCT)
    private = await thank(world.ana, [world.ravi], 5, OCT)
    await Kudos.update({Kudos.visibility: Visibility.PRIVATE}).where(Kudos.id == private)
    ravi_token = f"p{world.ravi.id}"
    await refused(nominations.nominate(ravi, form(world.star, f"p{world.olu.id}"), at=DURING), 403)
    await refused(nominations.nominate(ada, form(world.star, ravi_token), at=DURING), 403)
    await refused(nominations.nominate(mia, form(world.star, ravi_token), at=OPENS - timedelta(days=2)), 409)
    await refused(nominations.nominate(mia, form(world.star, ravi_token), at=CLOSES), 409)
    await refused(nominations.nominate(mia, form(world.star, f"p{world.mia.id}"), at=DURING), 422, "nominee")
    lead = await refused(nominations.nominate(mia, form(world.dept, f"d{world.it.id}"), at=DURING), 422, "nominee")
    assert lead.errors["nominee"] == nominations.LEAD_RULE
    await refused(nominations.nominate(mia, form(world.star, f"p{world.ian.id}"), at=DURING), 422, "nominee")
    await refused(nominations.nominate(mia, form(world.star, f"d{world.finance.id}"), at=DURING), 422, "nominee")
    await refused(nominations.nominate(mia, form(world.star, "p999999"), at=DURING), 422, "nominee")
    await refused(nominations.nominate(mia, form(world.star, ravi_token, "   "), at=DURING), 422, "reason")
    await refused(nominations.nominate(mia, form(world.star, ravi_token, "x" * 1001), at=DURING), 422, "reason")
    await refused(
        nominations.nominate(mia, form(world.star, ravi_token, evidence=[public]), at=DURING), 422, "evidence"
    )
    await refused(
        nominations.nominate(mia, form(world.star, ravi_token, evidence=[private]), at=DURING), 422, "evidence"
    )
    await refused(nominations.nominate(mia, form(9999, ravi_token), at=DURING), 422, "category")
    assert await Nomination.count() == 0 and await NominationEvidence.count() == 0

    # a department they do not lead is fine, and evidence about one of its members counts for it
    await nominations.nominate(max_, form(world.dept, f"d{world.it.id}", evidence=[public]), at=DURING)
    await nominations.nominate(mia, form(world.star, ravi_token), at=DURING)
    duplicate = await refused(
        nominations.nominate(mia, form(world.star, ravi_token, "Again"), at=DURING), 409, "nominee"
    )
    assert "already nominated Ravi Patel" in duplicate.errors["nominee"]
    # the same nominee in another category, and by another manager, are separate nominations
    await nominations.nominate(mia, form(world.bridge, ravi_token), at=DURING)
    await nominations.nominate(max_, form(world.star, ravi_token), at=DURING)
    assert await Nomination.count() == 4 and await NominationEvidence.count() == 1


async def test_the_database_holds_one_nomination_per_nominee(world: World, cycle: int) -> None:
    row = {
        "cycle": cycle,
        "category": world.star,
        "nominator": world.mia.id,
        "person": world.ravi.id,
        "reason": "r",
        "created_at": DURING,
    }
    await Nomination.insert(Nomination(**row))
    with pytest.raises(Exception, match="nomination_once"):
        await Nomination.insert(Nomination(**row))


async def test_withdraw_only_your_own_and_only_while_open(world: World, cycle: int) -> None:
    mia, max_ = await world.user(world.mia), await world.user(world.max)
    first = await nominations.nominate(mia, form(world.star, f"p{world.ravi.id}"), at=DURING)
    second = await nominations.nominate(mia, form(world.bridge, f"p{world.ravi.id}"), at=DURING)
    await refused(nominations.withdraw(max_, first, at=DURING), 404)
    await nominations.withdraw(mia, first, at=DURING)
    await refused(nominations.withdraw(mia, second, at=CLOSES), 409)
    assert [row["id"] for row in await Nomination.select(Nomination.id)] == [second]


# ------------------------------------------------------------------------------------------------ pick, announce


async def nominated(world: World) -> None:
    mia, max_ = await world.user(world.mia), await world.user(world.max)
    await nominations.nominate(mia, form(world.star, f"p{world.ravi.id}", "Ravi saved the quarter close."), at=DURING)
    await nominations.nominate(max_, form(world.star, f"p{world.olu.id}"), at=DURING)
    await nominations.nominate(max_, form(world.dept, f"d{world.it.id}", "IT carried us."), at=DURING)


async def test_pick_rules(world: World, cycle: int) -> None:
    await nominated(world)
    ada, mia = await world.user(world.ada), await world.user(world.mia)
    ravi, olu = f"p{world.ravi.id}", f"p{world.olu.id}"
    early = await refused(winners.pick_winners(ada, cycle, world.star, [(ravi, "")], at=DURING), 409)
    assert "once nominations close" in early.message
    await refused(winners.pick_winners(mia, cycle, world.star, [(ravi, "")], at=AFTER), 403)
    await refused(winners.pick_winners(ada, cycle, world.star, [(ravi, ""), (olu, "")], at=AFTER), 422, "winners")
    await refused(winners.pick_winners(ada, cycle, world.star, [(f"p{world.ana.id}", "")], at=AFTER), 422, "winners")
    await refused(winners.pick_winners(ada, cycle, world.dept, [(ravi, "")], at=AFTER), 422, "winners")
    await refused(winners.pick_winners(ada, cycle, world.star, [(ravi, "x" * 501)], at=AFTER), 422, "citation")
    await refused(winners.pick_winners(ada, 424242, world.star, [(ravi, "")], at=AFTER), 404)
    assert await AwardWinner.count() == 0
    await winners.pick_winners(ada, cycle, world.star, [(olu, "")], at=AFTER)
    await winners.pick_winners(ada, cycle, world.star, [(ravi, " For the quarter close. ")], at=AFTER)  # replaces
    rows = await AwardWinner.select(AwardWinner.person, AwardWinner.citation)
    assert rows == [{"person": world.ravi.id, "citation": "For the quarter close."}]


@pytest.mark.usefixtures("allow_private_webhooks")
async def test_announce_once_with_everything_it_does(world: World, cycle: int, run_worker, receiver: Receiver) -> None:
    await nominated(world)
    ada = await world.user(world.ada)
    await refused(winners.announce(ada, cycle, at=AFTER), 422)  # no winners yet
    await winners.pick_winners(ada, cycle, world.star, [(f"p{world.ravi.id}", "For the quarter close.")], at=AFTER)
    await winners.pick_winners(ada, cycle, world.dept, [(f"d{world.it.id}", "")], at=AFTER)
    await refused(winners.announce(await world.user(world.mia), cycle, at=AFTER), 403)
    await webhooks.register(ada, name="Slack", url=receiver.url, events=["award.announced"])
    announcement = await winners.announce(ada, cycle, at=AFTER)
    assert announcement.cycle.phase() == "announced"
    assert [(w.category_name, w.name) for w in announcement.winners] == [
        ("Service Star", "Ravi Patel"),
        ("Department of the Month", "IT"),
    ]
    again = await refused(winners.announce(ada, cycle, at=AFTER + timedelta(hours=1)), 409)
    assert "already been announced" in again.message
    await refused(winners.pick_winners(ada, cycle, world.star, [], at=AFTER), 409)
    await run_handlers(run_worker)  # the announcement's reactions run in the worker

    won = await Notification.select(Notification.recipient, Notification.text, Notification.subject).where(
        Notification.kind == Kind.AWARD_WON
    )
    assert {row["subject"] for row in won} == {f"award_cycle:{cycle}"}  # the page links it to the cycle
    by_person = {}
    for row in won:
        by_person.setdefault(row["recipient"], []).append(row["text"])
    # Ravi won himself and with IT; Mia and Olu (active IT members) with IT; Ian left and hears nothing
    assert set(by_person) == {world.ravi.id, world.mia.id, world.olu.id}
    assert len(by_person[world.ravi.id]) == 2
    badge = await BadgeAward.select(BadgeAward.employee, BadgeAward.badge, BadgeAward.level)
    assert {"employee": world.ravi.id, "badge": "award-winner", "level": 1} in badge
    assert await AwardCycle.count().where(AwardCycle.status == "announced") == 1
    # the reactions ran once: running every stored handler again (a job retried after commit) changes nothing
    counts = (await Notification.count(), await BadgeAward.count(), await WebhookDelivery.count())
    assert await run_stored_events() == 0
    assert (await Notification.count(), await BadgeAward.count(), await WebhookDelivery.count()) == counts
    [delivery] = await WebhookDelivery.select(WebhookDelivery.event, WebhookDelivery.body)
    body = json.loads(delivery["body"])
    assert (delivery["event"], body["cycle"]["month"]) == ("award.announced", "2026-10")
    assert [(w["category"], w["kind"], w["name"]) for w in body["winners"]] == [
        ("Service Star", "person", "Ravi Patel"),
        ("Department of the Month", "department", "IT"),
    ]
    assert body["text"].startswith("The October 2026 awards are announced. Service Star: <http://testserver/people/")
    # links built by route name (KUDOS_BASE_URL + the route's path): a route moved or renamed shows here
    assert body["cycle"]["url"] == f"http://testserver/awards/{cycle}"
    assert [w["url"] for w in body["winners"]] == [
        f"http://testserver/people/{world.ravi.id}",
        "http://testserver/departments/it",
    ]

    # the everyone feed shows the announcement; the hall of fame, profiles and digests read it
    items = (await feed_page(ada, "all", "")).items  # the web layer asks awards for its part of the feed
    assert any(isinstance(item, queries.Announcement) and item.label == "October 2026" for item in items)
    assert [w.name for w in await queries.hall_of_fame()] == ["Ravi Patel", "IT"]
    assert [w.name for w in await queries.hall_of_fame(category_id=world.dept)] == ["IT"]
    assert await queries.hall_of_fame(year=2025) == []
    assert await queries.hall_of_fame_years() == [2026]
    ravi = await queries.awards_for_person(world.ravi.id)
    assert [(a.category_name, a.via_department) for a in ravi] == [
        ("Service Star", False),
        ("Department of the Month", True),
    ]
    assert [a.name for a in await queries.awards_for_department(world.it.id)] == ["Ravi Patel", "IT"]
    people = {world.ravi.id: world.it.id, world.mia.id: world.it.id, world.ana.id: world.finance.id}
    won = await queries.awards_announced(people, start=OPENS, end=AFTER + timedelta(days=1))
    assert [(a.category_name, a.via_department) for a in won[world.ravi.id]] == [
        ("Service Star", False),
        ("Department of the Month", True),
    ]
    assert [a.category_name for a in won[world.mia.id]] == ["Department of the Month"]
    assert world.ana.id not in won
    assert await queries.awards_announced(people, start=OCT, end=OPENS) == {}
    # the digest for the month of the announcement lists them
    [mail] = (await render_for(DigestKind.EMPLOYEE, date(2026, 11, 1), [world.ravi.id])).values()
    assert "Awards you won" in mail.html and '* Service Star, October 2026: "For the quarter close."' in mail.text


async def test_review_groups_nominations_by_category_and_nominee(world: World, cycle: int) -> None:
    await nominated(world)
    max_ = await world.user(world.max)
    evidence = await thank(world.ana, [world.ravi], 5, OCT, "Thanks for the VPN fix")
    await nominations.nominate(max_, form(world.star, f"p{world.ravi.id}", "Max agrees.", [evidence]), at=DURING)
    cycle_row = await cycles.get_cycle(cycle)
    assert cycle_row is not None
    review = {r.category.name: r for r in await winners.review(cycle_row)}
    star = review["Service Star"]
    assert [(n.name, len(n.nominations)) for n in star.nominees] == [("Ravi Patel", 2), ("Olu Bello", 1)]
    assert [m.nominator_name for m in star.nominees[0].nominations] == ["Mia Manager", "Max Manager"]
    assert star.nominees[0].nominations[1].evidence[0].excerpt == "Thanks for the VPN fix"
    assert [n.name for n in review["Bridge Builder"].nominees] == []


# -------------------------------------------------------------------------------------------------- categories


async def test_categories_are_managed_by_admins_with_rules(world: World, cycle: int) -> None:
    ada, mia = await world.user(world.ada), await world.user(world.mia)
    new = {
        "name": "Rookie",
        "description": "New joiner",
        "nominee_kind": "person",
        "winners": "2",
        "shortlist": "givers",
    }
    await refused(categories.save_category(mia, CategoryForm(**new)), 403)
    bad = {"name": " ", "nominee_kind": "team", "winners": "0", "shortlist": "points"}
    assert set((await refused(categories.save_category(ada, CategoryForm(**bad)), 422)).errors) == {
        "name",
        "nominee_kind",
        "winners",
    }
    wrong = {**new, "shortlist": "per_head"}
    await refused(categories.save_category(ada, CategoryForm(**wrong)), 422, "shortlist")
    await refused(categories.save_category(ada, CategoryForm(**{**new, "name": "service star"})), 422, "name")
    created = await categories.save_category(ada, CategoryForm(**{**new, "active": "1"}))
    assert (await categories.get_category(created)).winners == 2  # type: ignore[union-attr]
    await nominations.nominate(mia, form(world.star, f"p{world.ravi.id}"), at=DURING)
    to_department = {**new, "name": "Service Star", "nominee_kind": "department", "shortlist": "per_head"}
    await refused(categories.save_category(ada, CategoryForm(**to_department), world.star), 422, "nominee_kind")
    await categories.save_category(
        ada, CategoryForm(**{**new, "name": "Service Star", "shortlist": "points"}), world.star
    )  # inactive
    assert world.star not in [c.id for c in await categories.categories()]
    assert await AwardCategory.count() == 4


async def test_category_names_with_like_wildcards_are_compared_literally(world: World) -> None:
    ada = await world.user(world.ada)
    new = {"description": "", "nominee_kind": "person", "winners": "1", "shortlist": "givers"}
    backslash = await categories.save_category(ada, CategoryForm(**{**new, "name": "a\\b"}))
    await refused(
        categories.save_category(ada, CategoryForm(**{**new, "name": "A\\B"})), 422, "name"
    )  # a duplicate, not a 500
    await categories.save_category(ada, CategoryForm(**{**new, "name": "100%"}))  # `%` is not "any name"
    await categories.save_category(ada, CategoryForm(**{**new, "name": "a_b"}))
    await categories.save_category(ada, CategoryForm(**{**new, "name": "axb"}))  # `_` is not "any character"
    await refused(categories.save_category(ada, CategoryForm(**{**new, "name": "100%"})), 422, "name")
    assert (await categories.get_category(backslash)).name == "a\\b"  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------- shortlist


async def test_shortlist_figures_are_the_hand_computed_ones(world: World) -> None:
    await october_figures(world)
    month = date(2026, 10, 1)

    by_points = await shortlist.people(month, "points", viewer=world.max.id, label="October 2026")
    assert [(s.name, s.figures) for s in by_points] == [
        ("Olu Bello", {"points": 25, "givers": 2, "departments": 1, "rating": None}),
        ("Ravi Patel", {"points": 20, "givers": 3, "departments": 2, "rating": Decimal("4.3")}),
        ("Ana Silva", {"points": 5, "givers": 1, "departments": 1, "rating": None}),
    ]
    assert by_points[1].token == f"p{world.ravi.id}" and by_points[1].rank == 2
    assert by_points[1].draft == (
        "In October 2026: 20 points received from 3 colleagues; thanked by people from 2 other departments; "
        "rated 4.3 of 5 on 3 resolved requests."
    )
    helped = await shortlist.people(month, "departments", viewer=world.max.id, label="October 2026")
    assert [s.name for s in helped] == ["Ravi Patel", "Ana Silva", "Olu Bello"]  # ties by name
    givers = await shortlist.people(month, "givers", viewer=world.max.id, label="October 2026")
    assert [(s.name, s.figures["givers"]) for s in givers] == [("Ravi Patel", 3), ("Olu Bello", 2), ("Ana Silva", 1)]
    rating = await shortlist.people(month, "rating", viewer=world.max.id, label="October 2026")
    assert [s.name for s in rating] == ["Ravi Patel"]
    # the viewer and people who opted out of boards are never suggested
    assert "Ravi Patel" not in [s.name for s in await shortlist.people(month, "points", viewer=world.ravi.id, label="")]
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id == world.olu.id)
    assert [s.name for s in await shortlist.people(month, "points", viewer=0, label="")] == ["Ravi Patel", "Ana Silva"]

    # departments: IT received 45 points from 4 givers with 3 active members (Ian left) → 15.0 per member;
    # Finance 5 points from 1 giver, 2 members → 2.5. HR received nothing in October.
    per_head = await shortlist.departments(month, "per_head", excluded=set(), label="October 2026")
    assert [(s.name, s.figures) for s in per_head] == [
        ("IT", {"per_head": Decimal("15.0"), "points": 45, "givers": 4}),
        ("Finance", {"per_head": Decimal("2.5"), "points": 5, "givers": 1}),
    ]
    led = await led_departments(world.mia.id)
    assert [s.name for s in await shortlist.departments(month, "per_head", excluded=led, label="")] == ["Finance"]
    assert await shortlist.people(month, "per_head", viewer=0, label="") == []
