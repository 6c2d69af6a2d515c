"""Insight views over the board rollups (SPEC B3, B4): participation, equity, and invisible contributors. Read-only;
what a viewer sees is bounded by their Scope (app/insights/scope.py). Private kudos count in every figure. "Active
people" are today's active people in their current department.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.boards.tables import Period
from app.insights.charts import BarChart, LineChart, bar_chart, share_trend
from app.insights.scope import CsvTable, InsightPeriod, Scope, department_names, share
from app.insights.tables import DepartmentFigures, SilentContributor
from app.people.tables import Employee
from app.timeutil import month_of, now, previous_month

TREND_MONTHS = 12
SILENT_DAYS = (30, 60, 90)
IMBALANCE = 3  # "gives far more than they receive": at least this many times as much …
IMBALANCE_MIN_POINTS = 50  # … and at least this many points
PEOPLE_LIMIT = 50  # people listed per table on a page (the CSV has them all)

Row = Mapping[str, Any]  # a rollup row as read (internal to this module)


# ----------------------------------------------------------------------------------------------- participation


@dataclass(frozen=True, slots=True)
class ParticipationRow:
    department_id: int | None
    department: str
    active: int
    gave: int
    received: int
    allowance_used: float

    @property
    def gave_share(self) -> float:
        return share(self.gave, self.active)

    @property
    def received_share(self) -> float:
        return share(self.received, self.active)


@dataclass(frozen=True, slots=True)
class ParticipationView:
    period: InsightPeriod
    rows: tuple[ParticipationRow, ...]
    total: ParticipationRow
    chart: BarChart
    trend: LineChart
    refreshed_at: datetime | None

    def table(self) -> CsvTable:
        return CsvTable(
            f"participation-{self.period.start:%Y-%m}-{self.period.name}",
            ("department", "active people", "gave kudos", "gave %", "received kudos", "received %", "allowance used %"),
            tuple(
                (r.department, r.active, r.gave, round(100 * r.gave_share, 1), r.received,
                 round(100 * r.received_share, 1), round(100 * r.allowance_used, 1))
                for r in (*self.rows, self.total)
            ),
        )  # fmt: skip


async def _figures(period: Period, starts: Sequence[date]) -> Sequence[Row]:
    return await DepartmentFigures.select().where(
        (DepartmentFigures.period == period.value) & DepartmentFigures.start.is_in(list(starts))
    )


def _in_scope(rows: Sequence[Row], scope: Scope) -> list[Row]:
    """Department rows the viewer may see: all of them for an admin, their departments for a manager."""
    return [r for r in rows if r["department"] is not None and scope.department(r["department"])]


def _total(rows: Sequence[Row], scope: Scope) -> Row | None:
    """The organisation's row for an admin; the sum of the viewer's departments for a manager."""
    if scope.everything:
        return next((r for r in rows if r["department"] is None), None)
    mine = _in_scope(rows, scope)
    if not mine:
        return None
    return {key: sum(r[key] for r in mine) for key in ("active", "gave", "received", "spent", "budget")}


def _participation_row(row: Row, name: str) -> ParticipationRow:
    return ParticipationRow(
        row.get("department"), name, row["active"], row["gave"], row["received"], share(row["spent"], row["budget"])
    )


async def participation(scope: Scope, period: InsightPeriod) -> ParticipationView:
    departments = await department_names()
    rows = await _figures(period.kind, [period.start])
    shown = sorted(
        (_participation_row(r, departments.get(r["department"], "?")) for r in _in_scope(rows, scope)),
        key=lambda r: r.department.lower(),
    )
    total_row = _total(rows, scope)
    total_name = "All departments" if scope.everything else "Your departments"
    total = _participation_row(total_row, total_name) if total_row else ParticipationRow(None, total_name, 0, 0, 0, 0)
    months = [month_of(now())]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, previous_month(months[0]))
    by_month: dict[date, list[Row]] = defaultdict(list)
    for row in await _figures(Period.MONTH, months):
        by_month[row["start"]].append(row)
    totals = {m: _total(by_month.get(m, []), scope) for m in months}
    trend = share_trend(
        f"Share of active people who gave and received kudos, last {TREND_MONTHS} months",
        [f"{m:%b}" for m in months],
        [
            (label, [share(t[key], t["active"]) if (t := totals[m]) else 0.0 for m in months])
            for label, key in (("Gave", "gave"), ("Received", "received"))
        ],
    )
    chart = bar_chart(
        f"Share of active people who gave kudos, {period.label}",
        sorted(((r.department, r.gave_share) for r in shown), key=lambda item: -item[1]),
        percent=True,
    )
    refreshed = min((r["refreshed_at"] for r in rows), default=None)
    return ParticipationView(period, tuple(shown), total, chart, trend, refreshed)


# ------------------------------------------------------------------------------------------------------ equity


@dataclass(frozen=True, slots=True)
class EquityRow:
    department_id: int
    department: str
    active: int
    points: int
    per_head: float
    top10: float
    gini: float


@dataclass(frozen=True, slots=True)
class Imbalance:
    id: int
    name: str
    department: str
    given: int
    received: int


@dataclass(frozen=True, slots=True)
class EquityView:
    period: InsightPeriod
    rows: tuple[EquityRow, ...]
    overall_top10: float
    overall_gini: float
    gini_chart: BarChart
    per_head_chart: BarChart
    givers: tuple[Imbalance, ...]  # give far more than they receive (the first PEOPLE_LIMIT, or all)
    receivers: tuple[Imbalance, ...]  # the reverse
    givers_count: int  # how many there are in all
    receivers_count: int

    def table(self) -> CsvTable:
        rows: list[tuple[object, ...]] = [
            ("department", r.department, r.active, r.points, round(r.per_head, 1), round(100 * r.top10, 1),
             round(r.gini, 3))
            for r in self.rows
        ]  # fmt: skip
        rows += [("gives more", p.name, p.department, p.given, p.received, "", "") for p in self.givers]
        rows += [("receives more", p.name, p.department, p.given, p.received, "", "") for p in self.receivers]
        return CsvTable(
            f"equity-{self.period.start:%Y-%m}-{self.period.name}",
            ("row", "name", "active people / department", "points received / given", "per head / received",
             "top 10 % share", "gini"),
            tuple(rows),
        )  # fmt: skip


# People who give far more than they receive in one period, from the board rollup, the most lopsided first.
# Placeholders: period, start, minimum, factor, scoped?, people, limit (NULL: all).
_GIVERS_SQL = """
SELECT e.id, e.name, e.department, pp.given_points AS given, pp.points AS received, count(*) OVER () AS total
FROM person_period pp JOIN employee e ON e.id = pp.employee
WHERE pp.period = {} AND pp.start = {} AND e.active
  AND pp.given_points >= {} AND pp.given_points >= {} * greatest(pp.points, 1) AND (NOT {} OR e.id = ANY({}))
