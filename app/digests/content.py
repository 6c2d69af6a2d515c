"""What a digest says: its sections, each one function over a batch of people and one template block.

A section is an async function `(period, people) -> {employee_id: value}` that reads what it needs for every
person of the batch in one or two queries (never one query per person), and a template pair
`emails/digests/sections/<name>.html|.txt` that shows `value` (a person missing from the result gets `None`; the
template decides whether to show anything then). `EMPLOYEE_SECTIONS` and `MANAGER_SECTIONS` list them in the
order they appear. Adding a section is one function, one entry and one template pair.

Everything is about a calendar month in the organisation's time zone (`DigestPeriod`) and reads the same
sources the pages do: board rollups (`PersonPeriod` month rows) for points and ranks, `BadgeAward`, award
winners and nominations (app/awards), the kudos and requests tables for what happened, and
`department_scorecard` for the manager's departments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.awards import services as awards
from app.boards.badges import BY_SLUG
from app.boards.scorecards import MonthFigures, Scorecard, department_scorecard, hours_label, percent_label
from app.boards.tables import Period
from app.digests.tables import DigestKind
from app.people.tables import Employee
from app.timeutil import local_date, month_bounds, previous_month

KUDOS_SHOWN = 10  # kudos received listed in full; the rest are counted
THANK_BACK_SHOWN = 8
QUIET_DAYS = 60  # B3: teammates with no recognition for this long are flagged


@dataclass(frozen=True, slots=True)
class DigestPeriod:
    month: date  # first day, organisation time zone
    start: datetime
    end: datetime

    @classmethod
    def of(cls, month: date) -> DigestPeriod:
        start, end = month_bounds(month)
        return cls(month=month, start=start, end=end)

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def previous(self) -> date:
        return previous_month(self.month)


@dataclass(frozen=True, slots=True)
class Person:
    """A digest's recipient as the sections need them."""

    id: int
    name: str
    email: str
    department_id: int | None
    department: str | None
    board_opt_out: bool

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


async def load_people(ids: list[int]) -> dict[int, Person]:
    rows = await Employee.select(
        Employee.id,
        Employee.name,
        Employee.email,
        Employee.department,
        Employee.department.name.as_alias("department_name"),
        Employee.board_opt_out,
    ).where(Employee.id.is_in(ids or [0]))
    return {
        row["id"]: Person(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            department_id=row["department"],
            department=row["department_name"],
            board_opt_out=row["board_opt_out"],
        )
        for row in rows
    }


Section = Callable[[DigestPeriod, list[Person]], Awaitable[dict[int, Any]]]
# A section's value for one person, as its template reads it.
Row = dict[str, Any]


def _ids(people: list[Person]) -> list[int]:
    return [person.id for person in people]


# ------------------------------------------------------------------------------------------- employee sections

_STANDING_SQL = """
WITH mine AS (
    SELECT e.id, coalesce(pp.points, 0) AS points, coalesce(pp.kudos, 0) AS kudos, coalesce(pp.givers, 0) AS givers
    FROM employee e
    LEFT JOIN person_period pp ON pp.employee = e.id AND pp.period = {} AND pp.start = {}
    WHERE e.id = ANY({})
), board AS (
    -- the people board of the month: active people who did not opt out, with points
    SELECT pp.employee, rank() OVER (ORDER BY pp.points DESC) AS org_rank,
           rank() OVER (PARTITION BY e.department ORDER BY pp.points DESC) AS department_rank,
           count(*) OVER () AS org_size, count(*) OVER (PARTITION BY e.department) AS department_size
    FROM person_period pp JOIN employee e ON e.id = pp.employee
    WHERE pp.period = {} AND pp.start = {} AND pp.points > 0 AND e.active AND NOT e.board_opt_out
)
SELECT mine.*, board.org_rank, board.department_rank, board.org_size, board.department_size
FROM mine LEFT JOIN board ON board.employee = mine.id
"""


