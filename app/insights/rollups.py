"""The insights rollups, kept by a job so that pages read a few hundred rows instead of the ledger.

- `DepartmentFlow` (the service map, SPEC B6): per board period (month, quarter, year) and pair of departments,
  kudos and points from the customer's people to the supplier's (departments as recorded in the ledger), and
  the customer's requests the supplier completed. Summing the ledger by pair for a year is a scan of a million
  rows, and 100 departments make 10,000 pairs a month: too slow for a page. Months come from the ledger and
  requests; quarters and years are sums of their months.
- `DepartmentFigures` (participation, equity, thanked requests): per board period and department, active people,
  how many gave and received, allowance spent and available, points received, the top 10 % share and the Gini
  coefficient — from the board rollups (`PersonPeriod`), which already hold each person's figures per period —
  and the requests it completed and how many of those were thanked.
- `SilentContributor` (invisible contributors, SPEC B3): who completed requests in the last 90 days without
  receiving a kudos or +1 for at least 30 days.

The job refreshes the current and previous month, this quarter and this year, and the silent contributors,
every ten minutes, and the last 13 months every night; the pages say how fresh they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import app.db as db
from app.boards.rollups import period_starts
from app.boards.tables import Period
from app.insights.tables import DepartmentFigures, DepartmentFlow, SilentContributor
from app.kudos.tables import AllowancePolicy
from app.settings import get_settings
from app.timeutil import month_bounds, month_of, next_month, now, org_tz, previous_month

# Month rows. Placeholders: refreshed at, zone, start, end, zone, start, end.
_FLOWS_SQL = """
INSERT INTO department_flow (period, start, giver_department, recipient_department, kudos, points, requests,
                             refreshed_at)
SELECT 'month', month, customer, supplier, sum(kudos), sum(points), sum(requests), {}
FROM (
    SELECT date_trunc('month', l.effective_at AT TIME ZONE {})::date AS month, l.giver_department AS customer,
           l.recipient_department AS supplier,
           count(*) FILTER (WHERE l.kind = 'kudos') - count(*) FILTER (WHERE l.kind = 'revoke' AND l.addon IS NULL)
               AS kudos,
           sum(l.amount) AS points, 0 AS requests
    FROM ledger_entry l
    WHERE l.effective_at >= {} AND l.effective_at < {}
      AND l.giver_department IS NOT NULL AND l.recipient_department IS NOT NULL
      AND l.giver_department <> l.recipient_department
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT date_trunc('month', r.completed_at AT TIME ZONE {})::date, e.department, r.department, 0, 0, count(*)
    FROM request r JOIN employee e ON e.id = r.requester
    WHERE r.status = 'completed' AND r.completed_at >= {} AND r.completed_at < {}
      AND e.department IS NOT NULL AND e.department <> r.department
    GROUP BY 1, 2, 3
) flows
GROUP BY month, customer, supplier
"""

# A quarter's or year's rows from its months. Placeholders: period, start, refreshed at, first month, end.
_SUM_FLOWS_SQL = """
INSERT INTO department_flow (period, start, giver_department, recipient_department, kudos, points, requests,
                             refreshed_at)
SELECT {}, {}, giver_department, recipient_department, sum(kudos), sum(points), sum(requests), {}
FROM department_flow WHERE period = 'month' AND start >= {} AND start < {}
GROUP BY giver_department, recipient_department
"""

# Requests each department completed in [start, end), and those thanked with a standing kudos linked to them.
_THANKED_SQL = """
SELECT r.department, count(*) AS completed,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM kudos k WHERE k.request = r.id AND k.revoked_at IS NULL)) AS thanked
FROM request r
WHERE r.status = 'completed' AND r.completed_at >= {} AND r.completed_at < {}
GROUP BY r.department
"""

# Resolvers of requests completed in the last 90 days, with how many in the last 30/60/90, and the moment they
# last received a standing kudos or add-on (a backward scan of ledger_entry (recipient, created_at)); only those
# without recognition for 30 days. Placeholders: 30, 60, 90 days ago, refreshed at, 30 days ago.
_SILENT_SQL = """
INSERT INTO silent_contributor (employee, department, completed_30, completed_60, completed_90, last_recognised,
                                refreshed_at)
WITH served AS (
    SELECT rr.employee,
           count(*) FILTER (WHERE r.completed_at >= {}) AS c30,
           count(*) FILTER (WHERE r.completed_at >= {}) AS c60,
           count(*) AS c90
    FROM request r JOIN request_resolver rr ON rr.request = r.id
    WHERE r.status = 'completed' AND r.completed_at >= {}
    GROUP BY rr.employee
)
SELECT s.employee, e.department, s.c30, s.c60, s.c90, last.at, {}
FROM served s
JOIN employee e ON e.id = s.employee AND e.active
LEFT JOIN LATERAL (
    SELECT l.created_at AS at FROM ledger_entry l JOIN kudos k ON k.id = l.kudos
    WHERE l.recipient = s.employee AND l.kind <> 'revoke' AND k.revoked_at IS NULL
    ORDER BY l.created_at DESC LIMIT 1
) last ON true
WHERE last.at IS NULL OR last.at < {}
"""

_PEOPLE_SQL = """
SELECT e.department, coalesce(pp.given, 0) AS given, coalesce(pp.kudos, 0) + coalesce(pp.points, 0) AS received,
       coalesce(pp.points, 0) AS points
