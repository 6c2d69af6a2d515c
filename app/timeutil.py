"""Periods in the organisation's time zone: months and weeks are computed in Python and queried by range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from app.settings import get_settings


def now() -> datetime:
    return datetime.now(UTC)


def org_tz() -> tzinfo:
    return get_settings().tz


def local_date(moment: datetime) -> date:
    return moment.astimezone(org_tz()).date()


def month_of(moment: datetime) -> date:
    """The first day of the organisation-time month that contains `moment`."""
    return local_date(moment).replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of `month` as aware datetimes in the organisation's time zone."""
    tz = org_tz()
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end_month = next_month(month)
    return start, datetime(end_month.year, end_month.month, 1, tzinfo=tz)


def month_end(month: date) -> datetime:
    return month_bounds(month)[1]


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(hours=1)
