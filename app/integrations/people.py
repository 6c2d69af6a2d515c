"""What Slack and Teams give Kudos to act on, turned into the give form's terms: people by email (case-insensitive,
active or not: the give rules say what is wrong with a person) and company values by `#tag`."""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.kudos.giving import company_values
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Employee

# An id no row has: a person or value Kudos could not match is passed to the give rules as this, so the answer is
# the web form's own message ("1 of the people you chose is not in the directory.", "Pick company values from the
# list.") and not a second wording of it.
UNMATCHED = 0

_BY_EMAIL_SQL = "SELECT id, email FROM employee WHERE email = ANY({})"  # stored lower-case (normalise_email)
_BY_NAME_SQL = "SELECT id, name FROM employee WHERE active AND lower(name) = ANY({}) ORDER BY id"


async def ids_by_email(emails: Iterable[str]) -> dict[str, int]:
    """{lower-case email: employee id} of the emails Kudos knows."""
    wanted = sorted({email.strip().lower() for email in emails})
    if not wanted:
        return {}
    return {row["email"]: row["id"] for row in await Employee.raw(_BY_EMAIL_SQL, wanted)}


async def ids_by_name(names: Iterable[str]) -> dict[str, list[int]]:
    """{lower-case name: ids of the active people with that name} (several when the name is shared)."""
    wanted = sorted({" ".join(name.split()).lower() for name in names})
    found: dict[str, list[int]] = {name: [] for name in wanted}
    if wanted:
        for row in await Employee.raw(_BY_NAME_SQL, wanted):
            found[" ".join(row["name"].split()).lower()].append(row["id"])
    return found


async def giver_by_email(email: str | None) -> CurrentUser | None:
    """The active person with that email, as the giver."""
    if not email:
        return None
    found = await ids_by_email([email])
    employee_id = found.get(email.strip().lower())
    return None if employee_id is None else await load_current_user(employee_id)


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


async def value_ids(tags: Iterable[str]) -> list[int]:
    """The company values named by `#tags`, matched ignoring case, spaces and punctuation (`#customer-first` is
    “Customer first”); a tag that names no active value is UNMATCHED."""
    values = {_key(value.name): value.id for value in await company_values()}
    return [values.get(_key(tag), UNMATCHED) for tag in tags]
