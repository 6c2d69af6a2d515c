"""Department service scorecards (SPEC B7): how a department served its colleagues, month by month, next to the
turnaround targets it publishes in its service catalogue (F1), with the requesters' ratings (F11).

For this month and the six before it (calendar months in the organisation's time zone):

- requests completed — by `completed_at` in the month;
- median first response — `first_response_at - created_at` over the requests first answered in the month
  (cancelled ones included: someone did pick them up);
- median turnaround — `completed_at - created_at` over the requests completed in the month;
- share within target — of the requests completed in the month that name a catalogue service, those completed
  within that service's `target_hours` (its current target: targets are not versioned);
- average ratings — timeliness, quality and communication over the ratings of the requests completed in the
  month, with their number. Averages are shown only from MIN_RATINGS ratings up: an average of one rating *is*
  that rating, and individual ratings are never public (F11);
- kudos received from people of other departments — read from the `DepartmentPeriod` month rollup, never from
  the kudos table.

Two queries whatever the number of months: one over `request` (grouped by a month bucket that PostgreSQL
computes in the organisation's zone, `AT TIME ZONE`, so buckets match `app.timeutil.month_bounds`), one over
the rollup. The catalogue comes from the caller (the department page already has it) or a third small query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from app.boards.tables import DepartmentPeriod
from app.people.tables import Service
from app.requests.tables import Request
from app.settings import get_settings
from app.timeutil import month_bounds, month_of, now, previous_month
from app.words import duration

MONTHS = 7  # this month and the six before it
MIN_RATINGS = 3  # fewer ratings than this in a month: no averages shown (they would reveal individual ratings)
SCORES = ("timeliness", "quality", "communication")
NO_TARGETS = "no published targets"
TOO_FEW = "too few ratings"

# One row per (month, measure) source: completions carry turnaround, target and rating; first responses carry
# their delay. Each branch is a range scan on (department, completed_at) / (department, first_response_at).
# Placeholders, in order: zone name, then department, start, end for each branch.
_FIGURES_SQL = """
SELECT date_trunc('month', e.at AT TIME ZONE {})::date AS month,
       count(*) FILTER (WHERE e.completed) AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.took) FILTER (WHERE NOT e.completed) AS first_response,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.took) FILTER (WHERE e.completed) AS turnaround,
       count(e.target) AS with_target,
       count(*) FILTER (WHERE e.took <= e.target) AS within_target,
       count(e.timeliness) AS ratings,
       avg(e.timeliness)::float8 AS timeliness,
       avg(e.quality)::float8 AS quality,
       avg(e.communication)::float8 AS communication
FROM (
    SELECT true AS completed, r.completed_at AS at, r.completed_at - r.created_at AS took,
           make_interval(hours => s.target_hours) AS target, rt.timeliness, rt.quality, rt.communication
    FROM request r
    LEFT JOIN service s ON s.id = r.service
    -- the rating of each request by its unique index (LIMIT 1 keeps the planner from turning this into a hash join,
    -- which reads every rating of the organisation)
    LEFT JOIN LATERAL (
        SELECT x.timeliness, x.quality, x.communication FROM request_rating x WHERE x.request = r.id LIMIT 1
    ) AS rt ON true
    WHERE r.department = {} AND r.completed_at >= {} AND r.completed_at < {}
    UNION ALL
    SELECT false, r.first_response_at, r.first_response_at - r.created_at, NULL, NULL, NULL, NULL
    FROM request r
    WHERE r.department = {} AND r.first_response_at >= {} AND r.first_response_at < {}
) AS e
GROUP BY 1
"""


# Kudos from people of other departments, per month of the scorecard, from the department month rollup.
_CROSS_SQL = """
    SELECT start, cross_kudos FROM department_period WHERE department = {} AND period = 'month' AND start = ANY({})
