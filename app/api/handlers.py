"""Outgoing webhooks' reactions to domain events (app/events.py), run by the worker from the job outbox: the
deliveries of app/api/webhooks.py. Events carry ids; the body's links are built here, at the edge, from those ids
and KUDOS_BASE_URL."""

from __future__ import annotations

from app.api.webhooks import absolute, emit, slack_escape
from app.awards.cycles import month_label
from app.events import AwardAnnounced, AwardWon, Registry
from app.people.tables import Department

# ------------------------------------------------------------------------------------------------- awards (F9)


def _winner_path(winner: AwardWon, slugs: dict[int, str]) -> str:
    if winner.person_id is not None:
        return f"/people/{winner.person_id}"
    return f"/departments/{slugs.get(winner.department_id or 0, '')}"


async def award_announced(event: AwardAnnounced) -> None:
    """The `award.announced` delivery: the month's winners, with links to them and to the awards page."""
    department_ids = [w.department_id for w in event.winners if w.department_id is not None]
    slugs: dict[int, str] = {}
    if department_ids:
        rows = await Department.select(Department.id, Department.slug).where(Department.id.is_in(department_ids))
        slugs = {row["id"]: row["slug"] for row in rows}
    label = month_label(event.month)
    url = absolute(f"/awards/{event.cycle_id}")
    lines = "; ".join(
        f"{slack_escape(w.category)}: <{absolute(_winner_path(w, slugs))}|{slack_escape(w.name)}>"
        for w in event.winners
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
                    "url": absolute(_winner_path(w, slugs)),
                    "citation": w.citation,
                }
                for w in event.winners
            ],
        },
        at=event.at,
    )


def register(registry: Registry) -> None:
    registry.register(AwardAnnounced, award_announced)
