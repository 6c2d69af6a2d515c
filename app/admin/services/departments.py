"""Admin: departments — the list, a department's page, create, edit (parent without cycles), leads, archive.
A department's service catalogue is `catalogue`; merging two is `department_merge`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Count

import app.db as db
from app.admin.services.rules import Choice, changes, require_admin
from app.audit.services import record as audit
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
DESCRIPTION_MAX = 2000
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NOT_FOUND = "There is no department with that id."
FIELDS = ("name", "slug", "description", "parent")

_DESCENDANTS_SQL = """
WITH RECURSIVE tree AS (
    SELECT id FROM department WHERE parent = {}
    UNION SELECT d.id FROM department d JOIN tree t ON d.parent = t.id
)
SELECT id FROM tree
"""
_REMOVE_LEAD_SQL = """
DELETE FROM department_lead l USING employee e
WHERE l.department = {} AND l.employee = {} AND e.id = l.employee
RETURNING e.name, e.email
"""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    """A department as the admin list shows it: its active member count and its leads' names."""

    id: int
    name: str
    slug: str
    parent_name: str | None
    archived_at: datetime | None
    members: int = 0
    leads: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    id: int
    name: str
    description: str
    hours: str
    target_hours: int
    active: bool


@dataclass(frozen=True, slots=True)
class Lead:
    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class DepartmentDetail:
    """A department with its services (inactive too), leads, and what it may take as parent or merge into."""

    id: int
    name: str
    slug: str
    description: str
    parent: int | None
    archived_at: datetime | None
    services: list[ServiceEntry] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    members: int = 0
    parent_choices: list[Choice] = field(default_factory=list)
    merge_choices: list[Choice] = field(default_factory=list)


async def find_department(department_id: int) -> DepartmentDetail:
    """A department (without its lists), or 404."""
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
    return DepartmentDetail(**row)


async def department_for_change(department_id: int) -> DepartmentDetail:
    """A department that may change (not archived), or 404/409."""
    department = await find_department(department_id)
    if department.archived_at is not None:
        raise RuleViolation(f"{department.name} is archived; restore it first.", status_code=409)
    return department


async def list_all() -> list[DepartmentRow]:
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
    rows = [
        DepartmentRow(**row, members=counts.get(row["id"], 0), leads=sorted(lead_names.get(row["id"], [])))
        for row in departments
    ]
    return sorted(rows, key=lambda d: d.archived_at is not None)


async def descendants(department_id: int) -> set[int]:
    return {row["id"] for row in await Department.raw(_DESCENDANTS_SQL, department_id)}


async def get_detail(department_id: int) -> DepartmentDetail:
    department = await find_department(department_id)
    services = (
        await Service.select(
            Service.id, Service.name, Service.description, Service.hours, Service.target_hours, Service.active
        )
        .where(Service.department == department_id)
        .order_by(Service.position, Service.name)
    )
    leads = await DepartmentLead.select(
        DepartmentLead.employee.as_alias("id"),
        DepartmentLead.employee.name.as_alias("name"),
        DepartmentLead.employee.email.as_alias("email"),
    ).where(DepartmentLead.department == department_id)
    members = await Employee.count().where((Employee.department == department_id) & Employee.active.eq(True))
    below = await descendants(department_id)
    others = [
        Choice(id=row["id"], name=row["name"])
        for row in await Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null() & (Department.id != department_id))
        .order_by(Department.name)
    ]
    return replace(
        department,
        services=[ServiceEntry(**row) for row in services],
        leads=[Lead(**row) for row in leads],
        members=members,
        parent_choices=[d for d in others if d.id not in below],
        merge_choices=others,
    )


# ------------------------------------------------------------------------------------------------ create / edit


