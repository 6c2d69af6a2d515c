"""Admin: reading the audit log — filter by actor, action and dates; newest first with keyset paging.

The log is append-only (a trigger refuses UPDATE and DELETE) and nothing here writes to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.audit.tables import AuditEntry
from app.paging import Cursor
from app.people.tables import Employee
from app.timeutil import org_tz, parse_day

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor: str = ""  # an email
    action: str = ""
    since: date | None = None
    until: date | None = None  # inclusive, in the organisation's time zone
    cursor: Cursor | None = None

    def query(self, **extra: str) -> dict[str, str]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in (values | extra).items() if v}


def clean_filters(actor: str, action: str, since: str, until: str, cursor: str) -> AuditFilters:
    return AuditFilters(
        actor=actor.strip().lower()[:254],
        action=action.strip()[:60],
        since=parse_day(since),
        until=parse_day(until),
        cursor=Cursor.decode(cursor),
    )


@dataclass(frozen=True, slots=True)
class AuditPage:
    filters: AuditFilters
    entries: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    next_cursor: str | None = None


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=org_tz())


async def list_entries(filters: AuditFilters, *, per_page: int = PAGE_SIZE) -> AuditPage:
    query = AuditEntry.select(
        AuditEntry.id,
        AuditEntry.action,
        AuditEntry.target_type,
        AuditEntry.target_id,
        AuditEntry.summary,
        AuditEntry.before,
        AuditEntry.after,
        AuditEntry.created_at,
        AuditEntry.actor.name.as_alias("actor_name"),
        AuditEntry.actor.email.as_alias("actor_email"),
    )
    if filters.actor:
        query = query.where(AuditEntry.actor.email == filters.actor)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.since:
        query = query.where(AuditEntry.created_at >= _local_midnight(filters.since))
    if filters.until:
        query = query.where(AuditEntry.created_at < _local_midnight(filters.until + timedelta(days=1)))
    if filters.cursor:
        c = filters.cursor
        query = query.where(
            (AuditEntry.created_at < c.created_at) | ((AuditEntry.created_at == c.created_at) & (AuditEntry.id < c.id))
        )
    rows = (
        await query.output(load_json=True)
        .order_by(AuditEntry.created_at, ascending=False)
        .order_by(AuditEntry.id, ascending=False)
        .limit(per_page + 1)
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    actions = await AuditEntry.select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    return AuditPage(
        filters=filters,
        entries=rows,
        actions=[row["action"] for row in actions],
        next_cursor=Cursor(rows[-1]["created_at"], rows[-1]["id"]).encode() if more else None,
    )


async def actors() -> list[dict]:
    """People who appear as actors, for the filter's suggestions."""
    return (
        await Employee.select(Employee.name, Employee.email)
        .where(Employee.id.is_in(AuditEntry.select(AuditEntry.actor).where(AuditEntry.actor.is_not_null()).distinct()))
        .order_by(Employee.name)
    )
