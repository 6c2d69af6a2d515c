"""How the admin controllers answer a refusal (success answers: `app.web.templating.done`)."""

from __future__ import annotations

from litestar.exceptions import NotFoundException

from app.rules import RuleViolation


def raise_not_found(exc: RuleViolation) -> None:
    """A refusal because the thing does not exist is the 404 page, not the form with a message."""
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc
