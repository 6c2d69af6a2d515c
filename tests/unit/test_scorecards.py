"""Department scorecards (SPEC B7): figures hand-computed on a small history, month buckets at a month edge in a
non-UTC zone, a department with no requests or no catalogue, and the labels."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from app.boards.scorecards import MONTHS, Target, department_scorecard, hours_label, percent_label
from app.boards.tables import DepartmentPeriod, Period
from app.requests import workflow
from app.settings import get_settings
from app.timeutil import month_bounds
from tests.factories import make_department, make_employee, make_service

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def org_timezone() -> Iterator[Callable[[str], None]]:
    """Switch the organisation's time zone for one test (settings are read once and cached; clear the cache on
    the way in and out, so the rest of the session sees the session's zone again)."""
    original = os.environ["KUDOS_TIMEZONE"]

    def use(name: str) -> None:
        os.environ["KUDOS_TIMEZONE"] = name
        get_settings.cache_clear()

    yield use
    os.environ["KUDOS_TIMEZONE"] = original
    get_settings.cache_clear()


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    vpn = await make_service(it, "VPN help", target_hours=4)
    laptop = await make_service(it, "New laptop", target_hours=48)
    ravi = await make_employee("Ravi Patel", department=it)
    olu = await make_employee("Olu Bello", department=it)
    ana = await make_employee("Ana Silva", department=finance)
    sam = await make_employee("Sam Berg", department=finance)
    return {
        "it": it,
        "finance": finance,
        "vpn": vpn,
        "laptop": laptop,
        "ravi": ravi,
        "olu": olu,
        "ana": ana,
        "sam": sam,
    }


async def served(
    org,
    created: datetime,
    *,
    responded: datetime | None = None,
    completed: datetime | None = None,
    service: str | None = None,
    rating: tuple[int, int, int] | None = None,
    department: str = "it",
    resolver: str = "ravi",
) -> int:
    """A request to `department` filed by Ana at `created`, claimed at `responded`, completed at `completed` and
    rated one second later, each through the request services."""
    service_id = org[service].id if service else None
    request_id = await workflow.file_request(org["ana"].id, org[department].id, service_id, "Help", at=created)
    if responded:
        await workflow.claim(org[resolver].id, request_id, at=responded)
    if completed:
        await workflow.complete(org[resolver].id, request_id, at=completed)
    if rating:
        await workflow.rate(org["ana"].id, request_id, *rating, at=completed + timedelta(seconds=1))
    return request_id


def at(day: int, hour: float, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=UTC) + hour * H


async def test_figures_by_month_are_the_hand_computed_ones(org) -> None:
    # March 2026 (this month at AT). Turnarounds 3 h, 6 h, 48 h, 28 h → median (6 + 28) / 2 = 17 h.
    # First responses 1 h, 30 min, 24 h, 2 h and 4 h (R5, still open) → median 2 h.
    await served(org, at(3, 9), responded=at(3, 10), completed=at(3, 12), service="vpn", rating=(5, 4, 5))  # 3 h ≤ 4
    await served(org, at(4, 9), responded=at(4, 9.5), completed=at(4, 15), service="vpn", rating=(2, 3, 4))  # 6 h > 4
    await served(org, at(2, 9), responded=at(3, 9), completed=at(4, 9), service="laptop", rating=(4, 5, 3))  # 48 ≤ 48
    await served(org, at(5, 8), responded=at(5, 10), completed=at(6, 12))  # 28 h, no service: not in the share
    await served(org, at(10, 9), responded=at(10, 13))  # still in progress: a first response only
    cancelled = await served(org, at(11, 9))
    await workflow.cancel(org["ana"].id, cancelled, at=at(11, 10))
    # February: one quick laptop request, rated once (too few ratings to show averages).
    await served(
        org, at(10, 9, 2), responded=at(10, 9.5, 2), completed=at(10, 10.5, 2), service="laptop", rating=(1, 1, 1)
    )
    # Not IT's, or before the seven months: never counted.
    await served(org, at(3, 9), responded=at(3, 10), completed=at(3, 11), department="finance", resolver="sam")
    await served(org, at(20, 9, 8, 2025), responded=at(20, 10, 8, 2025), completed=at(31, 23, 8, 2025))
    for period, start, cross in (
        (Period.MONTH, date(2026, 3, 1), 5),
        (Period.MONTH, date(2026, 2, 1), 2),
        (Period.YEAR, date(2026, 1, 1), 9),
        (Period.MONTH, date(2025, 8, 1), 4),
    ):
        await DepartmentPeriod.insert(
            DepartmentPeriod(department=org["it"].id, period=period, start=start, cross_kudos=cross)
        )
    await DepartmentPeriod.insert(
        DepartmentPeriod(department=org["finance"].id, period=Period.MONTH, start=date(2026, 3, 1), cross_kudos=7)
    )

    card = await department_scorecard(org["it"].id, at=AT)

    assert [m.month for m in card.months] == [
        date(2026, 3, 1),
        date(2026, 2, 1),
        date(2026, 1, 1),
        date(2025, 12, 1),
        date(2025, 11, 1),
        date(2025, 10, 1),
        date(2025, 9, 1),
    ]
    assert [m.current for m in card.months] == [True] + [False] * 6
    march, february, january = card.months[:3]
    assert march.completed == 4
    assert march.first_response == 2 * H
    assert march.turnaround == 17 * H
    assert (march.within_target, march.with_target) == (2, 3)
    assert march.ratings == 3
    assert march.timeliness == pytest.approx(11 / 3)
    assert march.quality == pytest.approx(4)
    assert march.communication == pytest.approx(4)
    assert march.cross_kudos == 5
    assert (march.average("timeliness"), march.average("quality"), march.average("communication")) == (
        "3.7",
        "4.0",
        "4.0",
    )
    assert february.completed == 1 and february.first_response == H / 2 and february.turnaround == 1.5 * H
    assert (february.within_target, february.with_target, february.ratings) == (1, 1, 1)
    assert february.timeliness == 1 and february.average("timeliness") == "too few ratings"  # one rating
    assert february.cross_kudos == 2
    assert january.completed == 0 and january.first_response is None and january.turnaround is None
    assert january.cross_kudos == 0 and january.average("quality") is None
    assert card.targets == [Target("New laptop", 48), Target("VPN help", 4)]  # catalogue order: position, then name

    rows = {row.label: row for row in card.rows}
    assert rows["Requests completed"].cells[:3] == ["4", "1", "0"]
    assert rows["Median first response"].cells[:3] == ["2 h", "30 min", None]
    assert rows["Median turnaround"].cells[:3] == ["17 h", "1 h 30 min", None]
    assert rows["Median turnaround"].target == "4 h to 2 d (by service)"
    assert rows["Completed within target"].cells[:3] == ["67% (2 of 3)", "100% (1 of 1)", None]
    assert rows["Completed within target"].target_list == ["New laptop: 2 d", "VPN help: 4 h"]
    assert rows["Ratings received"].cells[:3] == ["3", "1", "0"]
    assert rows["Timeliness (average of 5)"].cells[:3] == ["3.7", "too few ratings", None]
    assert rows["Kudos from other departments"].cells[:3] == ["5", "2", "0"]
    assert rows["Median first response"].target is None


