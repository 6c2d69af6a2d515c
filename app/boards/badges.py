"""Badges (SPEC F7): rule-based achievements, each defined once in `BADGES`, earned once per level.

When badges are awarded — at the moment the event that earns them commits, inside its transaction:
- `award_after_kudos(giver, recipients, at=…)` from `give_kudos`, after the ledger append (the rollups already
  count the new kudos): the giver's badges (first kudos given, Weekly giver — this week's kudos can complete a
  streak) and each recipient's (first kudos received, Recognised, Bridge builder);
- `award_after_completion(resolvers, at=…)` from `requests.complete`: each resolver's Fast responder levels.

Rules read the same figures the boards and profiles show: lifetime rollups (`PersonPeriod` 'all'), week rollups
for streaks, the requests a person resolved, and — for Bridge builder — the person's own kudos ledger entries
(index ledger_entry_recipient_time), counting distinct giver departments other than the recipient's (both as
recorded on the entry) over kudos that are not revoked: departments, not people.

Once per level, safe under concurrency: `badge_award` is unique on (employee, badge, level) and rows go in with
INSERT … ON CONFLICT DO NOTHING RETURNING, so of two transactions earning the same level at once one inserts (and
notifies); the other waits for it and inserts nothing. Every new award notifies its earner (Kind.BADGE_EARNED).

Badges stay earned: a revoked kudos never removes a badge already earned (the award is history, like the ledger),
even though the figures behind it drop.

`backfill()` awards, without notifications, what the current figures have reached — for data loaded around the
services (the synthetic generator); `recent_awards()` feeds the kudos feed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.api.webhooks import absolute, emit, slack_escape
from app.boards import levels
from app.boards.tables import BadgeAward
from app.notifications.services import notify
from app.notifications.tables import Kind
from app.paging import Cursor
from app.words import times


class Event(StrEnum):
    """Whose badges an event checks."""

    GAVE = "gave"  # the giver of a kudos
    RECEIVED = "received"  # the recipients of a kudos
    RESOLVED = "resolved"  # the resolvers of a completed request
    WON = "won"  # the people who won a monthly award (app.awards)
    ANSWERED_FEEDBACK = "answered_feedback"  # the author of feedback given in answer to an ask (app.feedback)
    ASKED_FEEDBACK = "asked_feedback"  # the person who asked colleagues for feedback


def _fill(text: str, threshold: int) -> str:
    return text.format(n=threshold, times=times(threshold))


@dataclass(frozen=True, slots=True)
class Badge:
    slug: str  # stored in badge_award.badge: never rename
    name: str
    description: str  # what it recognises
    rule: str  # how a level is earned; {n} is the level's threshold, {times} the same as "once", "3 times"
    achieved: str  # what an earned level stands for; {n} and {times} as above
    thresholds: tuple[int, ...]  # level 1, 2, … needs measure >= thresholds[level - 1]
    event: Event
    measure: str  # a key of _MEASURES

    @property
    def levels(self) -> int:
        return len(self.thresholds)

    def rule_for(self, level: int) -> str:
        return _fill(self.rule, self.thresholds[level - 1])

    def achieved_for(self, level: int) -> str:
        return _fill(self.achieved, self.thresholds[level - 1])

    def title_for(self, level: int) -> str:
        """The name with the level ("Recognised (level 2 of 3)"); just the name for a badge with one level."""
        return self.name if self.levels == 1 else f"{self.name} (level {level} of {self.levels})"

    def levels_reached(self, value: int) -> list[int]:
        return [n for n, threshold in enumerate(self.thresholds, start=1) if value >= threshold]


BADGES: tuple[Badge, ...] = (
    Badge(
        slug="first-kudos-given",
        name="First thanks",
        description="Said thank you to a colleague with a first kudos.",
        rule="Give your first kudos.",
        achieved="first kudos given",
        thresholds=(1,),
        event=Event.GAVE,
        measure="given",
    ),
    Badge(
        slug="first-kudos-received",
        name="First kudos",
        description="Was thanked by a colleague for the first time.",
        rule="Receive your first kudos.",
        achieved="first kudos received",
        thresholds=(1,),
        event=Event.RECEIVED,
        measure="received",
    ),
    Badge(
        slug="recognised",
        name="Recognised",
        description="Thanked again and again by colleagues (kudos received, all time).",
        rule="Receive {n} kudos.",
        achieved="{n} kudos received",
        thresholds=(10, 50, 100),
        event=Event.RECEIVED,
        measure="received",
    ),
    Badge(
        slug="bridge-builder",
        name="Bridge builder",
        description="Helps across the organisation: thanked by people from many other departments.",
        rule="Be thanked with kudos by people from {n} departments other than your own.",
        achieved="thanked by people from {n} other departments",
        thresholds=(5,),
        event=Event.RECEIVED,
        measure="departments",
    ),
    Badge(
        slug="fast-responder",
        name="Fast responder",
        description="Resolves internal requests within the target time their service publishes.",
        rule="Resolve {n} requests completed within their service's target turnaround.",
        achieved="{n} requests completed within target",
        thresholds=(5, 25),
        event=Event.RESOLVED,
        measure="within_target",
    ),
    Badge(
        slug="weekly-giver",
        name="Weekly giver",
        description="Makes thanking colleagues a habit.",
        rule="Give kudos {n} weeks in a row.",
        achieved="kudos given {n} weeks in a row",
        thresholds=(4,),
        event=Event.GAVE,
        measure="weekly_streak",
    ),
    Badge(
        slug="award-winner",
        name="Award winner",
        description="Won a monthly award, picked by the award committee from managers' nominations.",
        rule="Win a monthly award {times}.",
        achieved="won a monthly award {times}",
        thresholds=(1, 3),
        event=Event.WON,
        measure="awards_won",
    ),
    Badge(
        slug="feedback-giver",
        name="Feedback giver",
        description="Takes the time to answer colleagues who ask for feedback.",
        rule="Answer {n} requests for feedback.",
        achieved="{n} requests for feedback answered",
        thresholds=(5,),
        event=Event.ANSWERED_FEEDBACK,
        measure="feedback_answered",
    ),
    Badge(
        slug="listener",
        name="Listener",
        description="Asks colleagues how they could do better.",
        rule="Ask colleagues for feedback {n} times.",
        achieved="asked for feedback {n} times",
        thresholds=(3,),
        event=Event.ASKED_FEEDBACK,
        measure="feedback_asked",
    ),
)
BY_SLUG: dict[str, Badge] = {badge.slug: badge for badge in BADGES}
REVOKE_RULE = "Badges stay earned even if a kudos behind them is later revoked."


# ---------------------------------------------------------------------------------------------------- measures
# A measure is a figure per person read from a source; each source is one query for everyone it is needed for.

Source = Callable[[list[int], datetime], Awaitable[dict[int, dict[str, int]]]]


async def _lifetime(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    return await levels.lifetime(ids)


async def _resolved(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    return await levels.resolved(ids)


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


async def _departments(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    # n departments need at least n distinct givers from other departments, which the rollup already counts:
    # only people past the lowest threshold are looked up in the ledger.
    lowest = min(badge.thresholds[0] for badge in BADGES if badge.measure == "departments")
    maybe = [i for i, figures in (await levels.lifetime(ids)).items() if figures["cross_givers"] >= lowest]
    found = (
        {row["recipient"]: row["departments"] for row in await BadgeAward.raw(_DEPARTMENTS_SQL, maybe)} if maybe else {}
    )
    return {i: {"departments": found.get(i, 0)} for i in ids}


async def _weekly_streak(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    """Consecutive giving weeks ending with the week of `at` (as many as the Weekly giver levels need)."""
    this_week = levels.week_of(at)
    since = this_week - timedelta(weeks=max(BY_SLUG["weekly-giver"].thresholds) - 1)
    streaks = {}
    for i in ids:
        weeks = await levels.giving_weeks(i, up_to=this_week, since=since)
        streaks[i] = {"weekly_streak": levels.streak_length(weeks, this_week) if this_week in weeks else 0}
    return streaks


async def _awards_won(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    """Monthly awards each person won in announced cycles (app.awards; department wins are not personal)."""
    rows = await BadgeAward.raw(
        "SELECT w.person, count(*) AS won FROM award_winner w JOIN award_cycle c ON c.id = w.cycle "
        "WHERE w.person = ANY({}) AND c.status = 'announced' GROUP BY w.person",
        ids,
    )
    return {row["person"]: {"awards_won": row["won"]} for row in rows}


async def _feedback(ids: list[int], at: datetime) -> dict[int, dict[str, int]]:
    """Feedback requests each person answered and asks they made (app.feedback's tables)."""
    rows = await BadgeAward.raw(
        "SELECT e.id, (SELECT count(*) FROM feedback f WHERE f.author = e.id AND f.ask IS NOT NULL) AS answered, "
        "(SELECT count(*) FROM feedback_ask a WHERE a.asker = e.id) AS asked FROM employee e WHERE e.id = ANY({})",
        ids,
    )
    return {row["id"]: {"feedback_answered": row["answered"], "feedback_asked": row["asked"]} for row in rows}


# measure → (source, key in the source's figures)
_MEASURES: dict[str, tuple[Source, str]] = {
    "given": (_lifetime, "given"),
    "received": (_lifetime, "kudos"),
    "departments": (_departments, "departments"),
    "within_target": (_resolved, "within_target"),
    "weekly_streak": (_weekly_streak, "weekly_streak"),
    "awards_won": (_awards_won, "awards_won"),
    "feedback_answered": (_feedback, "feedback_answered"),
    "feedback_asked": (_feedback, "feedback_asked"),
}


async def measure(names: dict[str, set[int]], at: datetime) -> dict[str, dict[int, int]]:
    """The figures of measures `names` (each for its people), each source queried once."""
    by_source: dict[Source, set[int]] = defaultdict(set)
    for name, ids in names.items():
        by_source[_MEASURES[name][0]] |= ids
    figures = {source: await source(sorted(ids), at) for source, ids in by_source.items()}
    values: dict[str, dict[int, int]] = {}
    for name, ids in names.items():
        source, key = _MEASURES[name]
        values[name] = {i: figures[source].get(i, {}).get(key, 0) for i in ids}
    return values


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
        await notify(
            [award.employee_id],
            Kind.BADGE_EARNED,
            text=f"Badge earned: {award.badge.title_for(award.level)} — {award.badge.achieved_for(award.level)}.",
            url=f"/people/{award.employee_id}#badges",
            at=at,
        )
    if announce and awards:
        await _announce(awards, at=at)
    return awards


async def _announce(awards: list[Award], *, at: datetime) -> None:
    """One `badge.earned` webhook event per award (inside the transaction that earned it)."""
    from app.people.tables import Employee

    rows = await Employee.select(Employee.id, Employee.name).where(
        Employee.id.is_in(sorted({award.employee_id for award in awards}))
    )
    names = {row["id"]: row["name"] for row in rows}
    for award in awards:
        url = absolute(f"/people/{award.employee_id}#badges")
        name = names.get(award.employee_id, "Someone")
        title = award.badge.title_for(award.level)
        await emit(
            "badge.earned",
            {
                "text": f"{slack_escape(name)} earned the badge {title}: {award.badge.achieved_for(award.level)}. "
                f"<{url}|See badges>",
                "badge": {
                    "slug": award.badge.slug,
                    "name": award.badge.name,
                    "level": award.level,
                    "title": title,
                    "achieved": award.badge.achieved_for(award.level),
                },
                "person": {"id": award.employee_id, "name": name, "url": url},
            },
            at=at,
        )


async def award_after_kudos(giver_id: int, recipient_ids: Iterable[int], *, at: datetime) -> list[Award]:
    """Badges earned by a kudos just given (call inside give_kudos's transaction, after the ledger append)."""
    return await _award({Event.GAVE: {giver_id}, Event.RECEIVED: set(recipient_ids)}, at=at)


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
    from app.people.tables import Employee
    from app.timeutil import now

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
        async with BadgeAward._meta.db.transaction():
            inserted += len(await _insert(checks, values, held, at=moment, announce=False))
    return inserted


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


async def badge_board(employee_id: int) -> list[BadgeStatus]:
    """Every badge of the registry, in registry order, with the levels `employee_id` earned and when."""
    rows = await BadgeAward.select(BadgeAward.badge, BadgeAward.level, BadgeAward.awarded_at).where(
        BadgeAward.employee == employee_id
    )
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


_RECENT_SQL = """
    SELECT b.id, b.employee AS employee_id, e.name AS employee_name, b.badge, b.level, b.awarded_at
    FROM badge_award b JOIN employee e ON e.id = b.employee
    {where}
    ORDER BY b.awarded_at DESC, b.id DESC
    LIMIT {{}}
"""


async def recent_awards(limit: int, before: Cursor | None = None, *, since: datetime | None = None) -> list[dict]:
    """The newest badge awards, for the feed: newest first, keyset-paged on (awarded_at, id) before `before`.

    Each is a dict with `type` "badge", `id`, `employee_id`, `employee_name`, `badge` (slug), `badge_name`,
    `title` ("Recognised (level 2 of 3)"), `achieved`, `level`, `levels`, `url` and `created_at` (= awarded_at, so
    awards sort with kudos cards by `created_at`). Badges are public: they show on every profile."""
    conditions: list[str] = []
    args: list[object] = []
    if before is not None:
        conditions.append("(b.awarded_at, b.id) < ({}, {})")
        args += [before.created_at, before.id]
    if since is not None:  # the feed asks for the awards between two kudos cards
        conditions.append("b.awarded_at >= {}")
        args.append(since)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await BadgeAward.raw(_RECENT_SQL.format(where=where), *args, limit)
    items = []
    for row in rows:
        badge = BY_SLUG.get(row["badge"])
        if badge is None or not 1 <= row["level"] <= badge.levels:
            continue
        items.append(
            {
                **row,
                "type": "badge",
                "badge_name": badge.name,
                "title": badge.title_for(row["level"]),
                "achieved": badge.achieved_for(row["level"]),
                "levels": badge.levels,
                "url": f"/people/{row['employee_id']}#badges",
                "created_at": row["awarded_at"],
            }
        )
    return items
