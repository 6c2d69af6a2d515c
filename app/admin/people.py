"""Admin: people — the list with filters and keyset paging, create, edit, deactivate and reactivate, and one-time
password links. No HTTP here; every change is audited in its own transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app import db
from app.admin.tables import PasswordReset
from app.audit.services import record as audit
from app.likeness import like_contains
from app.paging import parse_id, valid_id
from app.people.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.people.services import CurrentUser, normalise_email
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from app.timeutil import now

PAGE_SIZE = 50
NAME_MAX = 160
EMAIL_MAX = 254
LINK_LIFETIME = timedelta(days=7)
ACTIVE_FILTERS = ("active", "inactive", "all")
# Deliberately loose: one @, something before it, a dot in the domain, no spaces. Real checks happen at sign-in.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
FIELDS = ("name", "email", "title", "department", "manager", "role")


def require_admin(user: CurrentUser) -> None:
    if not user.is_admin:
        raise RuleViolation("Only admins can do this.", status_code=403)


def email_problem(email: str) -> str | None:
    if not email:
        return "Enter an email address."
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return f"“{email[:60]}” is not a valid email address."
    return None


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
class PeoplePage:
    filters: PeopleFilters
    people: list[dict] = field(default_factory=list)
    next_after: int | None = None


async def list_people(filters: PeopleFilters, *, per_page: int = PAGE_SIZE) -> PeoplePage:
    query = Employee.select(
        Employee.id,
        Employee.name,
        Employee.email,
        Employee.title,
        Employee.role,
        Employee.active,
        Employee.department.name.as_alias("department_name"),
        Employee.manager.name.as_alias("manager_name"),
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
    if filters.active != "all":
        query = query.where(Employee.active.eq(filters.active == "active"))
    if filters.after is not None:
        last = await Employee.select(Employee.name).where(Employee.id == filters.after).first()
        if last is not None:
            query = query.where(
                (Employee.name > last["name"]) | ((Employee.name == last["name"]) & (Employee.id > filters.after))
            )
    rows = await query.order_by(Employee.name).order_by(Employee.id).limit(per_page + 1)
    more = len(rows) > per_page
    rows = rows[:per_page]
    return PeoplePage(filters=filters, people=rows, next_after=rows[-1]["id"] if more else None)


async def department_choices() -> list[dict]:
    """Active departments for the form's select (the manager is typed as an email, which scales to any size)."""
    return await (
        Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )


