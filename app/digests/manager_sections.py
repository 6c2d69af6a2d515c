"""The manager digest's sections (see app/digests/content.py): each one function over a batch of managers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.awards import queries as awards
from app.boards.scorecards import MonthFigures, Scorecard, department_scorecard, hours_label, percent_label
from app.boards.tables import Period
from app.digests.period import DigestPeriod, Person, ids
from app.people.tables import Employee

QUIET_DAYS = 60  # B3: teammates with no recognition for this long are flagged


# A manager's team: their active direct reports and the active members of the departments they lead, who had
# joined by the end of the month. Two index lookups (employee.manager, department_lead.employee) joined by UNION.
_TEAM_SQL = """
SELECT r.manager, r.id, r.name
FROM employee r
WHERE r.manager = ANY({}) AND r.active AND r.created_at < {}
UNION
SELECT l.employee, e.id, e.name
FROM department_lead l
JOIN department d ON d.id = l.department AND d.archived_at IS NULL
JOIN employee e ON e.department = l.department
WHERE l.employee = ANY({}) AND e.id <> l.employee AND e.active AND e.created_at < {}
ORDER BY 1, 3, 2
"""


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str


async def _teams(period: DigestPeriod, people: list[Person]) -> dict[int, list[Member]]:
    teams: dict[int, list[Member]] = {person.id: [] for person in people}
    managers = ids(people)
    for row in await Employee.raw(_TEAM_SQL, managers, period.end, managers, period.end):
        teams[row["manager"]].append(Member(row["id"], row["name"]))
    return teams


_TEAM_FIGURES_SQL = """
SELECT employee, start, points, kudos, given
FROM person_period WHERE employee = ANY({}) AND period = {} AND start IN ({}, {})
"""


@dataclass(frozen=True, slots=True)
class TeamMonth:
    kudos: int  # received
    points: int  # received
    given: int  # kudos given
    recognised: int  # people who received kudos


@dataclass(frozen=True, slots=True)
class TeamTotals:
    size: int
    this: TeamMonth
    last: TeamMonth  # the month before


async def team_totals(period: DigestPeriod, people: list[Person]) -> dict[int, TeamTotals]:
    """The team's kudos and points received, kudos given and people recognised, this month against last."""
    teams = await _teams(period, people)
    members = sorted({member.id for team in teams.values() for member in team})
    rows = await Employee.raw(_TEAM_FIGURES_SQL, members, str(Period.MONTH), period.month, period.previous)
    figures = {(row["employee"], row["start"]): row for row in rows}

    def totals(team: list[Member], month: date) -> TeamMonth:
        found = [figures[(m.id, month)] for m in team if (m.id, month) in figures]
        return TeamMonth(
            kudos=sum(row["kudos"] for row in found),
            points=sum(row["points"] for row in found),
            given=sum(row["given"] for row in found),
            recognised=sum(1 for row in found if row["kudos"] > 0),
        )

    return {
        manager: TeamTotals(len(team), totals(team, period.month), totals(team, period.previous))
        for manager, team in teams.items()
    }


_LAST_RECOGNISED_SQL = """
SELECT kr.employee, max(k.created_at) AS last
FROM kudos_recipient kr JOIN kudos k ON k.id = kr.kudos
WHERE kr.employee = ANY({}) AND k.revoked_at IS NULL AND k.created_at < {}
GROUP BY kr.employee
"""


_TEAM_FEEDBACK_SQL = """
SELECT count(*) FILTER (WHERE f.subject = ANY({})) AS received, count(*) FILTER (WHERE f.author = ANY({})) AS given
FROM feedback f WHERE f.created_at >= {} AND f.created_at < {} AND (f.subject = ANY({}) OR f.author = ANY({}))
"""


@dataclass(frozen=True, slots=True)
class TeamFeedback:
    size: int
    received: int
    given: int


async def team_feedback(period: DigestPeriod, people: list[Person]) -> dict[int, TeamFeedback]:
    """The team's feedback activity in the month: items received and given (counts only)."""
    result = {}
    for manager, team in (await _teams(period, people)).items():
        members = [member.id for member in team]
        if not members:
            continue
        rows = await Employee.raw(_TEAM_FEEDBACK_SQL, members, members, period.start, period.end, members, members)
        if rows[0]["received"] or rows[0]["given"]:
            result[manager] = TeamFeedback(len(team), rows[0]["received"], rows[0]["given"])
    return result


