"""Badges, levels, streaks and the recognition chart (SPEC F7), against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from piccolo.engine import engine_finder

from app.boards import awarding, levels, rollup_updates, rollups
from app.boards.awarding import award_after_kudos
from app.boards.badge_rules import BADGES, BY_SLUG
from app.boards.badges import badge_board, recent_awards
from app.boards.levels import (
    activity_score,
    chart_for,
    level_for,
    level_of,
    person_level,
    progress,
    score_needed,
    streak_length,
)
from app.boards.tables import BadgeAward, PersonPeriod
from app.events import KudosGiven
from app.jobs.handling import run_rows
from app.jobs.outbox import EVENT_ROWS
from app.jobs.tables import JobOutbox
from app.kudos.changes import revoke
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.notifications.tables import Kind, Notification
from app.paging import Cursor
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Role
from app.requests import workflow
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_service

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

AUCKLAND = ZoneInfo("Pacific/Auckland")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


async def user(employee) -> CurrentUser:
    current = await load_current_user(employee.id)
    assert current is not None
    return current


async def thank(giver: CurrentUser, *recipients, at: datetime | None = None, points: str = "0", **fields) -> int:
    """Give a kudos, then run what the worker runs after it (badges are awarded from the job outbox)."""
    form = GiveForm(recipient_ids=[r.id for r in recipients], message="Thank you!", points=points, **fields)
    kudos_id = (await give_kudos(giver, form, at=at)).kudos_id
    await run_stored_events()
    return kudos_id


async def held(employee) -> list[tuple[str, int]]:
    rows = await BadgeAward.select(BadgeAward.badge, BadgeAward.level).where(BadgeAward.employee == employee.id)
    return sorted((row["badge"], row["level"]) for row in rows)


async def badge_notes(employee) -> list[dict]:
    return await Notification.select(Notification.text, Notification.subject).where(
        (Notification.recipient == employee.id) & (Notification.kind == Kind.BADGE_EARNED)
    )


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    admin = await make_employee("Ada Admin", department=finance, role=Role.ADMIN)
    return {
        "it": it,
        "finance": finance,
        "gina": await user(await make_employee("Gina Giver", department=finance)),
        "ravi": await make_employee("Ravi Resolver", department=it),
        "sam": await make_employee("Sam Second", department=it),
        "admin": await user(admin),
    }


@pytest.fixture
def auckland(monkeypatch):
    """The organisation in a zone far from UTC, so local weeks and UTC weeks disagree near midnight."""
    monkeypatch.setattr(rollups, "org_tz", lambda: AUCKLAND)
    monkeypatch.setattr(rollup_updates, "org_tz", lambda: AUCKLAND)
    monkeypatch.setattr(levels, "org_tz", lambda: AUCKLAND)
    return AUCKLAND


# ------------------------------------------------------------------------------------------------ the registry


def test_every_badge_is_defined_once_with_increasing_levels() -> None:
    slugs = [badge.slug for badge in BADGES]
    assert len(slugs) == len(set(slugs)) and all(len(slug) <= 40 for slug in slugs)
    assert {
        "first-kudos-given",
        "first-kudos-received",
        "recognised",
        "bridge-builder",
        "fast-responder",
        "weekly-giver",
    } <= set(slugs)
    for badge in BADGES:
        assert list(badge.thresholds) == sorted(set(badge.thresholds)) and badge.thresholds[0] >= 1
        assert badge.measure in awarding._MEASURES
        assert all("{" not in badge.rule_for(n) for n in range(1, badge.levels + 1))
    assert BY_SLUG["recognised"].thresholds == (10, 50, 100)
    assert BY_SLUG["fast-responder"].thresholds == (5, 25)
    assert BY_SLUG["recognised"].levels_reached(49) == [1]
    assert BY_SLUG["recognised"].levels_reached(100) == [1, 2, 3]
    assert BY_SLUG["recognised"].title_for(2) == "Recognised (level 2 of 3)"
    assert BY_SLUG["bridge-builder"].title_for(1) == "Bridge builder"


# ----------------------------------------------------------------------------------------------- first kudos


async def test_first_kudos_given_and_received_are_awarded_once_with_a_notification(org) -> None:
    await thank(org["gina"], org["ravi"], org["sam"], at=T0)

    assert await held(org["gina"]) == [("first-kudos-given", 1)]
    assert await held(org["ravi"]) == [("first-kudos-received", 1)]
    assert await held(org["sam"]) == [("first-kudos-received", 1)]
    notes = await badge_notes(org["ravi"])
    earned = await BadgeAward.select(BadgeAward.id).where(BadgeAward.employee == org["ravi"].id).first()
    assert notes == [  # what it is about; the web layer links it to the person's badges
        {"text": "Badge earned: First kudos — first kudos received.", "subject": f"badge_award:{earned['id']}"}
    ]
    award = await BadgeAward.select(BadgeAward.awarded_at).where(BadgeAward.employee == org["gina"].id).first()
    assert award["awarded_at"] == T0  # the moment of the kudos that earned it

    await thank(org["gina"], org["ravi"], at=T0 + timedelta(hours=1))
    assert await BadgeAward.count() == 3
    assert await Notification.count().where(Notification.kind == Kind.BADGE_EARNED) == 3


async def test_recognised_levels_come_from_lifetime_kudos_received_each_once(org) -> None:
    givers = [org["gina"], await user(await make_employee(department=org["finance"]))]
    for n in range(9):
        await thank(givers[n % 2], org["ravi"], at=T0 + timedelta(minutes=n))
    assert ("recognised", 1) not in await held(org["ravi"])
    await thank(org["gina"], org["ravi"], at=T0 + timedelta(hours=1))
    assert [b for b in await held(org["ravi"]) if b[0] == "recognised"] == [("recognised", 1)]
    await thank(org["gina"], org["ravi"], at=T0 + timedelta(hours=2))
    assert [b for b in await held(org["ravi"]) if b[0] == "recognised"] == [("recognised", 1)]

    # the rule reads the all-time rollup: at 99 kudos, the next one reaches level 2 and level 3 together
    await PersonPeriod.update({PersonPeriod.kudos: 99}).where(
        (PersonPeriod.employee == org["ravi"].id) & (PersonPeriod.period == "all")
    )
    await thank(org["gina"], org["ravi"], at=T0 + timedelta(hours=3))
    assert [b for b in await held(org["ravi"]) if b[0] == "recognised"] == [
        ("recognised", 1),
        ("recognised", 2),
        ("recognised", 3),
    ]
    texts = sorted(n["text"] for n in await badge_notes(org["ravi"]) if "Recognised" in n["text"])
    assert texts == [
        "Badge earned: Recognised (level 1 of 3) — 10 kudos received.",
        "Badge earned: Recognised (level 2 of 3) — 50 kudos received.",
        "Badge earned: Recognised (level 3 of 3) — 100 kudos received.",
    ]


# ------------------------------------------------------------------------------------------------ concurrency


async def test_concurrent_awards_insert_each_level_once(org) -> None:
    await thank(org["gina"], org["ravi"], at=T0)
    await BadgeAward.delete(force=True)
    await Notification.delete(force=True)
    await PersonPeriod.update({PersonPeriod.kudos: 10}).where(
        (PersonPeriod.employee == org["ravi"].id) & (PersonPeriod.period == "all")
    )
    engine = engine_finder()
    started = asyncio.Event()

    async def attempt() -> list:
        async with engine.transaction():
            await started.wait()
            return await award_after_kudos([org["gina"].id], [org["ravi"].id], at=T0)

    tasks = [asyncio.create_task(attempt()) for _ in range(8)]
    await asyncio.sleep(0.05)
    started.set()
    results = await asyncio.gather(*tasks)

    assert sorted((a.employee_id, a.badge.slug, a.level) for r in results for a in r) == [
        (org["gina"].id, "first-kudos-given", 1),
        (org["ravi"].id, "first-kudos-received", 1),
        (org["ravi"].id, "recognised", 1),
    ]
    assert await BadgeAward.count() == 3
    await run_stored_events()
    assert await Notification.count().where(Notification.kind == Kind.BADGE_EARNED) == 3


async def test_the_stored_badge_handler_run_twice_awards_once(org) -> None:
    """A job that runs again (a retry after a lost connection, a worker killed after commit) awards nothing twice:
    the event receipt makes the second run a no-op."""
    await give_kudos(org["gina"], GiveForm(recipient_ids=[org["ravi"].id], message="Thanks!", points="0"), at=T0)
    row = await JobOutbox.select(JobOutbox.id, JobOutbox.kwargs).where(JobOutbox.function == EVENT_ROWS).first()
    stored = json.loads(row["kwargs"]) if isinstance(row["kwargs"], str) else row["kwargs"]
    assert stored["event"] == KudosGiven.name and any("app.boards" in name for name in stored["handlers"])
    assert await run_rows([row["id"]]) == len(stored["handlers"])
    assert await run_rows([row["id"]]) == 0
    assert await held(org["ravi"]) == [("first-kudos-received", 1)]
    assert await BadgeAward.count() == 2  # and Gina's first kudos given
    # the events of the badges earned are published once, so each is notified once
    await run_stored_events()
    assert await Notification.count().where(Notification.kind == Kind.BADGE_EARNED) == 2


async def test_awarding_again_inserts_nothing(org) -> None:
    await thank(org["gina"], org["ravi"], at=T0)
    async with engine_finder().transaction():
        again = await award_after_kudos([org["gina"].id], [org["ravi"].id], at=T0 + timedelta(days=1))
    assert again == []
    # even when the "already held" shortcut is bypassed, the unique key and ON CONFLICT DO NOTHING keep one row
    award = BadgeAward.insert(BadgeAward(employee=org["ravi"].id, badge="first-kudos-received", level=1, awarded_at=T0))
    rows = await award.on_conflict(
        target=(BadgeAward.employee, BadgeAward.badge, BadgeAward.level), action="DO NOTHING"
    ).returning(BadgeAward.id)
    assert rows == []


# ---------------------------------------------------------------------------------------------- bridge builder


async def test_bridge_builder_counts_other_departments_not_people(org) -> None:
    ravi = org["ravi"]
    others = [await make_department(f"Team {n}", slug=f"team-{n}") for n in range(5)]
    # many people, but from only four other departments, plus colleagues from Ravi's own department
    for n, department in enumerate(others[:4]):
        for m in range(3):
            giver = await user(await make_employee(f"Giver {n}-{m}", department=department))
            await thank(giver, ravi, at=T0 + timedelta(minutes=10 * n + m))
    for m in range(3):
        await thank(await user(await make_employee(f"Colleague {m}", department=org["it"])), ravi, at=T0)
    await thank(await user(await make_employee("No department")), ravi, at=T0)
    assert "bridge-builder" not in {slug for slug, _ in await held(ravi)}

    assert (await awarding.measure({"departments": {ravi.id}}, T0))["departments"][ravi.id] == 4

    fifth = await user(await make_employee("Fifth", department=others[4]))
    kudos_id = await thank(fifth, ravi, at=T0 + timedelta(hours=2))
    assert ("bridge-builder", 1) in await held(ravi)
    assert any("thanked by people from 5 other departments" in n["text"] for n in await badge_notes(ravi))

    # a revoked kudos no longer counts its department (for earning it; the badge itself stays)
    await revoke(org["admin"], kudos_id, reason="duplicate")
    assert (await awarding.measure({"departments": {ravi.id}}, T0))["departments"][ravi.id] == 4
    assert ("bridge-builder", 1) in await held(ravi)


# ---------------------------------------------------------------------------------------------- fast responder


async def _resolve(requester, department, resolvers, *, service=None, hours: float, start: datetime) -> int:
    request_id = await workflow.file_request(
        requester.id, department.id, service.id if service else None, "Help please", at=start
    )
    await workflow.claim(resolvers[0].id, request_id, at=start + timedelta(minutes=5))
    for extra in resolvers[1:]:
        await workflow.add_resolver(resolvers[0].id, request_id, extra.id, at=start + timedelta(minutes=6))
    await workflow.complete(resolvers[0].id, request_id, at=start + timedelta(hours=hours))
    await run_stored_events()
    return request_id


async def test_fast_responder_counts_requests_completed_within_their_service_target(org) -> None:
    it, ravi, sam = org["it"], org["ravi"], org["sam"]
    vpn = await make_service(it, "VPN help", target_hours=2)
    slow_service = await make_service(it, "New laptop", target_hours=48)
    requester = await make_employee("Rita Requester", department=org["finance"])
    start = T0
    for _ in range(4):
        await _resolve(requester, it, [ravi], service=vpn, hours=1.5, start=start)
        start += timedelta(days=1)
    await _resolve(requester, it, [ravi], service=vpn, hours=3, start=start)  # over its 2-hour target
    await _resolve(requester, it, [ravi], hours=0.5, start=start)  # no service, so no target
    await _resolve(requester, it, [ravi], service=slow_service, hours=49, start=start)  # over 48 hours
    assert "fast-responder" not in {slug for slug, _ in await held(ravi)}

    # within the 48-hour target of another service; every resolver of the request is checked
    await _resolve(requester, it, [ravi, sam], service=slow_service, hours=47, start=start + timedelta(days=3))
    assert ("fast-responder", 1) in await held(ravi)
    assert "fast-responder" not in {slug for slug, _ in await held(sam)}  # one of five for Sam
    assert any("5 requests completed within target" in n["text"] for n in await badge_notes(ravi))

    for n in range(20):
        await _resolve(requester, it, [ravi], service=vpn, hours=1, start=start + timedelta(days=5 + n))
    assert [b for b in await held(ravi) if b[0] == "fast-responder"] == [("fast-responder", 1), ("fast-responder", 2)]
    assert await Notification.count().where(
        (Notification.recipient == ravi.id) & (Notification.kind == Kind.BADGE_EARNED)
    ) == len(await held(ravi))


# ------------------------------------------------------------------------------------------------ weekly giver


async def test_weekly_giver_uses_weeks_in_the_organisation_zone(org, auckland) -> None:
    gina, ravi = org["gina"], org["ravi"]

    def local(*args) -> datetime:
        return datetime(*args, tzinfo=AUCKLAND)

    await thank(gina, ravi, at=local(2026, 11, 4, 12, 0))  # week of Monday 2 November
    await thank(gina, ravi, at=local(2026, 11, 11, 12, 0))  # week of 9 November
    await thank(gina, ravi, at=local(2026, 11, 22, 23, 30))  # Sunday night: week of 16 November
    assert "weekly-giver" not in {slug for slug, _ in await held(gina)}

    # Monday 23 November 00:30 in Auckland is still Sunday 22 November 11:30 in UTC (the same UTC week as the
    # kudos before it); in the organisation's zone it is a fourth week in a row
    fourth = local(2026, 11, 23, 0, 30)
    assert fourth.astimezone(UTC).date() == date(2026, 11, 22)
    await thank(gina, ravi, at=fourth)
    assert ("weekly-giver", 1) in await held(gina)
    awarded = await BadgeAward.select(BadgeAward.awarded_at).where(BadgeAward.badge == "weekly-giver").first()
    assert awarded["awarded_at"] == fourth
    assert (await progress(gina.id, at=fourth)).streak.weeks == 4


async def test_weekly_giver_needs_weeks_without_a_gap(org, auckland) -> None:
    gina, ravi = org["gina"], org["ravi"]
    for week in (0, 1, 3, 4, 5):  # no kudos in week 2
        await thank(gina, ravi, at=datetime(2026, 11, 4, 12, 0, tzinfo=AUCKLAND) + timedelta(weeks=week))
    assert "weekly-giver" not in {slug for slug, _ in await held(gina)}
    await thank(gina, ravi, at=datetime(2026, 11, 4, 12, 0, tzinfo=AUCKLAND) + timedelta(weeks=6))
    assert ("weekly-giver", 1) in await held(gina)


# ------------------------------------------------------------------------------------------------------ revoke


async def test_a_revoked_kudos_never_removes_a_badge_already_earned(org) -> None:
    first = await thank(org["gina"], org["ravi"], at=T0)
    for n in range(9):
        await thank(org["gina"], org["ravi"], at=T0 + timedelta(minutes=n + 1))
    assert ("recognised", 1) in await held(org["ravi"])
    before = await held(org["ravi"]), await held(org["gina"])

    await revoke(org["admin"], first, reason="Sent by mistake")
    figures = (await levels.lifetime([org["ravi"].id]))[org["ravi"].id]
    assert figures.kudos == 9  # the figures drop ...
    assert (await held(org["ravi"]), await held(org["gina"])) == before  # ... the badges stay
    board = {status.badge.slug: status for status in await badge_board(org["ravi"].id)}
    assert board["recognised"].top is not None and board["recognised"].top.level == 1

    # the next kudos brings the count back to 10: no second award, no second notification
    await thank(org["gina"], org["ravi"], at=T0 + timedelta(hours=1))
    assert await held(org["ravi"]) == before[0]
    assert len([n for n in await badge_notes(org["ravi"]) if "Recognised" in n["text"]]) == 1


# ---------------------------------------------------------------------------------------------------- backfill


async def test_backfill_awards_what_the_figures_reached_without_notifications(org, auckland) -> None:
    gina, ravi, sam = org["gina"], org["ravi"], org["sam"]
    first = datetime(2026, 6, 3, 12, 0, tzinfo=AUCKLAND)
    for week in (0, 1, 2, 3, 6):  # four weeks in a row long ago, then a gap
        await thank(gina, ravi, sam, at=first + timedelta(weeks=week))
    vpn = await make_service(org["it"], "VPN help", target_hours=2)
    requester = await make_employee(department=org["finance"])
    for n in range(5):
        await _resolve(requester, org["it"], [sam], service=vpn, hours=1, start=T0 + timedelta(days=n))
    incremental = await BadgeAward.select(BadgeAward.employee, BadgeAward.badge, BadgeAward.level)
    assert ("weekly-giver", 1) in await held(gina) and ("fast-responder", 1) in await held(sam)

    await BadgeAward.delete(force=True)
    await Notification.delete(force=True)
    assert await awarding.backfill(at=T0) == len(incremental)
    rebuilt = await BadgeAward.select(BadgeAward.employee, BadgeAward.badge, BadgeAward.level)
    key = lambda row: (row["employee"], row["badge"], row["level"])  # noqa: E731
    assert sorted(map(key, rebuilt)) == sorted(map(key, incremental))
    assert await Notification.count() == 0
    assert await awarding.backfill(at=T0) == 0  # safe to re-run


# ---------------------------------------------------------------------------------------------------- reading


async def test_badge_board_lists_every_badge_with_the_levels_earned_and_when(org) -> None:
    await thank(org["gina"], org["ravi"], at=T0)
    board = await badge_board(org["ravi"].id)
    assert [status.badge.slug for status in board] == [badge.slug for badge in BADGES]
    first = next(status for status in board if status.badge.slug == "first-kudos-received")
    assert first.top is not None and first.top.awarded_at == T0 and first.next is None
    recognised = next(status for status in board if status.badge.slug == "recognised")
    assert recognised.top is None and recognised.next is not None and recognised.next.rule == "Receive 10 kudos."


async def test_recent_awards_pages_newest_first_by_keyset(org) -> None:
    await thank(org["gina"], org["ravi"], at=T0)
    await thank(org["gina"], org["sam"], at=T0 + timedelta(hours=1))
    first_page = await recent_awards(2)
    assert [(a.employee_name, a.badge) for a in first_page] == [
        ("Sam Second", "first-kudos-received"),
        ("Ravi Resolver", "first-kudos-received"),
    ]
    assert first_page[0].type == "badge" and first_page[0].title == "First kudos"
    assert first_page[0].created_at == T0 + timedelta(hours=1)
    assert first_page[0].employee_id == org["sam"].id  # the feed's template links the badges by it
    last = first_page[-1]
    rest = await recent_awards(10, before=Cursor(last.created_at, last.id))
    assert [(a.employee_name, a.badge) for a in rest] == [("Gina Giver", "first-kudos-given")]


# ------------------------------------------------------------------------------------------------------ levels


def test_the_level_curve() -> None:
    assert [score_needed(n) for n in range(6)] == [0, 50, 141, 260, 400, 559]
    assert [level_for(s) for s in (0, 49, 50, 140, 141, 259, 260, 399, 400)] == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    for score in range(0, 20000, 7):  # the closed form agrees with counting up the curve
        expected = max(n for n in range(200) if score_needed(n) <= score)
        assert level_for(score) == expected
    level = level_of(points_received=100, kudos_given=4, requests_resolved=2)
    assert activity_score(100, 4, 2) == level.score == 100 + 5 * 4 + 10 * 2
    assert (level.level, level.floor, level.next_at, level.gained, level.span, level.to_next) == (1, 50, 141, 90, 91, 1)
    assert level_of(0, 0, 0).level == 0 and level_of(0, 0, 0).span == 50


async def test_a_person_s_level_comes_from_points_received_kudos_given_and_requests_resolved(org) -> None:
    it, ravi = org["it"], org["ravi"]
    await thank(org["gina"], ravi, points="30", at=T0)
    ravi_user = await user(ravi)
    await thank(ravi_user, org["sam"], at=T0)
    await thank(ravi_user, org["sam"], at=T0)
    requester = await make_employee(department=org["finance"])
    await _resolve(requester, it, [ravi], hours=1, start=T0)
    level = await person_level(ravi.id)
    assert (level.points_received, level.kudos_given, level.requests_resolved) == (30, 2, 1)
    assert (await progress(ravi.id)).level == level  # the profile reads the same figures in its one statement
    assert level.score == 30 + 10 + 10 and level.level == 1


# ----------------------------------------------------------------------------------------------------- streaks


def test_streak_counts_this_week_once_given_otherwise_up_to_last_week() -> None:
    this_week = date(2026, 11, 23)
    weeks = {this_week - timedelta(weeks=n) for n in (1, 2, 3)}
    assert streak_length(weeks, this_week) == 3  # not given yet this week: the streak still stands
    assert streak_length(weeks | {this_week}, this_week) == 4
    assert streak_length({this_week - timedelta(weeks=n) for n in (2, 3)}, this_week) == 0  # broken last week
    assert streak_length({this_week, this_week - timedelta(weeks=2)}, this_week) == 1
    assert streak_length(set(), this_week) == 0


async def test_giving_streak_reads_week_rollups_at_a_moment(org) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for weeks_ago in (1, 2):
        await thank(org["gina"], org["ravi"], at=monday - timedelta(weeks=weeks_ago))
    streak = (await progress(org["gina"].id, at=monday)).streak
    assert (streak.weeks, streak.given_this_week) == (2, False)
    await thank(org["gina"], org["ravi"], at=monday + timedelta(hours=1))
    streak = (await progress(org["gina"].id, at=monday + timedelta(hours=2))).streak
    assert (streak.weeks, streak.given_this_week) == (3, True)
    assert (await progress(org["gina"].id, at=monday + timedelta(weeks=2))).streak.weeks == 0


# ------------------------------------------------------------------------------------------------------- chart


def test_chart_layout_has_twelve_months_scaled_to_the_busiest() -> None:
    chart = chart_for({date(2026, 11, 1): 8, date(2026, 2, 1): 4, date(2025, 11, 1): 99}, date(2026, 11, 1))
    assert len(chart.bars) == 12 and chart.bars[-1].month == date(2026, 11, 1)
    assert chart.bars[0].month == date(2025, 12, 1)  # November 2025 is 12 months back: left out
    assert [bar.value for bar in chart.bars] == [0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 8]
    tallest, half = chart.bars[-1], chart.bars[2]
    assert tallest.y + tallest.height == half.y + half.height == chart.baseline
    assert half.height * 2 == tallest.height
    assert chart.total == 12 and chart.best is tallest
    assert chart.summary.startswith("12 kudos received from December 2025 to November 2026; the most in November")
    empty = chart_for({}, date(2026, 1, 1))
    assert empty.best is None and {bar.height for bar in empty.bars} == {0}
    assert empty.summary == "No kudos received from February 2025 to January 2026."


async def test_recognition_chart_reads_month_rollups_in_the_organisation_zone(org, auckland) -> None:
    # 31 December 2026, 12:00 UTC is already 1 January 2027 in Auckland
    await thank(org["gina"], org["ravi"], at=datetime(2026, 12, 31, 12, 0, tzinfo=UTC))
    await thank(org["gina"], org["ravi"], at=datetime(2026, 3, 10, tzinfo=UTC))
    chart = (await progress(org["ravi"].id, at=datetime(2027, 1, 20, tzinfo=UTC))).chart
    values = {bar.month: bar.value for bar in chart.bars}
    assert values[date(2027, 1, 1)] == 1 and values[date(2026, 12, 1)] == 0 and values[date(2026, 3, 1)] == 1
    assert date(2026, 1, 1) not in values and len(values) == 12


async def test_gifts_the_worker_gets_together_award_what_one_at_a_time_would(org) -> None:
    """A batch of gifts (the worker's busy minute) is checked at once: the same badges, each once, notified once,
    dated by the last gift of the batch."""
    ada = org["admin"]
    for n, giver in enumerate((org["gina"], ada, org["gina"])):
        form = GiveForm(recipient_ids=[org["ravi"].id], message="Thank you!", points="0")
        await give_kudos(giver, form, at=T0 + timedelta(minutes=n))
    assert await run_stored_events() == 3 * 5 + 3 * 4  # three gifts (five handlers each), three badges (four each)
    assert await held(org["ravi"]) == [("first-kudos-received", 1)]
    assert await held(org["gina"]) == [("first-kudos-given", 1)]
    assert await held(org["admin"]) == [("first-kudos-given", 1)]
    awarded = {row["awarded_at"] for row in await BadgeAward.select(BadgeAward.awarded_at)}
    assert awarded == {T0 + timedelta(minutes=2)}
    assert await Notification.count().where(Notification.kind == Kind.BADGE_EARNED) == 3
    assert await run_stored_events() == 0
