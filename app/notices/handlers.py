"""Email notices as handlers of other domains' events (app/events.py), run by the worker from the job outbox.

Who is told: the recipients of a kudos (a private one too: it is theirs); the recipients and the giver of a kudos
someone adds a +1 to; whoever earns a badge; a winning person, or every active member of a winning department; the
requester of a completed request. Never the actor of what happened.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from app.awards.cycles import month_label
from app.boards.badge_rules import BY_SLUG
from app.events import AddOnGiven, AwardAnnounced, BadgeEarned, Event, KudosGiven, Registry, RequestCompleted
from app.notices.services import Fact, record
from app.notices.tables import Notice, NoticeKind
from app.people.tables import Employee
from app.timeutil import now

_KUDOS_SQL = "SELECT k.id, k.message, g.name FROM kudos k JOIN employee g ON g.id = k.giver WHERE k.id = ANY({})"
_ADDON_SQL = "SELECT a.comment, g.name FROM add_on a JOIN employee g ON g.id = a.giver WHERE a.id = {}"
_REQUEST_SQL = "SELECT r.title, c.name FROM request r, employee c WHERE r.id = {} AND c.id = {}"


def _fact(event: Event, kind: NoticeKind, subject_id: int, headline: str, **rest: Any) -> Fact:
    """The notice of `event` (its id and moment) with what it says."""
    return Fact(
        kind=kind, event_id=event.event_id, at=event.at or now(), subject_id=subject_id, headline=headline, **rest
    )


def _points(points: int, each: str = "") -> str:
    return f" (+{points} points{each})" if points else ""


async def kudos_given(event: KudosGiven) -> None:
    await kudos_given_together([event])


async def kudos_given_together(events: list[KudosGiven]) -> None:
    """Each gift's recipients, as each chose; the kudos of a batch are read in one statement."""
    rows = await Notice.raw(_KUDOS_SQL, [event.kudos_id for event in events])
    found = {row["id"]: row for row in rows}
    for event in events:
        if (kudos := found.get(event.kudos_id)) is None:
            continue
        fact = _fact(
            event,
            NoticeKind.KUDOS,
            event.kudos_id,
            f"{kudos['name']} thanked you{_points(event.points)}",
            detail=kudos["message"],
            actor_id=event.giver_id,
            private=not event.public,
        )
        await record(fact, event.recipient_ids)


async def addon_given(event: AddOnGiven) -> None:
    """The kudos's recipients and its giver: it is their kudos (an add-on is only ever on a public one)."""
    rows = await Notice.raw(_ADDON_SQL, event.addon_id)
    if not rows:
        return
    fact = _fact(
        event,
        NoticeKind.ADDON,
        event.kudos_id,
        f"{rows[0]['name']} added a +1 to your kudos{_points(event.points, ' each')}",
        detail=rows[0]["comment"],
        actor_id=event.giver_id,
    )
    await record(fact, [*event.recipient_ids, event.kudos_giver_id])


async def badge_earned(event: BadgeEarned) -> None:
    badge = BY_SLUG.get(event.badge)
    if badge is None:
        return
    fact = _fact(
        event,
        NoticeKind.BADGE,
        event.award_id,
        f"You earned the badge {badge.title_for(event.level)}",
        detail=badge.achieved_for(event.level),
    )
    await record(fact, [event.employee_id])


async def award_announced(event: AwardAnnounced) -> None:
    """One notice per winner: a person who wins several categories (or whose department wins too) hears of all of
    them in it."""
    month = month_label(event.month)
    won: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)  # person → (title, citation) of each win
    for winner in event.winners:
        if winner.person_id is not None:
            won[winner.person_id].append((f"You won {winner.category} for {month}", winner.citation))
            continue
        members = await Employee.select(Employee.id).where(
            (Employee.department == winner.department_id) & Employee.active.eq(True)
        )
        title = f"Your department {winner.name} won {winner.category} for {month}"
        for member in members:
            won[member["id"]].append((title, winner.citation))
    by_wins: defaultdict[tuple[tuple[str, str], ...], list[int]] = defaultdict(list)
    for person, wins in won.items():
        by_wins[tuple(wins)].append(person)
    for grouped, people in by_wins.items():
        fact = _fact(
            event,
            NoticeKind.AWARD,
            event.cycle_id,
            grouped[0][0] if len(grouped) == 1 else f"{len(grouped)} awards for you for {month}",
            detail="\n".join(f"{title}: {citation}" if citation else title for title, citation in grouped),
            actor_id=event.announced_by,
        )
        await record(fact, people)


async def request_completed(event: RequestCompleted) -> None:
    rows = await Notice.raw(_REQUEST_SQL, event.request_id, event.completed_by)
    if not rows:
        return
    fact = _fact(
        event,
        NoticeKind.REQUEST,
        event.request_id,
        f"{rows[0]['name']} completed your request “{rows[0]['title']}”",
        actor_id=event.completed_by,
    )
    await record(fact, [event.requester_id])


def register(registry: Registry) -> None:
    registry.register(KudosGiven, kudos_given, batch=kudos_given_together)
    registry.register(AddOnGiven, addon_given)
    registry.register(BadgeEarned, badge_earned)
    registry.register(AwardAnnounced, award_announced)
    registry.register(RequestCompleted, request_completed)