FROM employee e
LEFT JOIN person_period pp ON pp.employee = e.id AND pp.period = {} AND pp.start = {}
WHERE e.active AND e.department IS NOT NULL
"""

_ALLOWANCE_SQL = """
SELECT e.department, sum(a.spent)::int AS spent, sum(a.budget)::int AS budget, count(*)::int AS rows
FROM allowance a JOIN employee e ON e.id = a.employee
WHERE a.month >= {} AND a.month < {} AND e.active AND e.department IS NOT NULL
GROUP BY e.department
"""


@dataclass(frozen=True, slots=True)
class Flow:
    customer: int  # the department whose people asked and thanked
    supplier: int  # the department that served them
    kudos: int
    points: int
    requests: int


def period_end(kind: Period, start: date) -> date:
    """The first day after the month, quarter or year that starts on `start`."""
    end = start
    for _ in range({Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[kind]):
        end = next_month(end)
    return end


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of non-negative values: 0 when all are equal, towards 1 when one has everything."""
    ordered = sorted(max(0.0, v) for v in values)
    n, total = len(ordered), sum(ordered)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((2 * (i + 1) - n - 1) * v for i, v in enumerate(ordered))
    return weighted / (n * total)


def top_share(values: Sequence[float], fraction: float = 0.1) -> float:
    """The share of the total held by the top `fraction` of values (at least one)."""
    ordered = sorted(values, reverse=True)
    total = sum(ordered)
    if not total:
        return 0.0
    return sum(ordered[: max(1, round(len(ordered) * fraction))]) / total


_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('kudos.insights.rollups'))"


async def _serialise() -> None:
    """Two workers refreshing at once take turns (their deletes and inserts would otherwise collide)."""
    await DepartmentFlow.raw(_LOCK_SQL)


async def refresh_flows(first: date, last: date, wider: Iterable[tuple[Period, date]] = ()) -> None:
    """Recompute the month flows of `first`..`last` (first days of months) from the ledger and requests, then the
    `wider` (quarter or year, start) periods from their months."""
    zone = get_settings().timezone
    start, end, moment = month_bounds(first)[0], month_bounds(last)[1], now()
    async with db.transaction():
        await _serialise()
        await DepartmentFlow.delete().where(
            (DepartmentFlow.period == Period.MONTH.value)
            & (DepartmentFlow.start >= first)
            & (DepartmentFlow.start <= last)
        )
        await DepartmentFlow.raw(_FLOWS_SQL, moment, zone, start, end, zone, start, end)
        for kind, period_start in wider:
            await DepartmentFlow.delete().where(
                (DepartmentFlow.period == kind.value) & (DepartmentFlow.start == period_start)
            )
            await DepartmentFlow.raw(
                _SUM_FLOWS_SQL, kind.value, period_start, moment, period_start, period_end(kind, period_start)
            )


async def refresh_silent(*, at: datetime | None = None) -> None:
    """Recompute who served without thanks (the last 30, 60 and 90 days up to `at`, default now)."""
    moment = at or now()
    ago = [moment - timedelta(days=days) for days in (30, 60, 90)]
    async with db.transaction():
        await _serialise()
        await SilentContributor.delete().where(SilentContributor.id > 0)
        await SilentContributor.raw(_SILENT_SQL, *ago, moment, ago[0])


async def refresh_figures(periods: Iterable[tuple[Period, date]]) -> None:
    """Recompute the departments' figures for each (period kind, start)."""
    policy = await AllowancePolicy.select(AllowancePolicy.employee_budget).first()
    default_budget = policy["employee_budget"] if policy else 100
    this_month = month_of(now())
    for kind, start in periods:
        end = period_end(kind, start)
        people = await DepartmentFigures.raw(_PEOPLE_SQL, kind.value, start)
        allowance = {r["department"]: r for r in await DepartmentFigures.raw(_ALLOWANCE_SQL, start, end)}
        thanked = {
            r["department"]: r
            for r in await DepartmentFigures.raw(_THANKED_SQL, month_bounds(start)[0], month_bounds(end)[0])
        }
        months = 0
        month = start
        while month < end and month <= this_month:
            months += 1
            month = next_month(month)
        groups: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
        for person in people:
            groups[person["department"]].append(person)
            groups[None].append(person)
        rows = []
        moment = now()
        for department, members in groups.items():
            spent = [allowance[d] for d in ([department] if department else allowance) if d in allowance]
            used = sum(a["spent"] for a in spent)
            # People without an allowance row for a month gave nothing from it: their budget counts, unspent.
            missing = max(0, len(members) * months - sum(a["rows"] for a in spent))
            points = [m["points"] for m in members]
            rows.append(
                DepartmentFigures(
                    period=kind.value,
                    start=start,
                    department=department,
                    active=len(members),
                    gave=sum(1 for m in members if m["given"] > 0),
                    received=sum(1 for m in members if m["received"] > 0),
                    spent=used,
                    budget=sum(a["budget"] for a in spent) + missing * default_budget,
                    points=sum(points),
                    top10=top_share(points),
                    gini=gini(points),
                    completed=sum(t["completed"] for d, t in thanked.items() if department in (None, d)),
                    thanked=sum(t["thanked"] for d, t in thanked.items() if department in (None, d)),
                    refreshed_at=moment,
                )
            )
        async with db.transaction():
            await _serialise()
            await DepartmentFigures.delete().where(
                (DepartmentFigures.period == kind.value) & (DepartmentFigures.start == start)
            )
            if rows:
                await DepartmentFigures.insert(*rows)


