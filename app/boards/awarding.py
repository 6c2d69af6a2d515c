"""Awarding badges (app/boards/badge_rules.py): each level once, from the figures the boards and profiles show.

Badges are awarded by boards' handlers of other domains' events (app/boards/handlers.py), run by the worker from
the job outbox: `award_after_kudos(givers, recipients, at=…)` for kudos given (the giver's first kudos given and
Weekly giver — this week's kudos can complete a streak — and each recipient's first kudos received, Recognised,
Bridge builder), `award_after_completion(resolvers, at=…)` for a completed request (Fast responder), and the
feedback and award events. `award_after_win` is still called by app.awards in its own transaction.

Rules read lifetime rollups (`PersonPeriod` 'all'), week rollups for streaks, the requests a person resolved, and —
for Bridge builder — the person's own kudos ledger entries (index ledger_entry_recipient_time), counting distinct
giver departments other than the recipient's (both as recorded on the entry) over kudos that are not revoked.

Once per level, safe under concurrency: `badge_award` is unique on (employee, badge, level) and rows go in with
INSERT … ON CONFLICT DO NOTHING RETURNING, so of two transactions earning the same level at once one inserts; the
other waits for it and inserts nothing. Every new award publishes `BadgeEarned` (its notification and webhook
follow from the outbox). Badges stay earned: a revoked kudos never removes a badge already earned.

`backfill()` awards, without events, what the current figures have reached — for data loaded around the services
(the synthetic generator).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import app.db as db
from app.boards import levels
from app.boards.badge_rules import BADGES, BY_SLUG, Badge, Event
from app.boards.tables import BadgeAward
from app.events import BadgeEarned, publish
from app.people.tables import Employee
from app.timeutil import now

# ---------------------------------------------------------------------------------------------------- measures
# A measure is a figure per person read from a source; each source is one query for everyone it is needed for.

# A source gives the figures of the measures it knows for the people asked: measure → person → figure.
Source = Callable[[list[int], datetime], Awaitable[dict[str, dict[int, int]]]]


async def _lifetime(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    figures = await levels.lifetime(ids)
    return {"given": {i: f.given for i, f in figures.items()}, "received": {i: f.kudos for i, f in figures.items()}}


async def _resolved(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    return {"within_target": {i: f.within_target for i, f in (await levels.resolved(ids)).items()}}


# Distinct departments that thanked each recipient with a kudos that stands, other than the recipient's own — both
# departments as recorded on the entry, and known (as for the boards' "givers from other departments"). Read from
# the recipients' own ledger entries only (index ledger_entry_recipient_time): a kudos stands while its kudos
# entries outnumber its revoke entries (a revoke copies the departments of the entry it reverses).
_DEPARTMENTS_SQL = """
    SELECT recipient, count(DISTINCT giver_department) AS departments FROM (
        SELECT e.recipient, e.giver_department
        FROM ledger_entry e
        WHERE e.recipient = ANY({}) AND e.addon IS NULL
          AND e.recipient_department IS NOT NULL AND e.giver_department <> e.recipient_department
        GROUP BY e.recipient, e.giver_department, e.kudos
        HAVING count(*) FILTER (WHERE e.kind = 'kudos') > count(*) FILTER (WHERE e.kind = 'revoke')
    ) AS standing
    GROUP BY recipient
"""


async def _departments(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    # n departments need at least n distinct givers from other departments, which the rollup already counts:
    # only people past the lowest threshold are looked up in the ledger.
    lowest = min(badge.thresholds[0] for badge in BADGES if badge.measure == "departments")
    maybe = [i for i, figures in (await levels.lifetime(ids)).items() if figures.cross_givers >= lowest]
    found = (
        {row["recipient"]: row["departments"] for row in await BadgeAward.raw(_DEPARTMENTS_SQL, maybe)} if maybe else {}
    )
    return {"departments": {i: found.get(i, 0) for i in ids}}


async def _weekly_streak(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    """Consecutive giving weeks ending with the week of `at` (as many as the Weekly giver levels need)."""
    this_week = levels.week_of(at)
    since = this_week - timedelta(weeks=max(BY_SLUG["weekly-giver"].thresholds) - 1)
    streaks = {}
    for i in ids:
        weeks = await levels.giving_weeks(i, up_to=this_week, since=since)
        streaks[i] = levels.streak_length(weeks, this_week) if this_week in weeks else 0
    return {"weekly_streak": streaks}


_AWARDS_WON_SQL = """
    SELECT w.person, count(*) AS won FROM award_winner w JOIN award_cycle c ON c.id = w.cycle
    WHERE w.person = ANY({}) AND c.status = 'announced' GROUP BY w.person
