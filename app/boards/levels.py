"""Levels, weekly giving streaks and the recognition chart (SPEC F7): a person's progress, read from rollups.

Activity score (lifetime)::

    score = points received + 5 * kudos given + 10 * requests they resolved that were completed

Points received and kudos given come from the all-time `PersonPeriod` row (so a revoke takes its points and its
kudos back out of the score); requests count once per resolver (every resolver of a completed request, SPEC B1).

Level curve: level n needs a score of round(50 * n^1.5) — 50, 141, 260, 400, 559, 735, 926, 1131, 1350, 1581 …
— so each level asks a little more than the one before. Everyone starts at level 0.

Weekly giving streak: consecutive calendar weeks (Monday to Sunday in the organisation's time zone) in which the
person gave at least one kudos that still stands (`PersonPeriod` week rows with `given > 0`). This week counts
once they have given this week; until then the streak runs up to last week, so nobody loses a streak on Monday
morning. A broken streak is simply 0.

The recognition chart: kudos received per calendar month over the last 12 months (`PersonPeriod` month rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.boards.rollups import ALL_TIME_START, period_starts
from app.boards.tables import Period, PersonPeriod
from app.timeutil import now, org_tz

GIVEN_WEIGHT = 5  # score per kudos given
RESOLVED_WEIGHT = 10  # score per request resolved and completed
LEVEL_BASE = 50
LEVEL_EXPONENT = 1.5
WEEK = timedelta(days=7)
CHART_MONTHS = 12


# ------------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Lifetime:
    """A person's all-time rollup figures."""

    points: int = 0  # received
    kudos: int = 0  # received
    cross_givers: int = 0  # distinct givers from other departments
    given: int = 0  # kudos given


async def lifetime(employee_ids: Iterable[int]) -> dict[int, Lifetime]:
    """Each person's all-time rollup figures (zeros when none)."""
    ids = sorted(set(employee_ids))
    figures = dict.fromkeys(ids, Lifetime())
    if not ids:
        return figures
    rows = await PersonPeriod.select(
        PersonPeriod.employee, PersonPeriod.points, PersonPeriod.kudos, PersonPeriod.cross_givers, PersonPeriod.given
    ).where(
        PersonPeriod.employee.is_in(ids) & (PersonPeriod.period == Period.ALL) & (PersonPeriod.start == ALL_TIME_START)
    )
    for row in rows:
        employee = row.pop("employee")
        figures[employee] = Lifetime(**row)
    return figures


# Completed requests per resolver, and how many of them were completed within the target of the service they name
# (turnaround `completed_at - created_at`, as on the department scorecards). Uses the index on
# request_resolver (employee).
_RESOLVED_SQL = """
    SELECT rr.employee,
           count(*) AS completed,
           count(*) FILTER (WHERE r.completed_at - r.created_at <= make_interval(hours => s.target_hours))
               AS within_target
    FROM request_resolver rr
    JOIN request r ON r.id = rr.request
    LEFT JOIN service s ON s.id = r.service
    WHERE rr.employee = ANY({}) AND r.status = 'completed'
    GROUP BY rr.employee
"""


@dataclass(frozen=True, slots=True)
class Resolved:
    """Requests a person resolved that were completed, and of those, completed within target."""

    completed: int = 0
    within_target: int = 0


async def resolved(employee_ids: Iterable[int]) -> dict[int, Resolved]:
    """Per person (zeros when none): requests they resolved that were completed, and how many within target."""
    ids = sorted(set(employee_ids))
    figures = dict.fromkeys(ids, Resolved())
    if ids:
        for row in await PersonPeriod.raw(_RESOLVED_SQL, ids):
            employee = row.pop("employee")
            figures[employee] = Resolved(**row)
    return figures


# ---------------------------------------------------------------------------------------------------- levels


