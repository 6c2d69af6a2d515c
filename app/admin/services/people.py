"""Admin: people — the list with filters and keyset paging, create, edit, deactivate and reactivate. No HTTP here;
every change is audited in its own transaction. One-time password links are app/signin/password_links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

import app.db as db
from app.admin.services.rules import OWN_ADMIN_ROLE, Choice, changes, require_admin
from app.admin.tables import Invitation
from app.audit.services import record as audit
from app.likeness import like_contains
from app.paging import parse_id, valid_id
from app.people.services import CurrentUser, normalise_email
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from app.signin.invitations import invitation_status
from app.signin.password_links import forget_unused_links
from app.timeutil import now

PAGE_SIZE = 50
NAME_MAX = 160
EMAIL_MAX = 254
ACTIVE_FILTERS = ("active", "inactive", "all", "invited")  # invited: active, invitation not accepted
# Deliberately loose: one @, something before it, a dot in the domain, no spaces. Real checks happen at sign-in.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
FIELDS = ("name", "email", "title", "department", "manager", "role")
NOT_FOUND = "No one with that id works here."

# Whether making the first id the manager of the second closes a loop (the person is above that manager).
_MANAGER_CYCLE_SQL = """
WITH RECURSIVE chain AS (
    SELECT id, manager FROM employee WHERE id = {}
    UNION SELECT e.id, e.manager FROM employee e JOIN chain c ON e.id = c.manager
)
SELECT 1 FROM chain WHERE id = {} LIMIT 1
"""


def email_problem(email: str) -> str | None:
    if not email:
        return "Enter an email address."
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return f"“{email[:60]}” is not a valid email address."
    return None


async def department_choices() -> list[Choice]:
    """Active departments for the form's select (the manager is typed as an email, which scales to any size)."""
    rows = await (
        Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )
    return [Choice(id=row["id"], name=row["name"]) for row in rows]


# ------------------------------------------------------------------------------------------------ listing


@dataclass(frozen=True, slots=True)
class PeopleFilters:
    q: str = ""
    department: str = ""  # a department id, "none" (no department) or "" (any)
    role: str = ""
    active: str = "active"
    after: int | None = None  # keyset: the id of the last person shown; pages go by (name, id)

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string values (without the cursor unless given), for links."""
        values = {"q": self.q, "department": self.department, "role": self.role, "active": self.active}
        values |= {k: str(v) for k, v in changes.items() if v is not None}
        return {k: v for k, v in values.items() if v}


def clean_filters(q: str, department: str, role: str, active: str, after: str) -> PeopleFilters:
    return PeopleFilters(
        q=" ".join(q.split())[:100],
        department=department if department == "none" or parse_id(department) else "",
        role=role if role in set(Role) else "",
        active=active if active in ACTIVE_FILTERS else "active",
        after=parse_id(after) or None,
    )


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    name: str
    email: str
    title: str
    role: str
    active: bool
    department_name: str | None
    manager_name: str | None
    invitation: str | None  # app.signin.invitations.invitation_status, None when never invited


@dataclass(frozen=True, slots=True)
class PeoplePage:
    filters: PeopleFilters
    people: list[PersonRow] = field(default_factory=list)
    next_after: int | None = None


async def list_people(filters: PeopleFilters, *, per_page: int = PAGE_SIZE) -> PeoplePage:
    invitation = Employee.id.join_on(Invitation.employee)
    query = Employee.select(
        Employee.id,
        Employee.name,
        Employee.email,
        Employee.title,
        Employee.role,
        Employee.active,
        Employee.department.name.as_alias("department_name"),
        Employee.manager.name.as_alias("manager_name"),
        invitation.sent_at.as_alias("sent_at"),
        invitation.expires_at.as_alias("expires_at"),
        invitation.accepted_at.as_alias("accepted_at"),
        invitation.revoked_at.as_alias("revoked_at"),
    )
    if filters.q:
        pattern = like_contains(filters.q)
        query = query.where(
            Employee.name.ilike(pattern) | Employee.email.ilike(pattern) | Employee.title.ilike(pattern)
        )
    if filters.department == "none":
        query = query.where(Employee.department.is_null())
    elif filters.department:
        query = query.where(Employee.department == int(filters.department))
    if filters.role:
        query = query.where(Employee.role == filters.role)
    if filters.active == "invited":
        query = query.where(
            Employee.active.eq(True)
            & invitation.id.is_not_null()
            & invitation.accepted_at.is_null()
            & invitation.revoked_at.is_null()
        )
    elif filters.active != "all":
        query = query.where(Employee.active.eq(filters.active == "active"))
    if filters.after is not None:
        last = await Employee.select(Employee.name).where(Employee.id == filters.after).first()
        if last is not None:
            query = query.where(
                (Employee.name > last["name"]) | ((Employee.name == last["name"]) & (Employee.id > filters.after))
            )
    rows = await query.order_by(Employee.name).order_by(Employee.id).limit(per_page + 1)
    people = [_person_row(row) for row in rows[:per_page]]
    return PeoplePage(filters=filters, people=people, next_after=people[-1].id if len(rows) > per_page else None)


def _person_row(row: dict[str, Any]) -> PersonRow:
    invited = {key: row.pop(key) for key in ("sent_at", "expires_at", "accepted_at", "revoked_at")}
    status = invitation_status(**invited) if invited["expires_at"] is not None else None
    return PersonRow(**row, invitation=status)


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the edit form shows them (`manager` is the manager's email, "" for none)."""

    id: int
    name: str
    email: str
    title: str
    department: int | None
    department_name: str | None
    manager: str
    manager_name: str | None
    role: str
    active: bool
    has_password: bool
    created_at: datetime


