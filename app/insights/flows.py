"""Department-to-department kudos flows per month (the kudos side of the service map, SPEC B6).

Summing the ledger by department pair for a year is a scan of a million rows: too slow for a page. So a job
keeps `DepartmentFlow` from the ledger — the current and previous month every ten minutes (one range scan),
the last 13 months every night (revokes of older kudos) — and pages read it. The departments are those recorded
in the ledger at the time of each movement; kudos within one department are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.insights.tables import DepartmentFlow
from app.timeutil import month_bounds, month_of, now, previous_month

# Placeholders: zone, start, end. Kudos count = kudos entries less revokes of kudos (add-ons add points only).
_REFRESH_SQL = """
INSERT INTO department_flow (month, giver_department, recipient_department, kudos, points, refreshed_at)
SELECT date_trunc('month', l.effective_at AT TIME ZONE {})::date, l.giver_department, l.recipient_department,
       count(*) FILTER (WHERE l.kind = 'kudos') - count(*) FILTER (WHERE l.kind = 'revoke' AND l.addon IS NULL),
       sum(l.amount), {}
FROM ledger_entry l
WHERE l.effective_at >= {} AND l.effective_at < {}
  AND l.giver_department IS NOT NULL AND l.recipient_department IS NOT NULL
  AND l.giver_department <> l.recipient_department
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True, slots=True)
class Flow:
    giver_department: int
    recipient_department: int
    kudos: int
    points: int


async def refresh(first: date, last: date) -> int:
    """Recompute the months `first`..`last` (first days of months) from the ledger; rows written."""
    from app.settings import get_settings

    start, end = month_bounds(first)[0], month_bounds(last)[1]
    async with DepartmentFlow._meta.db.transaction():
        await DepartmentFlow.delete().where((DepartmentFlow.month >= first) & (DepartmentFlow.month <= last))
        await DepartmentFlow.raw(_REFRESH_SQL, get_settings().timezone, now(), start, end)
    return await DepartmentFlow.count().where((DepartmentFlow.month >= first) & (DepartmentFlow.month <= last))


async def refresh_recent() -> int:
    """This month and the one before (the ten-minute job)."""
    this_month = month_of(now())
    return await refresh(previous_month(this_month), this_month)


async def refresh_year() -> int:
    """The last 13 months (the nightly job)."""
    this_month = month_of(now())
    first = this_month
    for _ in range(12):
        first = previous_month(first)
    return await refresh(first, this_month)


async def between(first: date, end: date) -> list[Flow]:
    """Flows summed over the months from `first` up to (not including) `end`."""
    rows = await DepartmentFlow.raw(
        "SELECT giver_department, recipient_department, sum(kudos)::int AS kudos, sum(points)::int AS points "
        "FROM department_flow WHERE month >= {} AND month < {} GROUP BY giver_department, recipient_department",
        first,
        end,
    )
    return [Flow(**row) for row in rows]


async def refreshed_at(first: date, end: date) -> datetime | None:
    """The oldest refresh among the months shown (None: never refreshed)."""
    rows = await DepartmentFlow.raw(
        "SELECT min(refreshed_at) AS at FROM department_flow WHERE month >= {} AND month < {}", first, end
    )
    return rows[0]["at"] if rows else None