async def get_person(person_id: int) -> dict | None:
    """A person as the edit form shows them (`manager` is the manager's email)."""
    if not valid_id(person_id):
        return None
    person = (
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
    if person is not None:
        person["has_password"] = person.pop("password_hash") is not None
        person["manager"] = person["manager"] or ""
    return person


# ------------------------------------------------------------------------------------------------ editing


def form_values(form: Any) -> dict[str, Any]:
    """A person form's fields as typed (the department id parsed: anything that is not an id becomes 0 and is
    refused; the manager by email)."""
    return {
        "name": " ".join(str(form.get("name") or "").split()),
        "email": normalise_email(str(form.get("email") or "")),
        "title": " ".join(str(form.get("title") or "").split()),
        "department": parse_id(form.get("department")),
        "manager": normalise_email(str(form.get("manager") or "")),
        "role": str(form.get("role") or Role.EMPLOYEE),
    }


async def manager_cycle(person_id: int, manager_id: int) -> bool:
    """Whether making `manager_id` the manager of `person_id` closes a loop (the person is above that manager)."""
    rows = await Employee.raw(
        "WITH RECURSIVE chain AS (SELECT id, manager FROM employee WHERE id = {} "
        "UNION SELECT e.id, e.manager FROM employee e JOIN chain c ON e.id = c.manager) "
        "SELECT 1 FROM chain WHERE id = {} LIMIT 1",
        manager_id,
        person_id,
    )
    return bool(rows)


async def _validate(values: dict[str, Any], person_id: int | None) -> tuple[dict[str, str], int | None]:
    """Field errors, and the manager's id."""
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Enter the person's full name."
    elif len(values["name"]) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters."
    if problem := email_problem(values["email"]):
        errors["email"] = problem
    else:
        clash = Employee.exists().where(Employee.email == values["email"])
        if person_id is not None:
            clash = clash.where(Employee.id != person_id)
        if await clash:
            errors["email"] = f"{values['email']} already belongs to someone else."
    if len(values["title"]) > NAME_MAX:
        errors["title"] = f"Keep the job title to {NAME_MAX} characters."
    if values["role"] not in set(Role):
        errors["role"] = "Choose employee, manager or admin."
    if values["department"] is not None and not await Department.exists().where(
        (Department.id == values["department"]) & Department.archived_at.is_null()
    ):
        errors["department"] = "Choose a department from the list."
    manager_id = None
    if values["manager"]:
        row = (
            await Employee.select(Employee.id)
            .where((Employee.email == values["manager"]) & Employee.active.eq(True))
            .first()
        )
        manager_id = row["id"] if row else None
        if row is None:
            errors["manager"] = f"No active person has the email {values['manager'][:60]}."
        elif person_id is not None and manager_id == person_id:
            errors["manager"] = "A person can't be their own manager."
        elif person_id is not None and await manager_cycle(person_id, manager_id):
            errors["manager"] = "That manager reports (directly or not) to this person: it would make a loop."
    return errors, manager_id


def _stored(values: dict[str, Any], manager_id: int | None) -> dict:
    return {
        Employee.name: values["name"],
        Employee.email: values["email"],
        Employee.title: values["title"],
        Employee.department: values["department"],
        Employee.manager: manager_id,
        Employee.role: values["role"],
    }


async def create_person(admin: CurrentUser, values: dict[str, Any]) -> int:
    require_admin(admin)
    errors, manager_id = await _validate(values, None)
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        stored = _stored(values, manager_id)
        row = Employee(**{column._meta.name: value for column, value in stored.items()}, created_at=now())
        await row.save()
        await audit(
            actor_id=admin.id,
            action="person.create",
            target_type="employee",
            target_id=row.id,
            summary=f"Added {values['name']} <{values['email']}>",
            after={name: values[name] for name in FIELDS},
        )
    return row.id


# An admin never demotes or deactivates themselves (the form, the deactivate button and the CSV import alike):
# another admin does it, so there is always someone left who can.
OWN_ADMIN_ROLE = "You can't take away your own admin role; ask another admin."


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after), for the audit log."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


async def update_person(admin: CurrentUser, person_id: int, values: dict[str, Any]) -> bool:
    """Save the form; False when nothing changed."""
    require_admin(admin)
    person = await get_person(person_id)
    if person is None:
        raise RuleViolation("No one with that id works here.", status_code=404)
    errors, manager_id = await _validate(values, person_id)
    if errors:
        raise RuleViolation(errors)
    if person_id == admin.id and values["role"] != Role.ADMIN:
        raise RuleViolation({"role": OWN_ADMIN_ROLE}, status_code=409)
    before, after = changes({name: person[name] for name in FIELDS}, {name: values[name] for name in FIELDS})
    if not after:
        return False
    async with db.transaction():
        await Employee.update(_stored(values, manager_id)).where(Employee.id == person_id)
        await audit(
            actor_id=admin.id,
            action="person.update",
            target_type="employee",
            target_id=person_id,
            summary=f"Edited {values['name']}: {', '.join(after)}",
            before=before,
            after=after,
        )
    return True


