"""In-app notifications (SPEC F12): created inside the transaction of the action they report, read by their
recipient. Every query here is scoped to the recipient, so someone else's notification is simply not found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.notifications.tables import Kind, Notification
from app.paging import Cursor, valid_id
from app.timeutil import now

PAGE_SIZE = 30

KIND_LABELS = {
    Kind.KUDOS_RECEIVED: "Kudos received",
    Kind.ADDON_RECEIVED: "+1 on your kudos",
    Kind.REQUEST_COMPLETED: "Request completed",
    Kind.REQUEST_ASSIGNED: "Request assigned",
    Kind.AWARD_WON: "Award won",
    Kind.NOMINATION_REMINDER: "Nomination reminder",
    Kind.AWARD_REVIEW: "Awards to review",
    Kind.FEEDBACK_REQUESTED: "Feedback asked",
    Kind.FEEDBACK_RECEIVED: "Feedback received",
    Kind.FEEDBACK_DECLINED: "Feedback declined",
    Kind.SURVEY_OPEN: "Service survey",
    Kind.SURVEY_REMINDER: "Service survey reminder",
}


# One notification per wanted recipient who is active, in the order given: one statement. Its links are left empty:
# the web layer makes them from its kind and subject.
_NOTIFY_SQL = """
    INSERT INTO notification (recipient, kind, actor, text, url, action_label, action_url, subject, created_at)
    SELECT e.id, {}::text, {}::int, {}::text, '', {}::text, '', {}::text, {}::timestamptz
    FROM unnest({}::int[]) WITH ORDINALITY AS r(id, n) JOIN employee e ON e.id = r.id AND e.active
    ORDER BY r.n
