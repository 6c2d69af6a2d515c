"""Outgoing webhooks' reactions to domain events (app/events.py), run by the worker from the job outbox: the
`kudos.given`, `badge.earned` and `award.announced` deliveries (app/api/webhooks.py). Events carry ids; the
body's links are built here, at the edge, from those ids and the pages' route names, as mail's are
(app/mail/links.py: KUDOS_BASE_URL + the route's path)."""

from __future__ import annotations

from app.api.webhooks import emit, slack_escape
from app.awards.cycles import month_label
from app.boards.badge_rules import BY_SLUG
from app.events import AwardAnnounced, AwardWon, BadgeEarned, KudosGiven, Registry
from app.kudos.tables import Kudos
from app.mail.links import absolute_url
from app.people.tables import Department, Employee
from app.words import excerpt

# The kudos, its giver's name and its recipients (id and name, in the order they were thanked).
_KUDOS_SQL = """
    SELECT k.id, k.message, g.name AS giver_name,
           ARRAY(SELECT r.employee FROM kudos_recipient r WHERE r.kudos = k.id ORDER BY r.id) AS recipient_ids,
           ARRAY(SELECT e.name FROM kudos_recipient r JOIN employee e ON e.id = r.employee
                 WHERE r.kudos = k.id ORDER BY r.id) AS recipient_names
    FROM kudos k JOIN employee g ON g.id = k.giver WHERE k.id = ANY({})
"""


async def kudos_given(event: KudosGiven) -> None:
    await kudos_given_together([event])


async def kudos_given_together(events: list[KudosGiven]) -> None:
    """The `kudos.given` delivery of each public kudos (private ones are never sent); the kudos of a batch are read
    in one statement."""
    public = [event for event in events if event.public]
    if not public:
        return
    rows = await Kudos.raw(_KUDOS_SQL, [event.kudos_id for event in public])
    found = {row["id"]: row for row in rows}
    for event in public:
        if (kudos := found.get(event.kudos_id)) is None:
            continue
        url = absolute_url("kudos", kudos_id=event.kudos_id)
        names = slack_escape(", ".join(kudos["recipient_names"]))
        points = f" (+{event.points} points)" if event.points else ""
        said = slack_escape(excerpt(kudos["message"], 200))
        await emit(
            "kudos.given",
            {
                "text": f"{slack_escape(kudos['giver_name'])} thanked {names}{points}: “{said}” <{url}|View kudos>",
                "kudos": {
                    "id": event.kudos_id,
                    "url": url,
                    "message": kudos["message"],
                    "points": event.points,
                    "giver": {"id": event.giver_id, "name": kudos["giver_name"]},
                    "recipients": [
                        {"id": i, "name": n}
                        for i, n in zip(kudos["recipient_ids"], kudos["recipient_names"], strict=True)
                    ],
                    "request_id": event.request_id,
                },
            },
            at=event.at,
        )


async def badge_earned(event: BadgeEarned) -> None:
    """One `badge.earned` delivery per award."""
    badge = BY_SLUG.get(event.badge)
    if badge is None:
        return
    row = await Employee.select(Employee.name).where(Employee.id == event.employee_id).first()
    name = row["name"] if row else "Someone"
    url = absolute_url("person", person_id=event.employee_id) + "#badges"
    title = badge.title_for(event.level)
    achieved = badge.achieved_for(event.level)
    await emit(
        "badge.earned",
        {
            "text": f"{slack_escape(name)} earned the badge {title}: {achieved}. <{url}|See badges>",
            "badge": {
                "slug": badge.slug,
                "name": badge.name,
                "level": event.level,
                "title": title,
                "achieved": achieved,
            },
            "person": {"id": event.employee_id, "name": name, "url": url},
        },
        at=event.at,
    )


# ------------------------------------------------------------------------------------------------- awards (F9)


def _winner_url(winner: AwardWon, slugs: dict[int, str]) -> str:
    """The winner's profile or department page; the departments' list for a department that is gone."""
    if winner.person_id is not None:
        return absolute_url("person", person_id=winner.person_id)
    slug = slugs.get(winner.department_id or 0)
    return absolute_url("department", slug=slug) if slug else absolute_url("departments")


async def award_announced(event: AwardAnnounced) -> None:
    """The `award.announced` delivery: the month's winners, with links to them and to the awards page."""
    department_ids = [w.department_id for w in event.winners if w.department_id is not None]
    slugs: dict[int, str] = {}
    if department_ids:
        rows = await Department.select(Department.id, Department.slug).where(Department.id.is_in(department_ids))
        slugs = {row["id"]: row["slug"] for row in rows}
    label = month_label(event.month)
    url = absolute_url("awards.cycle", cycle_id=event.cycle_id)
    lines = "; ".join(
        f"{slack_escape(w.category)}: <{_winner_url(w, slugs)}|{slack_escape(w.name)}>" for w in event.winners
    )
    await emit(
        "award.announced",
        {
            "text": f"The {label} awards are announced. {lines}. <{url}|See the awards>",
            "cycle": {"id": event.cycle_id, "month": event.month.strftime("%Y-%m"), "label": label, "url": url},
            "winners": [
                {
                    "category": w.category,
                    "kind": "person" if w.person_id is not None else "department",
                    "id": w.person_id if w.person_id is not None else w.department_id,
                    "name": w.name,
                    "url": _winner_url(w, slugs),
                    "citation": w.citation,
                }
                for w in event.winners
            ],
        },
        at=event.at,
    )


def register(registry: Registry) -> None:
    registry.register(KudosGiven, kudos_given, batch=kudos_given_together)
    registry.register(BadgeEarned, badge_earned)
    registry.register(AwardAnnounced, award_announced)