ORDER BY pp.given_points - pp.points DESC, e.id LIMIT {}
"""
# …and the reverse: people who receive far more than they give (the same placeholders).
_RECEIVERS_SQL = """
SELECT e.id, e.name, e.department, pp.given_points AS given, pp.points AS received, count(*) OVER () AS total
FROM person_period pp JOIN employee e ON e.id = pp.employee
WHERE pp.period = {} AND pp.start = {} AND e.active
  AND pp.points >= {} AND pp.points >= {} * greatest(pp.given_points, 1) AND (NOT {} OR e.id = ANY({}))
ORDER BY pp.points - pp.given_points DESC, e.id LIMIT {}
"""


async def equity(scope: Scope, period: InsightPeriod, *, every_row: bool = False) -> EquityView:
    """Concentration per department, and the people (in the viewer's scope) who give far more than they receive
    and the reverse: the first PEOPLE_LIMIT of each, or all of them with `every_row`."""
    departments = await department_names()
    figures = await _figures(period.kind, [period.start])
    rows = sorted(
        (
            EquityRow(r["department"], departments.get(r["department"], "?"), r["active"], r["points"],
                      share(r["points"], r["active"]), r["top10"], r["gini"])
            for r in figures
            if r["department"] is not None
        ),
        key=lambda r: (-r.gini, r.department),
    )  # fmt: skip
    overall = next((r for r in figures if r["department"] is None), None)

    def imbalance(p: Row) -> Imbalance:
        return Imbalance(p["id"], p["name"], departments.get(p["department"], "No department"),
                         p["given"], p["received"])  # fmt: skip

    lists = []
    for statement in (_GIVERS_SQL, _RECEIVERS_SQL):
        found = await Employee.raw(
            statement,
            period.kind.value,
            period.start,
            IMBALANCE_MIN_POINTS,
            IMBALANCE,
            not scope.everything,
            sorted(scope.people or ()),
            None if every_row else PEOPLE_LIMIT,
        )
        lists.append((tuple(imbalance(p) for p in found), found[0]["total"] if found else 0))
    (givers, givers_count), (receivers, receivers_count) = lists
    return EquityView(
        period,
        tuple(rows),
        overall["top10"] if overall else 0.0,
        overall["gini"] if overall else 0.0,
        bar_chart(f"Gini coefficient of points received, by department, {period.label}",
                  [(r.department, r.gini) for r in rows], digits=2),
        bar_chart(f"Points received per active member, {period.label}",
                  sorted(((r.department, r.per_head) for r in rows), key=lambda item: -item[1]), digits=1),
        givers,
        receivers,
        givers_count,
        receivers_count,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ invisible contributors


@dataclass(frozen=True, slots=True)
class Unthanked:
    id: int
    name: str
    department: str
    completed: int  # requests completed in the longest window they are silent for
    last_recognised: datetime | None
    silent_days: int  # 30, 60 or 90: the longest window with completed requests and no recognition


@dataclass(frozen=True, slots=True)
class ThankedRate:
    department_id: int
    department: str
    completed: int
    thanked: int

    @property
    def rate(self) -> float:
        return share(self.thanked, self.completed)


@dataclass(frozen=True, slots=True)
class InvisibleView:
    period: InsightPeriod
    people: tuple[Unthanked, ...]
    counts: tuple[tuple[str, int, int, int], ...]  # department, silent 30 / 60 / 90 days
    rates: tuple[ThankedRate, ...]
    chart: BarChart
    refreshed_at: datetime | None

    def table(self) -> CsvTable:
        rows: list[tuple[object, ...]] = [
            ("person", p.name, p.department, p.completed, p.silent_days,
             p.last_recognised.date().isoformat() if p.last_recognised else "never")
            for p in self.people
        ]  # fmt: skip
        rows += [("department", r.department, r.department, r.completed, r.thanked, round(100 * r.rate, 1))
                 for r in self.rates]  # fmt: skip
        return CsvTable(
            f"invisible-{self.period.start:%Y-%m}-{self.period.name}",
            ("row", "name", "department", "requests completed", "silent days / thanked", "last recognised / rate %"),
            tuple(rows),
        )


async def invisible(scope: Scope, period: InsightPeriod) -> InvisibleView:
    """Who served without thanks (as of the last refresh) and each department's thanked-request rate."""
    departments = await department_names()
    query = SilentContributor.select(*SilentContributor.all_columns(), SilentContributor.employee.name.as_alias("name"))
    if not scope.everything:
        query = query.where(SilentContributor.department.is_in(sorted(scope.departments or [0])))
    rows = await query
    people = []
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    refreshed = min((row["refreshed_at"] for row in rows), default=None)
    for row in rows:
        last = row["last_recognised"]
        silent = [
            days
            for days in SILENT_DAYS
            if row[f"completed_{days}"] and (last is None or last < row["refreshed_at"] - timedelta(days=days))
        ]
        if not silent:
            continue
        department = departments.get(row["department"], "No department")
        for n, days in enumerate(SILENT_DAYS):
            counts[department][n] += days in silent
        if scope.person(row["employee"]):
            longest = silent[-1]
            people.append(
                Unthanked(row["employee"], row["name"], department, row[f"completed_{longest}"], last, longest)
            )
    people.sort(key=lambda p: (-p.silent_days, -p.completed, p.name))
    rates = sorted(
        (
            ThankedRate(r["department"], departments.get(r["department"], "?"), r["completed"],
                        r["thanked"])
            for r in await _figures(period.kind, [period.start])
            if r["department"] is not None and r["completed"]
        ),
        key=lambda r: (r.rate, r.department),
    )  # fmt: skip
    chart = bar_chart(f"Share of completed requests thanked with kudos, {period.label}",
                      [(r.department, r.rate) for r in rates], percent=True)  # fmt: skip
    return InvisibleView(
        period,
        tuple(people),
        tuple(sorted((name, *values) for name, values in counts.items())),  # type: ignore[misc]
        tuple(rates),
        chart,
        refreshed,
    )