def score_needed(level: int) -> int:
    """The lifetime activity score that reaches `level`: round(50 * level^1.5)."""
    score: int = round(LEVEL_BASE * level**LEVEL_EXPONENT)
    return score


def level_for(score: int) -> int:
    """The highest level whose score `score` has reached (0 below 50)."""
    if score < LEVEL_BASE:
        return 0
    level = int((score / LEVEL_BASE) ** (1 / LEVEL_EXPONENT))
    while score_needed(level + 1) <= score:  # correct floating-point rounding either way
        level += 1
    while level > 0 and score_needed(level) > score:
        level -= 1
    return level


def activity_score(points_received: int, kudos_given: int, requests_resolved: int) -> int:
    return max(0, points_received + GIVEN_WEIGHT * kudos_given + RESOLVED_WEIGHT * requests_resolved)


@dataclass(frozen=True, slots=True)
class Level:
    score: int
    points_received: int
    kudos_given: int
    requests_resolved: int

    @property
    def level(self) -> int:
        return level_for(self.score)

    @property
    def floor(self) -> int:
        """The score this level started at."""
        return score_needed(self.level)

    @property
    def next_at(self) -> int:
        """The score the next level needs."""
        return score_needed(self.level + 1)

    @property
    def gained(self) -> int:
        """Score gained since reaching this level (the <progress> value)."""
        return self.score - self.floor

    @property
    def span(self) -> int:
        """Score between this level and the next (the <progress> max)."""
        return self.next_at - self.floor

    @property
    def to_next(self) -> int:
        return self.next_at - self.score

    @property
    def percent(self) -> int:
        return self.gained * 100 // self.span


def level_of(points_received: int, kudos_given: int, requests_resolved: int) -> Level:
    return Level(
        score=activity_score(points_received, kudos_given, requests_resolved),
        points_received=points_received,
        kudos_given=kudos_given,
        requests_resolved=requests_resolved,
    )


async def person_level(employee_id: int) -> Level:
    figures = (await lifetime([employee_id]))[employee_id]
    done = (await resolved([employee_id]))[employee_id]
    return level_of(figures.points, figures.given, done.completed)


# --------------------------------------------------------------------------------------------------- streaks


def week_of(moment: datetime) -> date:
    """The Monday starting the organisation-time week that contains `moment`."""
    return period_starts(moment, org_tz())[Period.WEEK]


def streak_length(weeks: Iterable[date], this_week: date) -> int:
    """Consecutive weeks with giving, ending this week when it is among `weeks`, otherwise ending last week."""
    given = set(weeks)
    week = this_week if this_week in given else this_week - WEEK
    length = 0
    while week in given:
        length += 1
        week -= WEEK
    return length


async def giving_weeks(employee_id: int, *, up_to: date, since: date | None = None) -> set[date]:
    """The weeks (their Mondays) from `since` to `up_to` in which the person gave a kudos that still stands."""
    condition = (
        (PersonPeriod.employee == employee_id)
        & (PersonPeriod.period == Period.WEEK)
        & (PersonPeriod.given > 0)
        & (PersonPeriod.start <= up_to)
    )
    if since is not None:
        condition &= PersonPeriod.start >= since
    rows = await PersonPeriod.select(PersonPeriod.start).where(condition)
    return {row["start"] for row in rows}


@dataclass(frozen=True, slots=True)
class Streak:
    weeks: int
    given_this_week: bool


# ----------------------------------------------------------------------------------------------------- chart

CHART_WIDTH = 480
CHART_HEIGHT = 170
_PLOT_TOP = 18  # room for the value above the tallest bar
_PLOT_BOTTOM = 146  # the baseline; month names below it
_SLOT = CHART_WIDTH // CHART_MONTHS
_BAR = 26


@dataclass(frozen=True, slots=True)
class Bar:
    month: date
    value: int
    x: int
    y: int
    height: int

    @property
    def label(self) -> str:
        return f"{self.month:%b}"

    @property
    def long_label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def centre(self) -> int:
        return self.x + _BAR // 2


