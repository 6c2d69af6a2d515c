"""Keep the board rollups in step with the ledger: the inline handler of `LedgerAppended` (app/events.py), run in
the transaction that appended the entries, so boards never disagree with the ledger. The counting rules are those
of app/boards/rollups.py (which rebuilds the same figures from the whole ledger).

Three statements whatever the batch, each a fixed text prepared once per connection (arrays, not VALUES lists):
1. a transaction-scoped advisory lock per (owner, giver) pair whose standing kudos change, in a fixed order;
2. those pairs' standing kudos in each period, read from the ledger (this batch's entries included: they are
   appended before the event is published), so a count crossing zero adds or removes a distinct giver;
3. every rollup row's deltas, upserted in key order (one CTE for the three tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, tzinfo
from typing import Any

from app.boards.rollups import period_end, period_starts
from app.boards.tables import Period, PersonPeriod
from app.events import LedgerAppended, LedgerLine
from app.timeutil import org_tz

# One lock per pair, taken in a fixed order: a concurrent transaction giving to the same pair waits here, then
# reads this one's committed entries (the next statement reads afresh), so zero is crossed once.
_LOCK_SQL = """
    SELECT count(pg_advisory_xact_lock(a, b)) AS locked
    FROM (SELECT a, b FROM unnest({}::int[], {}::int[]) AS v(a, b) ORDER BY a, b) AS ordered
"""

# A pair's standing kudos in a period: one index scan of the pair's kudos entries (person pairs by
# `ledger_entry_recipient_pair`, department pairs by `ledger_entry_department_pair`; add-ons carry no kudos).
_PAIR_COUNTS_SQL = """
    WITH k AS (
        SELECT * FROM unnest({}::int[], {}::int[], {}::int[], {}::date[], {}::date[], {}::bool[])
            AS k(n, owner, giver, first_day, end_day, department)
    ), t AS (SELECT {}::text AS zone), e AS (
        SELECT k.n, CASE WHEN l.kind = 'kudos' THEN 1 WHEN l.kind = 'revoke' THEN -1 ELSE 0 END AS dk,
               (l.giver_department <> l.recipient_department) IS TRUE AS cross_dept
        FROM k CROSS JOIN t LEFT JOIN ledger_entry l
            ON l.addon IS NULL AND l.recipient = k.owner AND l.giver = k.giver
            AND (l.effective_at AT TIME ZONE t.zone)::date >= k.first_day
            AND (l.effective_at AT TIME ZONE t.zone)::date < k.end_day
        WHERE NOT k.department
        UNION ALL
        SELECT k.n, CASE WHEN l.kind = 'kudos' THEN 1 WHEN l.kind = 'revoke' THEN -1 ELSE 0 END,
               (l.giver_department <> l.recipient_department) IS TRUE
        FROM k CROSS JOIN t LEFT JOIN ledger_entry l
            ON l.addon IS NULL AND l.recipient_department = k.owner AND l.giver = k.giver
            AND (l.effective_at AT TIME ZONE t.zone)::date >= k.first_day
            AND (l.effective_at AT TIME ZONE t.zone)::date < k.end_day
        WHERE k.department
    )
    SELECT n, sum(dk) AS kudos, coalesce(sum(dk) FILTER (WHERE cross_dept), 0) AS cross_kudos FROM e GROUP BY n
