"""The board periods people pick (this week … all time) as rollup windows in the organisation's time zone.

A window names the rollup rows a board reads — `(period, start)` of PersonPeriod / DepartmentPeriod — and how
to call it. Starts come from `rollups.period_starts`, the same function that files ledger entries into rollups,
so a board always asks for exactly the rows the ledger fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from app.boards.rollups import period_starts
from app.boards.tables import Period
from app.timeutil import now as current_time
from app.timeutil import org_tz

# What the switch offers, in order: name in the URL → what the link says.
PERIODS: dict[str, str] = {
    "week": "This week",
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
    "all": "All time",
}
DEFAULT_PERIOD = "month"


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # a key of PERIODS
    kind: Period  # the rollup period the board reads
    start: date  # its first day (a Monday for weeks; 1970-01-01 for all time)
    label: str  # "Week of 16 Nov 2026", "November 2026", "Q4 2026", "2026", "All time"

    @property
    def choice(self) -> str:
        """What the switch calls it ("This month")."""
        return PERIODS[self.name]


def label_for(kind: Period, start: date) -> str:
    if kind == Period.WEEK:
        return f"Week of {start.day} {start:%b %Y}"
    if kind == Period.MONTH:
        return f"{start:%B %Y}"
    if kind == Period.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if kind == Period.YEAR:
        return str(start.year)
    return "All time"


def window(name: str, *, now: datetime | None = None, tz: tzinfo | None = None) -> Window:
    """The window for period `name` (unknown names mean this month) at `now` (default: the current time) in
    time zone `tz` (default: the organisation's)."""
    name = name if name in PERIODS else DEFAULT_PERIOD
    starts = period_starts(now or current_time(), tz or org_tz())
    if name == "last_month":
        kind = Period.MONTH
        start = (starts[Period.MONTH] - timedelta(days=1)).replace(day=1)
    else:
        kind = Period(name)
        start = starts[kind]
    return Window(name=name, kind=kind, start=start, label=label_for(kind, start))
