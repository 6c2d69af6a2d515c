"""Admin: departments — create, edit (parent without cycles, leads, service catalogue), merge two, archive.

A merge moves everything of the merged department to the one it joins: members, leads, services, requests, child
departments and the ledger's department columns (the ledger's trigger allows exactly that, inside a merge). Board
rollups are then recomputed from the ledger, so they equal what `kudos boards rebuild` would produce.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from piccolo.query.functions.aggregate import Count

from app import db
from app.admin.people import changes, require_admin
from app.audit.services import record as audit
from app.boards import rollups
from app.likeness import like_literal
from app.paging import parse_id, valid_id
from app.people.services import CurrentUser, normalise_email
from app.people.tables import Department, DepartmentLead, Employee, Service
from app.requests.tables import Request
from app.rules import RuleViolation
from app.timeutil import now
from app.words import plural

NAME_MAX = 120
SLUG_MAX = 80
SERVICE_NAME_MAX = 160
HOURS_MAX = 160
DESCRIPTION_MAX = 2000
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


NOT_FOUND = "There is no department with that id."


async def _department(department_id: int, *, active: bool = False) -> dict:
    row = None
    if valid_id(department_id):
        row = await (
            Department.select(
                Department.id,
                Department.name,
                Department.slug,
                Department.description,
                Department.parent,
                Department.archived_at,
            )
            .where(Department.id == department_id)
            .first()
        )
    if row is None:
        raise RuleViolation(NOT_FOUND, status_code=404)
    if active and row["archived_at"] is not None:
        raise RuleViolation(f"{row['name']} is archived; restore it first.", status_code=409)
    return row


async def list_all() -> list[dict]:
    """Every department, archived ones last, with parent, active member count and leads."""
    departments = await Department.select(
        Department.id,
        Department.name,
        Department.slug,
        Department.parent.name.as_alias("parent_name"),
        Department.archived_at,
    ).order_by(Department.name)
    members = await (
        Employee.select(Employee.department, Count(Employee.id).as_alias("count"))
        .where(Employee.active.eq(True))
        .group_by(Employee.department)
    )
    leads = await DepartmentLead.select(DepartmentLead.department, DepartmentLead.employee.name.as_alias("name"))
    counts = {row["department"]: row["count"] for row in members}
    lead_names: dict[int, list[str]] = {}
    for lead in leads:
        lead_names.setdefault(lead["department"], []).append(lead["name"])
    for department in departments:
        department["members"] = counts.get(department["id"], 0)
        department["leads"] = sorted(lead_names.get(department["id"], []))
    return sorted(departments, key=lambda d: d["archived_at"] is not None)


async def descendants(department_id: int) -> set[int]:
    rows = await Department.raw(
        "WITH RECURSIVE tree AS (SELECT id FROM department WHERE parent = {} "
        "UNION SELECT d.id FROM department d JOIN tree t ON d.parent = t.id) SELECT id FROM tree",
        department_id,
    )
    return {row["id"] for row in rows}


async def get_detail(department_id: int) -> dict:
    """A department with its services (inactive too), leads, and what it may take as parent or merge into."""
    department = await _department(department_id)
    department["services"] = (
        await Service.select(
            Service.id, Service.name, Service.description, Service.hours, Service.target_hours, Service.active
        )
        .where(Service.department == department_id)
        .order_by(Service.position, Service.name)
    )
    department["leads"] = await DepartmentLead.select(
        DepartmentLead.employee.as_alias("id"),
        DepartmentLead.employee.name.as_alias("name"),
        DepartmentLead.employee.email.as_alias("email"),
    ).where(DepartmentLead.department == department_id)
    department["members"] = await Employee.count().where(
        (Employee.department == department_id) & Employee.active.eq(True)
    )
    below = await descendants(department_id)
    others = (
        await Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null() & (Department.id != department_id))
        .order_by(Department.name)
    )
    department["parent_choices"] = [d for d in others if d["id"] not in below]
    department["merge_choices"] = others
    return department


# ------------------------------------------------------------------------------------------------ create / edit


def form_values(form: Any) -> dict[str, Any]:
    return {
        "name": " ".join(str(form.get("name") or "").split()),
        "slug": str(form.get("slug") or "").strip().lower(),
        "description": str(form.get("description") or "").strip(),
        "parent": parse_id(form.get("parent")),
    }


async def _validate(values: dict[str, Any], department_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Enter the department's name."
    elif len(values["name"]) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters."
    else:
        clash = Department.exists().where(Department.name.ilike(like_literal(values["name"])))
        if department_id is not None:
            clash = clash.where(Department.id != department_id)
        if await clash:
            errors["name"] = f"There already is a department called {values['name']}."
    values["slug"] = values["slug"] or slugify(values["name"])
    if not _SLUG.match(values["slug"]) or len(values["slug"]) > SLUG_MAX:
        errors["slug"] = "Use lowercase letters, digits and single hyphens for the address (e.g. customer-support)."
    else:
        clash = Department.exists().where(Department.slug == values["slug"])
        if department_id is not None:
            clash = clash.where(Department.id != department_id)
        if await clash:
            errors["slug"] = f"The address /departments/{values['slug']} is taken."
    if len(values["description"]) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters."
    parent = values["parent"]
    if parent is not None:
        if not await Department.exists().where((Department.id == parent) & Department.archived_at.is_null()):
            errors["parent"] = "Choose a parent department from the list."
        elif department_id is not None and (parent == department_id or parent in await descendants(department_id)):
            errors["parent"] = "A department can't sit under itself or under one of its own sub-departments."
    return errors


FIELDS = ("name", "slug", "description", "parent")


async def create_department(admin: CurrentUser, values: dict[str, Any]) -> int:
    require_admin(admin)
    if errors := await _validate(values, None):
        raise RuleViolation(errors)
    async with db.transaction():
        row = Department(
            name=values["name"],
            slug=values["slug"],
            description=values["description"],
            parent=values["parent"],
            created_at=now(),
        )
        await row.save()
        await audit(
            actor_id=admin.id,
            action="department.create",
            target_type="department",
            target_id=row.id,
            summary=f"Created department {values['name']}",
            after={name: values[name] for name in FIELDS},
        )
    return row.id


async def update_department(admin: CurrentUser, department_id: int, values: dict[str, Any]) -> bool:
    require_admin(admin)
    department = await _department(department_id, active=True)
    if errors := await _validate(values, department_id):
        raise RuleViolation(errors)
    before, after = changes({n: department[n] for n in FIELDS}, {n: values[n] for n in FIELDS})
    if not after:
        return False
    async with db.transaction():
        await Department.update(
            {
                Department.name: values["name"],
                Department.slug: values["slug"],
                Department.description: values["description"],
                Department.parent: values["parent"],
            }
        ).where(Department.id == department_id)
        await audit(
            actor_id=admin.id,
            action="department.update",
            target_type="department",
            target_id=department_id,
            summary=f"Edited department {values['name']}: {', '.join(after)}",
            before=before,
            after=after,
        )
    return True


# ------------------------------------------------------------------------------------------------ leads


async def add_lead(admin: CurrentUser, department_id: int, email: str) -> str:
    require_admin(admin)
    department = await _department(department_id, active=True)
    email = normalise_email(email)
    person = (
        await Employee.select(Employee.id, Employee.name)
        .where((Employee.email == email) & Employee.active.eq(True))
        .first()
    )
    if person is None:
        raise RuleViolation({"lead": f"No active person has the email {email[:60] or '(empty)'}."})
    async with db.transaction():
        added = (
            await DepartmentLead.insert(DepartmentLead(department=department_id, employee=person["id"]))
            .on_conflict(action="DO NOTHING")
            .returning(DepartmentLead.id)
        )
        if not added:
            raise RuleViolation({"lead": f"{person['name']} already leads {department['name']}."}, status_code=409)
        await audit(
            actor_id=admin.id,
            action="department.lead_add",
            target_type="department",
            target_id=department_id,
            summary=f"{person['name']} now leads {department['name']}",
            after={"lead": email},
        )
    return person["name"]


async def remove_lead(admin: CurrentUser, department_id: int, employee_id: int | None) -> str:
    require_admin(admin)
    department = await _department(department_id)
    async with db.transaction():
        removed = await DepartmentLead.raw(
            "DELETE FROM department_lead l USING employee e WHERE l.department = {} AND l.employee = {} "
            "AND e.id = l.employee RETURNING e.name, e.email",
            department_id,
            employee_id or 0,
        )
        if not removed:
            raise RuleViolation("That person does not lead this department.", status_code=404)
        await audit(
            actor_id=admin.id,
            action="department.lead_remove",
            target_type="department",
            target_id=department_id,
            summary=f"{removed[0]['name']} no longer leads {department['name']}",
            before={"lead": removed[0]["email"]},
        )
    return removed[0]["name"]


# ------------------------------------------------------------------------------------------------ services

SERVICE_FIELDS = ("name", "description", "hours", "target_hours", "active")


def service_values(form: Any) -> dict[str, Any]:
    return {
        "name": " ".join(str(form.get("name") or "").split()),
        "description": str(form.get("description") or "").strip(),
        "hours": " ".join(str(form.get("hours") or "").split()),
        "target_hours": str(form.get("target_hours") or "").strip(),
        "active": str(form.get("active") or "") == "on",
    }


async def _validate_service(department_id: int, values: dict[str, Any], service_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Name the service."
    elif len(values["name"]) > SERVICE_NAME_MAX:
        errors["name"] = f"Keep the name to {SERVICE_NAME_MAX} characters."
    else:
        clash = Service.exists().where((Service.department == department_id) & (Service.name == values["name"]))
        if service_id is not None:
            clash = clash.where(Service.id != service_id)
        if await clash:
            errors["name"] = f"This department already offers {values['name']}."
    if len(values["hours"]) > HOURS_MAX:
        errors["hours"] = f"Keep the hours to {HOURS_MAX} characters."
    if len(values["description"]) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters."
    text = values["target_hours"]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 10000:
        errors["target_hours"] = "The target is a whole number of hours from 1 to 10000."
    else:
        values["target_hours"] = int(text)
    return errors


async def save_service(
    admin: CurrentUser, department_id: int, values: dict[str, Any], service_id: int | None = None
) -> str:
    """Add a service to the catalogue (`service_id` None) or change one; returns its name."""
    require_admin(admin)
    department = await _department(department_id, active=True)
    current = None
    if service_id is not None:
        current = (
            await Service.select(*[getattr(Service, f) for f in SERVICE_FIELDS])
            .where((Service.id == service_id) & (Service.department == department_id))
            .first()
        )
        if current is None:
            raise RuleViolation("That service is not in this department's catalogue.", status_code=404)
    if current is None:
        values["active"] = True  # a new service is offered straight away
    if errors := await _validate_service(department_id, values, service_id):
        raise RuleViolation(errors)
    stored = {getattr(Service, f): values[f] for f in SERVICE_FIELDS}
    async with db.transaction():
        if current is None:
            position = await Service.count().where(Service.department == department_id)
            row = Service(department=department_id, position=position, **values)
            await row.save()
            service_id = row.id
            before, after = None, dict(values)
            summary = f"Added service {values['name']} to {department['name']}"
        else:
            before, after = changes(current, values)
            if not after:
                return values["name"]
            await Service.update(stored).where(Service.id == service_id)
            summary = f"Edited service {values['name']} of {department['name']}: {', '.join(after)}"
        await audit(
            actor_id=admin.id,
            action="service.create" if current is None else "service.update",
            target_type="service",
            target_id=service_id,
            summary=summary,
            before=before,
            after=after,
        )
    return values["name"]


# ------------------------------------------------------------------------------------------------ archive


async def set_archived(admin: CurrentUser, department_id: int, archived: bool) -> str:
    require_admin(admin)
    department = await _department(department_id)
    if (department["archived_at"] is not None) == archived:
        raise RuleViolation(f"{department['name']} is already {'archived' if archived else 'active'}.", status_code=409)
    if archived:
        members = await Employee.count().where((Employee.department == department_id) & Employee.active.eq(True))
        children = await Department.count().where(
            (Department.parent == department_id) & Department.archived_at.is_null()
        )
        open_requests = await Request.count().where(
            (Request.department == department_id) & Request.status.is_in(["open", "in_progress"])
        )
        if members or children or open_requests:
            raise RuleViolation(
                f"{department['name']} still has {plural(members, 'active member')}, "
                f"{plural(children, 'sub-department')} and {plural(open_requests, 'open request')}. "
                "Move them, or merge the department into another one.",
                status_code=409,
            )
    async with db.transaction():
        await Department.update({Department.archived_at: now() if archived else None}).where(
            Department.id == department_id
        )
        await audit(
            actor_id=admin.id,
            action="department.archive" if archived else "department.restore",
            target_type="department",
            target_id=department_id,
            summary=f"{'Archived' if archived else 'Restored'} department {department['name']}",
            before={"archived": not archived},
            after={"archived": archived},
        )
    return department["name"]


# ------------------------------------------------------------------------------------------------ merge


async def merge(admin: CurrentUser, source_id: int, target_id: int | None) -> dict[str, int]:
    """Merge department `source_id` into `target_id` in one transaction; the source ends archived. Returns what
    moved. Boards are recomputed from the ledger (as long as `kudos boards rebuild` takes)."""
    require_admin(admin)
    source = await _department(source_id, active=True)
    if target_id is None or target_id == source_id:
        raise RuleViolation({"into": "Choose another department to merge into."})
    try:
        target = await _department(target_id, active=True)
    except RuleViolation as exc:
        raise RuleViolation({"into": exc.message}, status_code=exc.status_code) from exc
    engine = db.engine()
    async with engine.transaction():
        await engine.run_ddl("SELECT set_config('kudos.department_merge', 'on', true)")
        moved: dict[str, int] = {}

        async def count(sql: str, *args: Any) -> int:
            return len(await Department.raw(sql + " RETURNING 1", *args))

        moved["people"] = await count("UPDATE employee SET department = {} WHERE department = {}", target_id, source_id)
        # The target taking over the source's place when it sat under it; the source's children join the target.
        if target["parent"] == source_id:
            await Department.update({Department.parent: source["parent"]}).where(Department.id == target_id)
        moved["sub_departments"] = await count(
            "UPDATE department SET parent = {} WHERE parent = {} AND id <> {}", target_id, source_id, target_id
        )
        moved["leads"] = await count(
            "INSERT INTO department_lead (department, employee) SELECT {}, employee FROM department_lead "
            "WHERE department = {} ON CONFLICT DO NOTHING",
            target_id,
            source_id,
        )
        await DepartmentLead.delete().where(DepartmentLead.department == source_id)
        # Services of the same name become one (the target's); the others join the target's catalogue.
        await Department.raw(
            "UPDATE request r SET service = t.id FROM service s "
            "JOIN service t ON t.department = {} AND t.name = s.name WHERE s.department = {} AND r.service = s.id",
            target_id,
            source_id,
        )
        await Department.raw(
            "DELETE FROM service s USING service t WHERE s.department = {} AND t.department = {} AND t.name = s.name",
            source_id,
            target_id,
        )
        moved["services"] = await count(
            "UPDATE service SET department = {}, position = position + "
            "(SELECT count(*) FROM service WHERE department = {}) WHERE department = {}",
            target_id,
            target_id,
            source_id,
        )
        moved["requests"] = await count(
            "UPDATE request SET department = {} WHERE department = {}", target_id, source_id
        )
        moved["ledger_entries"] = await count(
            "UPDATE ledger_entry SET giver_department = CASE WHEN giver_department = {} THEN {} "
            "ELSE giver_department END, recipient_department = CASE WHEN recipient_department = {} THEN {} "
            "ELSE recipient_department END WHERE giver_department = {} OR recipient_department = {}",
            source_id,
            target_id,
            source_id,
            target_id,
            source_id,
            source_id,
        )
        await Department.update({Department.archived_at: now()}).where(Department.id == source_id)
        # Cross-department counts change where the two met, so the rollups are recomputed rather than added up.
        if moved["ledger_entries"]:
            await rollups.rebuild()
        await audit(
            actor_id=admin.id,
            action="department.merge",
            target_type="department",
            target_id=target_id,
            summary=f"Merged {source['name']} into {target['name']}",
            before={"department": source["name"], "id": source_id},
            after={"into": target["name"], "id": target_id, **moved},
        )
    return moved
