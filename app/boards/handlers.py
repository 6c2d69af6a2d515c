"""Boards' reactions to other domains' events (app/events.py): badges for feedback, run by the worker from the
job outbox. Exactly once per event (the event receipt); once per level whatever happens (badge_award's key)."""

from __future__ import annotations

from app.boards.badges import award_after_feedback
from app.events import FeedbackGiven, FeedbackRequested, Registry
from app.timeutil import now


async def feedback_given(event: FeedbackGiven) -> None:
    if event.ask_id is not None:  # "Feedback giver" counts answers to asks; unprompted feedback earns nothing
        await award_after_feedback(answered_by=[event.author_id], at=event.at or now())


async def feedback_requested(event: FeedbackRequested) -> None:
    await award_after_feedback(asked_by=[event.asker_id], at=event.at or now())


def register(registry: Registry) -> None:
    registry.register(FeedbackGiven, feedback_given)
    registry.register(FeedbackRequested, feedback_requested)