# Points the month's +1s brought each person (counted by the time they count for on boards, as the rollups do;
# a revoke's entry carries the +1 it reverses, so revoked +1s cancel out).
_ADDON_POINTS_SQL = """
SELECT recipient, sum(amount) AS points, count(DISTINCT addon) FILTER (WHERE kind = 'addon') AS addons
FROM ledger_entry
WHERE recipient = ANY({}) AND addon IS NOT NULL AND created_at >= {} AND effective_at >= {} AND effective_at < {}
GROUP BY recipient
"""


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's month: points, kudos and distinct givers (board rollups), the points split into those that came
    with kudos and those from +1s, and the ranks on the month's points board (None when not ranked or hidden)."""

    points: int
    kudos: int
    givers: int
    addons: int
    addon_points: int
    ranks_hidden: bool  # the person opted out of boards
    org_rank: int | None
    department_rank: int | None
    org_size: int | None
    department_size: int | None

    @property
    def kudos_points(self) -> int:
        return self.points - self.addon_points


async def standing(period: DigestPeriod, people: list[Person]) -> dict[int, Standing]:
    """Points, kudos and distinct givers of the month (board rollups), with the rank in the organisation and
    in the department on the month's points board — no rank for people who opted out of boards — and the points
    split into those that came with kudos (`kudos_points`) and those from +1s (`addon_points`, `addons`)."""
    kind = str(Period.MONTH)
    rows = await Employee.raw(_STANDING_SQL, kind, period.month, _ids(people), kind, period.month)
    addons = {
        row["recipient"]: row
        for row in await Employee.raw(_ADDON_POINTS_SQL, _ids(people), period.start, period.start, period.end)
    }
    hidden = {person.id for person in people if person.board_opt_out}
    result = {}
    for row in rows:
        extra = addons.get(row["id"], {})
        shown = row["id"] not in hidden
        result[row["id"]] = Standing(
            points=row["points"],
            kudos=row["kudos"],
            givers=row["givers"],
            addons=extra.get("addons", 0),
            addon_points=extra.get("points", 0),
            ranks_hidden=not shown,
            org_rank=row["org_rank"] if shown else None,
            department_rank=row["department_rank"] if shown else None,
            org_size=row["org_size"] if shown else None,
            department_size=row["department_size"] if shown else None,
        )
    return result


_KUDOS_SQL = """
SELECT * FROM (
    SELECT kr.employee AS recipient, k.id, k.message, k.points, k.visibility, k.created_at,
           g.id AS giver_id, g.name AS giver_name,
           row_number() OVER (PARTITION BY kr.employee ORDER BY k.created_at DESC, k.id DESC) AS position,
           count(*) OVER (PARTITION BY kr.employee) AS total,
           sum(k.points) OVER (PARTITION BY kr.employee) AS total_points
    FROM kudos_recipient kr
    JOIN kudos k ON k.id = kr.kudos
    JOIN employee g ON g.id = k.giver
    WHERE kr.employee = ANY({}) AND k.created_at >= {} AND k.created_at < {} AND k.revoked_at IS NULL
) AS received
WHERE position <= {}
ORDER BY recipient, position
"""


async def kudos_received(period: DigestPeriod, people: list[Person]) -> dict[int, Row]:
    """The kudos each person received in the month that still stand, newest first, with their messages —
    private ones too: a recipient may always read a kudos sent to them."""
    rows = await Employee.raw(_KUDOS_SQL, _ids(people), period.start, period.end, KUDOS_SHOWN)
    result: dict[int, Row] = {}
    for row in rows:
        entry = result.setdefault(
            row["recipient"], {"items": [], "total": row["total"], "total_points": row["total_points"]}
        )
        entry["items"].append(row)
    for entry in result.values():
        entry["more"] = entry["total"] - len(entry["items"])
        entry["more_points"] = entry["total_points"] - sum(item["points"] for item in entry["items"])
    return result


_BADGES_SQL = """
SELECT employee, badge, level, awarded_at FROM badge_award
WHERE employee = ANY({}) AND awarded_at >= {} AND awarded_at < {} ORDER BY awarded_at, id
"""


@dataclass(frozen=True, slots=True)
class BadgeEarned:
    title: str
    achieved: str


async def badges_earned(period: DigestPeriod, people: list[Person]) -> dict[int, list[BadgeEarned]]:
    """Badge levels earned in the month, in the order earned."""
    rows = await Employee.raw(_BADGES_SQL, _ids(people), period.start, period.end)
    result: dict[int, list[BadgeEarned]] = {}
    for row in rows:
        badge = BY_SLUG.get(row["badge"])
        if badge is None or not 1 <= row["level"] <= badge.levels:
            continue
        result.setdefault(row["employee"], []).append(
            BadgeEarned(badge.title_for(row["level"]), badge.achieved_for(row["level"]))
        )
    return result


