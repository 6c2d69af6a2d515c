"""Who sees which insights (`Scope`), the periods they cover (`InsightPeriod`) and the CSV every view's table exports
as. Shared by the views: figures.py (participation, equity, invisible contributors), signals.py, service_map.py.

Who sees what: admins everything; a manager their own department, the departments they lead and their direct
reports (people-level figures only for those people; department-level figures of every department, which name
nobody); anyone else is refused.

Periods are this month, last month, this quarter and this year in the organisation's time zone (the board
windows of app/boards/periods.py, read from the same rollup rows).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from app.boards.periods import Window, window
from app.boards.tables import Period
from app.insights import rollups
from app.people.services import CurrentUser, led_departments
from app.people.tables import Department, Employee
from app.rules import RuleViolation
from app.timeutil import month_bounds, next_month

PERIODS: dict[str, str] = {
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
}
DEFAULT_PERIOD = "month"
VIEWS: dict[str, str] = {
    "participation": "Participation",
    "equity": "Equity",
    "invisible": "Invisible contributors",
    "signals": "Collusion signals",
    "map": "Service map",
}
DEFAULT_VIEW = "participation"


@dataclass(frozen=True, slots=True)
class Scope:
    """What one viewer may see: `departments`/`people` None means everything (an admin)."""

    viewer: CurrentUser
    departments: frozenset[int] | None
    people: frozenset[int] | None

    @property
    def everything(self) -> bool:
        return self.departments is None

    def person(self, person_id: int) -> bool:
        return self.people is None or person_id in self.people

    def department(self, department_id: int | None) -> bool:
        return self.departments is None or department_id in self.departments


async def scope_for(user: CurrentUser) -> Scope:
    """The viewer's scope; employees are refused (403)."""
    if user.is_admin:
        return Scope(user, None, None)
    if not user.is_manager:
        raise RuleViolation("Insights are for managers and admins.", status_code=403)
    departments = await led_departments(user.id)
    if user.department_id is not None:
        departments.add(user.department_id)
    rows = await Employee.select(Employee.id).where(
        Employee.active.eq(True) & (Employee.department.is_in(list(departments) or [0]) | (Employee.manager == user.id))
    )
    return Scope(user, frozenset(departments), frozenset(row["id"] for row in rows) | {user.id})


@dataclass(frozen=True, slots=True)
class InsightPeriod:
    name: str
    label: str  # "November 2026", "Q4 2026", "2026"
    kind: Period
    start: date
    end: date  # first day after it

    @property
    def choice(self) -> str:
        return PERIODS[self.name]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return month_bounds(self.start)[0], month_bounds(self.end)[0]

    @property
    def months(self) -> list[date]:
        months, month = [], self.start
        while month < self.end:
            months.append(month)
            month = next_month(month)
        return months


def period_for(name: str, *, at: datetime | None = None) -> InsightPeriod:
    """The period `name` (a key of PERIODS; anything else is this month) at `at` (default now)."""
    chosen: Window = window(name if name in PERIODS else DEFAULT_PERIOD, now=at)
    return InsightPeriod(
        chosen.name, chosen.label, chosen.kind, chosen.start, rollups.period_end(chosen.kind, chosen.start)
    )


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A view's table as the CSV export writes it."""

    name: str  # file name stem
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (numbers stay numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: CsvTable) -> bytes:
    """UTF-8 with a byte-order mark (so spreadsheets read the accents), every text cell quoted."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_NAMES_SQL = "SELECT id, name FROM department WHERE id = ANY({})"


async def department_names(ids: Iterable[int] | None = None) -> dict[int, str]:
    """Departments' names by id (archived ones too: figures of the past name them): those of `ids`, or all."""
    if ids is not None:
        return {row["id"]: row["name"] for row in await Department.raw(_NAMES_SQL, sorted(set(ids)))}
    rows = await Department.select(Department.id, Department.name)
    return {row["id"]: row["name"] for row in rows}


def share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
