"""What the admin controllers (and the password-link page) answer with."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.rules import RuleViolation


def done(request: Request[Any, Any, Any], message: str, location: str) -> Redirect:
    """An action that worked: 303 to `location`, which shows `message`."""
    flash(request, message, category="success")
    return Redirect(location, status_code=303)


def raise_not_found(exc: RuleViolation) -> None:
    """A refusal because the thing does not exist is the 404 page, not the form with a message."""
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc
