"""Reading the awards (SPEC F9): winners of a cycle, the hall of fame, awards on profiles and department pages, and
what digests and the feed show. Read only: nothing here changes anything."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import ClassVar

from app.awards.calendar import get_calendar
from app.awards.cycles import month_label
from app.awards.nominations import NominationEntry, nominations_in
from app.awards.tables import AwardCycle, AwardWinner
from app.paging import Cursor, valid_id
from app.people.tables import Employee, Role
from app.timeutil import now


@dataclass(frozen=True, slots=True)
class Winner:
    """A winner of a category in a cycle: a person, or a department (with its `department_slug`)."""

    id: int
    cycle: int
    category: int
    person: int | None
    department: int | None
    citation: str
    month: date
    announced_at: datetime | None
    category_name: str
    position: int
    name: str
    token: str  # the nominee token ("p12", "d3")
    department_slug: str | None
    via_department: bool = False  # won by the person's department (profiles and digests)

    @property
    def month_label(self) -> str:
        return month_label(self.month)


_WINNER_SELECT = """
    SELECT w.id, w.cycle, w.category, w.person, w.department, w.citation, y.month, y.announced_at,
           c.name AS category_name, c.position, COALESCE(p.name, d.name) AS name,
           CASE WHEN w.person IS NOT NULL THEN 'p' || w.person ELSE 'd' || w.department END AS token,
           d.slug AS department_slug
    FROM award_winner w JOIN award_cycle y ON y.id = w.cycle JOIN award_category c ON c.id = w.category
    LEFT JOIN employee p ON p.id = w.person LEFT JOIN department d ON d.id = w.department
"""
_WINNER_ORDER = " ORDER BY y.month DESC, c.position, name"

# Winners picked in these cycles, announced or not.
_WINNERS_OF_SQL = _WINNER_SELECT + " WHERE w.cycle = ANY({})" + _WINNER_ORDER

# Winners of announced cycles, of one category (1st and 2nd value, or any when NULL) and from one month (3rd and 4th)
# to another (5th), or any.
_HALL_OF_FAME_SQL = (
    _WINNER_SELECT
    + " WHERE y.status = 'announced' AND ({}::int IS NULL OR w.category = {})"
    + " AND ({}::date IS NULL OR (y.month >= {} AND y.month < {}))"
    + _WINNER_ORDER
)

# Announced awards a person (the value) won, and those of their current department.
_FOR_PERSON_SQL = (
    _WINNER_SELECT
    + " JOIN employee me ON me.id = {}"
    + " WHERE y.status = 'announced' AND (w.person = me.id OR w.department = me.department)"
    + " ORDER BY y.month DESC, c.position"
)

# Announced awards a department (1st value) or its members (2nd) won.
_FOR_DEPARTMENT_SQL = (
    _WINNER_SELECT + " WHERE y.status = 'announced' AND (w.department = {} OR p.department = {})" + _WINNER_ORDER
)

# Awards announced in [1st, 2nd) won by these people (3rd) or departments (4th).
_ANNOUNCED_BETWEEN_SQL = (
    _WINNER_SELECT
    + " WHERE y.status = 'announced' AND y.announced_at >= {} AND y.announced_at < {}"
    + " AND (w.person = ANY({}) OR w.department = ANY({}))"
    + _WINNER_ORDER
)

_HALL_OF_FAME_YEARS_SQL = """
    SELECT DISTINCT extract(year FROM month)::int AS year FROM award_cycle WHERE status = 'announced'
    ORDER BY year DESC
"""

# Announced cycles for the feed, newest first: older than (1st, 2nd) and announced since the 3rd, when given.
_ANNOUNCED_CYCLES_SQL = """
    SELECT id, month, announced_at FROM award_cycle
    WHERE status = 'announced'
      AND ({}::timestamptz IS NULL OR (announced_at, id) < ({}::timestamptz, {}::int))
      AND ({}::timestamptz IS NULL OR announced_at >= {})
    ORDER BY announced_at DESC, id DESC LIMIT {}
