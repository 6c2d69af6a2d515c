"""Notifications that react to other domains' events (app/events.py), run by the worker from the job outbox.

Texts say who and what, never the feedback itself; links are the local pages of the web layer's routes.
"""

from __future__ import annotations

from app.events import (
    FeedbackDeclined,
    FeedbackGiven,
    FeedbackRequested,
    Registry,
    SurveyReminderDue,
    SurveyRoundOpened,
)
from app.notifications.services import notify
from app.notifications.tables import Kind
from app.people.tables import Employee


async def _name(employee_id: int) -> str:
    row = await Employee.select(Employee.name).where(Employee.id == employee_id).first()
    return row["name"] if row else "A colleague"


async def feedback_requested(event: FeedbackRequested) -> None:
    await notify(
        event.recipient_ids,
        Kind.FEEDBACK_REQUESTED,
        text=f"{await _name(event.asker_id)} asked for your feedback.",
        url=f"/feedback/asks/{event.ask_id}",
        actor_id=event.asker_id,
        action_label="Answer",
        action_url=f"/feedback/asks/{event.ask_id}",
        at=event.at,
    )


async def feedback_given(event: FeedbackGiven) -> None:
    verb = "answered your request for feedback" if event.ask_id else "gave you feedback"
    await notify(
        [event.subject_id],
        Kind.FEEDBACK_RECEIVED,
        text=f"{await _name(event.author_id)} {verb}.",
        url=f"/feedback/{event.feedback_id}",
        actor_id=event.author_id,
        at=event.at,
    )


async def feedback_declined(event: FeedbackDeclined) -> None:
    await notify(
        [event.asker_id],
        Kind.FEEDBACK_DECLINED,
        text=f"{await _name(event.recipient_id)} declined your request for feedback.",
        url="/feedback",
        actor_id=event.recipient_id,
        at=event.at,
    )


SURVEY_TEXTS = {
    SurveyRoundOpened: (
        Kind.SURVEY_OPEN,
        "How did the departments you used serve you? A short service survey is open.",
    ),
    SurveyReminderDue: (
        Kind.SURVEY_REMINDER,
        "The service survey closes soon: your answers are anonymous and help the departments you used.",
    ),
}


async def survey_invitation(event: SurveyRoundOpened | SurveyReminderDue) -> None:
    kind, text = SURVEY_TEXTS[type(event)]
    await notify(
        event.participant_ids,
        kind,
        text=text,
        url="/surveys",
        action_label="Answer",
        action_url="/surveys",
        at=event.at,
    )


def register(registry: Registry) -> None:
    registry.register(FeedbackRequested, feedback_requested)
    registry.register(FeedbackGiven, feedback_given)
    registry.register(FeedbackDeclined, feedback_declined)
    registry.register(SurveyRoundOpened, survey_invitation)
    registry.register(SurveyReminderDue, survey_invitation)
