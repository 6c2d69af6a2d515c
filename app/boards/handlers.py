"""Boards' reactions to other domains' events (app/events.py): the rollups follow the ledger inline, in the
publisher's transaction; badges (kudos, requests, feedback, awards) are run by the worker from the job outbox,
exactly once per event (the event receipt) and once per level whatever happens (badge_award's key)."""

from __future__ import annotations

from app.boards.awarding import award_after_completion, award_after_feedback, award_after_kudos, award_after_win
from app.boards.rollup_updates import ledger_appended
from app.events import (
    AwardAnnounced,
    FeedbackGiven,
    FeedbackRequested,
    KudosGiven,
    LedgerAppended,
    Registry,
    RequestCompleted,
)
from app.timeutil import now


async def feedback_given(event: FeedbackGiven) -> None:
    if event.ask_id is not None:  # "Feedback giver" counts answers to asks; unprompted feedback earns nothing
        await award_after_feedback(answered_by=[event.author_id], at=event.at or now())


async def feedback_requested(event: FeedbackRequested) -> None:
    await award_after_feedback(asked_by=[event.asker_id], at=event.at or now())


async def award_announced(event: AwardAnnounced) -> None:
    """The award-winner badge for the people who won (a winning department's members do not earn it)."""
    winners = [w.person_id for w in event.winners if w.person_id is not None]
    await award_after_win(winners, at=event.at or now())


# ------------------------------------------------------------------------------- ledger, kudos and requests


async def kudos_given(event: KudosGiven) -> None:
    await award_after_kudos([event.giver_id], event.recipient_ids, at=event.at or now())


async def kudos_given_together(events: list[KudosGiven]) -> None:
    """Several gifts the worker has at once (a busy minute): everyone involved is checked once, with figures that
    include every one of the gifts, and a badge reached is dated by the last of them."""
    await award_after_kudos(
        [event.giver_id for event in events],
        [recipient for event in events for recipient in event.recipient_ids],
        at=max(event.at or now() for event in events),
    )


async def request_completed(event: RequestCompleted) -> None:
    await award_after_completion(event.resolver_ids, at=event.at or now())


def register(registry: Registry) -> None:
    registry.register(AwardAnnounced, award_announced)
    registry.register(FeedbackGiven, feedback_given)
    registry.register(FeedbackRequested, feedback_requested)
    registry.register(LedgerAppended, ledger_appended, inline=True)
    registry.register(KudosGiven, kudos_given, batch=kudos_given_together)
    registry.register(RequestCompleted, request_completed)
