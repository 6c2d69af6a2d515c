"""Badges (SPEC F7): the registry (app/boards/badge_rules.py), awarding (app/boards/awarding.py) and, here, what
people see of them: a person's badge board and the newest awards for the feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from app.boards.badge_rules import BADGES, BY_SLUG, Badge
from app.boards.tables import BadgeAward
from app.paging import Cursor

# ----------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class LevelStatus:
    level: int
    rule: str
    achieved: str
    awarded_at: datetime | None

    @property
    def earned(self) -> bool:
        return self.awarded_at is not None


@dataclass(frozen=True, slots=True)
class BadgeStatus:
    """One badge of the registry as one person stands with it."""

    badge: Badge
    levels: list[LevelStatus]

    @property
    def earned(self) -> list[LevelStatus]:
        return [status for status in self.levels if status.earned]

    @property
    def top(self) -> LevelStatus | None:
        """The highest level earned."""
        return self.earned[-1] if self.earned else None

    @property
    def next(self) -> LevelStatus | None:
        """The first level not earned yet."""
        return next((status for status in self.levels if not status.earned), None)


_HELD_SQL = "SELECT badge, level, awarded_at FROM badge_award WHERE employee = {}"


async def badge_board(employee_id: int) -> list[BadgeStatus]:
    """Every badge of the registry, in registry order, with the levels `employee_id` earned and when."""
    rows = await BadgeAward.raw(_HELD_SQL, employee_id)
    when = {(row["badge"], row["level"]): row["awarded_at"] for row in rows}
    return [
        BadgeStatus(
            badge=badge,
            levels=[
                LevelStatus(
                    level=level,
                    rule=badge.rule_for(level),
                    achieved=badge.achieved_for(level),
                    awarded_at=when.get((badge.slug, level)),
                )
                for level in range(1, badge.levels + 1)
            ],
        )
        for badge in BADGES
    ]


# The newest badge awards older than a (awarded_at, id) keyset position and not before a moment (the feed asks for
# the awards between two kudos cards), newest first.
_RECENT_SQL = """
    SELECT b.id, b.employee AS employee_id, e.name AS employee_name, b.badge, b.level, b.awarded_at
    FROM badge_award b JOIN employee e ON e.id = b.employee
    WHERE (b.awarded_at, b.id) < ({}, {}) AND b.awarded_at >= {}
    ORDER BY b.awarded_at DESC, b.id DESC
    LIMIT {}
"""
_LATEST = Cursor(datetime(9999, 12, 31, tzinfo=UTC), 0)  # after every award
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # before every award


@dataclass(frozen=True, slots=True)
class BadgeAnnouncement:
    """A badge award as the feed announces it; the template links it by `employee_id`. `created_at` is when it was
    awarded, so awards sort with kudos cards. Badges are public: they show on every profile."""

    type: ClassVar[str] = "badge"
    id: int
    employee_id: int
    employee_name: str
    badge: str  # slug
    badge_name: str
    title: str  # "Recognised (level 2 of 3)"
    achieved: str
    level: int
    levels: int
    created_at: datetime


async def recent_awards(
    limit: int, before: Cursor | None = None, *, since: datetime | None = None
) -> list[BadgeAnnouncement]:
    """The newest badge awards, for the feed: newest first, keyset-paged on (awarded_at, id) before `before`."""
    start = before or _LATEST
    rows = await BadgeAward.raw(_RECENT_SQL, start.created_at, start.id, since or _EARLIEST, limit)
    items = []
    for row in rows:
        badge = BY_SLUG.get(row["badge"])
        if badge is None or not 1 <= row["level"] <= badge.levels:
            continue
        items.append(
            BadgeAnnouncement(
                id=row["id"],
                employee_id=row["employee_id"],
                employee_name=row["employee_name"],
                badge=row["badge"],
                badge_name=badge.name,
                title=badge.title_for(row["level"]),
                achieved=badge.achieved_for(row["level"]),
                level=row["level"],
                levels=badge.levels,
                created_at=row["awarded_at"],
            )
        )
    return items
