"""The SQL of `app.boards.rollups.rebuild`: the ledger read with the counting rules of `apply()`, the stages that
aggregate it into temporary tables, and the statements that load the rollups from them, in full or for a scope
(one month and the periods around it; some people's and departments' rows).
"""

from __future__ import annotations

from dataclasses import dataclass

# The transaction's settings: memory for the big sorts and index builds, and the values (text) the views below
# read: the organisation's time zone, the local days [from, to) of the weeks around a month and the month (its
# first day), and the people and departments (int arrays) whose rows are rebuilt.
SETTINGS_SQL = """
    SELECT set_config('work_mem', '1GB', true), set_config('maintenance_work_mem', '1GB', true),
           set_config('kudos.rebuild_zone', {}, true), set_config('kudos.rebuild_from', {}, true),
           set_config('kudos.rebuild_to', {}, true), set_config('kudos.rebuild_month', {}, true),
           set_config('kudos.rebuild_people', {}, true), set_config('kudos.rebuild_departments', {}, true)
"""
# The ledger, one row per entry, with the counting rules of `apply()` (`dk`: Entry.kudos_delta; `cross_dept`:
# Entry.cross, false when a department is unknown) and its local week and month. Temporary views (dropped before
# the transaction ends, see DROP_VIEWS_SQL): PostgreSQL expands them into each statement, as if written out there.
LEDGER_VIEW_SQL = """
    CREATE TEMPORARY VIEW rebuild_ledger AS
    SELECT l.kudos, l.giver, l.recipient, l.recipient_department AS rd, l.amount, l.effective_at,
           CASE WHEN l.addon IS NOT NULL THEN 0 WHEN l.kind = 'kudos' THEN 1 WHEN l.kind = 'revoke' THEN -1
                ELSE 0 END AS dk,
           (l.giver_department <> l.recipient_department) IS TRUE AS cross_dept,
           date_trunc('week', t.local_time)::date AS week, date_trunc('month', t.local_time)::date AS month
    FROM ledger_entry l
    CROSS JOIN LATERAL (SELECT l.effective_at AT TIME ZONE current_setting('kudos.rebuild_zone') AS local_time) AS t
"""
# The entries the stages read (`rebuild_entries`), one statement per scope of a rebuild: all of them; those of
# the weeks around a month (by `ledger_entry_effective_at`); those that count for some people (received or given)
# or departments (received).
ALL_ENTRIES_SQL = "CREATE TEMPORARY VIEW rebuild_entries AS SELECT * FROM rebuild_ledger"
WEEKS_ENTRIES_SQL = """
    CREATE TEMPORARY VIEW rebuild_entries AS SELECT * FROM rebuild_ledger
    WHERE effective_at >= (current_setting('kudos.rebuild_from')::timestamp
                           AT TIME ZONE current_setting('kudos.rebuild_zone'))
      AND effective_at < (current_setting('kudos.rebuild_to')::timestamp
                          AT TIME ZONE current_setting('kudos.rebuild_zone'))
"""
OWNERS_ENTRIES_SQL = """
    CREATE TEMPORARY VIEW rebuild_entries AS SELECT * FROM rebuild_ledger
    WHERE recipient = ANY (current_setting('kudos.rebuild_people')::int[])
       OR giver = ANY (current_setting('kudos.rebuild_people')::int[])
       OR rd = ANY (current_setting('kudos.rebuild_departments')::int[])
"""
DROP_VIEWS_SQL = "DROP VIEW rebuild_entries, rebuild_ledger"
# Two passes over the entries into temporary tables, then the month pairs; everything else is computed from these.
# rebuild_part: per (recipient, giver, their department, week, month) — a week split at a month's edge is two
# parts, so each part lies in exactly one period of every kind.
STAGES = (
    """
    CREATE TEMPORARY TABLE rebuild_part ON COMMIT DROP AS
    SELECT recipient, giver, rd, week, month, sum(amount)::int AS points, sum(dk)::int AS kudos,
           coalesce(sum(dk) FILTER (WHERE cross_dept), 0)::int AS cross_kudos
    FROM rebuild_entries GROUP BY recipient, giver, rd, week, month
    """,
    # kudos given: each kudos once, however many recipients (all its entries share their moment)
    """
    CREATE TEMPORARY TABLE rebuild_given ON COMMIT DROP AS
    SELECT giver, week, month, sum(dk)::int AS given
    FROM (SELECT DISTINCT kudos, giver, dk, week, month FROM rebuild_entries WHERE dk <> 0) AS k
    GROUP BY giver, week, month
    """,
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
# What every row of person_period and department_period is computed from, one temporary table per statement (so
# that each statement holds one or two hash tables in memory at a time, not a dozen):
# - rebuild_totals: per (owner, week, month), the sums of rebuild_part and rebuild_given;
# - rebuild_week_givers: per (owner, week), the distinct givers of the pairs in rebuild_part;
# - rebuild_years: each pair's months with standing kudos per year, as bit masks (from the month pairs).
ROLLUP_STAGES = (
    """
    CREATE TEMPORARY TABLE rebuild_totals ON COMMIT DROP AS
    SELECT kind, owner, week, month, date_trunc('quarter', month::timestamp)::date AS quarter,
           date_trunc('year', month::timestamp)::date AS year, sum(points)::int AS points, sum(kudos)::int AS kudos,
           sum(given)::int AS given, sum(given_points)::int AS given_points,
           sum(cross_kudos)::int AS cross_kudos  -- int sums add up as bigint, not numeric
    FROM (
        SELECT 'person' AS kind, recipient AS owner, week, month, points, kudos, 0 AS given, 0 AS given_points,
               0 AS cross_kudos
        FROM rebuild_part
        UNION ALL SELECT 'person', giver, week, month, 0, 0, 0, points, 0 FROM rebuild_part
        UNION ALL SELECT 'person', giver, week, month, 0, 0, given, 0, 0 FROM rebuild_given
        UNION ALL
        SELECT 'department', rd, week, month, points, kudos, 0, 0, cross_kudos FROM rebuild_part WHERE rd IS NOT NULL
    ) AS s
    GROUP BY kind, owner, week, month
    """,
    """
    CREATE TEMPORARY TABLE rebuild_week_givers ON COMMIT DROP AS
    SELECT kind, owner, week, count(*) FILTER (WHERE kudos > 0)::int AS givers,
           count(*) FILTER (WHERE cross_kudos > 0)::int AS cross_givers
    FROM (SELECT 'person' AS kind, recipient AS owner, giver, week, sum(kudos)::int AS kudos,
                 sum(cross_kudos)::int AS cross_kudos
          FROM rebuild_part WHERE kudos <> 0 OR cross_kudos <> 0 GROUP BY 2, 3, 4
          UNION ALL
          SELECT 'department', rd, giver, week, sum(kudos)::int, sum(cross_kudos)::int
          FROM rebuild_part WHERE rd IS NOT NULL AND (kudos <> 0 OR cross_kudos <> 0) GROUP BY 2, 3, 4) AS w
    GROUP BY kind, owner, week
    """,
    """
    CREATE TEMPORARY TABLE rebuild_years ON COMMIT DROP AS
    SELECT kind, owner, giver, make_date(y, 1, 1) AS year, kb, cb
    FROM (SELECT kind, owner, giver, date_part('year', start)::int AS y,
                 bit_or(CASE WHEN kudos > 0 THEN 1 << (date_part('month', start)::int - 1) ELSE 0 END) AS kb,
                 bit_or(CASE WHEN cross_kudos > 0 THEN 1 << (date_part('month', start)::int - 1) ELSE 0 END) AS cb
          FROM rebuild_pairs GROUP BY 1, 2, 3, 4) AS y
    """,
)
# Every row of person_period and department_period (those carrying any figure; the figures a table lacks stay 0),
# with ALL_TIME_START (the value, twice) as the start of all time:
# - totals: rebuild_totals summed per period, every kind of period in one pass (grouping sets;
#   GROUPING(week, month, quarter, year) has a bit set for each column left out);
# - distinct givers: weeks from rebuild_week_givers, months from the month pairs, quarters, years and all time
#   from rebuild_years (7, 56, 448 and 3584 are the months of each quarter).
ROLLUPS_SQL = """
    CREATE TEMPORARY TABLE rebuild_rollups ON COMMIT DROP AS
    SELECT kind, owner, period, start, sum(points)::int AS points, sum(kudos)::int AS kudos,
           sum(given)::int AS given, sum(given_points)::int AS given_points, sum(cross_kudos)::int AS cross_kudos,
           sum(givers)::int AS givers, sum(cross_givers)::int AS cross_givers
    FROM (
        SELECT kind, owner,
               CASE GROUPING(week, month, quarter, year) WHEN 7 THEN 'week' WHEN 11 THEN 'month'
                    WHEN 13 THEN 'quarter' WHEN 14 THEN 'year' ELSE 'all' END,
               coalesce(week, month, quarter, year, {}::date), sum(points)::int, sum(kudos)::int, sum(given)::int,
               sum(given_points)::int, sum(cross_kudos)::int, 0, 0
        FROM rebuild_totals
        GROUP BY kind, owner, GROUPING SETS ((week), (month), (quarter), (year), ())
        UNION ALL
        SELECT kind, owner, 'week', week, 0, 0, 0, 0, 0, givers, cross_givers FROM rebuild_week_givers
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
              FROM rebuild_years GROUP BY kind, owner, year) AS y
        CROSS JOIN LATERAL (VALUES ('quarter', y.year, y.k0, y.c0),
                                   ('quarter', (y.year + interval '3 months')::date, y.k1, y.c1),
                                   ('quarter', (y.year + interval '6 months')::date, y.k2, y.c2),
                                   ('quarter', (y.year + interval '9 months')::date, y.k3, y.c3),
                                   ('year', y.year, y.ky, y.cy)) AS p(period, start, givers, cross_givers)
        UNION ALL
        SELECT kind, owner, 'all', {}::date, 0, 0, 0, 0, 0, count(*) FILTER (WHERE k)::int,
               count(*) FILTER (WHERE c)::int
        FROM (SELECT kind, owner, giver, bool_or(kb <> 0) AS k, bool_or(cb <> 0) AS c
              FROM rebuild_years GROUP BY 1, 2, 3) AS a
        GROUP BY kind, owner
    ) AS parts(kind, owner, period, start, points, kudos, given, given_points, cross_kudos, givers, cross_givers)
    GROUP BY kind, owner, period, start
    HAVING sum(points) <> 0 OR sum(kudos) <> 0 OR sum(given) <> 0 OR sum(given_points) <> 0 OR sum(cross_kudos) <> 0
        OR sum(givers) <> 0 OR sum(cross_givers) <> 0
"""


@dataclass(frozen=True, slots=True)
class Rollup:
    """One rollup table's statements (a table's name cannot be a bound value)."""

    table: str
    insert: str  # its rows, from the stages (after a TRUNCATE)
    check: str  # how many of its rows differ from those rebuilt (either way) and how many were rebuilt


# A stored row counts when it carries a figure: revokes can leave rows of zeros.
ROLLUPS = (
    Rollup(
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
    Rollup(
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
    Rollup(
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
TRUNCATE_SQL = "TRUNCATE person_giver_period, person_period, department_period"
COUNTS_SQL = """
    SELECT (SELECT count(*) FROM person_giver_period) AS person_giver_period,
           (SELECT count(*) FROM person_period) AS person_period,
           (SELECT count(*) FROM department_period) AS department_period
"""
# Fresh statistics (or boards fall back to poor plans) and a visibility map (or index-only scans fetch every heap
# row): what autovacuum would do some minutes later. VACUUM cannot run inside a caller's transaction.
COMPUTED_COUNTS_SQL = """
    SELECT (SELECT count(*) FROM rebuild_pairs WHERE kind = 'person') AS person_giver_period,
           (SELECT count(*) FROM rebuild_rollups WHERE kind = 'person') AS person_period,
           (SELECT count(*) FROM rebuild_rollups WHERE kind = 'department') AS department_period
"""
VACUUM_SQL = "VACUUM (ANALYZE) person_giver_period, person_period, department_period"
ANALYZE_SQL = "ANALYZE person_giver_period, person_period, department_period"

# A table's (the value's) unique and foreign-key constraints and its other indexes (the primary key stays): the
# statements that drop them and those that put them back, spelt by PostgreSQL from its catalog.
CONSTRAINTS_SQL = """
    SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
               AS restore
    FROM pg_constraint WHERE conrelid = {}::text::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname
"""
INDEXES_SQL = """
    SELECT format('DROP INDEX %I', indexname) AS drop, indexdef AS restore
    FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename = {}
      AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = {}::text::regclass)
    ORDER BY indexname
"""


# ------------------------------------------------------------------------------------------------ one month
# The rows a month's rebuild replaces: its weeks (every week with a day in it, read whole: the entries of
# [from, to)), the month, and the quarter, year and all time containing it for the owners the month concerns.

# Keep, of the rows computed from the weeks' entries, the weeks' rows and the month's (not the neighbouring
# months', which the weeks' entries only partly cover).
MONTH_SCOPE_SQL = """
    WITH rows AS (
        DELETE FROM rebuild_rollups
        WHERE NOT (period = 'week' AND start >= current_setting('kudos.rebuild_from')::date
                       AND start < current_setting('kudos.rebuild_to')::date
                   OR period = 'month' AND start = current_setting('kudos.rebuild_month')::date)
    ), pairs AS (DELETE FROM rebuild_pairs WHERE start <> current_setting('kudos.rebuild_month')::date)
    SELECT 1
"""
AFFECTED_TABLE_SQL = "CREATE TEMPORARY TABLE rebuild_affected (kind text, owner int) ON COMMIT DROP"
ANALYZE_AFFECTED_SQL = "ANALYZE rebuild_affected"  # a handful of owners or all of them: the plans differ
# Delete the stored rows of the weeks and the month; the owners of the month's rows, stored or rebuilt, are those
# whose quarter, year and all-time rows change.
CLEAR_MONTH_SQL = """
    WITH people AS (
        DELETE FROM person_period
        WHERE period = 'week' AND start >= current_setting('kudos.rebuild_from')::date
              AND start < current_setting('kudos.rebuild_to')::date
           OR period = 'month' AND start = current_setting('kudos.rebuild_month')::date
        RETURNING employee, period
    ), departments AS (
        DELETE FROM department_period
        WHERE period = 'week' AND start >= current_setting('kudos.rebuild_from')::date
              AND start < current_setting('kudos.rebuild_to')::date
           OR period = 'month' AND start = current_setting('kudos.rebuild_month')::date
        RETURNING department, period
    ), pairs AS (
        DELETE FROM person_giver_period WHERE period = 'month' AND start = current_setting('kudos.rebuild_month')::date
        RETURNING recipient
    )
    INSERT INTO rebuild_affected
    SELECT 'person', employee FROM people WHERE period = 'month'
    UNION SELECT 'department', department FROM departments WHERE period = 'month'
    UNION SELECT 'person', recipient FROM pairs
    UNION SELECT kind, owner FROM rebuild_rollups WHERE period = 'month'
    UNION SELECT kind, owner FROM rebuild_pairs WHERE kind = 'person'
"""
# The affected owners' quarter, year and all-time rows (the bounds are values: the quarter's first day and the
# next quarter's, the same for the year and all time), derived from month rows as a full rebuild derives them:
# totals are sums of the month rows (the stored ones of other months, the rebuilt ones of this month); a giver
# counts where a month of the period has a standing kudos, for people from the month pairs (stored and rebuilt),
# for departments from the ledger (no month pairs are kept; a pair's standing kudos never fall below 0 in a
# month, as a revoke counts where its kudos did, so its sum over the period is positive exactly then).
COARSE_SQL = """
    INSERT INTO rebuild_rollups
        (kind, owner, period, start, points, kudos, given, given_points, cross_kudos, givers, cross_givers)
    WITH bounds AS (
        SELECT q, qe, y, ye, a, ae, q::timestamp AT TIME ZONE z AS qt, qe::timestamp AT TIME ZONE z AS qet,
               y::timestamp AT TIME ZONE z AS yt, ye::timestamp AT TIME ZONE z AS yet
        FROM (SELECT {}::date AS q, {}::date AS qe, {}::date AS y, {}::date AS ye, {}::date AS a, {}::date AS ae,
                     current_setting('kudos.rebuild_zone') AS z) AS v
    ), months AS (
        SELECT 'person' AS kind, p.employee AS owner, p.start, p.points, p.kudos, p.given, p.given_points,
               0 AS cross_kudos
        FROM person_period p JOIN rebuild_affected f ON f.kind = 'person' AND f.owner = p.employee
        WHERE p.period = 'month'
        UNION ALL
        SELECT 'department', d.department, d.start, d.points, d.kudos, 0, 0, d.cross_kudos
        FROM department_period d JOIN rebuild_affected f ON f.kind = 'department' AND f.owner = d.department
        WHERE d.period = 'month'
        UNION ALL
        SELECT kind, owner, start, points, kudos, given, given_points, cross_kudos
        FROM rebuild_rollups WHERE period = 'month'
    ), pairs AS (
        SELECT 'person' AS kind, g.owner,
               bool_or(g.kudos > 0 AND g.start >= b.q AND g.start < b.qe) AS kq,
               bool_or(g.cross_kudos > 0 AND g.start >= b.q AND g.start < b.qe) AS cq,
               bool_or(g.kudos > 0 AND g.start >= b.y AND g.start < b.ye) AS ky,
               bool_or(g.cross_kudos > 0 AND g.start >= b.y AND g.start < b.ye) AS cy,
               bool_or(g.kudos > 0) AS ka, bool_or(g.cross_kudos > 0) AS ca
        FROM (SELECT p.recipient AS owner, p.giver, p.start, p.kudos, p.cross_kudos
              FROM person_giver_period p JOIN rebuild_affected f ON f.kind = 'person' AND f.owner = p.recipient
              UNION ALL
              SELECT owner, giver, start, kudos, cross_kudos FROM rebuild_pairs WHERE kind = 'person') AS g
        CROSS JOIN bounds b
        GROUP BY g.owner, g.giver
        UNION ALL
        SELECT 'department', e.rd,
               sum(e.dk) FILTER (WHERE e.effective_at >= b.qt AND e.effective_at < b.qet) > 0,
               sum(e.dk) FILTER (WHERE e.cross_dept AND e.effective_at >= b.qt AND e.effective_at < b.qet) > 0,
               sum(e.dk) FILTER (WHERE e.effective_at >= b.yt AND e.effective_at < b.yet) > 0,
               sum(e.dk) FILTER (WHERE e.cross_dept AND e.effective_at >= b.yt AND e.effective_at < b.yet) > 0,
               sum(e.dk) > 0, sum(e.dk) FILTER (WHERE e.cross_dept) > 0
        FROM rebuild_ledger e JOIN rebuild_affected f ON f.kind = 'department' AND f.owner = e.rd
        CROSS JOIN bounds b
        WHERE e.dk <> 0
        GROUP BY e.rd, e.giver
    ), givers AS (
        SELECT kind, owner, count(*) FILTER (WHERE kq) AS kq, count(*) FILTER (WHERE cq) AS cq,
               count(*) FILTER (WHERE ky) AS ky, count(*) FILTER (WHERE cy) AS cy, count(*) FILTER (WHERE ka) AS ka,
               count(*) FILTER (WHERE ca) AS ca
        FROM pairs GROUP BY kind, owner
    )
    SELECT kind, owner, period, start, sum(points), sum(kudos), sum(given), sum(given_points), sum(cross_kudos),
           sum(givers), sum(cross_givers)
    FROM (
        SELECT m.kind, m.owner, p.period, p.start, m.points, m.kudos, m.given, m.given_points, m.cross_kudos,
               0 AS givers, 0 AS cross_givers
        FROM months m CROSS JOIN bounds b
        CROSS JOIN LATERAL (VALUES ('quarter', b.q, b.qe), ('year', b.y, b.ye), ('all', b.a, b.ae))
            AS p(period, start, finish)
        WHERE m.start >= p.start AND m.start < p.finish
        UNION ALL
        SELECT g.kind, g.owner, p.period, p.start, 0, 0, 0, 0, 0, p.k, p.c
        FROM givers g CROSS JOIN bounds b
        CROSS JOIN LATERAL (VALUES ('quarter', b.q, g.kq, g.cq), ('year', b.y, g.ky, g.cy), ('all', b.a, g.ka, g.ca))
            AS p(period, start, k, c)
    ) AS s
    GROUP BY kind, owner, period, start
    HAVING sum(points) <> 0 OR sum(kudos) <> 0 OR sum(given) <> 0 OR sum(given_points) <> 0 OR sum(cross_kudos) <> 0
        OR sum(givers) <> 0 OR sum(cross_givers) <> 0
"""
# Delete the affected owners' stored rows of the quarter (its first day: the first value), the year (the second)
# and all time.
CLEAR_COARSE_SQL = """
    WITH people AS (
        DELETE FROM person_period p USING rebuild_affected f
        WHERE f.kind = 'person' AND p.employee = f.owner
          AND (p.period = 'quarter' AND p.start = {} OR p.period = 'year' AND p.start = {} OR p.period = 'all')
    )
    DELETE FROM department_period d USING rebuild_affected f
    WHERE f.kind = 'department' AND d.department = f.owner
      AND (d.period = 'quarter' AND d.start = {} OR d.period = 'year' AND d.start = {} OR d.period = 'all')
"""

# ------------------------------------------------------------------------------------------------ some owners
# Every row of some people (as recipients and givers) and departments, from the entries that count for them.
OWNERS_SCOPE_SQL = """
    WITH rows AS (
        DELETE FROM rebuild_rollups
        WHERE NOT owner = ANY ((CASE kind WHEN 'person' THEN current_setting('kudos.rebuild_people')
                                          ELSE current_setting('kudos.rebuild_departments') END)::int[])
    ), pairs AS (
        DELETE FROM rebuild_pairs
        WHERE kind <> 'person' OR NOT owner = ANY (current_setting('kudos.rebuild_people')::int[])
    )
    SELECT 1
"""
CLEAR_OWNERS_SQL = """
    WITH people AS (
        DELETE FROM person_period WHERE employee = ANY (current_setting('kudos.rebuild_people')::int[])
    ), pairs AS (
        DELETE FROM person_giver_period WHERE recipient = ANY (current_setting('kudos.rebuild_people')::int[])
    )
    DELETE FROM department_period WHERE department = ANY (current_setting('kudos.rebuild_departments')::int[])
"""
