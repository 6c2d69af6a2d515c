"""What the site header shows a signed-in person on every full page: unread notifications, points left to give."""

from __future__ import annotations

from dataclasses import dataclass

from app.kudos import allowance
from app.notifications.services import unread_count
from app.people.services import CurrentUser
from app.timeutil import month_of, now


@dataclass(frozen=True, slots=True)
class Header:
    unread: int
    remaining: int
    budget: int


async def header_for(user: CurrentUser) -> Header:
    remaining, budget = await allowance.remaining(user.id, month_of(now()))
    return Header(unread=await unread_count(user.id), remaining=remaining, budget=budget)