"""


async def winners_of(cycle_ids: list[int]) -> list[Winner]:
    """The winners picked in these cycles (announced or not), by cycle and category order."""
    if not cycle_ids:
        return []
    return [Winner(**row) for row in await AwardWinner.raw(_WINNERS_OF_SQL, cycle_ids)]


async def hall_of_fame(*, category_id: int | None = None, year: int | None = None) -> list[Winner]:
    """Winners of announced cycles, newest month first, optionally of one category and one year (of the month)."""
    category = category_id or None
    start, end = (date(year, 1, 1), date(year + 1, 1, 1)) if year else (None, None)
    rows = await AwardWinner.raw(_HALL_OF_FAME_SQL, category, category, start, start, end)
    return [Winner(**row) for row in rows]


async def hall_of_fame_years() -> list[int]:
    return [row["year"] for row in await AwardCycle.raw(_HALL_OF_FAME_YEARS_SQL)]


async def awards_for_person(person_id: int) -> list[Winner]:
    """Announced awards a person won, and those their current department won (flagged `via_department`)."""
    if not valid_id(person_id):
        return []
    rows = await AwardWinner.raw(_FOR_PERSON_SQL, person_id)
    return [Winner(**row, via_department=row["person"] is None) for row in rows]


async def awards_for_department(department_id: int) -> list[Winner]:
    """Announced awards a department won, and those its members won."""
    return [Winner(**row) for row in await AwardWinner.raw(_FOR_DEPARTMENT_SQL, department_id, department_id)]


async def awards_announced(
    people: Mapping[int, int | None], *, start: datetime, end: datetime
) -> dict[int, list[Winner]]:
    """For digests: the awards announced between `start` and `end` that each person won, as a person or through
    their department (`people` maps a person's id to their department's; `via_department` flags the latter)."""
    if not people:
        return {}
    departments: dict[int, list[int]] = defaultdict(list)
    for person_id, department_id in people.items():
        if department_id is not None:
            departments[department_id].append(person_id)
    rows = await AwardWinner.raw(_ANNOUNCED_BETWEEN_SQL, start, end, list(people), list(departments))
    won: dict[int, list[Winner]] = defaultdict(list)
    for winner in (Winner(**row) for row in rows):
        if winner.person is not None:
            won[winner.person].append(winner)
        elif winner.department is not None:
            for person_id in departments[winner.department]:
                won[person_id].append(replace(winner, via_department=True))
    return dict(won)


@dataclass(frozen=True, slots=True)
class NominationWindow:
    """For manager digests: when nominations for a month's awards are taken, and a manager's own so far."""

    label: str
    opens_at: datetime
    closes_at: datetime
    nominations: list[NominationEntry]


async def nomination_windows(
    manager_ids: list[int], month: date, *, at: datetime | None = None
) -> dict[int, NominationWindow]:
    """For manager digests: the nomination window of `month`'s awards (the cycle's, once opened; else the
    calendar's) for each of `manager_ids` who may nominate, with their nominations; nothing once it has closed."""
    cycle = (
        await AwardCycle.select(AwardCycle.id, AwardCycle.opens_at, AwardCycle.closes_at)
        .where(AwardCycle.month == month)
        .first()
    )
    opens_at, closes_at = (cycle["opens_at"], cycle["closes_at"]) if cycle else (await get_calendar()).window(month)
    if (at or now()) >= closes_at or not manager_ids:
        return {}
    managers = await Employee.select(Employee.id).where(
        Employee.id.is_in(manager_ids) & (Employee.role == Role.MANAGER) & Employee.active.eq(True)
    )
    mine: dict[int, list[NominationEntry]] = defaultdict(list)
    if cycle and managers:
        for nomination in await nominations_in(cycle["id"], [m["id"] for m in managers]):
            mine[nomination.nominator].append(nomination)
    return {m["id"]: NominationWindow(month_label(month), opens_at, closes_at, mine[m["id"]]) for m in managers}


@dataclass(frozen=True, slots=True)
class Announcement:
    """An announced cycle as the feed shows it, with its winners. `created_at` is when it was announced, so
    announcements sort among the kudos feed's cards."""

    type: ClassVar[str] = "award"
    id: int  # the cycle's
    label: str
    winners: list[Winner]
    created_at: datetime


async def recent_announcements(
    limit: int, before: Cursor | None = None, *, since: datetime | None = None
) -> list[Announcement]:
    """Announced cycles for the feed, newest first (keyset on announced_at, id), each with its winners."""
    after_at, after_id = (before.created_at, before.id) if before is not None else (None, None)
    cycles = await AwardCycle.raw(_ANNOUNCED_CYCLES_SQL, after_at, after_at, after_id, since, since, limit)
    winners: dict[int, list[Winner]] = defaultdict(list)
    for winner in await winners_of([c["id"] for c in cycles]):
        winners[winner.cycle].append(winner)
    return [Announcement(c["id"], month_label(c["month"]), winners[c["id"]], c["announced_at"]) for c in cycles]
