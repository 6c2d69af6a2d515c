"""One-time password links: an admin makes one for a person (only its hash is stored, so it is shown once), and
whoever holds it sets that person's password, once, within a week. The caller ends the person's other sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from piccolo.columns import Boolean

import app.db as db
from app.admin.services.rules import require_admin
from app.admin.tables import Invitation, PasswordReset
from app.audit.services import record as audit
from app.paging import valid_id
from app.people.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.rules import RuleViolation
from app.timeutil import now

LINK_LIFETIME = timedelta(days=7)
TOKEN_MAX = 100
PASSWORD_MAX = 1024
INVALID_LINK = (
    "This link has already been used, has expired or is not complete. "
    "Ask for a new one with “Forgot password?” on the sign-in page, or ask an admin."
)

# One link's use: only one of two uses at once wins.
_USE_LINK_SQL = """
UPDATE password_reset SET used_at = {} WHERE token_hash = {} AND used_at IS NULL AND expires_at > {}
RETURNING employee
"""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PasswordLink:
    """A new link's secret token (the web layer makes the address) and when it stops working."""

    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """The person a valid link is for."""

    id: int
    name: str
    email: str


async def create_password_link(admin: CurrentUser, person_id: int, *, at: datetime | None = None) -> PasswordLink:
    """A one-time link to set the person's password, replacing any unused one."""
    require_admin(admin)
    moment = at or now()
    person = None
    if valid_id(person_id):
        person = await Employee.select(Employee.name, Employee.active).where(Employee.id == person_id).first()
    if person is None:
        raise RuleViolation("No one with that id works here.", status_code=404)
    if not person["active"]:
        raise RuleViolation(f"{person['name']} is deactivated; reactivate them first.", status_code=409)
    async with db.transaction():
        link = await issue_link(person_id, expires_at=moment + LINK_LIFETIME, created_by=admin.id, at=moment)
        await audit(
            actor_id=admin.id,
            action="person.password_link",
            target_type="employee",
            target_id=person_id,
            summary=f"Made a one-time password link for {person['name']}",
            after={"expires_at": link.expires_at.isoformat()},
            at=moment,
        )
    return link


async def issue_link(person_id: int, *, expires_at: datetime, created_by: int | None, at: datetime) -> PasswordLink:
    """A new one-time link for the person, replacing their unused ones (inside the caller's transaction): for an
    admin to hand over, or for the worker to mail (an invitation, a reset asked for on the sign-in page)."""
    token = secrets.token_urlsafe(32)
    await forget_unused_links(person_id)
    await PasswordReset.insert(
        PasswordReset(
            employee=person_id, token_hash=_token_hash(token), created_by=created_by, created_at=at,
            expires_at=expires_at,
        )
    )  # fmt: skip
    return PasswordLink(token=token, expires_at=expires_at)


async def forget_unused_links(person_id: int) -> None:
    """Delete a person's unused links (a new one replaces them; a deactivated person must not come back by one)."""
    await PasswordReset.delete().where((PasswordReset.employee == person_id) & PasswordReset.used_at.is_null())


async def link_holder(token: str, *, at: datetime | None = None) -> LinkHolder | None:
    """The active person a still-valid, unused link is for, or None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    row = (
        await PasswordReset.select(
            PasswordReset.employee.as_alias("id"),
            PasswordReset.employee.name.as_alias("name"),
            PasswordReset.employee.email.as_alias("email"),
        )
        .where(
            (PasswordReset.token_hash == _token_hash(token))
            & PasswordReset.used_at.is_null()
            & (PasswordReset.expires_at > (at or now()))
            & cast(Boolean, PasswordReset.employee.active).eq(True)
        )
        .first()
    )
    return LinkHolder(id=row["id"], name=row["name"], email=row["email"]) if row else None


async def use_password_link(token: str, password: str, confirm: str, *, at: datetime | None = None) -> int:
    """Set the password through a link, once; returns the person's id (the caller ends their other sessions)."""
    moment = at or now()
    if await link_holder(token, at=moment) is None:
        raise RuleViolation(INVALID_LINK, status_code=400)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleViolation({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    if len(password) > PASSWORD_MAX:
        raise RuleViolation({"password": f"Use at most {PASSWORD_MAX} characters."})
    if password != confirm:
        raise RuleViolation({"confirm": "The two passwords are not the same."})
    password_hash = hash_password(password)
    async with db.transaction():
        used = await PasswordReset.raw(_USE_LINK_SQL, moment, _token_hash(token), moment)
        if not used:  # the same link used twice at once: only one wins
            raise RuleViolation(INVALID_LINK, status_code=400)
        employee_id: int = used[0]["employee"]
        await Employee.update({Employee.password_hash: password_hash}).where(Employee.id == employee_id)
        await accept_invitation(employee_id, at=moment)
    return employee_id


async def accept_invitation(employee_id: int, *, at: datetime) -> None:
    """The person got in (set a password through a link, or signed in): their open invitation is accepted."""
    await Invitation.update({Invitation.accepted_at: at}).where(
        (Invitation.employee == employee_id) & Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null()
    )