async def get_person(person_id: int) -> Person | None:
    if not valid_id(person_id):
        return None
    row = (
        await Employee.select(
            Employee.id,
            Employee.name,
            Employee.email,
            Employee.title,
            Employee.department,
            Employee.department.name.as_alias("department_name"),
            Employee.manager.name.as_alias("manager_name"),
            Employee.manager.email.as_alias("manager"),
            Employee.role,
            Employee.active,
            Employee.password_hash,
            Employee.created_at,
        )
        .where(Employee.id == person_id)
        .first()
    )
    if row is None:
        return None
    has_password = row.pop("password_hash") is not None
    return Person(**(row | {"manager": row["manager"] or ""}), has_password=has_password)


async def _person(person_id: int) -> Person:
    person = await get_person(person_id)
    if person is None:
        raise RuleViolation(NOT_FOUND, status_code=404)
    return person


# ------------------------------------------------------------------------------------------------ editing


@dataclass(frozen=True, slots=True)
class PersonValues:
    """A person form's fields as typed: the department id parsed (anything that is not an id becomes 0 and is
    refused), the manager by email."""

    name: str = ""
    email: str = ""
    title: str = ""
    department: int | None = None
    manager: str = ""
    role: str = Role.EMPLOYEE.value

    def audited(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


class PersonForm(msgspec.Struct, frozen=True):
    name: str = ""
    email: str = ""
    title: str = ""
    department: str = ""
    manager: str = ""
    role: str = ""

    def values(self) -> PersonValues:
        return PersonValues(
            name=" ".join(self.name.split()),
            email=normalise_email(self.email),
            title=" ".join(self.title.split()),
            department=parse_id(self.department),
            manager=normalise_email(self.manager),
            role=self.role or Role.EMPLOYEE.value,
        )


async def manager_cycle(person_id: int, manager_id: int) -> bool:
    """Whether making `manager_id` the manager of `person_id` closes a loop (the person is above that manager)."""
    return bool(await Employee.raw(_MANAGER_CYCLE_SQL, manager_id, person_id))


async def _validate(values: PersonValues, person_id: int | None) -> tuple[dict[str, str], int | None]:
    """Field errors, and the manager's id."""
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = "Enter the person's full name."
    elif len(values.name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters."
    if problem := email_problem(values.email):
        errors["email"] = problem
    else:
        clash = Employee.exists().where(Employee.email == values.email)
        if person_id is not None:
            clash = clash.where(Employee.id != person_id)
        if await clash:
            errors["email"] = f"{values.email} already belongs to someone else."
    if len(values.title) > NAME_MAX:
        errors["title"] = f"Keep the job title to {NAME_MAX} characters."
    if values.role not in set(Role):
        errors["role"] = "Choose employee, manager or admin."
    if values.department is not None and not await Department.exists().where(
        (Department.id == values.department) & Department.archived_at.is_null()
    ):
        errors["department"] = "Choose a department from the list."
    manager_id = None
    if values.manager:
        row = (
            await Employee.select(Employee.id)
            .where((Employee.email == values.manager) & Employee.active.eq(True))
            .first()
        )
        manager_id = row["id"] if row else None
        if manager_id is None:
            errors["manager"] = f"No active person has the email {values.manager[:60]}."
        elif person_id is not None and manager_id == person_id:
            errors["manager"] = "A person can't be their own manager."
        elif person_id is not None and await manager_cycle(person_id, manager_id):
            errors["manager"] = "That manager reports (directly or not) to this person: it would make a loop."
    return errors, manager_id


def _stored(values: PersonValues, manager_id: int | None) -> dict[str, Any]:
    return {
        "name": values.name,
        "email": values.email,
        "title": values.title,
        "department": values.department,
        "manager": manager_id,
        "role": values.role,
    }


async def create_person(admin: CurrentUser, values: PersonValues) -> int:
    require_admin(admin)
    errors, manager_id = await _validate(values, None)
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        row = Employee(**_stored(values, manager_id), created_at=now())
        await row.save()
        await audit(
            actor_id=admin.id,
            action="person.create",
            target_type="employee",
            target_id=row.id,
            summary=f"Added {values.name} <{values.email}>",
            after=values.audited(),
        )
    return row.id


async def update_person(admin: CurrentUser, person_id: int, values: PersonValues) -> bool:
    """Save the form; False when nothing changed."""
    require_admin(admin)
    person = await _person(person_id)
    errors, manager_id = await _validate(values, person_id)
    if errors:
        raise RuleViolation(errors)
    if person_id == admin.id and values.role != Role.ADMIN:
        raise RuleViolation({"role": OWN_ADMIN_ROLE}, status_code=409)
    before, after = changes({name: getattr(person, name) for name in FIELDS}, values.audited())
    if not after:
        return False
    async with db.transaction():
        stored = _stored(values, manager_id)
        await Employee.update({getattr(Employee, name): value for name, value in stored.items()}).where(
            Employee.id == person_id
        )
        await audit(
            actor_id=admin.id,
            action="person.update",
            target_type="employee",
            target_id=person_id,
            summary=f"Edited {values.name}: {', '.join(after)}",
            before=before,
            after=after,
        )
    return True


async def set_active(admin: CurrentUser, person_id: int, active: bool) -> str:
    """Deactivate or reactivate; returns the person's name. The caller ends a deactivated person's sessions."""
    require_admin(admin)
    person = await _person(person_id)
    if person_id == admin.id and not active:
        raise RuleViolation("You can't deactivate yourself; ask another admin.", status_code=409)
    if person.active == active:
        raise RuleViolation(f"{person.name} is already {'active' if active else 'deactivated'}.", status_code=409)
    async with db.transaction():
        await Employee.update({Employee.active: active}).where(Employee.id == person_id)
        if not active:  # an unused link must not bring them back
            await forget_unused_links(person_id)
        await audit(
            actor_id=admin.id,
            action="person.reactivate" if active else "person.deactivate",
            target_type="employee",
            target_id=person_id,
            summary=f"{'Reactivated' if active else 'Deactivated'} {person.name}",
            before={"active": not active},
            after={"active": active},
        )
    return person.name