async def set_active(admin: CurrentUser, person_id: int, active: bool) -> str:
    """Deactivate or reactivate; returns the person's name. The caller ends a deactivated person's sessions."""
    require_admin(admin)
    person = await get_person(person_id)
    if person is None:
        raise RuleViolation("No one with that id works here.", status_code=404)
    if person_id == admin.id and not active:
        raise RuleViolation("You can't deactivate yourself; ask another admin.", status_code=409)
    if person["active"] == active:
        raise RuleViolation(f"{person['name']} is already {'active' if active else 'deactivated'}.", status_code=409)
    async with db.transaction():
        await Employee.update({Employee.active: active}).where(Employee.id == person_id)
        if not active:  # an unused link must not bring them back
            await PasswordReset.delete().where((PasswordReset.employee == person_id) & PasswordReset.used_at.is_null())
        await audit(
            actor_id=admin.id,
            action="person.reactivate" if active else "person.deactivate",
            target_type="employee",
            target_id=person_id,
            summary=f"{'Reactivated' if active else 'Deactivated'} {person['name']}",
            before={"active": not active},
            after={"active": active},
        )
    return person["name"]


# ------------------------------------------------------------------------------------------------ password links


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PasswordLink:
    path: str  # the controller makes it absolute with the address the admin is using
    expires_at: datetime


async def create_password_link(admin: CurrentUser, person_id: int, *, at: datetime | None = None) -> PasswordLink:
    """A one-time link to set the person's password, replacing any unused one. Only its hash is stored, so the
    admin sees the link once, to copy and hand over."""
    require_admin(admin)
    moment = at or now()
    person = await get_person(person_id)
    if person is None:
        raise RuleViolation("No one with that id works here.", status_code=404)
    if not person["active"]:
        raise RuleViolation(f"{person['name']} is deactivated; reactivate them first.", status_code=409)
    token = secrets.token_urlsafe(32)
    expires = moment + LINK_LIFETIME
    async with db.transaction():
        await PasswordReset.delete().where((PasswordReset.employee == person_id) & PasswordReset.used_at.is_null())
        await PasswordReset.insert(
            PasswordReset(
                employee=person_id, token_hash=_token_hash(token), created_by=admin.id, created_at=moment,
                expires_at=expires,
            )
        )  # fmt: skip
        await audit(
            actor_id=admin.id,
            action="person.password_link",
            target_type="employee",
            target_id=person_id,
            summary=f"Made a one-time password link for {person['name']}",
            after={"expires_at": expires.isoformat()},
            at=moment,
        )
    return PasswordLink(path=f"/password/{token}", expires_at=expires)


async def link_holder(token: str, *, at: datetime | None = None) -> dict | None:
    """The active person a still-valid, unused link is for, or None."""
    if not token or len(token) > 100:
        return None
    return (
        await PasswordReset.select(
            PasswordReset.employee.as_alias("id"),
            PasswordReset.employee.name.as_alias("name"),
            PasswordReset.employee.email.as_alias("email"),
        )
        .where(
            (PasswordReset.token_hash == _token_hash(token))
            & PasswordReset.used_at.is_null()
            & (PasswordReset.expires_at > (at or now()))
            & PasswordReset.employee.active.eq(True)
        )
        .first()
    )


INVALID_LINK = "This link has already been used, has expired or is not complete. Ask an admin for a new one."


async def use_password_link(token: str, password: str, confirm: str, *, at: datetime | None = None) -> int:
    """Set the password through a link, once; returns the person's id (the caller ends their other sessions)."""
    moment = at or now()
    if await link_holder(token, at=moment) is None:
        raise RuleViolation(INVALID_LINK, status_code=400)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleViolation({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    if len(password) > 1024:
        raise RuleViolation({"password": "Use at most 1024 characters."})
    if password != confirm:
        raise RuleViolation({"confirm": "The two passwords are not the same."})
    password_hash = hash_password(password)
    async with db.transaction():
        used = await PasswordReset.raw(
            "UPDATE password_reset SET used_at = {} WHERE token_hash = {} AND used_at IS NULL AND expires_at > {} "
            "RETURNING employee",
            moment,
            _token_hash(token),
            moment,
        )
        if not used:  # the same link used twice at once: only one wins
            raise RuleViolation(INVALID_LINK, status_code=400)
        employee_id = used[0]["employee"]
        await Employee.update({Employee.password_hash: password_hash}).where(Employee.id == employee_id)
    return employee_id