"""


async def notify(
    recipients: Iterable[int],
    kind: Kind,
    *,
    text: str,
    subject: str = "",
    actor_id: int | None = None,
    action_label: str = "",
    at: datetime | None = None,
) -> None:
    """One notification per recipient (the actor is never notified of their own action, and people who were
    deactivated receive nothing). `subject` (see `subject_of`) says what it is about: the web layer links to it
    (and an `action_label`'s button to what the kind asks for) and `mark_done` closes it once it is dealt with."""
    moment = at or now()
    wanted = [r for r in dict.fromkeys(recipients) if r != actor_id]
    if not wanted:
        return
    await Notification.raw(_NOTIFY_SQL, str(kind), actor_id, text, action_label, subject, moment, wanted)


# Also read inside the page header's statement (app/web/header.py).
UNREAD_SQL = "SELECT count(*) AS unread FROM notification WHERE recipient = {} AND read_at IS NULL"


async def unread_count(employee_id: int) -> int:
    """One COUNT on the partial index `notification_unread (recipient) WHERE read_at IS NULL`."""
    unread: int = (await Notification.raw(UNREAD_SQL, employee_id))[0]["unread"]
    return unread


@dataclass(frozen=True, slots=True)
class NotificationItem:
    """One notification as its recipient sees it. `url` and `action_url` are empty (the web layer links it by kind
    and subject) except in old rows stored with links those would not make again (migration 2026-12-07T19:00):
    whoever renders those as links checks that they are local paths."""

    id: int
    kind: str
    text: str
    subject: str  # what it is about ("kudos:12"): the web layer links to it
    url: str
    action_label: str
    action_url: str
    created_at: datetime
    read_at: datetime | None
    done_at: datetime | None
    actor_id: int | None
    actor_name: str | None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def kind_label(self) -> str:
        try:
            return KIND_LABELS[Kind(self.kind)]
        except (ValueError, KeyError):
            return self.kind.replace("_", " ").capitalize()

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[NotificationItem]
    next_cursor: Cursor | None  # `before` for the next (older) page; None when this is the last one


# A page of NotificationItems (the actor's name included), newest first along the index notification_inbox
# (recipient, created_at DESC, id DESC): the first page, and the page older than a (created_at, id) keyset.
_FIRST_PAGE_SQL = """
    SELECT n.id, n.kind, n.text, n.subject, n.url, n.action_label, n.action_url, n.created_at, n.read_at, n.done_at,
           n.actor AS actor_id, (SELECT a.name FROM employee a WHERE a.id = n.actor) AS actor_name
    FROM notification n WHERE n.recipient = {}
    ORDER BY n.created_at DESC, n.id DESC LIMIT {}
"""
_OLDER_PAGE_SQL = """
    SELECT n.id, n.kind, n.text, n.subject, n.url, n.action_label, n.action_url, n.created_at, n.read_at, n.done_at,
           n.actor AS actor_id, (SELECT a.name FROM employee a WHERE a.id = n.actor) AS actor_name
    FROM notification n WHERE n.recipient = {} AND (n.created_at, n.id) < ({}, {})
    ORDER BY n.created_at DESC, n.id DESC LIMIT {}
"""
# Mark one of the recipient's notifications read (keeping the time it was first read); the item as listed.
_MARK_READ_SQL = """
    UPDATE notification n SET read_at = COALESCE(n.read_at, {}) WHERE n.id = {} AND n.recipient = {}
    RETURNING n.id, n.kind, n.text, n.subject, n.url, n.action_label, n.action_url, n.created_at, n.read_at,
              n.done_at, n.actor AS actor_id, (SELECT a.name FROM employee a WHERE a.id = n.actor) AS actor_name
"""
_MARK_DONE_SQL = """
    UPDATE notification SET done_at = {}, read_at = coalesce(read_at, {})
    WHERE kind = {} AND subject = {} AND subject <> '' AND done_at IS NULL AND ({}::int IS NULL OR recipient = {})
"""


async def list_notifications(user_id: int, *, before: Cursor | None = None, limit: int = PAGE_SIZE) -> NotificationPage:
    """`user_id`'s notifications newest first, `limit` at a time, older than `before` (keyset, no OFFSET)."""
    if before is None:
        rows = await Notification.raw(_FIRST_PAGE_SQL, user_id, limit + 1)
    else:
        rows = await Notification.raw(_OLDER_PAGE_SQL, user_id, before.created_at, before.id, limit + 1)
    items = [NotificationItem(**row) for row in rows[:limit]]
    return NotificationPage(items=items, next_cursor=items[-1].cursor if len(rows) > limit else None)


async def mark_read(user_id: int, notification_id: int) -> NotificationItem | None:
    """Mark one of `user_id`'s notifications read (it keeps the time it was first read) and return it; None when
    `user_id` has no notification with that id — someone else's is left untouched."""
    if not valid_id(notification_id):
        return None
    rows = await Notification.raw(_MARK_READ_SQL, now(), notification_id, user_id)
    return NotificationItem(**rows[0]) if rows else None


async def mark_all_read(user_id: int, *, up_to: datetime | None = None) -> int:
    """Mark `user_id`'s unread notifications read — only those created at or before `up_to` when given (the
    moment the reader's page was drawn, so one that arrived since stays unread). Returns how many changed."""
    condition = (Notification.recipient == user_id) & Notification.read_at.is_null()
    if up_to is not None:
        condition &= Notification.created_at <= up_to
    changed = await Notification.update({Notification.read_at: now()}).where(condition).returning(Notification.id)
    return len(changed)


def subject_of(table: str, row_id: int) -> str:
    """A notification's subject: the row it is about, e.g. `subject_of("request", 12)` → "request:12"."""
    return f"{table}:{row_id}"


async def mark_done(kind: Kind, subject: str, *, recipient_id: int | None = None, at: datetime | None = None) -> None:
    """Close the prompts of `kind` about `subject` whose action was just done — whoever did it (or only
    `recipient_id`'s, for a prompt that is personal): they are marked done and read, and lose their button."""
    moment = at or now()
    await Notification.raw(_MARK_DONE_SQL, moment, moment, str(kind), subject, recipient_id, recipient_id)