async def test_months_follow_the_organisation_time_zone_at_a_month_edge(org, org_timezone) -> None:
    org_timezone("America/Los_Angeles")
    march_start = month_bounds(date(2026, 3, 1))[0]
    assert march_start == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # midnight PST
    # Completed one second before and exactly at local midnight on 1 March; and at 23:00 PDT on 31 March
    # (already April in UTC). First responses on either side of the same edge.
    await served(
        org, march_start - 2 * H, responded=march_start - 1.5 * H, completed=march_start - timedelta(seconds=1)
    )
    await served(org, march_start - 5 * H, responded=march_start + H, completed=march_start)
    await served(org, at(31, 20), responded=at(31, 21), completed=datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    await DepartmentPeriod.insert(
        DepartmentPeriod(department=org["it"].id, period=Period.MONTH, start=date(2026, 3, 1), cross_kudos=3)
    )

    card = await department_scorecard(org["it"].id, at=datetime(2026, 4, 1, 6, 30, tzinfo=UTC))  # 23:30 PDT, 31 March

    march, february = card.months[:2]
    assert card.timezone == "America/Los_Angeles"
    assert march.month == date(2026, 3, 1) and march.current
    assert march.completed == 2
    assert march.turnaround == 7.5 * H  # median of 5 h and 10 h
    assert march.first_response == 3.5 * H  # median of 6 h and 1 h
    assert march.cross_kudos == 3
    assert february.completed == 1
    assert february.turnaround == 2 * H - timedelta(seconds=1)
    assert february.first_response == H / 2

    # The same history read in UTC: the edges move.
    org_timezone("UTC")
    card = await department_scorecard(org["it"].id, at=datetime(2026, 4, 1, 6, 30, tzinfo=UTC))
    april, march = card.months[:2]
    assert april.month == date(2026, 4, 1) and april.completed == 1
    assert march.completed == 2


async def test_a_department_with_no_requests_and_no_catalogue(org) -> None:
    quiet = await make_department("Legal", slug="legal")
    card = await department_scorecard(quiet.id, at=AT)
    assert len(card.months) == MONTHS
    assert all(m.completed == 0 and m.turnaround is None and m.cross_kudos == 0 for m in card.months)
    assert card.targets == [] and not card.has_targets
    rows = {row.label: row for row in card.rows}
    assert rows["Median turnaround"].target == "no published targets"
    assert rows["Completed within target"].target == "no published targets"
    assert rows["Completed within target"].target_list == []
    assert rows["Median turnaround"].cells == [None] * MONTHS
    assert rows["Requests completed"].cells == ["0"] * MONTHS


async def test_the_catalogue_given_by_the_caller_is_used_and_inactive_services_still_count(org) -> None:
    """Requests for a service withdrawn since still count against its target; the target column lists only the
    published (active) catalogue."""
    await served(org, at(3, 9), responded=at(3, 10), completed=at(3, 12), service="vpn")
    org["vpn"].active = False
    await org["vpn"].save()
    card = await department_scorecard(org["it"].id, at=AT)
    assert card.targets == [Target("New laptop", 48)]
    assert (card.months[0].within_target, card.months[0].with_target) == (1, 1)
    given = await department_scorecard(org["it"].id, [Target("X", 8)], at=AT)
    assert given.targets == [Target("X", 8)]
    assert given.turnaround_target == "8 h"


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (None, None),
        (timedelta(minutes=45), "45 min"),
        (3.5, "3 h 30 min"),
        (timedelta(hours=52), "2 d 4 h"),
        (48, "2 d"),
    ],
)
def test_hours_label(value, label) -> None:
    assert hours_label(value) == label


@pytest.mark.parametrize(
    ("part", "whole", "label"),
    [(0, 0, None), (0, 3, "0%"), (2, 3, "67%"), (3, 3, "100%"), (199, 200, "99%"), (1, 200, "1%"), (1, 2, "50%")],
)
def test_percent_label_never_rounds_to_all_or_none(part, whole, label) -> None:
    assert percent_label(part, whole) == label