_REQUESTS_SQL = """
SELECT rr.employee, d.id AS department_id, d.name AS department, count(*) AS completed
FROM request_resolver rr
JOIN request r ON r.id = rr.request
JOIN employee q ON q.id = r.requester
LEFT JOIN department d ON d.id = q.department
WHERE rr.employee = ANY({}) AND r.status = 'completed' AND r.completed_at >= {} AND r.completed_at < {}
GROUP BY rr.employee, d.id, d.name
ORDER BY rr.employee, count(*) DESC, d.name
"""


@dataclass(frozen=True, slots=True)
class Served:
    name: str  # a department whose people the person served
    completed: int


@dataclass(frozen=True, slots=True)
class RequestsCompleted:
    departments: tuple[Served, ...]

    @property
    def completed(self) -> int:
        return sum(served.completed for served in self.departments)


async def requests_completed(period: DigestPeriod, people: list[Person]) -> dict[int, RequestsCompleted]:
    """Requests each person helped complete in the month, and the departments of the people they served."""
    rows = await Employee.raw(_REQUESTS_SQL, _ids(people), period.start, period.end)
    served: dict[int, list[Served]] = {}
    for row in rows:
        served.setdefault(row["employee"], []).append(Served(row["department"] or "No department", row["completed"]))
    return {person: RequestsCompleted(tuple(departments)) for person, departments in served.items()}


# Givers of the month's kudos (pair rollups) whom the person has not thanked in that month or since.
_THANK_BACK_SQL = """
SELECT pg.recipient, g.id, g.name, pg.kudos
FROM person_giver_period pg
JOIN employee g ON g.id = pg.giver
WHERE pg.recipient = ANY({}) AND pg.period = {} AND pg.start = {} AND pg.kudos > 0 AND g.active
  AND NOT EXISTS (
      SELECT 1 FROM person_giver_period back
      WHERE back.recipient = pg.giver AND back.giver = pg.recipient AND back.period = {}
        AND back.start >= {} AND back.kudos > 0
  )
ORDER BY pg.recipient, pg.kudos DESC, g.name
"""


@dataclass(frozen=True, slots=True)
class Giver:
    id: int
    name: str
    kudos: int


@dataclass(frozen=True, slots=True)
class ThankBack:
    people: tuple[Giver, ...]  # the first THANK_BACK_SHOWN
    total: int


async def thank_back(period: DigestPeriod, people: list[Person]) -> dict[int, ThankBack]:
    """People who thanked the person in the month and whom they have not thanked back (that month or since)."""
    kind = str(Period.MONTH)
    rows = await Employee.raw(_THANK_BACK_SQL, _ids(people), kind, period.month, kind, period.month)
    givers: dict[int, list[Giver]] = {}
    for row in rows:
        givers.setdefault(row["recipient"], []).append(Giver(row["id"], row["name"], row["kudos"]))
    return {person: ThankBack(tuple(found[:THANK_BACK_SHOWN]), len(found)) for person, found in givers.items()}


# Peer feedback (app/feedback), counts only: a digest never carries feedback text.
_FEEDBACK_SQL = """
SELECT e.id,
       (SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask
        WHERE k.recipient = e.id AND k.status = 'waiting' AND a.closed_at IS NULL AND a.due_on >= {}) AS waiting,
       (SELECT count(*) FROM feedback f WHERE f.subject = e.id AND f.created_at >= {} AND f.created_at < {})
           AS received
FROM employee e WHERE e.id = ANY({})
"""


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    waiting: int  # colleagues waiting for the person's feedback
    received: int  # feedback items received in the month


async def feedback(period: DigestPeriod, people: list[Person]) -> dict[int, FeedbackCounts]:
    """How many colleagues wait for the person's feedback (asks still open when the month ended) and how many
    feedback items they received in the month — counts only, no text in mail."""
    rows = await Employee.raw(_FEEDBACK_SQL, local_date(period.end), period.start, period.end, _ids(people))
    return {
        row["id"]: FeedbackCounts(row["waiting"], row["received"]) for row in rows if row["waiting"] or row["received"]
    }


# -------------------------------------------------------------------------------------------- manager sections

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


