"""Stored award shortlists (SPEC B5): computed per cycle and category, not per view.

Computing a shortlist reads every employee's month rollups and the month's request ratings (app/awards/shortlist.py):
hundreds of milliseconds at 10,000 people. So each open cycle keeps, per active category, its candidates as last
computed (`AwardShortlist`, `AwardShortlistEntry`): the top STORED people, or every department with points, with
their figures. The page reads them in one statement and leaves out, at read time, the viewer, the departments they
lead, and people who opted out of boards or left (and departments archived) since; the ranks it shows are counted
after that. Names and a person's department are read then too.

A list is computed again when:
- it is missing or was ranked by another figure (a cycle just opened, a category created or edited): by the worker
  at once (`open_award_cycle`, and the job the category form records), or by the first page view, once, under a lock;
- the month's figures changed while the cycle is open — a kudos of that month revoked, a request completed in it
  rated (app/awards/handlers.py bumps `AwardCycle.changes`): by the worker's `refresh_award_shortlists` job, every
  few minutes, so a burst of changes costs one computation.

PostgreSQL is the record: a list is due while its `changes` is behind its cycle's, so a worker killed mid-way (its
transaction rolls back) or a lost job leaves it due for the next run; computing it twice changes nothing. A change
committed while a list is being computed leaves it behind, not lost: the count is read before the figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import app.db as db
from app.awards import shortlist
from app.awards.categories import Category
from app.awards.cycles import Cycle
from app.awards.shortlist import Candidate, Suggestion
from app.awards.tables import AwardShortlist, NomineeKind
from app.settings import get_settings
from app.timeutil import now

STORED = 30  # people kept per list: enough for the viewer, and people who leave or opt out, to be left out

# Lists of open cycles that are due: missing or ranked by another figure (`missing`), or computed before the last
# change to the month's figures. Placeholders: now, then a cycle and a category to look at only those (or NULLs).
_DUE_SQL = """
    SELECT y.id AS cycle, y.month, y.changes, c.id AS category, c.nominee_kind, c.shortlist,
           (s.id IS NULL OR s.ranked_by <> c.shortlist OR s.nominee_kind <> c.nominee_kind) AS missing
    FROM award_cycle y CROSS JOIN award_category c
    LEFT JOIN award_shortlist s ON s.cycle = y.id AND s.category = c.id
    WHERE y.status = 'open' AND y.closes_at > {} AND c.active
      AND ({}::int IS NULL OR (y.id = {} AND c.id = {}))
      AND (s.id IS NULL OR s.ranked_by <> c.shortlist OR s.nominee_kind <> c.nominee_kind OR s.changes < y.changes)
    ORDER BY y.id, c.position, c.id
"""

# One computation of a list at a time (the worker's, or the first page view's).
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended('kudos.award_shortlist ' || {}::int || ' ' || {}::int, 0))"

_SAVE_SQL = """
    INSERT INTO award_shortlist (cycle, category, nominee_kind, ranked_by, changes, truncated, computed_at)
    VALUES ({}, {}, {}, {}, {}, {}, {})
    ON CONFLICT (cycle, category) DO UPDATE SET nominee_kind = EXCLUDED.nominee_kind, ranked_by = EXCLUDED.ranked_by,
        changes = EXCLUDED.changes, truncated = EXCLUDED.truncated, computed_at = EXCLUDED.computed_at
    RETURNING id
"""

_CLEAR_SQL = "DELETE FROM award_shortlist_entry WHERE shortlist = {}"

_ENTRIES_SQL = """
    INSERT INTO award_shortlist_entry (shortlist, rank, person, department, points, givers, departments, rating,
                                       ratings, members)
    SELECT {}, * FROM unnest({}::int[], {}::int[], {}::int[], {}::int[], {}::int[], {}::int[], {}::numeric[],
                             {}::int[], {}::int[])
"""

# A cycle's lists (3rd value), each with its first shortlist.SIZE candidates the viewer (1st and 2nd value) may
# nominate: people still active and on the boards but the viewer, departments not archived nor led by them. The limit
# is written into the statement so that its generic plan (an index scan in rank order) is kept.
_READ_SQL = """
    SELECT s.category, s.nominee_kind, s.ranked_by, s.truncated, s.computed_at,
           x.person, x.department, x.name, x.detail, x.slug, x.points, x.givers, x.departments, x.rating, x.ratings,
           x.members
    FROM award_shortlist s
    LEFT JOIN LATERAL (
        SELECT x.rank, x.person, x.department, COALESCE(e.name, d.name) AS name, COALESCE(pd.name, '') AS detail,
               d.slug, x.points, x.givers, x.departments, x.rating, x.ratings, x.members
        FROM award_shortlist_entry x
        LEFT JOIN employee e ON e.id = x.person
        LEFT JOIN department pd ON pd.id = e.department
        LEFT JOIN department d ON d.id = x.department
        WHERE x.shortlist = s.id
          AND CASE WHEN x.person IS NOT NULL THEN e.active AND NOT e.board_opt_out AND e.id <> {}
                   ELSE d.archived_at IS NULL
                        AND NOT EXISTS (SELECT 1 FROM department_lead l WHERE l.department = d.id AND l.employee = {})
              END
        ORDER BY x.rank
        LIMIT {size}
    ) x ON true
    WHERE s.cycle = {}
    ORDER BY s.category, x.rank
