"""Award shortlists built from the cycle's month (SPEC B5).

Each category ranks candidates by one figure (`AwardCategory.shortlist`) and shows every figure of its kind next to
each suggestion, so a manager sees why someone is suggested. Figures come from the month rows of the board rollups
(`person_period`, `person_giver_period`, `department_period`, read only) and from request ratings:

- points: points received in the month;
- givers: distinct colleagues who thanked them;
- departments: departments helped — distinct departments (as they are now) of the colleagues from other
  departments who thanked them (`person_giver_period.cross_kudos > 0`);
- rating: average rating (timeliness, quality and communication, 1 to 5) of the requests they resolved that were
  completed in the month, from MIN_RATINGS ratings up (fewer would reveal individual ratings);
- per_head (departments): points received per active member.

People who opted out of boards or left, archived departments, the viewer and the departments the viewer leads (whom
they may not nominate) are never suggested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from app.boards.scorecards import MIN_RATINGS
from app.boards.tables import PersonPeriod
from app.timeutil import month_bounds
from app.words import plural

SIZE = 5
REFRESH_JOB = "refresh_award_shortlists"  # the worker's job computing stored shortlists (app/awards/stored.py)
_TENTH = Decimal("0.1")

FIGURES: dict[str, dict[str, str]] = {
    "person": {
        "points": "Points received",
        "givers": "Distinct givers",
        "departments": "Departments helped",
        "rating": "Average rating as resolver",
    },
    "department": {
        "per_head": "Points per member",
        "points": "Points received",
        "givers": "Distinct givers",
    },
}

_PERSON_SQL = """
    WITH figures AS (
        SELECT e.id, e.name, d.name AS department,
               COALESCE(pp.points, 0) AS points, COALESCE(pp.givers, 0) AS givers,
               COALESCE(helped.departments, 0) AS departments, rated.rating, COALESCE(rated.ratings, 0) AS ratings
        FROM employee e
        LEFT JOIN department d ON d.id = e.department
        LEFT JOIN person_period pp ON pp.employee = e.id AND pp.period = 'month' AND pp.start = {}
        LEFT JOIN (
            SELECT pg.recipient, count(DISTINCT g.department) AS departments
            FROM person_giver_period pg JOIN employee g ON g.id = pg.giver
            WHERE pg.period = 'month' AND pg.start = {} AND pg.cross_kudos > 0 AND g.department IS NOT NULL
            GROUP BY pg.recipient
        ) helped ON helped.recipient = e.id
        LEFT JOIN (
            SELECT rr.employee, count(*) AS ratings,
                   avg((r.timeliness + r.quality + r.communication) / 3.0) AS rating
            FROM request_rating r JOIN request q ON q.id = r.request JOIN request_resolver rr ON rr.request = q.id
            WHERE q.completed_at >= {} AND q.completed_at < {}
            GROUP BY rr.employee HAVING count(*) >= {}
        ) rated ON rated.employee = e.id
        WHERE e.active AND NOT e.board_opt_out AND e.id <> {}
          AND (pp.employee IS NOT NULL OR rated.employee IS NOT NULL)
    )
    SELECT * FROM figures WHERE {metric} > 0 ORDER BY {metric} DESC, name, id LIMIT {}
"""

# One statement per figure the people's shortlist ranks by (a known column name, never user text).
_PERSON_SQL_BY_METRIC = {metric: _PERSON_SQL.replace("{metric}", metric) for metric in FIGURES["person"]}

_DEPARTMENT_SQL = """
    SELECT d.id, d.name, d.slug, dp.points, dp.givers,
           (SELECT count(*) FROM employee e WHERE e.department = d.id AND e.active) AS members
    FROM department_period dp JOIN department d ON d.id = dp.department
    WHERE dp.period = 'month' AND dp.start = {} AND d.archived_at IS NULL AND dp.points > 0
      AND NOT (d.id = ANY({}))
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person or department the month's figures put on a shortlist, before the ranks a viewer sees."""

    person: int | None  # the person, or
    department: int | None  # the department
    name: str
    detail: str  # a person's department ("" when none); unused for a department
    slug: str | None  # a department's
    points: int
    givers: int
    departments: int = 0  # people: departments helped
    rating: Decimal | None = None  # people: average rating as resolver (None below MIN_RATINGS)
    ratings: int = 0
    members: int = 0  # departments: active members

    @property
    def per_head(self) -> Decimal:
        return _round(self.points / self.members) if self.members else Decimal(0)


