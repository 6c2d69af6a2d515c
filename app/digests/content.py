"""What a digest says: its sections, each one function over a batch of people and one template block.

A section is an async function `(period, people) -> {employee_id: value}` that reads what it needs for every
person of the batch in one or two queries (never one query per person), and a template pair
`emails/digests/sections/<name>.html|.txt` that shows `value` (a person missing from the result gets `None`; the
template decides whether to show anything then). `EMPLOYEE_SECTIONS` and `MANAGER_SECTIONS` list them in the
order they appear (the functions: employee_sections.py, manager_sections.py; the month and the batch: period.py).
Adding a section is one function, one entry and one template pair.

Everything is about a calendar month in the organisation's time zone (`DigestPeriod`) and reads the same
sources the pages do: board rollups (`PersonPeriod` month rows) for points and ranks, `BadgeAward`, award
winners and nominations (app/awards), the kudos and requests tables for what happened, and
`department_scorecard` for the manager's departments.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.digests.employee_sections import (
    KudosReceived,
    awards_won,
    badges_earned,
    feedback,
    kudos_received,
    requests_completed,
    standing,
    thank_back,
)
from app.digests.manager_sections import nominations, quiet_teammates, scorecards, team_feedback, team_totals
from app.digests.period import DigestPeriod, Person, Section
from app.digests.tables import DigestKind
from app.people.tables import Employee

EMPLOYEE_SECTIONS: dict[str, Section] = {
    "standing": standing,
    "kudos": kudos_received,
    "badges": badges_earned,
    "awards": awards_won,
    "requests": requests_completed,
    "thank_back": thank_back,
    "feedback": feedback,
}
MANAGER_SECTIONS: dict[str, Section] = {
    "team": team_totals,
    "quiet": quiet_teammates,
    "team_feedback": team_feedback,
    "scorecards": scorecards,
    "nominations": nominations,
}
SECTIONS: dict[DigestKind, dict[str, Section]] = {
    DigestKind.EMPLOYEE: EMPLOYEE_SECTIONS,
    DigestKind.MANAGER: MANAGER_SECTIONS,
}


async def build_contexts(
    kind: DigestKind, period: DigestPeriod, people: list[Person], *, reader_id: int | None = None
) -> dict[int, dict[str, Any]]:
    """Every section of `kind` for every person of the batch: {employee_id: {section name: value or None}}.

    `reader_id` is whoever will read these digests when it is not their recipients (an admin's preview): private
    kudos messages are then withheld from them (SPEC F3), as on every page."""
    sections = SECTIONS[kind]
    values = {name: await section(period, people) for name, section in sections.items()}
    if reader_id is not None and "kudos" in values:
        await withhold_private(values["kudos"], reader_id)
    return {person.id: {name: values[name].get(person.id) for name in sections} for person in people}


async def withhold_private(received: dict[int, KudosReceived], reader_id: int) -> None:
    """Blank the message of each private kudos `reader_id` may not read: only its giver, its recipients and their
    managers may (SPEC F3). The entry stays, so the reader sees that a private kudos from its giver is there."""
    managers = {
        row["id"]: row["manager"]
        for row in await Employee.select(Employee.id, Employee.manager).where(Employee.id.is_in(list(received) or [0]))
    }
    for recipient, entry in received.items():
        if reader_id in {recipient, managers.get(recipient)}:
            continue
        items = tuple(
            item if item.visibility != "private" or item.giver_id == reader_id else replace(item, message=None)
            for item in entry.items
        )
        received[recipient] = replace(entry, items=items)


def private_messages(values: dict[str, Any]) -> int:
    """How many private kudos messages a digest shows (for the outbox's marker)."""
    received: KudosReceived | None = values.get("kudos")
    items = received.items if received else ()
    return sum(1 for item in items if item.visibility == "private" and item.message is not None)
