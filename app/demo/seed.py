"""The whole demo: the organisation (app.people.seed), then three months of activity, awards, feedback and a
survey round replayed through the real services."""

from __future__ import annotations

from dataclasses import asdict

from app.demo.activity import seed_activity
from app.demo.awards import seed_awards
from app.demo.feedback import seed_feedback
from app.handlers import register_all
from app.notices.services import forget_before
from app.people.seed import Fixture, seed_organisation
from app.timeutil import now


async def seed_demo(data: Fixture | None = None, *, activity: bool = True) -> dict[str, int]:
    """The demo organisation (refused when people already exist) and, with `activity`, its three months of
    requests, kudos, add-ons, ratings, awards, feedback and a closed survey round. Returns every count."""
    counts = asdict(await seed_organisation(data))
    if activity:
        # The services publish events: their handlers must be known first. The handlers build links by route name
        # (webhook bodies): the program registered the routes at start-up (app.cli; the tests' session).
        register_all()
        counts |= await seed_activity()
        counts |= await seed_awards()
        counts |= await seed_feedback()
        await forget_before(now())  # the replayed months are not news: nobody is mailed about them
    return counts
