"""In-app notifications: created inside the transaction of the action they report, read by their recipient."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from app.notifications.tables import Kind, Notification
from app.timeutil import now


async def notify(
    recipients: Iterable[int],
    kind: Kind,
    *,
    text: str,
    url: str,
    actor_id: int | None = None,
    action_label: str = "",
    action_url: str = "",
    at: datetime | None = None,
) -> None:
    """One notification per recipient (the actor is never notified of their own action)."""
    moment = at or now()
    rows = [
        Notification(
            recipient=recipient,
            kind=kind,
            actor=actor_id,
            text=text,
            url=url,
            action_label=action_label,
            action_url=action_url,
            created_at=moment,
        )
        for recipient in dict.fromkeys(recipients)
        if recipient != actor_id
    ]
    if rows:
        await Notification.insert(*rows)


async def unread_count(employee_id: int) -> int:
    return await Notification.count().where((Notification.recipient == employee_id) & Notification.read_at.is_null())