""".replace("{size}", str(shortlist.SIZE))

# A list that had more candidates than it stored, and lost too many of them to leavers and opt-outs: due again.
_REFILL_SQL = "UPDATE award_shortlist SET changes = -1 WHERE cycle = {} AND category = {} AND changes >= 0"

# Changes to these months' figures (1st value) while their cycle is open.
_CHANGED_SQL = "UPDATE award_cycle SET changes = changes + 1 WHERE month = ANY({}) AND status = 'open'"

# A change to the figures of the month a request (1st value) was completed in, months counted in the zone (2nd).
_REQUEST_CHANGED_SQL = """
    UPDATE award_cycle y SET changes = y.changes + 1
    FROM request q
    WHERE q.id = {} AND y.status = 'open' AND y.month = date_trunc('month', q.completed_at AT TIME ZONE {})::date
"""


@dataclass(frozen=True, slots=True)
class Shortlist:
    """A category's suggested nominees for one viewer, with the figures they are ranked by, as of `computed_at`."""

    category: Category
    figures: dict[str, str]  # figure → its label, in column order
    ranked_by: str  # the label of the figure the list is sorted by
    suggestions: list[Suggestion]
    computed_at: datetime


async def _compute(kind: str, month: date, metric: str) -> tuple[list[Candidate], bool]:
    """A list's candidates, best first, and whether there were more than it keeps."""
    if kind == NomineeKind.PERSON:
        found = await shortlist.person_candidates(month, metric, viewer=0, limit=STORED + 1)
        return found[:STORED], len(found) > STORED
    return await shortlist.department_candidates(month, metric, excluded=set()), False


def _columns(candidates: Sequence[Candidate]) -> list[list[Any]]:
    return [
        list(range(1, len(candidates) + 1)),
        [c.person for c in candidates],
        [c.department for c in candidates],
        [c.points for c in candidates],
        [c.givers for c in candidates],
        [c.departments for c in candidates],
        [c.rating for c in candidates],
        [c.ratings for c in candidates],
        [c.members for c in candidates],
    ]


async def refresh(cycle_id: int, category_id: int, *, missing_only: bool = False, at: datetime | None = None) -> bool:
    """Compute and store one list if it is due (only if missing or ranked by another figure, with `missing_only`);
    whether it was computed. Waits for a computation of the same list in progress, then finds it done."""
    moment = at or now()
    async with db.transaction():
        await AwardShortlist.raw(_LOCK_SQL, cycle_id, category_id)
        due = await AwardShortlist.raw(_DUE_SQL, moment, cycle_id, cycle_id, category_id)
        if not due or (missing_only and not due[0]["missing"]):
            return False
        row = due[0]  # the cycle's `changes` is read before the figures: a change committed meanwhile stays due
        candidates, truncated = await _compute(row["nominee_kind"], row["month"], row["shortlist"])
        saved = await AwardShortlist.raw(
            _SAVE_SQL, cycle_id, category_id, row["nominee_kind"], row["shortlist"], row["changes"], truncated, moment
        )
        await AwardShortlist.raw(_CLEAR_SQL, saved[0]["id"])
        if candidates:
            await AwardShortlist.raw(_ENTRIES_SQL, saved[0]["id"], *_columns(candidates))
    return True


async def refresh_due(*, at: datetime | None = None) -> int:
    """Compute every due list of the open cycles (job `refresh_award_shortlists`); how many were computed."""
    moment = at or now()
    due = await AwardShortlist.raw(_DUE_SQL, moment, None, None, None)
    computed = 0
    for row in due:
        computed += await refresh(row["cycle"], row["category"], at=moment)
    return computed


_CANDIDATE_FIELDS = [field.name for field in fields(Candidate)]  # the read statement's columns of the same names


def _candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(**{name: row[name] for name in _CANDIDATE_FIELDS})


def _stored(header: dict[str, Any], category: Category) -> bool:
    return bool(header["nominee_kind"] == category.nominee_kind and header["ranked_by"] == category.shortlist)


async def shortlists(
    cycle: Cycle, categories: Iterable[Category], *, viewer: int, at: datetime | None = None
) -> list[Shortlist]:
    """The open cycle's lists of these categories for `viewer`: the first shortlist.SIZE candidates they may
    nominate, from the stored lists. A list never computed (or ranked by another figure) is computed first."""
    wanted = list(categories)
    for attempt in range(2):
        rows = await AwardShortlist.raw(_READ_SQL, viewer, viewer, cycle.id)
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            found[row["category"]].append(row)
        missing = [c for c in wanted if c.id not in found or not _stored(found[c.id][0], c)]
        if not missing or attempt:
            break
        for category in missing:
            await refresh(cycle.id, category.id, missing_only=True, at=at)
    lists = []
    for category in wanted:
        if category.id not in found or not _stored(found[category.id][0], category):
            continue  # the cycle closed (or the category went) while it was being computed
        header = found[category.id][0]
        candidates = [_candidate(row) for row in found[category.id] if row["name"] is not None]
        if header["truncated"] and len(candidates) < shortlist.SIZE:
            await AwardShortlist.raw(_REFILL_SQL, cycle.id, category.id)
        figures = shortlist.FIGURES[category.nominee_kind]
        suggestions = [shortlist.suggestion(rank, c, cycle.label) for rank, c in enumerate(candidates, start=1)]
        lists.append(
            Shortlist(category, figures, figures.get(category.shortlist, ""), suggestions, header["computed_at"])
        )
    return lists


async def figures_changed(months: Iterable[date]) -> None:
    """The figures of these months changed: their open cycles' lists are due again."""
    if wanted := sorted(set(months)):
        await AwardShortlist.raw(_CHANGED_SQL, wanted)


async def request_changed(request_id: int) -> None:
    """A request's completion or rating changed the figures of the month it was completed in."""
    await AwardShortlist.raw(_REQUEST_CHANGED_SQL, request_id, get_settings().timezone)
