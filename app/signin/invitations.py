"""Invitations by email (admins) and password resets asked for on the sign-in page (anyone).

Neither sends mail here: the service records what was asked and publishes an event (`PersonInvited`,
`PasswordResetRequested`), and the worker makes the one-time link and mails it (app/signin/handlers.py). So a link's
token exists only in the mail (its hash in `password_reset`), a mail is never lost when the web process or Redis
dies (the event is in the job outbox), and the page answers at once whatever the mail server does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import app.db as db
from app.admin.services.rules import require_admin
from app.admin.tables import Invitation
from app.audit.services import record as audit
from app.events import PasswordResetRequested, PersonInvited, publish
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.rules import RuleViolation
from app.signin.password_links import LINK_LIFETIME, forget_unused_links
from app.timeutil import now

INVITATION_LIFETIME = LINK_LIFETIME  # an invitation's link works for a week, as an admin's password link
RESET_LIFETIME = timedelta(hours=1)  # a reset asked for on the sign-in page: short, it was asked for just now
MAX_AT_ONCE = 5000  # people invited by one click (a whole CSV import)

# One row per person: inviting again starts a new round (a new link, mailed again) of the same invitation.
_INVITE_SQL = """
    INSERT INTO invitation (employee, round, invited_by, invited_at, expires_at)
    SELECT id, 1, {}, {}, {} FROM unnest({}::int[]) AS id
    ON CONFLICT (employee) DO UPDATE SET
        round = invitation.round + 1, invited_by = EXCLUDED.invited_by, invited_at = EXCLUDED.invited_at,
        expires_at = EXCLUDED.expires_at, sent_at = NULL, revoked_at = NULL
    RETURNING id, employee, round
"""


@dataclass(frozen=True, slots=True)
class Invited:
    """What inviting a list of people did: who was invited, and who was left out and why."""

    invited: list[str]  # names
    skipped: list[str]  # "Name: why"


@dataclass(frozen=True, slots=True)
class InvitationState:
    """A person's invitation as the admin pages show it."""

    status: str  # "sending", "sent", "expired", "accepted" or "revoked"
    invited_at: datetime
    expires_at: datetime
    sent_at: datetime | None


def invitation_status(
    *, sent_at: datetime | None, expires_at: datetime, accepted_at: datetime | None, revoked_at: datetime | None,
    at: datetime | None = None,
) -> str:  # fmt: skip
    """One word for an invitation's state (the people list and the person's page say the same)."""
    if accepted_at is not None:
        return "accepted"
    if revoked_at is not None:
        return "revoked"
    if expires_at <= (at or now()):
        return "expired"
    return "sent" if sent_at is not None else "sending"


async def invite(admin: CurrentUser, person_ids: Sequence[int], *, at: datetime | None = None) -> Invited:
    """Invite these people by email (again, for those invited before: a new link replaces the old one). People
    who are deactivated or have accepted an invitation already are left out, with the reason."""
    require_admin(admin)
    moment = at or now()
    wanted = list(dict.fromkeys(i for i in person_ids if 0 < i < 2**31))
    if not wanted:
        raise RuleViolation("Choose at least one person to invite.")
    if len(wanted) > MAX_AT_ONCE:
        raise RuleViolation(f"Invite at most {MAX_AT_ONCE} people at once.")
    rows = await Employee.select(
        Employee.id,
        Employee.name,
        Employee.active,
        Employee.id.join_on(Invitation.employee).accepted_at.as_alias("accepted"),
    ).where(Employee.id.is_in(wanted))
    if not rows:
        raise RuleViolation("No one with that id works here.", status_code=404)
    names = {row["id"]: row["name"] for row in rows}
    skipped = [f"{row['name']}: deactivated" for row in rows if not row["active"]]
    skipped += [f"{row['name']}: has accepted already" for row in rows if row["active"] and row["accepted"]]
    chosen = [row["id"] for row in rows if row["active"] and not row["accepted"]]
    if not chosen:
        raise RuleViolation("No one to invite: " + "; ".join(skipped) + ".", status_code=409)
    async with db.transaction():
        written = await Invitation.raw(_INVITE_SQL, admin.id, moment, moment + INVITATION_LIFETIME, chosen)
        for row in written:
            await publish(
                PersonInvited(invitation_id=row["id"], employee_id=row["employee"], round=row["round"], at=moment)
            )
        invited = sorted(names[i] for i in chosen)
        await audit(
            actor_id=admin.id,
            action="person.invited",
            target_type="employee",
            target_id=chosen[0] if len(chosen) == 1 else None,
            summary=f"Invited {invited[0]} by email" if len(chosen) == 1 else f"Invited {len(chosen)} people by email",
            after={"people": chosen},
            at=moment,
        )
    return Invited(invited=invited, skipped=sorted(skipped))


async def revoke(admin: CurrentUser, person_id: int, *, at: datetime | None = None) -> str:
    """Withdraw a person's open invitation: its link stops working. Returns their name."""
    require_admin(admin)
    moment = at or now()
    if not 0 < person_id < 2**31:
        raise RuleViolation("No one with that id works here.", status_code=404)
    person = await Employee.select(Employee.name).where(Employee.id == person_id).first()
    if person is None:
        raise RuleViolation("No one with that id works here.", status_code=404)
    name: str = person["name"]
    async with db.transaction():
        revoked = await (
            Invitation.update({Invitation.revoked_at: moment})
            .where(
                (Invitation.employee == person_id) & Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null()
            )
            .returning(Invitation.id)
        )
        if not revoked:
            raise RuleViolation(f"{name} has no open invitation to revoke.", status_code=409)
        await forget_unused_links(person_id)
        await audit(
            actor_id=admin.id,
            action="person.invitation_revoked",
            target_type="employee",
            target_id=person_id,
            summary=f"Revoked the invitation of {name}",
            at=moment,
        )
    return name


async def state_of(person_id: int, *, at: datetime | None = None) -> InvitationState | None:
    """The person's invitation, if they were ever invited."""
    row = (
        await Invitation.select(
            Invitation.invited_at, Invitation.expires_at, Invitation.sent_at, Invitation.accepted_at,
            Invitation.revoked_at,
        )
        .where(Invitation.employee == person_id)
        .first()
    )  # fmt: skip
    if row is None:
        return None
    status = invitation_status(
        sent_at=row["sent_at"], expires_at=row["expires_at"], accepted_at=row["accepted_at"],
        revoked_at=row["revoked_at"], at=at,
    )  # fmt: skip
    return InvitationState(
        status=status, invited_at=row["invited_at"], expires_at=row["expires_at"], sent_at=row["sent_at"]
    )


async def request_reset(email: str, *, at: datetime | None = None) -> None:
    """Someone asked for a reset link for `email` (already normalised and throttled by the caller): when an active
    person has it, the worker mails them a link. Nothing tells the caller whether anyone has it."""
    person = await Employee.select(Employee.id).where((Employee.email == email) & Employee.active.eq(True)).first()
    if person is None:
        return
    async with db.transaction():
        await publish(PasswordResetRequested(employee_id=person["id"], at=at or now()))