"""

# Every rollup row's deltas in one statement; rows arrive in key order, so concurrent transactions lock the rows
# they share in the same order and cannot deadlock here.
_UPSERT_SQL = """
    WITH pairs AS (
        INSERT INTO person_giver_period (recipient, giver, period, start, kudos, cross_kudos)
        SELECT * FROM unnest({}::int[], {}::int[], {}::text[], {}::date[], {}::int[], {}::int[])
        ON CONFLICT (recipient, giver, period, start) DO UPDATE SET
            kudos = person_giver_period.kudos + EXCLUDED.kudos,
            cross_kudos = person_giver_period.cross_kudos + EXCLUDED.cross_kudos
        RETURNING 1
    ), people AS (
        INSERT INTO person_period (employee, period, start, points, kudos, givers, cross_givers, given, given_points)
        SELECT * FROM unnest(
            {}::int[], {}::text[], {}::date[], {}::int[], {}::int[], {}::int[], {}::int[], {}::int[], {}::int[])
        ON CONFLICT (employee, period, start) DO UPDATE SET
            points = person_period.points + EXCLUDED.points,
            kudos = person_period.kudos + EXCLUDED.kudos,
            givers = person_period.givers + EXCLUDED.givers,
            cross_givers = person_period.cross_givers + EXCLUDED.cross_givers,
            given = person_period.given + EXCLUDED.given,
            given_points = person_period.given_points + EXCLUDED.given_points
        RETURNING 1
    ), teams AS (
        INSERT INTO department_period (department, period, start, points, kudos, givers, cross_givers, cross_kudos)
        SELECT * FROM unnest({}::int[], {}::text[], {}::date[], {}::int[], {}::int[], {}::int[], {}::int[], {}::int[])
        ON CONFLICT (department, period, start) DO UPDATE SET
            points = department_period.points + EXCLUDED.points,
            kudos = department_period.kudos + EXCLUDED.kudos,
            givers = department_period.givers + EXCLUDED.givers,
            cross_givers = department_period.cross_givers + EXCLUDED.cross_givers,
            cross_kudos = department_period.cross_kudos + EXCLUDED.cross_kudos
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM pairs) + (SELECT count(*) FROM people) + (SELECT count(*) FROM teams) AS rows
"""

Key = tuple[int, str, date]  # (owner, period, start)
PairKey = tuple[int, int, str, date]  # (owner, giver, period, start)


def _columns(deltas: Mapping[Any, list[int]], width: int) -> list[list[object]]:
    """Rows (key + deltas, in key order, rows of zeros left out) as `width` lists, one per column, for unnest()."""
    rows = [(*key, *d) for key, d in sorted(deltas.items()) if any(d)]
    return [[row[i] for row in rows] for i in range(width)]


def _crossed(new: int, delta: int) -> int:
    """+1 when a count went from zero to positive with this delta, -1 when it went back to zero, else 0."""
    old = new - delta
    return (old <= 0 < new) - (new <= 0 < old)


async def _giver_changes(
    tz: tzinfo, person_pairs: dict[PairKey, list[int]], department_pairs: dict[PairKey, list[int]]
) -> tuple[dict[Key, list[int]], dict[Key, list[int]]]:
    """Per (person or department, period, start), the change in distinct givers and cross givers: pairs whose
    standing kudos in the period (read from the ledger after this batch) crossed zero with this batch's delta."""
    changes: tuple[dict[Key, list[int]], dict[Key, list[int]]] = (
        defaultdict(lambda: [0, 0]),
        defaultdict(lambda: [0, 0]),
    )
    keys = [(False, key, d) for key, d in person_pairs.items() if any(d)]
    keys += [(True, key, d) for key, d in department_pairs.items() if any(d)]
    if not keys:
        return changes
    locks = sorted({(-owner if department else owner, giver) for department, (owner, giver, _, _), _ in keys})
    await PersonPeriod.raw(_LOCK_SQL, [a for a, _ in locks], [b for _, b in locks])
    rows = await PersonPeriod.raw(
        _PAIR_COUNTS_SQL,
        list(range(len(keys))),
        [owner for _, (owner, _, _, _), _ in keys],
        [giver for _, (_, giver, _, _), _ in keys],
        [start for _, (_, _, _, start), _ in keys],
        [period_end(Period(period), start) for _, (_, _, period, start), _ in keys],
        [department for department, _, _ in keys],
        str(tz),
    )
    for row in rows:
        department, (owner, _, period, start), (delta, cross_delta) = keys[row["n"]]
        change = changes[department][(owner, period, start)]
        change[0] += _crossed(row["kudos"], delta)
        change[1] += _crossed(row["cross_kudos"], cross_delta)
    return changes


async def apply(lines: Sequence[LedgerLine]) -> None:
    """Add ledger `lines` to every rollup (inside the transaction that appended them, after appending them)."""
    if not lines:
        return
    tz = org_tz()
    month_pairs: dict[PairKey, list[int]] = defaultdict(lambda: [0, 0])  # PersonGiverPeriod month rows
    person_pairs: dict[PairKey, list[int]] = defaultdict(lambda: [0, 0])
    department_pairs: dict[PairKey, list[int]] = defaultdict(lambda: [0, 0])
    people: dict[Key, list[int]] = defaultdict(lambda: [0] * 6)  # points kudos givers cross given given_points
    departments: dict[Key, list[int]] = defaultdict(lambda: [0] * 5)  # points kudos givers cross cross_kudos
    given_kudos: set[tuple[int, int, Period, date]] = set()
    for line in lines:
        delta = line.kudos_delta
        cross_delta = delta if line.cross else 0
        starts = period_starts(line.effective_at, tz)
        if delta:
            pair = month_pairs[(line.recipient, line.giver, Period.MONTH.value, starts[Period.MONTH])]
            pair[0] += delta
            pair[1] += cross_delta
        for period, start in starts.items():
            received = people[(line.recipient, period.value, start)]
            received[0] += line.amount
            received[1] += delta
            giver = people[(line.giver, period.value, start)]
            giver[5] += line.amount
            if delta and (line.kudos_id, line.giver, period, start) not in given_kudos:
                given_kudos.add((line.kudos_id, line.giver, period, start))
                giver[4] += delta
            if delta:
                pair = person_pairs[(line.recipient, line.giver, period.value, start)]
                pair[0] += delta
                pair[1] += cross_delta
            if line.recipient_department is not None:
                team = departments[(line.recipient_department, period.value, start)]
                team[0] += line.amount
                team[1] += delta
                team[4] += cross_delta
                if delta:
                    pair = department_pairs[(line.recipient_department, line.giver, period.value, start)]
                    pair[0] += delta
                    pair[1] += cross_delta
    person_changes, department_changes = await _giver_changes(tz, person_pairs, department_pairs)
    for key, (givers, cross) in person_changes.items():
        people[key][2] += givers
        people[key][3] += cross
    for key, (givers, cross) in department_changes.items():
        departments[key][2] += givers
        departments[key][3] += cross
    columns = [*_columns(month_pairs, 6), *_columns(people, 9), *_columns(departments, 8)]
    await PersonPeriod.raw(_UPSERT_SQL, *columns)


async def ledger_appended(event: LedgerAppended) -> None:
    await apply(event.lines)
