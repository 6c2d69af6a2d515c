"""Notifications that react to other domains' events (app/events.py), run by the worker from the job outbox.

Texts say who and what, never the feedback itself; links are the local pages of the web layer's routes.
"""

from __future__ import annotations

from app.awards.cycles import deadline_words, month_label
from app.awards.tables import AwardCycle, CycleStatus, Nomination
from app.events import (
    AwardAnnounced,
    FeedbackDeclined,
    FeedbackGiven,
    FeedbackRequested,
    NominationMade,
    NominationReminderDue,
    NominationsClosed,
    Registry,
    SurveyReminderDue,
    SurveyRoundOpened,
)
from app.notifications.services import mark_done, notify, subject_of
from app.notifications.tables import Kind
from app.people.tables import Employee, Role


async def _name(employee_id: int) -> str:
    row = await Employee.select(Employee.name).where(Employee.id == employee_id).first()
    return row["name"] if row else "A colleague"


# ------------------------------------------------------------------------------------------------- awards (F9)
# A cycle's prompts (the reminder to nominate, "N to review") have the cycle as subject: they are closed once their
# action is done, whoever did it. A prompt whose action was done before its handler ran (the worker was behind) is
# not created: the handler that closes it may have run first.


def _cycle(cycle_id: int) -> str:
    return subject_of("award_cycle", cycle_id)


async def _cycle_is(cycle_id: int, *statuses: CycleStatus) -> bool:
    return await AwardCycle.exists().where((AwardCycle.id == cycle_id) & AwardCycle.status.is_in(list(statuses)))


async def nomination_reminder_due(event: NominationReminderDue) -> None:
    nominated = await Nomination.exists().where(
        (Nomination.cycle == event.cycle_id) & (Nomination.nominator == event.manager_id)
    )
    if nominated or await _cycle_is(event.cycle_id, CycleStatus.CLOSED, CycleStatus.ANNOUNCED):
        return
    await notify(
        [event.manager_id],
        Kind.NOMINATION_REMINDER,
        text=f"Nominations for the {month_label(event.month)} awards close {deadline_words(event.closes_at)}. "
        "Nominate now.",
        url="/awards",
        subject=_cycle(event.cycle_id),
        at=event.at,
    )


async def nomination_made(event: NominationMade) -> None:
    await mark_done(Kind.NOMINATION_REMINDER, _cycle(event.cycle_id), recipient_id=event.nominator_id, at=event.at)


async def nominations_closed(event: NominationsClosed) -> None:
    """The admins are told to review; the reminders to nominate are moot now."""
    await mark_done(Kind.NOMINATION_REMINDER, _cycle(event.cycle_id), at=event.at)
    if await _cycle_is(event.cycle_id, CycleStatus.ANNOUNCED):
        return
    admins = await Employee.select(Employee.id).where(Employee.active.eq(True) & (Employee.role == Role.ADMIN))
    await notify(
        [a["id"] for a in admins],
        Kind.AWARD_REVIEW,
        text=f"Nominations for {month_label(event.month)} have closed: {event.nominations} to review. "
        "Pick the winners.",
        url=f"/awards/{event.cycle_id}",
        subject=_cycle(event.cycle_id),
        at=event.at,
    )


async def award_announced(event: AwardAnnounced) -> None:
    """Each winner is told — every active member of a winning department — and "N to review" is done for every
    admin, whoever announced."""
    await mark_done(Kind.AWARD_REVIEW, _cycle(event.cycle_id), at=event.at)
    for winner in event.winners:
        text = f"{winner.category} for {month_label(event.month)}: "
        if winner.person_id is not None:
            recipients = [winner.person_id]
            text += "you won! Congratulations."
        else:
            members = await Employee.select(Employee.id).where(
                (Employee.department == winner.department_id) & Employee.active.eq(True)
            )
            recipients = [m["id"] for m in members]
            text += f"your department {winner.name} won! Congratulations."
        await notify(
            recipients,
            Kind.AWARD_WON,
            text=text,
            url=f"/awards/{event.cycle_id}",
            actor_id=event.announced_by,
            at=event.at,
        )


# --------------------------------------------------------------------------------------------- feedback (F14)


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
    registry.register(NominationReminderDue, nomination_reminder_due)
    registry.register(NominationMade, nomination_made)
    registry.register(NominationsClosed, nominations_closed)
    registry.register(AwardAnnounced, award_announced)
    registry.register(FeedbackRequested, feedback_requested)
    registry.register(FeedbackGiven, feedback_given)
    registry.register(FeedbackDeclined, feedback_declined)
    registry.register(SurveyRoundOpened, survey_invitation)
    registry.register(SurveyReminderDue, survey_invitation)
