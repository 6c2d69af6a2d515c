"""What the site header shows a signed-in person on every full page: unread notifications, points left to give."""

from __future__ import annotations

from dataclasses import dataclass

from app.kudos import allowance
from app.kudos.tables import Allowance
from app.notifications.services import UNREAD_SQL
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
# (the partial index `notification_unread`), and the points left as `allowance.remaining` reads them.
_HEADER_SQL = "SELECT (" + UNREAD_SQL + ") AS unread, left_.* FROM (" + allowance.REMAINING_SQL + ") AS left_"  # noqa: S608 — constants


async def header_for(user: CurrentUser) -> Header:
    rows = await Allowance.raw(_HEADER_SQL, user.id, *allowance.budget_arguments(user.id), month_of(now()))
    if not rows:  # the person is gone (deleted since the session was read): nothing to give
        return Header(unread=0, remaining=0, budget=0)
    return Header(**rows[0])