"""


def hours_label(value: timedelta | float | None) -> str | None:
    """A duration (or a number of hours) the way request pages show one ("45 min", "3 h 30 min", "2 d 4 h")."""
    if value is None:
        return None
    return duration(value if isinstance(value, timedelta) else timedelta(hours=value))


def percent_label(part: int, whole: int) -> str | None:
    """The share as "83%": rounded, but never "100%" unless all and never "0%" unless none; None when `whole` is 0."""
    if not whole:
        return None
    share = min(max(round(100 * part / whole), 1 if part else 0), 99 if part < whole else 100)
    return f"{share}%"


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date  # its first day, in the organisation's time zone
    current: bool = False  # this month (so far)
    completed: int = 0
    first_response: timedelta | None = None  # median; None when nothing was first answered in the month
    turnaround: timedelta | None = None  # median; None when nothing was completed
    with_target: int = 0  # completed requests that name a catalogue service
    within_target: int = 0  # ... of those, completed within the service's target
    ratings: int = 0
    timeliness: float | None = None  # averages 1-5; None when there are no ratings
    quality: float | None = None
    communication: float | None = None
    cross_kudos: int = 0  # kudos received from people of other departments

    @property
    def label(self) -> str:
        return f"{self.month:%b %Y}"

    @property
    def ratings_shown(self) -> bool:
        return self.ratings >= MIN_RATINGS

    def average(self, score: str) -> str | None:
        """The average of `score` to one decimal ("4.3"); TOO_FEW below MIN_RATINGS ratings; None without any."""
        value = getattr(self, score)
        if value is None:
            return None
        return f"{value:.1f}" if self.ratings_shown else TOO_FEW


@dataclass(frozen=True, slots=True)
class Row:
    """One measure across the months, ready to show: cells are text, None meaning no data."""

    label: str
    target: str | None  # None: this measure has no published target
    cells: list[str | None]
    target_list: list[str] = field(default_factory=list)  # shown as a list under `target`
    note: str = ""


class Published(Protocol):
    """A service of a department's published catalogue, as far as the scorecard needs it."""

    @property
    def name(self) -> str: ...

    @property
    def target_hours(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Target:
    """A service's target turnaround."""

    name: str
    target_hours: int


@dataclass(frozen=True, slots=True)
class Scorecard:
    months: list[MonthFigures]  # newest first
    targets: list[Target]  # the active catalogue
    timezone: str

    min_ratings: int = MIN_RATINGS

    @property
    def has_targets(self) -> bool:
        return bool(self.targets)

    @property
    def turnaround_target(self) -> str:
        """ "4 h", or "4 h to 2 d (by service)" when services differ; NO_TARGETS without a catalogue."""
        hours = sorted({service.target_hours for service in self.targets})
        if not hours:
            return NO_TARGETS
        low, high = hours_label(hours[0]), hours_label(hours[-1])
        return str(low) if len(hours) == 1 else f"{low} to {high} (by service)"

    @property
    def rows(self) -> list[Row]:
        months = self.months
        service_targets = [f"{s.name}: {hours_label(s.target_hours)}" for s in self.targets]
        return [
            Row("Requests completed", None, [str(m.completed) for m in months]),
            Row("Median first response", None, [hours_label(m.first_response) for m in months]),
            Row("Median turnaround", self.turnaround_target, [hours_label(m.turnaround) for m in months]),
            Row(
                "Completed within target",
                "Target of each service" if self.has_targets else NO_TARGETS,
                [
                    f"{percent_label(m.within_target, m.with_target)} ({m.within_target} of {m.with_target})"
                    if m.with_target
                    else None
                    for m in months
                ],
                target_list=service_targets,
                note="Requests for a catalogue service",
            ),
            Row("Ratings received", None, [str(m.ratings) for m in months]),
            *(
                Row(f"{score.capitalize()} (average of 5)", None, [m.average(score) for m in months])
                for score in SCORES
            ),
            Row("Kudos from other departments", None, [str(m.cross_kudos) for m in months]),
        ]


async def _published_targets(department_id: int) -> list[Target]:
    rows = (
        await Service.select(Service.name, Service.target_hours)
        .where((Service.department == department_id) & Service.active.eq(True))
        .order_by(Service.position, Service.name)
    )
    return [Target(**row) for row in rows]


async def department_scorecard(
    department_id: int,
    services: Sequence[Published] | None = None,
    *,
    at: datetime | None = None,
    months: int = MONTHS,
) -> Scorecard:
    """The scorecard of a department for the month containing `at` (default now) and the `months - 1` before it.

    `services`: the department's published (active) catalogue, when the caller has it already; otherwise it is
    read here.
    """
    current = month_of(at or now())
    starts = [current]
    while len(starts) < months:
        starts.append(previous_month(starts[-1]))
    begin, end = month_bounds(starts[-1])[0], month_bounds(current)[1]
    timezone = get_settings().timezone
    rows = await Request.raw(_FIGURES_SQL, timezone, department_id, begin, end, department_id, begin, end)
    figures = {row.pop("month"): row for row in rows}
    rollups = await DepartmentPeriod.raw(_CROSS_SQL, department_id, starts)
    cross = {row["start"]: row["cross_kudos"] for row in rollups}
    catalogue = (
        [Target(s.name, s.target_hours) for s in services]
        if services is not None
        else await _published_targets(department_id)
    )
    return Scorecard(
        months=[
            MonthFigures(
                month=start, current=start == current, cross_kudos=cross.get(start, 0), **figures.get(start, {})
            )
            for start in starts
        ],
        targets=catalogue,
        timezone=timezone,
    )
