"""What the site header shows a signed-in person on every full page: unread notifications, points left to give."""

from __future__ import annotations

from dataclasses import dataclass

from app.kudos import allowance
from app.kudos.tables import Allowance
from app.people.services import CurrentUser
from app.timeutil import month_of, now


@dataclass(frozen=True, slots=True)
class PointsLeft:
    """The points a person can still give this month, of the month's budget (the header's allowance figure)."""

    remaining: int
    budget: int


@dataclass(frozen=True, slots=True)
class Header(PointsLeft):
    unread: int


# Both figures in one round trip (every full page pays for it): the unread count as `unread_count()` takes it
# (the partial index `notification_unread`), and this month's allowance row when the person has one.
_HEADER_SQL = """
    SELECT (SELECT count(*) FROM notification n WHERE n.recipient = {} AND n.read_at IS NULL) AS unread,
           a.budget - a.spent AS remaining, a.budget
    FROM (VALUES (1)) AS one LEFT JOIN allowance a ON a.employee = {} AND a.month = {}
"""


async def header_for(user: CurrentUser) -> Header:
    month = month_of(now())
    row = (await Allowance.raw(_HEADER_SQL, user.id, user.id, month))[0]
    if row["budget"] is None:  # nothing given yet this month: the budget the allowance row will start with
        remaining, budget = await allowance.remaining(user.id, month)
        return Header(unread=row["unread"], remaining=remaining, budget=budget)
    return Header(unread=row["unread"], remaining=row["remaining"], budget=row["budget"])