def _recent_periods(at: datetime | None = None) -> list[tuple[Period, date]]:
    starts = period_starts(at or now(), org_tz())
    month = starts[Period.MONTH]
    return [
        (Period.MONTH, month),
        (Period.MONTH, previous_month(month)),
        (Period.QUARTER, starts[Period.QUARTER]),
        (Period.YEAR, starts[Period.YEAR]),
    ]


async def refresh_recent() -> None:
    """This and last month's, this quarter's and this year's flows and figures; the silent contributors."""
    this_month = month_of(now())
    periods = _recent_periods()
    await refresh_flows(previous_month(this_month), this_month, periods[2:])
    await refresh_figures(periods)
    await refresh_silent()


async def refresh_year() -> None:
    """The last 13 months of flows and monthly figures (the nightly job), and the current quarter and year."""
    this_month = month_of(now())
    first = this_month
    for _ in range(12):
        first = previous_month(first)
    await refresh_flows(first, this_month, _recent_periods()[2:])
    months = [first]
    while months[-1] < this_month:
        months.append(next_month(months[-1]))
    await refresh_figures([(Period.MONTH, m) for m in months] + _recent_periods()[2:])


# A period's flows, busiest first. Placeholders: period, start; `among` (departments, NULL: all) three times; the
# supplier department (NULL: any) twice; the customer department (NULL: any) twice; the limit (NULL: all).
_FLOWS_PAGE_SQL = """
SELECT giver_department AS customer, recipient_department AS supplier, kudos, points, requests
FROM department_flow
WHERE period = {} AND start = {} AND (requests > 0 OR kudos > 0)
  AND ({}::int[] IS NULL OR (giver_department = ANY({}) AND recipient_department = ANY({})))
  AND ({}::int IS NULL OR recipient_department = {})
  AND ({}::int IS NULL OR giver_department = {})
ORDER BY requests + kudos DESC, recipient_department, giver_department
LIMIT {}
"""
# Placeholders: period, start.
_FLOWS_SUMMARY_SQL = """
SELECT count(*) AS count, min(refreshed_at) AS refreshed_at FROM department_flow
WHERE period = {} AND start = {} AND (requests > 0 OR kudos > 0)
"""
# Each department's weight (requests and kudos, in and out). Placeholders: period, start, period, start.
_FLOWS_TOTALS_SQL = """
SELECT department, sum(weight)::int AS weight FROM (
    SELECT giver_department AS department, requests + kudos AS weight FROM department_flow
    WHERE period = {} AND start = {} AND (requests > 0 OR kudos > 0)
    UNION ALL
    SELECT recipient_department, requests + kudos FROM department_flow
    WHERE period = {} AND start = {} AND (requests > 0 OR kudos > 0)
) t GROUP BY department
"""


@dataclass(frozen=True, slots=True)
class FlowPage:
    """What a page shows of one period's flows: the busiest `flows`, how many there are, each department's total
    weight (requests and kudos in and out), and when they were refreshed (None: not yet)."""

    flows: list[Flow]
    count: int
    totals: dict[int, int]
    refreshed_at: datetime | None


async def flows_for(
    kind: Period,
    start: date,
    *,
    limit: int | None = None,
    among: Sequence[int] | None = None,
    department: int | None = None,
    role: str = "",
) -> list[Flow]:
    """The period's flows, busiest first: at most `limit`; only between the departments `among`; only those of
    `department` as "supplier" or "customer" (`role`)."""
    departments = list(among) if among is not None else None
    supplier = department if department is not None and role == "supplier" else None
    customer = department if department is not None and role != "supplier" else None
    rows = await DepartmentFlow.raw(
        _FLOWS_PAGE_SQL,
        kind.value,
        start,
        departments,
        departments,
        departments,
        supplier,
        supplier,
        customer,
        customer,
        limit or None,
    )
    return [Flow(**row) for row in rows]


async def flow_page(kind: Period, start: date, *, limit: int) -> FlowPage:
    """The busiest `limit` flows of a period, with the counts a page needs."""
    summary = await DepartmentFlow.raw(_FLOWS_SUMMARY_SQL, kind.value, start)
    totals = await DepartmentFlow.raw(_FLOWS_TOTALS_SQL, kind.value, start, kind.value, start)
    return FlowPage(
        await flows_for(kind, start, limit=limit),
        summary[0]["count"],
        {row["department"]: row["weight"] for row in totals},
        summary[0]["refreshed_at"],
    )
