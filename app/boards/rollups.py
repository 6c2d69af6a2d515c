"""The board rollups' periods and counting rules, and their rebuild from the ledger (see app/boards/tables.py).

`app.boards.rollup_updates.apply()` keeps them in step inside the transaction that appends ledger entries, so
boards never disagree with the ledger. Counting rules (the same in `apply()` and `rebuild()`):
- points: every entry's amount, for its recipient (received) and its giver (given);
- kudos: +1 for a kudos entry, -1 for the revoke of one (an add-on adds points, not a kudos);
- givers / cross_givers: distinct kudos givers; "cross" when giver and recipient departments (as recorded on the
  entry) are both known and differ;
- given: kudos given (+1 per kudos, however many recipients; -1 when revoked);
- each entry counts in the periods that contain its `effective_at` in the organisation's time zone.

Distinct givers: a giver counts for a recipient (or department) in a period while the pair has a standing kudos
there. `apply()` reads the pair's standing kudos in each period from the ledger itself (partial indexes on
(recipient, giver) and (recipient_department, giver) of kudos entries; a pair has few) after appending the batch,
holding a transaction-scoped advisory lock per pair so concurrent transactions count one after the other; a count
crossing zero adds or removes a giver. Only the month rows of PersonGiverPeriod are kept (other features read
them); every coarser figure derives from them in `rebuild()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

import app.db as db
from app.boards.tables import Period, PersonPeriod
from app.timeutil import next_month, org_tz

ALL_TIME_START = date(1970, 1, 1)
ALL_TIME_END = date(9999, 1, 1)
ROLLUP_TABLES = ("person_giver_period", "person_period", "department_period")


def period_starts(moment: datetime, tz: tzinfo | None = None) -> dict[Period, date]:
    """The first day of each period containing `moment` in the organisation's time zone (weeks start Monday)."""
    day = moment.astimezone(tz or org_tz()).date()
    return {
        Period.WEEK: day - timedelta(days=day.weekday()),
        Period.MONTH: day.replace(day=1),
        Period.QUARTER: date(day.year, (day.month - 1) // 3 * 3 + 1, 1),
        Period.YEAR: date(day.year, 1, 1),
        Period.ALL: ALL_TIME_START,
    }


def period_end(kind: Period, start: date) -> date:
    """The first day after the period of kind `kind` that starts on `start`."""
    if kind == Period.WEEK:
        return start + timedelta(days=7)
    if kind == Period.MONTH:
        return next_month(start)
    if kind == Period.QUARTER:
        return next_month(next_month(next_month(start)))
    if kind == Period.YEAR:
        return start.replace(year=start.year + 1)
    return ALL_TIME_END


# ------------------------------------------------------------------------------------------------ rebuild

# The transaction's settings: memory for the big sorts and index builds, and the organisation's time zone (the
# value), which rebuild_ledger reads.
_SETTINGS_SQL = """
    SELECT set_config('work_mem', '256MB', true), set_config('maintenance_work_mem', '512MB', true),
           set_config('kudos.rebuild_zone', {}, true)
"""
# The ledger, one row per entry, with the counting rules of `apply()` (`dk`: Entry.kudos_delta; `cross_dept`:
# Entry.cross, false when a department is unknown) and its local week and month. A view, dropped once the stages
# below have read it: PostgreSQL expands it into each of them, as if written out there.
_LEDGER_VIEW_SQL = """
    CREATE TEMPORARY VIEW rebuild_ledger AS
    SELECT l.kudos, l.giver, l.recipient, l.recipient_department AS rd, l.amount,
           CASE WHEN l.addon IS NOT NULL THEN 0 WHEN l.kind = 'kudos' THEN 1 WHEN l.kind = 'revoke' THEN -1
                ELSE 0 END AS dk,
           (l.giver_department <> l.recipient_department) IS TRUE AS cross_dept,
           date_trunc('week', t.local_time)::date AS week, date_trunc('month', t.local_time)::date AS month
    FROM ledger_entry l
    CROSS JOIN LATERAL (SELECT l.effective_at AT TIME ZONE current_setting('kudos.rebuild_zone') AS local_time) AS t
"""
# Two passes over the ledger into temporary tables, then the month pairs; everything else is computed from these.
# rebuild_part: per (recipient, giver, their department, week, month) — a week split at a month's edge is two
# parts, so each part lies in exactly one period of every kind.
_STAGES = (
    """
    CREATE TEMPORARY TABLE rebuild_part ON COMMIT DROP AS
    SELECT recipient, giver, rd, week, month, sum(amount)::int AS points, sum(dk)::int AS kudos,
           coalesce(sum(dk) FILTER (WHERE cross_dept), 0)::int AS cross_kudos
    FROM rebuild_ledger GROUP BY recipient, giver, rd, week, month
    """,
    # kudos given: each kudos once, however many recipients (all its entries share their moment)
    """
    CREATE TEMPORARY TABLE rebuild_given ON COMMIT DROP AS
    SELECT giver, week, month, sum(dk)::int AS given
    FROM (SELECT DISTINCT kudos, giver, dk, week, month FROM rebuild_ledger WHERE dk <> 0) AS k
    GROUP BY giver, week, month
    """,
    "DROP VIEW rebuild_ledger",  # read by the two stages above only
    # (owner, giver, month) with their kudos and cross-department kudos: for people the rows person_giver_period
    # holds (those carrying a figure), for departments the pairs with a kudos.
    """
    CREATE TEMPORARY TABLE rebuild_pairs ON COMMIT DROP AS
    SELECT 'person' AS kind, recipient AS owner, giver, month AS start, sum(kudos)::int AS kudos,
           sum(cross_kudos)::int AS cross_kudos
    FROM rebuild_part GROUP BY recipient, giver, month HAVING sum(kudos) <> 0 OR sum(cross_kudos) <> 0
    UNION ALL
    SELECT 'department', rd, giver, month, sum(kudos)::int, sum(cross_kudos)::int
    FROM rebuild_part WHERE rd IS NOT NULL AND (kudos <> 0 OR cross_kudos <> 0) GROUP BY rd, giver, month
    """,
)
# Every row of person_period and department_period (those carrying any figure; the figures a table lacks stay 0),
# with ALL_TIME_START (the value, twice) as the start of all time:
# - totals: the (owner, week, month) sums summed per period, every kind of period in one pass (grouping sets;
#   GROUPING(week, month, quarter, year) has a bit set for each column left out);
# - distinct givers: weeks from the pairs in rebuild_part, months from the month pairs, quarters, years and all
#   time from `years` (each pair's months with standing kudos per year, as bit masks: 7, 56, 448 and 3584 are the
#   months of each quarter).
_ROLLUPS_SQL = """
    CREATE TEMPORARY TABLE rebuild_rollups ON COMMIT DROP AS
    WITH years AS MATERIALIZED (
        SELECT kind, owner, giver, date_trunc('year', start::timestamp)::date AS year,
               bit_or(CASE WHEN kudos > 0 THEN 1 << (extract(month FROM start)::int - 1) ELSE 0 END) AS kb,
               bit_or(CASE WHEN cross_kudos > 0 THEN 1 << (extract(month FROM start)::int - 1) ELSE 0 END) AS cb
        FROM rebuild_pairs GROUP BY 1, 2, 3, 4
    )
    SELECT kind, owner, period, start, sum(points)::int AS points, sum(kudos)::int AS kudos,
           sum(given)::int AS given, sum(given_points)::int AS given_points, sum(cross_kudos)::int AS cross_kudos,
           sum(givers)::int AS givers, sum(cross_givers)::int AS cross_givers
    FROM (
        SELECT kind, owner,
               CASE GROUPING(week, month, quarter, year) WHEN 7 THEN 'week' WHEN 11 THEN 'month'
                    WHEN 13 THEN 'quarter' WHEN 14 THEN 'year' ELSE 'all' END,
               coalesce(week, month, quarter, year, {}::date), sum(points)::int, sum(kudos)::int, sum(given)::int,
               sum(given_points)::int, sum(cross_kudos)::int, 0, 0
        FROM (SELECT kind, owner, week, month, date_trunc('quarter', month::timestamp)::date AS quarter,
                     date_trunc('year', month::timestamp)::date AS year, sum(points)::int AS points,
                     sum(kudos)::int AS kudos, sum(given)::int AS given, sum(given_points)::int AS given_points,
                     sum(cross_kudos)::int AS cross_kudos  -- int sums add up as bigint, not numeric
              FROM (
                  SELECT 'person' AS kind, recipient AS owner, week, month, points, kudos, 0 AS given,
                         0 AS given_points, 0 AS cross_kudos
                  FROM rebuild_part
                  UNION ALL SELECT 'person', giver, week, month, 0, 0, 0, points, 0 FROM rebuild_part
                  UNION ALL SELECT 'person', giver, week, month, 0, 0, given, 0, 0 FROM rebuild_given
                  UNION ALL
                  SELECT 'department', rd, week, month, points, kudos, 0, 0, cross_kudos
                  FROM rebuild_part WHERE rd IS NOT NULL
              ) AS s GROUP BY kind, owner, week, month) AS t
        GROUP BY kind, owner, GROUPING SETS ((week), (month), (quarter), (year), ())
        UNION ALL
        SELECT kind, owner, 'week', week, 0, 0, 0, 0, 0, count(*) FILTER (WHERE kudos > 0)::int,
               count(*) FILTER (WHERE cross_kudos > 0)::int
        FROM (SELECT 'person' AS kind, recipient AS owner, giver, week, sum(kudos)::int AS kudos,
                     sum(cross_kudos)::int AS cross_kudos
              FROM rebuild_part WHERE kudos <> 0 OR cross_kudos <> 0 GROUP BY 2, 3, 4
              UNION ALL
              SELECT 'department', rd, giver, week, sum(kudos)::int, sum(cross_kudos)::int
              FROM rebuild_part WHERE rd IS NOT NULL AND (kudos <> 0 OR cross_kudos <> 0) GROUP BY 2, 3, 4) AS w
        GROUP BY kind, owner, week
        UNION ALL
        SELECT kind, owner, 'month', start, 0, 0, 0, 0, 0, count(*) FILTER (WHERE kudos > 0)::int,
               count(*) FILTER (WHERE cross_kudos > 0)::int
        FROM rebuild_pairs GROUP BY kind, owner, start
        UNION ALL
        SELECT y.kind, y.owner, p.period, p.start, 0, 0, 0, 0, 0, p.givers, p.cross_givers
        FROM (SELECT kind, owner, year,
                     count(*) FILTER (WHERE kb & 7 <> 0)::int AS k0, count(*) FILTER (WHERE cb & 7 <> 0)::int AS c0,
                     count(*) FILTER (WHERE kb & 56 <> 0)::int AS k1, count(*) FILTER (WHERE cb & 56 <> 0)::int AS c1,
                     count(*) FILTER (WHERE kb & 448 <> 0)::int AS k2,
                     count(*) FILTER (WHERE cb & 448 <> 0)::int AS c2,
                     count(*) FILTER (WHERE kb & 3584 <> 0)::int AS k3,
                     count(*) FILTER (WHERE cb & 3584 <> 0)::int AS c3,
                     count(*) FILTER (WHERE kb <> 0)::int AS ky, count(*) FILTER (WHERE cb <> 0)::int AS cy
              FROM years GROUP BY kind, owner, year) AS y
        CROSS JOIN LATERAL (VALUES ('quarter', y.year, y.k0, y.c0),
                                   ('quarter', (y.year + interval '3 months')::date, y.k1, y.c1),
                                   ('quarter', (y.year + interval '6 months')::date, y.k2, y.c2),
                                   ('quarter', (y.year + interval '9 months')::date, y.k3, y.c3),
                                   ('year', y.year, y.ky, y.cy)) AS p(period, start, givers, cross_givers)
        UNION ALL
        SELECT kind, owner, 'all', {}::date, 0, 0, 0, 0, 0, count(*) FILTER (WHERE k)::int,
               count(*) FILTER (WHERE c)::int
        FROM (SELECT kind, owner, giver, bool_or(kb <> 0) AS k, bool_or(cb <> 0) AS c FROM years GROUP BY 1, 2, 3) AS a
        GROUP BY kind, owner
    ) AS parts(kind, owner, period, start, points, kudos, given, given_points, cross_kudos, givers, cross_givers)
    GROUP BY kind, owner, period, start
    HAVING sum(points) <> 0 OR sum(kudos) <> 0 OR sum(given) <> 0 OR sum(given_points) <> 0 OR sum(cross_kudos) <> 0
        OR sum(givers) <> 0 OR sum(cross_givers) <> 0
"""


@dataclass(frozen=True, slots=True)
class _Rollup:
    """One rollup table's statements (a table's name cannot be a bound value)."""

    table: str
    insert: str  # its rows, from the stages (after a TRUNCATE)
    check: str  # how many of its rows differ from those rebuilt (either way) and how many were rebuilt


# A stored row counts when it carries a figure: revokes can leave rows of zeros.
_ROLLUPS = (
    _Rollup(
        "person_giver_period",
        """
        INSERT INTO person_giver_period (recipient, giver, period, start, kudos, cross_kudos)
        SELECT owner, giver, 'month', start, kudos, cross_kudos FROM rebuild_pairs WHERE kind = 'person'
        """,
        """
        WITH rebuilt AS MATERIALIZED (
            SELECT owner, giver, 'month' AS period, start, kudos, cross_kudos FROM rebuild_pairs WHERE kind = 'person'
        ), stored AS (
            SELECT recipient, giver, period, start, kudos, cross_kudos FROM person_giver_period
            WHERE kudos <> 0 OR cross_kudos <> 0
        )
        SELECT (SELECT count(*) FROM (TABLE rebuilt EXCEPT TABLE stored) AS a)
               + (SELECT count(*) FROM (TABLE stored EXCEPT TABLE rebuilt) AS b) AS n,
               (SELECT count(*) FROM rebuilt) AS total
        """,
    ),
    _Rollup(
        "person_period",
        """
        INSERT INTO person_period (employee, period, start, points, kudos, givers, cross_givers, given, given_points)
        SELECT owner, period, start, points, kudos, givers, cross_givers, given, given_points
        FROM rebuild_rollups WHERE kind = 'person'
        """,
        """
        WITH rebuilt AS MATERIALIZED (
            SELECT owner, period, start, points, kudos, givers, cross_givers, given, given_points
            FROM rebuild_rollups WHERE kind = 'person'
        ), stored AS (
            SELECT employee, period, start, points, kudos, givers, cross_givers, given, given_points
            FROM person_period
            WHERE points <> 0 OR kudos <> 0 OR givers <> 0 OR cross_givers <> 0 OR given <> 0 OR given_points <> 0
        )
        SELECT (SELECT count(*) FROM (TABLE rebuilt EXCEPT TABLE stored) AS a)
               + (SELECT count(*) FROM (TABLE stored EXCEPT TABLE rebuilt) AS b) AS n,
               (SELECT count(*) FROM rebuilt) AS total
        """,
    ),
    _Rollup(
        "department_period",
        """
        INSERT INTO department_period (department, period, start, points, kudos, givers, cross_givers, cross_kudos)
        SELECT owner, period, start, points, kudos, givers, cross_givers, cross_kudos
        FROM rebuild_rollups WHERE kind = 'department'
        """,
        """
        WITH rebuilt AS MATERIALIZED (
            SELECT owner, period, start, points, kudos, givers, cross_givers, cross_kudos
            FROM rebuild_rollups WHERE kind = 'department'
        ), stored AS (
            SELECT department, period, start, points, kudos, givers, cross_givers, cross_kudos FROM department_period
            WHERE points <> 0 OR kudos <> 0 OR givers <> 0 OR cross_givers <> 0 OR cross_kudos <> 0
        )
        SELECT (SELECT count(*) FROM (TABLE rebuilt EXCEPT TABLE stored) AS a)
               + (SELECT count(*) FROM (TABLE stored EXCEPT TABLE rebuilt) AS b) AS n,
               (SELECT count(*) FROM rebuilt) AS total
        """,
    ),
)
_TRUNCATE_SQL = "TRUNCATE person_giver_period, person_period, department_period"
_COUNTS_SQL = """
    SELECT (SELECT count(*) FROM person_giver_period) AS person_giver_period,
           (SELECT count(*) FROM person_period) AS person_period,
           (SELECT count(*) FROM department_period) AS department_period
"""
# Fresh statistics (or boards fall back to poor plans) and a visibility map (or index-only scans fetch every heap
# row): what autovacuum would do some minutes later. VACUUM cannot run inside a caller's transaction.
_VACUUM_SQL = "VACUUM (ANALYZE) person_giver_period, person_period, department_period"
_ANALYZE_SQL = "ANALYZE person_giver_period, person_period, department_period"

# A table's (the value's) unique and foreign-key constraints and its other indexes (the primary key stays): the
# statements that drop them and those that put them back, spelt by PostgreSQL from its catalog.
_CONSTRAINTS_SQL = """
    SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
               AS restore
    FROM pg_constraint WHERE conrelid = {}::text::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname
"""
_INDEXES_SQL = """
    SELECT format('DROP INDEX %I', indexname) AS drop, indexdef AS restore
    FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename = {}
      AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = {}::text::regclass)
    ORDER BY indexname
"""


async def _drop_indexes(table: str) -> list[str]:
    """Drop `table`'s unique and foreign-key constraints and its other indexes (the primary key stays); returns
    the statements that put them back. Building an index once over the loaded rows is far cheaper than updating
    it row by row, and a foreign key is checked by one join instead of a trigger per row."""
    found = [*await PersonPeriod.raw(_CONSTRAINTS_SQL, table), *await PersonPeriod.raw(_INDEXES_SQL, table, table)]
    for row in found:
        await db.engine().run_ddl(row["drop"])
    return [row["restore"] for row in found]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    seconds: float
    rows: dict[str, int]
    differences: dict[str, int]


async def rebuild(*, check: bool = False, tz_name: str | None = None) -> RebuildReport:
    """Recompute every rollup from the ledger in one transaction (then vacuum them, so boards get index-only scans
    at once; inside a caller's transaction, such as a department merge, only analyse them). With `check`, write
    nothing and count, per table, the rows that differ between the stored rollups and the recomputed ones."""
    from app.settings import get_settings

    engine = db.engine()
    nested = engine.current_transaction.get() is not None
    started = time.perf_counter()
    rows: dict[str, int] = {}
    differences: dict[str, int] = {}
    async with db.transaction():
        await PersonPeriod.raw(_SETTINGS_SQL, tz_name or get_settings().timezone)
        await engine.run_ddl(_LEDGER_VIEW_SQL)
        for stage in _STAGES:
            await engine.run_ddl(stage)
        await PersonPeriod.raw(_ROLLUPS_SQL, ALL_TIME_START, ALL_TIME_START)
        if check:
            for rollup in _ROLLUPS:
                result = (await engine.run_ddl(rollup.check))[0]
                differences[rollup.table], rows[rollup.table] = result["n"], result["total"]
        else:
            await engine.run_ddl(_TRUNCATE_SQL)
            for rollup in _ROLLUPS:
                restore = await _drop_indexes(rollup.table)
                await engine.run_ddl(rollup.insert)
                for statement in restore:
                    await engine.run_ddl(statement)
            rows = dict((await engine.run_ddl(_COUNTS_SQL))[0])
    if not check:
        await engine.run_ddl(_ANALYZE_SQL if nested else _VACUUM_SQL)
    return RebuildReport(seconds=time.perf_counter() - started, rows=rows, differences=differences)