async def _teams(period: DigestPeriod, people: list[Person]) -> dict[int, list[Row]]:
    teams: dict[int, list[Row]] = {person.id: [] for person in people}
    ids = _ids(people)
    for row in await Employee.raw(_TEAM_SQL, ids, period.end, ids, period.end):
        teams[row.pop("manager")].append(row)
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
    members = sorted({member["id"] for team in teams.values() for member in team})
    rows = await Employee.raw(_TEAM_FIGURES_SQL, members, str(Period.MONTH), period.month, period.previous)
    figures = {(row["employee"], row["start"]): row for row in rows}

    def totals(team: list[Row], month: date) -> TeamMonth:
        found = [figures[(m["id"], month)] for m in team if (m["id"], month) in figures]
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
        ids = [member["id"] for member in team]
        if not ids:
            continue
        rows = await Employee.raw(_TEAM_FEEDBACK_SQL, ids, ids, period.start, period.end, ids, ids)
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
    members = sorted({member["id"] for team in teams.values() for member in team})
    last = {row["employee"]: row["last"] for row in await Employee.raw(_LAST_RECOGNISED_SQL, members, period.end)}
    cutoff = period.end - timedelta(days=QUIET_DAYS)
    result = {}
    for manager, team in teams.items():
        quiet = []
        for member in team:
            when = last.get(member["id"])
            if when is None or when < period.start:
                quiet.append(QuietMember(member["id"], member["name"], when, when is None or when < cutoff))
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
    rows = await Employee.raw(_MANAGED_DEPARTMENTS_SQL, _ids(people))
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


async def awards_won(period: DigestPeriod, people: list[Person]) -> dict[int, list[Row]]:
    """Awards announced in the month that each person won, themselves or with their department."""
    return await awards.awards_announced(
        {person.id: person.department_id for person in people}, start=period.start, end=period.end
    )


async def nominations(period: DigestPeriod, people: list[Person]) -> dict[int, awards.NominationWindow]:
    """For managers who may nominate: when nominations for the month's awards are taken, and theirs so far."""
    return await awards.nomination_windows(_ids(people), period.month)


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


EMPLOYEE_SECTIONS: dict[str, Section] = {
    "standing": standing,
    "kudos": kudos_received,
    "badges": badges_earned,
    "awards": awards_won,
    "requests": requests_completed,
    "thank_back": thank_back,
    "feedback": feedback,
}
MANAGER_SECTIONS: dict[str, Section] = {
    "team": team_totals,
    "quiet": quiet_teammates,
    "team_feedback": team_feedback,
    "scorecards": scorecards,
    "nominations": nominations,
}
SECTIONS: dict[DigestKind, dict[str, Section]] = {
    DigestKind.EMPLOYEE: EMPLOYEE_SECTIONS,
    DigestKind.MANAGER: MANAGER_SECTIONS,
}


async def build_contexts(
    kind: DigestKind, period: DigestPeriod, people: list[Person], *, reader_id: int | None = None
) -> dict[int, dict[str, Any]]:
    """Every section of `kind` for every person of the batch: {employee_id: {section name: value or None}}.

    `reader_id` is whoever will read these digests when it is not their recipients (an admin's preview): private
    kudos messages are then withheld from them (SPEC F3), as on every page."""
    sections = SECTIONS[kind]
    values = {name: await section(period, people) for name, section in sections.items()}
    if reader_id is not None and "kudos" in values:
        await withhold_private(values["kudos"], reader_id)
    return {person.id: {name: values[name].get(person.id) for name in sections} for person in people}


async def withhold_private(received: dict[int, Row], reader_id: int) -> None:
    """Blank the message of each private kudos `reader_id` may not read: only its giver, its recipients and their
    managers may (SPEC F3). The entry stays, so the reader sees that a private kudos from its giver is there."""
    managers = {
        row["id"]: row["manager"]
        for row in await Employee.select(Employee.id, Employee.manager).where(Employee.id.is_in(list(received) or [0]))
    }
    for recipient, entry in received.items():
        if reader_id in {recipient, managers.get(recipient)}:
            continue
        entry["items"] = [
            item if item["visibility"] != "private" or item["giver_id"] == reader_id else {**item, "message": None}
            for item in entry["items"]
        ]


def private_messages(values: dict[str, Any]) -> int:
    """How many private kudos messages a digest shows (for the outbox's marker)."""
    received = values.get("kudos") or {"items": []}
    return sum(1 for item in received["items"] if item["visibility"] == "private" and item["message"] is not None)