@dataclass(frozen=True, slots=True)
class Suggestion:
    rank: int
    token: str  # the nominee token of the nomination form ("p12", "d3")
    name: str
    detail: str  # a person's department
    person: int | None  # the person suggested, or
    department_slug: str | None  # the department's (for its link)
    figures: dict[str, int | Decimal | None]  # figure key → value (None: not enough ratings)
    draft: str  # a factual first sentence for the reason, which the manager edits


def _round(value: object) -> Decimal:
    return Decimal(str(value)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def suggestion(rank: int, candidate: Candidate, label: str) -> Suggestion:
    """How a candidate is shown at `rank`, with a first sentence of the reason for the month `label`."""
    c = candidate
    if c.person is not None:
        rating = _round(c.rating) if c.rating is not None else None
        parts = [f"{c.points} points received from {plural(c.givers, 'colleague')}"]
        if c.departments:
            parts.append(f"thanked by people from {plural(c.departments, 'other department')}")
        if rating is not None:
            parts.append(f"rated {rating} of 5 on {c.ratings} resolved requests")
        return Suggestion(
            rank=rank,
            token=f"p{c.person}",
            name=c.name,
            detail=c.detail,
            person=c.person,
            department_slug=None,
            figures={"points": c.points, "givers": c.givers, "departments": c.departments, "rating": rating},
            draft=f"In {label}: " + "; ".join(parts) + ".",
        )
    return Suggestion(
        rank=rank,
        token=f"d{c.department}",
        name=c.name,
        detail=plural(c.members, "active member"),
        person=None,
        department_slug=c.slug,
        figures={"per_head": c.per_head, "points": c.points, "givers": c.givers},
        draft=f"In {label}: {c.points} points received from {c.givers} colleagues, {c.per_head} per member.",
    )


async def person_candidates(month: date, metric: str, *, viewer: int, limit: int) -> list[Candidate]:
    """The top `limit` people of `month` by `metric` (a key of FIGURES["person"]), `viewer` left out."""
    sql = _PERSON_SQL_BY_METRIC.get(metric)
    if sql is None:
        return []
    start, end = month_bounds(month)
    rows = await PersonPeriod.raw(sql, month, month, start, end, MIN_RATINGS, viewer, limit)
    return [
        Candidate(
            person=row["id"],
            department=None,
            name=row["name"],
            detail=row["department"] or "",
            slug=None,
            points=row["points"],
            givers=row["givers"],
            departments=row["departments"],
            rating=row["rating"],
            ratings=row["ratings"],
        )
        for row in rows
    ]


async def department_candidates(month: date, metric: str, *, excluded: set[int]) -> list[Candidate]:
    """Every department with points in `month` but `excluded`, best first by `metric` (a key of
    FIGURES["department"]), ties by name."""
    if metric not in FIGURES["department"]:
        return []
    rows = await PersonPeriod.raw(_DEPARTMENT_SQL, month, sorted(excluded))
    found = [
        Candidate(
            person=None,
            department=row["id"],
            name=row["name"],
            detail="",
            slug=row["slug"],
            points=row["points"],
            givers=row["givers"],
            members=row["members"],
        )
        for row in rows
    ]
    found.sort(key=lambda c: (-getattr(c, metric), c.name))
    return found


async def people(month: date, metric: str, *, viewer: int, label: str, limit: int = SIZE) -> list[Suggestion]:
    """The top people of `month` by `metric` (a key of FIGURES["person"]) with all their figures, computed now."""
    found = await person_candidates(month, metric, viewer=viewer, limit=limit)
    return [suggestion(rank, c, label) for rank, c in enumerate(found, start=1)]


async def departments(
    month: date, metric: str, *, excluded: set[int], label: str, limit: int = SIZE
) -> list[Suggestion]:
    """The top departments of `month` by `metric` (a key of FIGURES["department"]) with all their figures, computed
    now."""
    found = await department_candidates(month, metric, excluded=excluded)
    return [suggestion(rank, c, label) for rank, c in enumerate(found[:limit], start=1)]
