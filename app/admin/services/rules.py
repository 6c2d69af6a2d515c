"""What every admin service shares: who may act, and how a change is written to the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.rules import Actor, RuleViolation

# An admin never demotes or deactivates themselves (the form, the deactivate button and the CSV import alike):
# another admin does it, so there is always someone left who can.
OWN_ADMIN_ROLE = "You can't take away your own admin role; ask another admin."


def require_admin(user: Actor) -> None:
    if not user.is_admin:
        raise RuleViolation("Only admins can do this.", status_code=403)


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, as (before, after), for the audit log."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


@dataclass(frozen=True, slots=True)
class Choice:
    """A row of a select: an id and a name."""

    id: int
    name: str
