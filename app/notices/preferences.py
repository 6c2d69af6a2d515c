"""Who wants which email notices: a person's choice per kind (instant, daily or never), the kind's default when they
never chose (SPEC F16: instant for kudos received and awards, daily for the rest)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import app.db as db
from app.notices.tables import Choice, NoticeKind, NoticePreference
from app.rules import RuleViolation
from app.timeutil import now

DEFAULTS: Mapping[NoticeKind, Choice] = {
    NoticeKind.KUDOS: Choice.INSTANT,
    NoticeKind.ADDON: Choice.DAILY,
    NoticeKind.BADGE: Choice.DAILY,
    NoticeKind.AWARD: Choice.INSTANT,
    NoticeKind.REQUEST: Choice.DAILY,
}

# What each kind is, as the settings page asks about it.
LABELS: Mapping[NoticeKind, str] = {
    NoticeKind.KUDOS: "Someone thanks you",
    NoticeKind.ADDON: "Someone adds a +1 to your kudos",
    NoticeKind.BADGE: "You earn a badge",
    NoticeKind.AWARD: "You or your department win an award",
    NoticeKind.REQUEST: "A request you filed is completed",
}
CHOICE_LABELS: Mapping[Choice, str] = {
    Choice.INSTANT: "Right away",
    Choice.DAILY: "In a daily summary",
    Choice.NEVER: "Never",
}


@dataclass(frozen=True, slots=True)
class Preference:
    kind: NoticeKind
    label: str
    choice: Choice


async def preferences(employee_id: int) -> list[Preference]:
    """A person's choice for every kind (the default where they never chose), in the settings page's order."""
    rows = await NoticePreference.select(NoticePreference.kind, NoticePreference.choice).where(
        NoticePreference.employee == employee_id
    )
    chosen = {NoticeKind(row["kind"]): Choice(row["choice"]) for row in rows}
    return [Preference(kind, LABELS[kind], chosen.get(kind, DEFAULTS[kind])) for kind in NoticeKind]


def parse_choices(raw: Mapping[str, str]) -> dict[NoticeKind, Choice]:
    """Choices as a form sends them (kind → choice); an unknown kind or choice is refused with a clear message."""
    parsed: dict[NoticeKind, Choice] = {}
    for kind, choice in raw.items():
        if kind not in NoticeKind.__members__.values():
            raise RuleViolation(f"“{kind}” is not a kind of email notice.")
        if choice not in Choice.__members__.values():
            raise RuleViolation(f"Choose right away, daily or never for “{LABELS[NoticeKind(kind)]}”.")
        parsed[NoticeKind(kind)] = Choice(choice)
    return parsed


_SET_SQL = """
    INSERT INTO notice_preference (employee, kind, choice, updated_at)
    SELECT {}, k, c, {} FROM unnest({}::text[], {}::text[]) AS t(k, c)
    ON CONFLICT (employee, kind) DO UPDATE SET choice = EXCLUDED.choice, updated_at = EXCLUDED.updated_at
"""


async def set_choices(employee_id: int, choices: Mapping[NoticeKind, Choice]) -> None:
    """Save a person's choices (the kinds not given keep theirs), in one statement."""
    if not choices:
        return
    async with db.transaction():
        await NoticePreference.raw(
            _SET_SQL, employee_id, now(), [str(k) for k in choices], [str(c) for c in choices.values()]
        )


# Each wanted person's choice for a kind, only for those who are active; people who chose never are left out.
_CHOICES_SQL = """
    SELECT e.id, COALESCE(p.choice, {}) AS choice
    FROM employee e LEFT JOIN notice_preference p ON p.employee = e.id AND p.kind = {}
    WHERE e.id = ANY({}) AND e.active AND COALESCE(p.choice, {}) <> 'never'
"""


async def choices_of(kind: NoticeKind, employee_ids: list[int]) -> dict[int, Choice]:
    """The choice for `kind` of each of these people who are active and want it (instant or daily)."""
    default = str(DEFAULTS[kind])
    rows = await NoticePreference.raw(_CHOICES_SQL, default, str(kind), employee_ids, default)
    return {row["id"]: Choice(row["choice"]) for row in rows}