@dataclass(frozen=True, slots=True)
class Chart:
    """Kudos received per month, oldest first, laid out for an inline SVG of CHART_WIDTH by CHART_HEIGHT."""

    bars: list[Bar]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = _PLOT_BOTTOM

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def best(self) -> Bar | None:
        """The month with the most kudos (the latest of equals), None when there were none."""
        best = max(self.bars, key=lambda bar: (bar.value, bar.month), default=None)
        return best if best is not None and best.value > 0 else None

    @property
    def summary(self) -> str:
        first, last = self.bars[0], self.bars[-1]
        span = f"from {first.long_label} to {last.long_label}"
        if self.best is None:
            return f"No kudos received {span}."
        best = self.best
        return (
            f"{self.total} kudos received {span}; the most in {best.long_label} "
            f"({best.value} kudos). This month so far: {last.value}."
        )


def _months_back(month: date, count: int) -> list[date]:
    months = [month]
    for _ in range(count - 1):
        month = (month - timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]


def chart_for(values: dict[date, int], this_month: date) -> Chart:
    """Lay out the last CHART_MONTHS months up to `this_month` (values by month start; missing months are 0)."""
    months = _months_back(this_month, CHART_MONTHS)
    counts = [max(0, values.get(month, 0)) for month in months]
    top = max(counts, default=0) or 1
    plot = _PLOT_BOTTOM - _PLOT_TOP
    bars = []
    for n, (month, value) in enumerate(zip(months, counts, strict=True)):
        height = round(plot * value / top)
        bars.append(
            Bar(month=month, value=value, x=n * _SLOT + (_SLOT - _BAR) // 2, y=_PLOT_BOTTOM - height, height=height)
        )
    return Chart(bars=bars)


# ---------------------------------------------------------------------------------------------------- profile


@dataclass(frozen=True, slots=True)
class Progress:
    level: Level
    streak: Streak
    chart: Chart


# A profile's figures in one round trip: the all-time rollup (points received, kudos given), requests resolved and
# completed, the weeks with giving up to this one, and kudos received per month from `first` to this month.
# Placeholders: the person, then the all-time start, this week, the chart's first month and this month.
_PROGRESS_SQL = """
    WITH person AS (SELECT {}::integer AS id)
    SELECT COALESCE(total.points, 0) AS points, COALESCE(total.given, 0) AS given,
           (SELECT count(*) FROM request_resolver rr JOIN request r ON r.id = rr.request
            WHERE rr.employee = person.id AND r.status = 'completed') AS resolved,
           ARRAY(SELECT w.start FROM person_period w
                 WHERE w.employee = person.id AND w.period = 'week' AND w.given > 0 AND w.start <= {}) AS weeks,
           ARRAY(SELECT ROW(m.start, m.kudos) FROM person_period m
                 WHERE m.employee = person.id AND m.period = 'month' AND m.start >= {} AND m.start <= {}) AS months
    FROM person LEFT JOIN person_period total
      ON total.employee = person.id AND total.period = 'all' AND total.start = {}
"""


async def progress(employee_id: int, *, at: datetime | None = None) -> Progress:
    """Level, giving streak and the 12-month chart for a profile, as of `at` (default now)."""
    moment = at or now()
    this_week = week_of(moment)
    this_month = period_starts(moment, org_tz())[Period.MONTH]
    first = _months_back(this_month, CHART_MONTHS)[0]
    row = (await PersonPeriod.raw(_PROGRESS_SQL, employee_id, this_week, first, this_month, ALL_TIME_START))[0]
    weeks = set(row["weeks"])
    return Progress(
        level=level_of(row["points"], row["given"], row["resolved"]),
        streak=Streak(weeks=streak_length(weeks, this_week), given_this_week=this_week in weeks),
        chart=chart_for(dict(row["months"]), this_month),
    )
