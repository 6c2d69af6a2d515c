"""The one exception services raise when input breaks a rule: messages keyed by form field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class RuleViolation(Exception):
    """Refused input. `errors` maps a field name (or "form" for the whole form) to a message for people.

    `status_code` is the HTTP status a controller answers with: 422 for bad input by default, 403 when the
    person may not do this, 404 when the thing does not exist (or must not be revealed), 409 for a state conflict.
    """

    def __init__(self, errors: Mapping[str, str] | str, *, status_code: int = 422) -> None:
        self.errors = {"form": errors} if isinstance(errors, str) else dict(errors)
        self.status_code = status_code
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))

    @property
    def message(self) -> str:
        """All messages as one sentence list, for toasts and JSON."""
        return " ".join(self.errors.values())


class Actor(Protocol):
    """Who is acting, as a domain service needs to know them (app.people.services.CurrentUser is one)."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...
