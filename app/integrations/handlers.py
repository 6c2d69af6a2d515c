"""Slack's and Teams' reactions to domain events (app/events.py), run by the worker from the job outbox: public
kudos, badges and announced awards posted to the admin's Slack channel and to every Teams channel, and a Slack
direct message to the people concerned (a kudos's recipients, a completed request's requester, a badge's earner,
an award's winners). Each message is a delivery row (app/integrations/deliveries.py), sent by the worker; nothing
is recorded for a chat that is not set up."""

from __future__ import annotations

from collections.abc import Iterable

from app.awards.cycles import month_label
from app.boards.badge_rules import BY_SLUG
from app.events import AwardAnnounced, BadgeEarned, KudosGiven, Registry, RequestCompleted
from app.integrations import config
from app.integrations.config import Targets
from app.integrations.deliveries import record
from app.integrations.messages import Notice, slack_message, teams_message
from app.integrations.tables import ChatKind
from app.kudos.feed import Card, cards_of
from app.mail.links import absolute_url
from app.people.tables import Employee
from app.requests.tables import Request
from app.words import excerpt, plural

QUOTE_MAX = 300


async def _broadcast(event: str, notice: Notice, targets: Targets) -> None:
    """The notice to the Slack channel and every Teams channel."""
    if targets.slack_channel:
        await record(ChatKind.SLACK_CHANNEL, event, slack_message(notice), target=targets.slack_channel)
    for channel_id in targets.teams_channels:
        await record(ChatKind.TEAMS_CARD, event, teams_message(notice), teams_channel=channel_id)


async def _direct(event: str, people: Iterable[int], notice: Notice, targets: Targets) -> None:
    """The notice to each person in a Slack direct message (found in Slack by their email when it is sent)."""
    wanted = list(dict.fromkeys(people))
    if not targets.slack_dms or not wanted:
        return
    rows = await Employee.select(Employee.email).where(Employee.id.is_in(wanted) & Employee.active.eq(True))
    for row in rows:
        await record(ChatKind.SLACK_DM, event, slack_message(notice), target=row["email"])


async def kudos_given(event: KudosGiven) -> None:
    await kudos_given_together([event])


async def kudos_given_together(events: list[KudosGiven]) -> None:
    """Each gift to the chats: one look at the settings for the whole batch (nothing more when no chat is set up),
    then the batch's kudos cards in one statement."""
    targets = await config.targets()
    if not targets.any:
        return
    found = {kudos.id: kudos for kudos in await cards_of([event.kudos_id for event in events])}
    for event in events:
        if (kudos := found.get(event.kudos_id)) is not None:
            await _kudos_given(event, kudos, targets)


async def _kudos_given(event: KudosGiven, kudos: Card, targets: Targets) -> None:
    url = absolute_url("kudos", kudos_id=event.kudos_id)
    points = f" (+{plural(event.points, 'point')} each)" if event.points else ""
    names = ", ".join(r.name for r in kudos.recipients)
    quote = excerpt(kudos.message, QUOTE_MAX)
    if event.public:
        notice = Notice(f"{kudos.giver_name} thanked {names}{points}", quote, "View kudos", url)
        await _broadcast(KudosGiven.name, notice, targets)
    thanked = Notice(f"{kudos.giver_name} thanked you{points}", quote, "View kudos", url)
    await _direct(KudosGiven.name, event.recipient_ids, thanked, targets)


async def request_completed(event: RequestCompleted) -> None:
    targets = await config.targets()
    row = await Request.select(Request.title).where(Request.id == event.request_id).first()
    if row is None or not targets.slack_dms:
        return
    resolvers = await Employee.select(Employee.name).where(Employee.id.is_in(list(event.resolver_ids) or [0]))
    names = ", ".join(sorted(r["name"] for r in resolvers)) or "its resolvers"
    notice = Notice(
        f"Your request “{row['title']}” was completed by {names}.",
        "",
        "Say thanks with a kudos",
        absolute_url("request", request_id=event.request_id),
    )
    await _direct(RequestCompleted.name, [event.requester_id], notice, targets)


async def badge_earned(event: BadgeEarned) -> None:
    badge = BY_SLUG.get(event.badge)
    if badge is None:
        return
    targets = await config.targets()
    if not targets.any:
        return
    row = await Employee.select(Employee.name).where(Employee.id == event.employee_id).first()
    name = row["name"] if row else "Someone"
    url = absolute_url("person", person_id=event.employee_id) + "#badges"
    title, achieved = badge.title_for(event.level), badge.achieved_for(event.level)
    await _broadcast(BadgeEarned.name, Notice(f"{name} earned the badge {title}", achieved, "See badges", url), targets)
    await _direct(
        BadgeEarned.name,
        [event.employee_id],
        Notice(f"You earned the badge {title}", achieved, "See badges", url),
        targets,
    )


async def award_announced(event: AwardAnnounced) -> None:
    targets = await config.targets()
    if not targets.any:
        return
    label = month_label(event.month)
    url = absolute_url("awards.cycle", cycle_id=event.cycle_id)
    winners = "; ".join(f"{w.category}: {w.name}" for w in event.winners)
    await _broadcast(
        AwardAnnounced.name, Notice(f"The {label} awards are announced", winners, "See the awards", url), targets
    )
    for winner in event.winners:
        if winner.person_id is not None:
            notice = Notice(
                f"You won “{winner.category}” in the {label} awards", winner.citation, "See the awards", url
            )
            await _direct(AwardAnnounced.name, [winner.person_id], notice, targets)


def register(registry: Registry) -> None:
    registry.register(KudosGiven, kudos_given, batch=kudos_given_together)
    registry.register(RequestCompleted, request_completed)
    registry.register(BadgeEarned, badge_earned)
    registry.register(AwardAnnounced, award_announced)
