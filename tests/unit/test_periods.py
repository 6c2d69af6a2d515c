"""Board periods: calendar windows in the organisation's time zone, at every edge, in zones far from UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.boards.periods import PERIODS, window
from app.boards.tables import Period
from app.timeutil import next_month, previous_month

AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in the southern summer, +12 in winter
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # UTC-8 in winter, -7 in summer
TICK = timedelta(microseconds=1)


def local(tz: ZoneInfo, *parts: int) -> datetime:
    """A local wall-clock moment, as the UTC instant the app would be handed."""
    return datetime(*parts, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def around(tz: ZoneInfo, *parts: int) -> tuple[datetime, datetime]:
    """The last instant before local midnight `parts` and that midnight itself."""
    edge = local(tz, *parts)
    return edge - TICK, edge


# (zone, local midnight of the edge, period name, (kind, start, label) just before, (kind, start, label) at it)
EDGES = [
    # weeks start on Monday: Mon 16 Nov 2026 in Auckland is still Sunday 15 Nov in UTC
    (AUCKLAND, (2026, 11, 16), "week",
     (Period.WEEK, date(2026, 11, 9), "Week of 9 Nov 2026"), (Period.WEEK, date(2026, 11, 16), "Week of 16 Nov 2026")),
    (LOS_ANGELES, (2026, 11, 16), "week",
     (Period.WEEK, date(2026, 11, 9), "Week of 9 Nov 2026"), (Period.WEEK, date(2026, 11, 16), "Week of 16 Nov 2026")),
    # a week that spans a new year belongs to the Monday it starts on
    (AUCKLAND, (2026, 12, 28), "week",
     (Period.WEEK, date(2026, 12, 21), "Week of 21 Dec 2026"),
     (Period.WEEK, date(2026, 12, 28), "Week of 28 Dec 2026")),
    # the Monday after a daylight-saving change (LA falls back on Sun 1 Nov, Auckland springs forward on 27 Sep)
    (LOS_ANGELES, (2026, 11, 2), "week",
     (Period.WEEK, date(2026, 10, 26), "Week of 26 Oct 2026"), (Period.WEEK, date(2026, 11, 2), "Week of 2 Nov 2026")),
    (AUCKLAND, (2026, 9, 28), "week",
     (Period.WEEK, date(2026, 9, 21), "Week of 21 Sep 2026"), (Period.WEEK, date(2026, 9, 28), "Week of 28 Sep 2026")),
    # months
    (AUCKLAND, (2026, 12, 1), "month",
     (Period.MONTH, date(2026, 11, 1), "November 2026"), (Period.MONTH, date(2026, 12, 1), "December 2026")),
    (LOS_ANGELES, (2026, 12, 1), "month",
     (Period.MONTH, date(2026, 11, 1), "November 2026"), (Period.MONTH, date(2026, 12, 1), "December 2026")),
    (AUCKLAND, (2026, 12, 1), "last_month",
     (Period.MONTH, date(2026, 10, 1), "October 2026"), (Period.MONTH, date(2026, 11, 1), "November 2026")),
    (LOS_ANGELES, (2027, 1, 1), "last_month",
     (Period.MONTH, date(2026, 11, 1), "November 2026"), (Period.MONTH, date(2026, 12, 1), "December 2026")),
    (LOS_ANGELES, (2026, 3, 1), "last_month",  # February
     (Period.MONTH, date(2026, 1, 1), "January 2026"), (Period.MONTH, date(2026, 2, 1), "February 2026")),
    # quarters
    (LOS_ANGELES, (2026, 10, 1), "quarter",
     (Period.QUARTER, date(2026, 7, 1), "Q3 2026"), (Period.QUARTER, date(2026, 10, 1), "Q4 2026")),
    (AUCKLAND, (2026, 4, 1), "quarter",
     (Period.QUARTER, date(2026, 1, 1), "Q1 2026"), (Period.QUARTER, date(2026, 4, 1), "Q2 2026")),
    (AUCKLAND, (2027, 1, 1), "quarter",
     (Period.QUARTER, date(2026, 10, 1), "Q4 2026"), (Period.QUARTER, date(2027, 1, 1), "Q1 2027")),
    # years
    (AUCKLAND, (2027, 1, 1), "year", (Period.YEAR, date(2026, 1, 1), "2026"), (Period.YEAR, date(2027, 1, 1), "2027")),
    (LOS_ANGELES, (2027, 1, 1), "year",
     (Period.YEAR, date(2026, 1, 1), "2026"), (Period.YEAR, date(2027, 1, 1), "2027")),
]  # fmt: skip


@pytest.mark.parametrize(("tz", "edge", "name", "before", "after"), EDGES)
def test_each_period_turns_over_at_local_midnight(tz, edge, name, before, after) -> None:
    just_before, at_midnight = around(tz, *edge)
    for moment, expected in ((just_before, before), (at_midnight, after)):
        current = window(name, now=moment, tz=tz)
        assert (current.kind, current.start, current.label) == expected, moment
        assert current.name == name


def test_the_local_date_wins_over_the_utc_date() -> None:
    # 31 Dec 2026 12:00 UTC is already New Year's Day in Auckland, and still 31 Dec in Los Angeles
    moment = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    assert window("year", now=moment, tz=AUCKLAND).start == date(2027, 1, 1)
    assert window("month", now=moment, tz=AUCKLAND).label == "January 2027"
    assert window("week", now=moment, tz=AUCKLAND).start == date(2026, 12, 28)
    assert window("year", now=moment, tz=LOS_ANGELES).start == date(2026, 1, 1)
    # 1 Jan 2027 05:00 UTC is still New Year's Eve in Los Angeles
    assert window("month", now=datetime(2027, 1, 1, 5, 0, tzinfo=UTC), tz=LOS_ANGELES).label == "December 2026"


def test_all_time_starts_in_1970_whatever_the_moment() -> None:
    for tz in (AUCKLAND, LOS_ANGELES):
        current = window("all", now=datetime(2026, 11, 18, tzinfo=UTC), tz=tz)
        assert (current.kind, current.start, current.label) == (Period.ALL, date(1970, 1, 1), "All time")


def test_unknown_period_names_mean_this_month() -> None:
    for name in ("", "decade", "MONTH", "week "):
        current = window(name, now=datetime(2026, 11, 18, tzinfo=UTC), tz=AUCKLAND)
        assert (current.name, current.kind, current.start) == ("month", Period.MONTH, date(2026, 11, 1))


def test_every_offered_period_has_a_choice_label() -> None:
    moment = datetime(2026, 11, 18, tzinfo=UTC)
    assert [window(name, now=moment, tz=UTC).choice for name in PERIODS] == [
        "This week",
        "This month",
        "Last month",
        "This quarter",
        "This year",
        "All time",
    ]


def test_the_organisation_time_zone_is_the_default(monkeypatch) -> None:
    monkeypatch.setattr("app.boards.periods.org_tz", lambda: AUCKLAND)
    assert window("month", now=local(AUCKLAND, 2026, 12, 1)).label == "December 2026"
    monkeypatch.setattr("app.boards.periods.org_tz", lambda: LOS_ANGELES)
    assert window("month", now=local(AUCKLAND, 2026, 12, 1)).label == "November 2026"


@pytest.mark.parametrize(
    ("month", "before", "after"),
    [
        (date(2027, 1, 1), date(2026, 12, 1), date(2027, 2, 1)),
        (date(2026, 12, 1), date(2026, 11, 1), date(2027, 1, 1)),
        (date(2026, 3, 1), date(2026, 2, 1), date(2026, 4, 1)),
    ],
)
def test_months_step_across_year_edges(month: date, before: date, after: date) -> None:
    assert previous_month(month) == before and next_month(month) == after
    assert previous_month(next_month(month)) == month