@dataclass(frozen=True, slots=True)
class DepartmentValues:
    """A department form's fields as typed (an empty address is made from the name when saved)."""

    name: str = ""
    slug: str = ""
    description: str = ""
    parent: int | None = None

    def audited(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


class DepartmentForm(msgspec.Struct, frozen=True):
    name: str = ""
    slug: str = ""
    description: str = ""
    parent: str = ""

    def values(self) -> DepartmentValues:
        return DepartmentValues(
            name=" ".join(self.name.split()),
            slug=self.slug.strip().lower(),
            description=self.description.strip(),
            parent=parse_id(self.parent),
        )


async def _validate(values: DepartmentValues, department_id: int | None) -> tuple[dict[str, str], DepartmentValues]:
    """Field errors, and the values as stored (the address made from the name when left empty)."""
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = "Enter the department's name."
    elif len(values.name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters."
    else:
        clash = Department.exists().where(Department.name.ilike(like_literal(values.name)))
        if department_id is not None:
            clash = clash.where(Department.id != department_id)
        if await clash:
            errors["name"] = f"There already is a department called {values.name}."
    values = replace(values, slug=values.slug or slugify(values.name))
    if not _SLUG.match(values.slug) or len(values.slug) > SLUG_MAX:
        errors["slug"] = "Use lowercase letters, digits and single hyphens for the address (e.g. customer-support)."
    else:
        clash = Department.exists().where(Department.slug == values.slug)
        if department_id is not None:
            clash = clash.where(Department.id != department_id)
        if await clash:
            errors["slug"] = f"The address /departments/{values.slug} is taken."
    if len(values.description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters."
    parent = values.parent
    if parent is not None:
        if not await Department.exists().where((Department.id == parent) & Department.archived_at.is_null()):
            errors["parent"] = "Choose a parent department from the list."
        elif department_id is not None and (parent == department_id or parent in await descendants(department_id)):
            errors["parent"] = "A department can't sit under itself or under one of its own sub-departments."
    return errors, values


async def create_department(admin: CurrentUser, values: DepartmentValues) -> int:
    require_admin(admin)
    errors, values = await _validate(values, None)
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        row = Department(**values.audited(), created_at=now())
        await row.save()
        await audit(
            actor_id=admin.id,
            action="department.create",
            target_type="department",
            target_id=row.id,
            summary=f"Created department {values.name}",
            after=values.audited(),
        )
    return row.id


async def update_department(admin: CurrentUser, department_id: int, values: DepartmentValues) -> bool:
    require_admin(admin)
    department = await department_for_change(department_id)
    errors, values = await _validate(values, department_id)
    if errors:
        raise RuleViolation(errors)
    before, after = changes({n: getattr(department, n) for n in FIELDS}, values.audited())
    if not after:
        return False
    async with db.transaction():
        await Department.update({getattr(Department, n): value for n, value in values.audited().items()}).where(
            Department.id == department_id
        )
        await audit(
            actor_id=admin.id,
            action="department.update",
            target_type="department",
            target_id=department_id,
            summary=f"Edited department {values.name}: {', '.join(after)}",
            before=before,
            after=after,
        )
    return True


# ------------------------------------------------------------------------------------------------ leads


class LeadForm(msgspec.Struct, frozen=True):
    email: str = ""


class RemoveLeadForm(msgspec.Struct, frozen=True):
    employee: str = ""

    @property
    def employee_id(self) -> int | None:
        return parse_id(self.employee)


async def add_lead(admin: CurrentUser, department_id: int, email: str) -> str:
    require_admin(admin)
    department = await department_for_change(department_id)
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
            raise RuleViolation({"lead": f"{person['name']} already leads {department.name}."}, status_code=409)
        await audit(
            actor_id=admin.id,
            action="department.lead_add",
            target_type="department",
            target_id=department_id,
            summary=f"{person['name']} now leads {department.name}",
            after={"lead": email},
        )
    name: str = person["name"]
    return name


async def remove_lead(admin: CurrentUser, department_id: int, employee_id: int | None) -> str:
    require_admin(admin)
    department = await find_department(department_id)
    async with db.transaction():
        removed = await DepartmentLead.raw(_REMOVE_LEAD_SQL, department_id, employee_id or 0)
        if not removed:
            raise RuleViolation("That person does not lead this department.", status_code=404)
        await audit(
            actor_id=admin.id,
            action="department.lead_remove",
            target_type="department",
            target_id=department_id,
            summary=f"{removed[0]['name']} no longer leads {department.name}",
            before={"lead": removed[0]["email"]},
        )
    name: str = removed[0]["name"]
    return name


# ------------------------------------------------------------------------------------------------ archive


async def set_archived(admin: CurrentUser, department_id: int, archived: bool) -> str:
    require_admin(admin)
    department = await find_department(department_id)
    if (department.archived_at is not None) == archived:
        raise RuleViolation(f"{department.name} is already {'archived' if archived else 'active'}.", status_code=409)
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
                f"{department.name} still has {plural(members, 'active member')}, "
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
            summary=f"{'Archived' if archived else 'Restored'} department {department.name}",
            before={"archived": not archived},
            after={"archived": archived},
        )
    return department.name
