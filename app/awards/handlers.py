"""Awards' reactions to other domains' events (app/events.py): a change to the figures of a month whose cycle is open
makes its stored shortlists due again (app/awards/stored.py). Inline, in the publisher's transaction: one statement,
and only for changes to a past month (a kudos of last month revoked, a request completed last month rated)."""

from __future__ import annotations

from app.awards.stored import figures_changed, request_changed
from app.events import LedgerAppended, Registry, RequestRated
from app.timeutil import month_of, now


async def ledger_appended(event: LedgerAppended) -> None:
    """Entries counted in a month before the current one (the revoke of an earlier kudos) change that month."""
    current = month_of(event.at or now())
    await figures_changed(month for line in event.lines if (month := month_of(line.effective_at)) < current)


async def request_rated(event: RequestRated) -> None:
    await request_changed(event.request_id)


def register(registry: Registry) -> None:
    registry.register(LedgerAppended, ledger_appended, inline=True)
    registry.register(RequestRated, request_rated, inline=True)
