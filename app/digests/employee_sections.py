"""The employee digest's sections (see app/digests/content.py): each one function over a batch of people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.awards import queries as awards
from app.boards.badge_rules import BY_SLUG
from app.boards.tables import Period
from app.digests.period import DigestPeriod, Person, ids
from app.people.tables import Employee
from app.timeutil import local_date

KUDOS_SHOWN = 10  # kudos received listed in full; the rest are counted
THANK_BACK_SHOWN = 8


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
    rows = await Employee.raw(_STANDING_SQL, kind, period.month, ids(people), kind, period.month)
    addons = {
        row["recipient"]: row
        for row in await Employee.raw(_ADDON_POINTS_SQL, ids(people), period.start, period.start, period.end)
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


@dataclass(frozen=True, slots=True)
class ReceivedKudos:
    id: int
    message: str | None  # None: private, and the digest's reader may not read it
    points: int
    visibility: str
    created_at: datetime
    giver_id: int
    giver_name: str


@dataclass(frozen=True, slots=True)
class KudosReceived:
    items: tuple[ReceivedKudos, ...]  # the newest KUDOS_SHOWN
    total: int
    total_points: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)

    @property
    def more_points(self) -> int:
        return self.total_points - sum(item.points for item in self.items)


async def kudos_received(period: DigestPeriod, people: list[Person]) -> dict[int, KudosReceived]:
    """The kudos each person received in the month that still stand, newest first, with their messages —
    private ones too: a recipient may always read a kudos sent to them."""
    rows = await Employee.raw(_KUDOS_SQL, ids(people), period.start, period.end, KUDOS_SHOWN)
    items: dict[int, list[ReceivedKudos]] = {}
    totals: dict[int, tuple[int, int]] = {}
    for row in rows:
        items.setdefault(row["recipient"], []).append(
            ReceivedKudos(
                row["id"], row["message"], row["points"], row["visibility"], row["created_at"], row["giver_id"],
                row["giver_name"],
            )
        )  # fmt: skip
        totals[row["recipient"]] = (row["total"], row["total_points"])
    return {person: KudosReceived(tuple(found), *totals[person]) for person, found in items.items()}


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
    rows = await Employee.raw(_BADGES_SQL, ids(people), period.start, period.end)
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
    rows = await Employee.raw(_REQUESTS_SQL, ids(people), period.start, period.end)
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
    rows = await Employee.raw(_THANK_BACK_SQL, ids(people), kind, period.month, kind, period.month)
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
    rows = await Employee.raw(_FEEDBACK_SQL, local_date(period.end), period.start, period.end, ids(people))
    return {
        row["id"]: FeedbackCounts(row["waiting"], row["received"]) for row in rows if row["waiting"] or row["received"]
    }


async def awards_won(period: DigestPeriod, people: list[Person]) -> dict[int, list[awards.Winner]]:
    """Awards announced in the month that each person won, themselves or with their department."""
    return await awards.awards_announced(
        {person.id: person.department_id for person in people}, start=period.start, end=period.end
    )
