"""Admin: reading the audit log — filter by actor, action and dates; newest first with keyset paging.

The log is append-only (a trigger refuses UPDATE and DELETE) and nothing here writes to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.audit.tables import AuditEntry
from app.awards.tables import AwardCategory
from app.paging import Cursor
from app.people.tables import Department, Employee
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


# Keys whose values are ids, and the table that names them. Award winners are tokens: "p12" a person, "d3" a
# department (app.awards).
_ID_KEYS = {"department": "department", "parent": "department", "category": "category", "manager": "person"}


@dataclass(frozen=True, slots=True)
class Change:
    """One field of an entry as the log shows it: named values (not ids), lists as words; None: not recorded."""

    field: str
    before: str | None
    after: str | None


@dataclass
class _Names:
    person: dict[int, str] = field(default_factory=dict)
    department: dict[int, str] = field(default_factory=dict)
    category: dict[int, str] = field(default_factory=dict)

    def wanted(self, key: str, value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int) and key in _ID_KEYS:
            getattr(self, _ID_KEYS[key])[value] = ""
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str) and item[:1] in {"p", "d"} and item[1:].isdigit():
                    (self.person if item[0] == "p" else self.department)[int(item[1:])] = ""

    async def load(self) -> None:
        for table, found in ((Employee, self.person), (Department, self.department), (AwardCategory, self.category)):
            if found:
                rows = await table.select(table.id, table.name).where(table.id.is_in(list(found)))
                found.update({row["id"]: row["name"] for row in rows})

    def shown(self, key: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int) and key in _ID_KEYS:
            return getattr(self, _ID_KEYS[key]).get(value) or f"#{value} (gone)"
        if isinstance(value, list):
            return ", ".join(self._token(item) for item in value)
        return str(value)

    def _token(self, item: Any) -> str:
        if isinstance(item, str) and item[:1] in {"p", "d"} and item[1:].isdigit():
            names = self.person if item[0] == "p" else self.department
            return names.get(int(item[1:])) or item
        return str(item)


async def _changes(sides: list[tuple[Any, Any]]) -> list[list[Change]]:
    """Each entry's changes, from its (before, after), with the people, departments and categories it mentions
    named (three queries for the whole page at most)."""
    named = [
        (before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {})
        for before, after in sides
    ]
    names = _Names()
    for before, after in named:
        for side in (before, after):
            for key, value in side.items():
                names.wanted(key, value)
    await names.load()
    return [
        [
            Change(
                field=key.replace("_", " "),
                before=names.shown(key, before[key]) if key in before else None,
                after=names.shown(key, after[key]) if key in after else None,
            )
            for key in dict.fromkeys([*before, *after])
        ]
        for before, after in named
    ]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the log as the admin reads it."""

    id: int
    action: str
    target_type: str
    target_id: int | None
    summary: str
    created_at: datetime
    actor_name: str | None
    actor_email: str | None
    changes: list[Change]


@dataclass(frozen=True, slots=True)
class AuditPage:
    filters: AuditFilters
    entries: list[Entry] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LogActor:
    name: str
    email: str


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
    changes = await _changes([(row.pop("before"), row.pop("after")) for row in rows])
    entries = [Entry(**row, changes=found) for row, found in zip(rows, changes, strict=True)]
    actions = await AuditEntry.select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    return AuditPage(
        filters=filters,
        entries=entries,
        actions=[row["action"] for row in actions],
        next_cursor=Cursor(rows[-1]["created_at"], rows[-1]["id"]).encode() if more else None,
    )


async def actors() -> list[LogActor]:
    """People who appear as actors, for the filter's suggestions."""
    actor_ids = AuditEntry.select(AuditEntry.actor).where(AuditEntry.actor.is_not_null()).distinct()
    rows = (
        await Employee.select(Employee.name, Employee.email).where(Employee.id.is_in(actor_ids)).order_by(Employee.name)
    )
    return [LogActor(**row) for row in rows]