"""
_FEEDBACK_SQL = """
    SELECT e.id, (SELECT count(*) FROM feedback f WHERE f.author = e.id AND f.ask IS NOT NULL) AS answered,
           (SELECT count(*) FROM feedback_ask a WHERE a.asker = e.id) AS asked
    FROM employee e WHERE e.id = ANY({})
"""


async def _awards_won(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    """Monthly awards each person won in announced cycles (app.awards; department wins are not personal)."""
    rows = await BadgeAward.raw(_AWARDS_WON_SQL, ids)
    return {"awards_won": {row["person"]: row["won"] for row in rows}}


async def _feedback(ids: list[int], at: datetime) -> dict[str, dict[int, int]]:
    """Feedback requests each person answered and asks they made (app.feedback's tables)."""
    rows = await BadgeAward.raw(_FEEDBACK_SQL, ids)
    return {
        "feedback_answered": {row["id"]: row["answered"] for row in rows},
        "feedback_asked": {row["id"]: row["asked"] for row in rows},
    }


# measure → its source
_MEASURES: dict[str, Source] = {
    "given": _lifetime,
    "received": _lifetime,
    "departments": _departments,
    "within_target": _resolved,
    "weekly_streak": _weekly_streak,
    "awards_won": _awards_won,
    "feedback_answered": _feedback,
    "feedback_asked": _feedback,
}


async def measure(names: dict[str, set[int]], at: datetime) -> dict[str, dict[int, int]]:
    """The figures of measures `names` (each for its people; 0 when a source has none), each source queried once:
    measure → person → figure."""
    by_source: dict[Source, set[int]] = defaultdict(set)
    for name, ids in names.items():
        by_source[_MEASURES[name]] |= ids
    figures = {source: await source(sorted(ids), at) for source, ids in by_source.items()}
    return {name: {i: figures[_MEASURES[name]][name].get(i, 0) for i in ids} for name, ids in names.items()}


# ------------------------------------------------------------------------------------------------- awarding


@dataclass(frozen=True, slots=True)
class Award:
    id: int
    employee_id: int
    badge: Badge
    level: int
    awarded_at: datetime


async def _held(ids: Iterable[int]) -> set[tuple[int, str, int]]:
    rows = await BadgeAward.select(BadgeAward.employee, BadgeAward.badge, BadgeAward.level).where(
        BadgeAward.employee.is_in(sorted(set(ids)))
    )
    return {(row["employee"], row["badge"], row["level"]) for row in rows}


async def _award(people: dict[Event, set[int]], *, at: datetime) -> list[Award]:
    """Award every level that the people checked for each event have reached and do not hold yet; notify each
    earner. Figures are read only for badges someone could still earn."""
    everyone = set().union(*people.values())
    if not everyone:
        return []
    held = await _held(everyone)
    wanted: dict[str, set[int]] = defaultdict(set)  # measure → people it is needed for
    checks: list[tuple[int, Badge]] = []
    for event, ids in people.items():
        for badge in BADGES:
            if badge.event != event:
                continue
            for person in ids:
                if (person, badge.slug, badge.levels) not in held:
                    checks.append((person, badge))
                    wanted[badge.measure].add(person)
    if not checks:
        return []
    return await _insert(checks, await measure(wanted, at), held, at=at, announce=True)


async def _insert(
    checks: Iterable[tuple[int, Badge]],
    values: dict[str, dict[int, int]],
    held: set[tuple[int, str, int]],
    *,
    at: datetime,
    announce: bool,
) -> list[Award]:
    """Insert the levels reached (by `values`) and not `held`, once each whatever runs concurrently; with
    `announce`, notify each earner of each award that this call inserted."""
    new = sorted(
        {
            (person, badge.slug, level)
            for person, badge in checks
            for level in badge.levels_reached(values[badge.measure].get(person, 0))
            if (person, badge.slug, level) not in held
        }
    )  # one order for every transaction, so concurrent inserts wait on each other rather than deadlock
    if not new:
        return []
    rows = (
        await BadgeAward.insert(
            *[BadgeAward(employee=person, badge=slug, level=level, awarded_at=at) for person, slug, level in new]
        )
        .on_conflict(target=(BadgeAward.employee, BadgeAward.badge, BadgeAward.level), action="DO NOTHING")
        .returning(BadgeAward.id, BadgeAward.employee, BadgeAward.badge, BadgeAward.level)
    )
    awards = [
        Award(id=row["id"], employee_id=row["employee"], badge=BY_SLUG[row["badge"]], level=row["level"], awarded_at=at)
        for row in sorted(rows, key=lambda r: (r["employee"], r["badge"], r["level"]))
    ]
    for award in awards if announce else []:
        await publish(
            BadgeEarned(
                award_id=award.id,
                employee_id=award.employee_id,
                badge=award.badge.slug,
                level=award.level,
                at=at,
            )
        )
    return awards


async def award_after_kudos(giver_ids: Iterable[int], recipient_ids: Iterable[int], *, at: datetime) -> list[Award]:
    """Badges earned by kudos given (by `giver_ids`, to `recipient_ids`), once they are in the ledger."""
    return await _award({Event.GAVE: set(giver_ids), Event.RECEIVED: set(recipient_ids)}, at=at)


async def award_after_win(winner_ids: Iterable[int], *, at: datetime) -> list[Award]:
    """Badges earned by winning a monthly award (call inside app.awards.services.announce's transaction)."""
    return await _award({Event.WON: set(winner_ids)}, at=at)


async def award_after_completion(resolver_ids: Iterable[int], *, at: datetime) -> list[Award]:
    """Badges earned by completing a request (call inside requests.complete's transaction)."""
    return await _award({Event.RESOLVED: set(resolver_ids)}, at=at)


async def award_after_feedback(
    *, answered_by: Iterable[int] = (), asked_by: Iterable[int] = (), at: datetime
) -> list[Award]:
    """Badges earned by answering or asking for feedback (app/boards/handlers.py, from the feedback events)."""
    return await _award({Event.ANSWERED_FEEDBACK: set(answered_by), Event.ASKED_FEEDBACK: set(asked_by)}, at=at)


# The longest run of consecutive giving weeks each person ever had (gaps and islands over the week rollups).
_LONGEST_STREAK_SQL = """
    SELECT employee, max(weeks) AS weeks FROM (
        SELECT employee, count(*) AS weeks FROM (
            SELECT employee, start - (7 * row_number() OVER (PARTITION BY employee ORDER BY start))::int AS island
            FROM person_period WHERE employee = ANY({}) AND period = 'week' AND given > 0
        ) AS runs GROUP BY employee, island
    ) AS islands GROUP BY employee
"""


async def backfill(*, at: datetime | None = None, batch: int = 2000) -> int:
    """Award every level that anyone has reached and does not hold, from the figures as they are now; returns how
    many awards were inserted. For data that did not go through the services (the synthetic generator) or after a
    rule is added. No notifications (this is catching up, not news), and `awarded_at` is `at` (default: now).
    Weekly giver counts the longest run of giving weeks in the person's history. Safe to re-run."""
    moment = at or now()
    ids = [row["id"] for row in await Employee.select(Employee.id).order_by(Employee.id)]
    inserted = 0
    for offset in range(0, len(ids), batch):
        chunk = ids[offset : offset + batch]
        held = await _held(chunk)
        checks = [
            (person, badge) for badge in BADGES for person in chunk if (person, badge.slug, badge.levels) not in held
        ]
        measures = {badge.measure for _, badge in checks} - {"weekly_streak"}
        values = await measure({name: set(chunk) for name in measures}, moment)
        streaks = await BadgeAward.raw(_LONGEST_STREAK_SQL, chunk)
        values["weekly_streak"] = {row["employee"]: row["weeks"] for row in streaks}
        async with db.transaction():
            inserted += len(await _insert(checks, values, held, at=moment, announce=False))
    return inserted
