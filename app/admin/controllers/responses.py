"""How the admin controllers answer a refusal (success answers: `app.web.templating.done`), and what they say
after inviting people."""

from __future__ import annotations

from litestar.exceptions import NotFoundException

from app.rules import RuleViolation
from app.signin.invitations import Invited


def raise_not_found(exc: RuleViolation) -> None:
    """A refusal because the thing does not exist is the 404 page, not the form with a message."""
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc


def invited_message(outcome: Invited) -> str:
    """What inviting did, for the flash message."""
    names = outcome.invited
    who = names[0] if len(names) == 1 else f"{len(names)} people"
    message = f"Invitation on its way to {who}; the link in it works for 7 days."
    if outcome.skipped:
        message += " Left out: " + "; ".join(outcome.skipped) + "."
    return message
