"""The sign-in domain's own reactions, run by the worker from the job outbox: mail an invitation or a password
reset link. The link is made here, in the handler's transaction, so its token exists only in the mail.

A mail that fails to send rolls the new link back and the handler is retried (app/jobs/handling.py). The one gap:
the mail went out but the transaction did not commit (PostgreSQL lost at that very moment); the retry then mails a
second, fresh link, and the first one never works: a person may get the same mail twice, never a dead one alone.
"""

from __future__ import annotations

from datetime import datetime

from app.admin.tables import Invitation
from app.events import PasswordResetRequested, PersonInvited, Registry
from app.mail.backends import get_backend
from app.mail.links import absolute_url
from app.mail.message import build_message
from app.mail.render import mail_environment, render_mail
from app.people.tables import Employee
from app.settings import get_settings
from app.signin.invitations import RESET_LIFETIME
from app.signin.password_links import issue_link
from app.timeutil import now

_INVITATION_SQL = """
    SELECT i.round, i.invited_by, i.expires_at, e.name, e.email, e.active, inviter.name AS inviter
    FROM invitation i JOIN employee e ON e.id = i.employee LEFT JOIN employee inviter ON inviter.id = i.invited_by
    WHERE i.id = {} AND i.accepted_at IS NULL AND i.revoked_at IS NULL
"""


async def _send(template: str, *, to: str, subject: str, context: dict[str, object]) -> None:
    settings = get_settings()
    mail = render_mail(
        mail_environment(), template, to=to, subject=subject, context={"org_name": settings.org_name, **context}
    )
    async with get_backend(settings) as backend:
        await backend.send(build_message(mail, sender=settings.mail_from))


async def mail_invitation(event: PersonInvited) -> None:
    """Mail this round of the invitation, unless it was revoked, accepted, sent again since (a later round mails
    its own link) or has expired, or the person was deactivated meanwhile."""
    moment = now()
    rows = await Invitation.raw(_INVITATION_SQL, event.invitation_id)
    if not rows:
        return
    row = rows[0]
    expires_at: datetime = row["expires_at"]
    if row["round"] != event.round or not row["active"] or expires_at <= moment:
        return
    settings = get_settings()
    link = None
    if settings.password_login:  # otherwise company sign-in is the way in: no password to set
        made = await issue_link(event.employee_id, expires_at=expires_at, created_by=row["invited_by"], at=moment)
        link = absolute_url("password-link", token=made.token)
    await _send(
        "invitation",
        to=row["email"],
        subject=f"{row['inviter'] or 'An administrator'} invited you to Kudos",
        context={
            "name": row["name"],
            "inviter": row["inviter"],
            "link": link,
            "company_name": settings.oidc.name if settings.oidc else None,
            "login_link": absolute_url("login"),
            "expires_at": expires_at,
            "email": row["email"],
        },
    )
    await Invitation.update({Invitation.sent_at: moment}).where(
        (Invitation.id == event.invitation_id) & (Invitation.round == event.round)
    )


async def mail_password_reset(event: PasswordResetRequested) -> None:
    """Mail a reset link to the person, if they are still active."""
    moment = now()
    person = (
        await Employee.select(Employee.name, Employee.email, Employee.active)
        .where(Employee.id == event.employee_id)
        .first()
    )
    if person is None or not person["active"]:
        return
    link = await issue_link(event.employee_id, expires_at=moment + RESET_LIFETIME, created_by=None, at=moment)
    await _send(
        "password_reset",
        to=person["email"],
        subject="Set a new password for Kudos",
        context={
            "name": person["name"],
            "link": absolute_url("password-link", token=link.token),
            "expires_at": link.expires_at,
            "email": person["email"],
        },
    )


def register(registry: Registry) -> None:
    registry.register(PersonInvited, mail_invitation, alone=True)
    registry.register(PasswordResetRequested, mail_password_reset, alone=True)