@dataclass(frozen=True, slots=True)
class QuietMember:
    id: int
    name: str
    last: datetime | None  # last recognised (None: never)
    long_quiet: bool  # nothing in the QUIET_DAYS before the month's end


@dataclass(frozen=True, slots=True)
class QuietTeam:
    size: int
    people: tuple[QuietMember, ...]

    @property
    def long_quiet(self) -> int:
        return sum(member.long_quiet for member in self.people)


async def quiet_teammates(period: DigestPeriod, people: list[Person]) -> dict[int, QuietTeam]:
    """B3: teammates who received no kudos in the month; those with none in the QUIET_DAYS before its end too
    are flagged, with when they were last recognised (or never)."""
    teams = await _teams(period, people)
    members = sorted({member.id for team in teams.values() for member in team})
    last = {row["employee"]: row["last"] for row in await Employee.raw(_LAST_RECOGNISED_SQL, members, period.end)}
    cutoff = period.end - timedelta(days=QUIET_DAYS)
    result = {}
    for manager, team in teams.items():
        quiet = []
        for member in team:
            when = last.get(member.id)
            if when is None or when < period.start:
                quiet.append(QuietMember(member.id, member.name, when, when is None or when < cutoff))
        result[manager] = QuietTeam(len(team), tuple(quiet))
    return result


_MANAGED_DEPARTMENTS_SQL = """
SELECT m.id AS manager, d.id, d.name, d.slug
FROM employee m
JOIN department d ON d.archived_at IS NULL AND (
    d.id IN (SELECT l.department FROM department_lead l WHERE l.employee = m.id)
    OR (d.id = m.department AND NOT EXISTS (SELECT 1 FROM department_lead l WHERE l.employee = m.id))
)
WHERE m.id = ANY({})
ORDER BY m.id, d.name
"""


@dataclass(frozen=True, slots=True)
class MonthSummary:
    """One month of a department's scorecard, as the digest shows it."""

    label: str
    completed: int
    first_response: str | None
    turnaround: str | None
    within_target: str | None
    ratings: int
    satisfaction: str | None  # the average to one decimal, TOO_FEW, or None
    cross_kudos: int


@dataclass(frozen=True, slots=True)
class ManagedDepartment:
    name: str
    slug: str
    months: tuple[MonthSummary, ...]  # this month, the one before


async def scorecards(period: DigestPeriod, people: list[Person]) -> dict[int, list[ManagedDepartment]]:
    """The service scorecard of the departments a manager leads (or their own department), for the month and
    the one before: each department's scorecard is read once per batch, however many managers share it."""
    rows = await Employee.raw(_MANAGED_DEPARTMENTS_SQL, ids(people))
    cards: dict[int, Scorecard] = {}
    for department_id in dict.fromkeys(row["id"] for row in rows):
        cards[department_id] = await department_scorecard(department_id, at=period.start, months=2)
    result: dict[int, list[ManagedDepartment]] = {}
    for row in rows:
        this, last = cards[row["id"]].months
        result.setdefault(row["manager"], []).append(
            ManagedDepartment(row["name"], row["slug"], (_month_summary(this), _month_summary(last)))
        )
    return result


async def nominations(period: DigestPeriod, people: list[Person]) -> dict[int, awards.NominationWindow]:
    """For managers who may nominate: when nominations for the month's awards are taken, and theirs so far."""
    return await awards.nomination_windows(ids(people), period.month)


def _month_summary(figures: MonthFigures) -> MonthSummary:
    return MonthSummary(
        label=figures.label,
        completed=figures.completed,
        first_response=hours_label(figures.first_response),
        turnaround=hours_label(figures.turnaround),
        within_target=percent_label(figures.within_target, figures.with_target),
        ratings=figures.ratings,
        satisfaction=figures.average("quality"),
        cross_kudos=figures.cross_kudos,
    )
