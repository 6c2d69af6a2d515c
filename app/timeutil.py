"""Periods in the organisation's time zone: months and weeks are computed in Python and queried by range."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from app.paging import parse_number
from app.settings import get_settings

# The years a date from a URL or a form may name: any period Kudos computes from it (the next day, the next month)
# stays a date Python and PostgreSQL can hold. Outside them a date is "not a date", never an overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2999


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


def parse_year(text: object) -> int | None:
    """A year written with four digits within [FIRST_YEAR, LAST_YEAR]; None otherwise."""
    return parse_number(text, low=FIRST_YEAR, high=LAST_YEAR)


def parse_month(text: object) -> date | None:
    """A month written YYYY-MM (or YYYY-M) as its first day, within the years above; None otherwise."""
    year, _, month = str(text or "").strip().partition("-")
    number = parse_number(month, low=1, high=12)
    return date(found, number, 1) if (found := parse_year(year)) and number else None


def parse_day(text: object) -> date | None:
    """A day written YYYY-MM-DD, within the years above; None otherwise."""
    try:
        day = date.fromisoformat(str(text or "").strip())
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def localtime(moment: datetime | None, fmt: str = "%-d %b %Y, %H:%M") -> str:
    """A timestamp in the organisation's time zone (pages, mails and services alike)."""
    return moment.astimezone(org_tz()).strftime(fmt) if moment else ""
