"""Notifications that react to other domains' events (app/events.py), run by the worker from the job outbox.

Texts say who and what, never the feedback itself. Notifications store their kind and subject (`subject_of`: the
row they are about), never links: the web layer (app/notifications/controllers.py) turns those into links.
"""

from __future__ import annotations

from app.awards.cycles import deadline_words, month_label
from app.awards.tables import AwardCycle, CycleStatus, Nomination
from app.boards.badge_rules import BY_SLUG
from app.events import (
    AddOnGiven,
    AwardAnnounced,
    BadgeEarned,
    FeedbackDeclined,
    FeedbackGiven,
    FeedbackRequested,
    KudosGiven,
    NominationMade,
    NominationReminderDue,
    NominationsClosed,
    Registry,
    RequestCompleted,
    ResolverAdded,
    SurveyReminderDue,
    SurveyRoundOpened,
)
from app.notifications.services import mark_done, notify, subject_of
from app.notifications.tables import Kind, Notification
from app.people.tables import Employee, Role
from app.words import excerpt


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
            subject=_cycle(event.cycle_id),
            actor_id=event.announced_by,
            at=event.at,
        )


# --------------------------------------------------------------------------------------------- feedback (F14)


async def feedback_requested(event: FeedbackRequested) -> None:
    await notify(
        event.recipient_ids,
        Kind.FEEDBACK_REQUESTED,
        text=f"{await _name(event.asker_id)} asked for your feedback.",
        subject=subject_of("feedback_ask", event.ask_id),
        actor_id=event.asker_id,
        action_label="Answer",
        at=event.at,
    )


async def feedback_given(event: FeedbackGiven) -> None:
    verb = "answered your request for feedback" if event.ask_id else "gave you feedback"
    await notify(
        [event.subject_id],
        Kind.FEEDBACK_RECEIVED,
        text=f"{await _name(event.author_id)} {verb}.",
        subject=subject_of("feedback", event.feedback_id),
        actor_id=event.author_id,
        at=event.at,
    )


async def feedback_declined(event: FeedbackDeclined) -> None:
    await notify(
        [event.asker_id],
        Kind.FEEDBACK_DECLINED,
        text=f"{await _name(event.recipient_id)} declined your request for feedback.",
        subject=subject_of("feedback_ask", event.ask_id),
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
        subject=subject_of("survey_round", event.round_id),
        action_label="Answer",
        at=event.at,
    )


# ----------------------------------------------------------------------------------- kudos, requests, badges

# The kudos's message, its points and its giver's name.
_KUDOS_SQL = """
    SELECT k.id, k.message, k.points, g.name AS giver_name
    FROM kudos k JOIN employee g ON g.id = k.giver WHERE k.id = ANY({})
"""
_ADDON_SQL = """
    SELECT a.comment, a.points, g.name AS giver_name FROM add_on a JOIN employee g ON g.id = a.giver WHERE a.id = {}
"""
_REQUEST_SQL = "SELECT title FROM request WHERE id = {}"


async def kudos_given(event: KudosGiven) -> None:
    await kudos_given_together([event])


async def kudos_given_together(events: list[KudosGiven]) -> None:
    """The recipients hear of each gift; a kudos that thanks for a request closes that request's "Thank now"
    prompt. The kudos of a batch are read in one statement."""
    rows = await Notification.raw(_KUDOS_SQL, [event.kudos_id for event in events])
    found = {row["id"]: row for row in rows}
    for event in events:
        if kudos := found.get(event.kudos_id):
            points = f" (+{kudos['points']} points)" if kudos["points"] else ""
            await notify(
                event.recipient_ids,
                Kind.KUDOS_RECEIVED,
                text=f"{kudos['giver_name']} thanked you{points}: “{excerpt(kudos['message'])}”",
                subject=subject_of("kudos", event.kudos_id),
                actor_id=event.giver_id,
                at=event.at,
            )
        if event.request_id is not None:
            # whoever thanks the people who did the request, its "Thank now" prompt has done its job
            await mark_done(Kind.REQUEST_COMPLETED, subject_of("request", event.request_id), at=event.at)


async def addon_given(event: AddOnGiven) -> None:
    rows = await Notification.raw(_ADDON_SQL, event.addon_id)
    if not rows:
        return
    addon = rows[0]
    points = f" ({addon['points']} points each)" if addon["points"] else ""
    await notify(
        [*event.recipient_ids, event.kudos_giver_id],
        Kind.ADDON_RECEIVED,
        text=f"{addon['giver_name']} added +1{points}: “{excerpt(addon['comment'])}”",
        subject=subject_of("kudos", event.kudos_id),
        actor_id=event.giver_id,
        at=event.at,
    )


async def _title(request_id: int) -> str:
    rows = await Notification.raw(_REQUEST_SQL, request_id)
    return str(rows[0]["title"]) if rows else "a request"


async def resolver_added(event: ResolverAdded) -> None:
    await notify(
        [event.resolver_id],
        Kind.REQUEST_ASSIGNED,
        text=f"{await _name(event.added_by)} added you to the request “{await _title(event.request_id)}”",
        subject=subject_of("request", event.request_id),
        actor_id=event.added_by,
        at=event.at,
    )


async def request_completed(event: RequestCompleted) -> None:
    """The requester is asked to thank the resolvers ("Thank now", closed once anyone thanks them)."""
    await notify(
        [event.requester_id],
        Kind.REQUEST_COMPLETED,
        text=f"{await _name(event.completed_by)} completed your request “{await _title(event.request_id)}”",
        actor_id=event.completed_by,
        action_label="Thank now",
        subject=subject_of("request", event.request_id),
        at=event.at,
    )


async def badge_earned(event: BadgeEarned) -> None:
    badge = BY_SLUG.get(event.badge)
    if badge is None:
        return
    await notify(
        [event.employee_id],
        Kind.BADGE_EARNED,
        text=f"Badge earned: {badge.title_for(event.level)} — {badge.achieved_for(event.level)}.",
        subject=subject_of("badge_award", event.award_id),
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
    registry.register(KudosGiven, kudos_given, batch=kudos_given_together)
    registry.register(AddOnGiven, addon_given)
    registry.register(ResolverAdded, resolver_added)
    registry.register(RequestCompleted, request_completed)
    registry.register(BadgeEarned, badge_earned)
