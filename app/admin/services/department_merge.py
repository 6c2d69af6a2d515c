"""Admin: merging one department into another. Everything of the merged department moves to the one it joins:
members, leads, services, requests, child departments and the ledger's department columns (the ledger's trigger
allows exactly that, inside a merge). Board rollups are then recomputed from the ledger, so they equal what
`kudos boards rebuild` would produce."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import msgspec

import app.db as db
from app.admin.services.departments import department_for_change
from app.admin.services.rules import require_admin
from app.audit.services import record as audit
from app.boards import rollups
from app.paging import parse_id
from app.people.services import CurrentUser
from app.people.tables import Department, DepartmentLead
from app.rules import RuleViolation
from app.timeutil import now


class MergeForm(msgspec.Struct, frozen=True):
    into: str = ""

    @property
    def into_id(self) -> int | None:
        return parse_id(self.into)


# The ledger's append-only trigger lets this transaction move entries between the two departments.
_MERGING_SQL = "SELECT set_config('kudos.department_merge', 'on', true)"
# Each statement moves one kind of thing from the merged department (the second id) to the one it joins (the first).
_MOVE_PEOPLE_SQL = "UPDATE employee SET department = {} WHERE department = {} RETURNING 1"
_MOVE_CHILDREN_SQL = "UPDATE department SET parent = {} WHERE parent = {} AND id <> {} RETURNING 1"
_COPY_LEADS_SQL = """
INSERT INTO department_lead (department, employee) SELECT {}, employee FROM department_lead WHERE department = {}
ON CONFLICT DO NOTHING RETURNING 1
"""
# Services of the same name become one (the target's): their requests move to it, then they go.
_REQUESTS_TO_SAME_SERVICE_SQL = """
UPDATE request r SET service = t.id FROM service s JOIN service t ON t.department = {} AND t.name = s.name
WHERE s.department = {} AND r.service = s.id
"""
_DROP_SAME_SERVICES_SQL = """
DELETE FROM service s USING service t WHERE s.department = {} AND t.department = {} AND t.name = s.name
"""
_MOVE_SERVICES_SQL = """
UPDATE service SET department = {}, position = position + (SELECT count(*) FROM service WHERE department = {})
WHERE department = {} RETURNING 1
"""
_MOVE_REQUESTS_SQL = "UPDATE request SET department = {} WHERE department = {} RETURNING 1"
_MOVE_LEDGER_SQL = """
UPDATE ledger_entry
SET giver_department = CASE WHEN giver_department = {} THEN {} ELSE giver_department END,
    recipient_department = CASE WHEN recipient_department = {} THEN {} ELSE recipient_department END
WHERE giver_department = {} OR recipient_department = {}
RETURNING recipient, giver_department = recipient_department AS same_department
"""


@dataclass(frozen=True, slots=True)
class Moved:
    """What a merge moved to the department it joined."""

    people: int
    sub_departments: int
    leads: int
    services: int
    requests: int
    ledger_entries: int


async def _count(sql: str, *args: Any) -> int:
    return len(await Department.raw(sql, *args))


async def merge(admin: CurrentUser, source_id: int, target_id: int | None) -> Moved:
    """Merge department `source_id` into `target_id` in one transaction; the source ends archived. Returns what
    moved. The board rows the move changes are recomputed from the ledger."""
    require_admin(admin)
    source = await department_for_change(source_id)
    if target_id is None or target_id == source_id:
        raise RuleViolation({"into": "Choose another department to merge into."})
    try:
        target = await department_for_change(target_id)
    except RuleViolation as exc:
        raise RuleViolation({"into": exc.message}, status_code=exc.status_code) from exc
    async with db.transaction():
        await Department.raw(_MERGING_SQL)
        people = await _count(_MOVE_PEOPLE_SQL, target_id, source_id)
        # The target taking over the source's place when it sat under it; the source's children join the target.
        if target.parent == source_id:
            await Department.update({Department.parent: source.parent}).where(Department.id == target_id)
        sub_departments = await _count(_MOVE_CHILDREN_SQL, target_id, source_id, target_id)
        leads = await _count(_COPY_LEADS_SQL, target_id, source_id)
        await DepartmentLead.delete().where(DepartmentLead.department == source_id)
        await Department.raw(_REQUESTS_TO_SAME_SERVICE_SQL, target_id, source_id)
        await Department.raw(_DROP_SAME_SERVICES_SQL, source_id, target_id)
        entries = await Department.raw(
            _MOVE_LEDGER_SQL, source_id, target_id, source_id, target_id, source_id, source_id
        )
        moved = Moved(
            people=people,
            sub_departments=sub_departments,
            leads=leads,
            services=await _count(_MOVE_SERVICES_SQL, target_id, target_id, source_id),
            requests=await _count(_MOVE_REQUESTS_SQL, target_id, source_id),
            ledger_entries=len(entries),
        )
        await Department.update({Department.archived_at: now()}).where(Department.id == source_id)
        # The two departments' rows are recomputed, and the rows of the recipients of entries between them (no
        # longer across departments): no other figure depends on an entry's departments.
        if moved.ledger_entries:
            recipients = {row["recipient"] for row in entries if row["same_department"]}
            await rollups.rebuild_owners(recipients, {source_id, target_id})
        await audit(
            actor_id=admin.id,
            action="department.merge",
            target_type="department",
            target_id=target_id,
            summary=f"Merged {source.name} into {target.name}",
            before={"department": source.name, "id": source_id},
            after={"into": target.name, "id": target_id, **asdict(moved)},
        )
    return moved
