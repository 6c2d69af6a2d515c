# ruff: noqa: S608 — SQL here is assembled from this module's constant table and column names; values are bound
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
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.base import Engine

from app.boards.tables import Period
from app.timeutil import next_month, org_tz

ALL_TIME_START = date(1970, 1, 1)
METRIC_COLUMNS = ("points", "kudos", "givers", "cross_givers")
ALL_TIME_END = date(9999, 1, 1)
# In rebuild order: person_period's distinct givers derive from the month pairs.
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


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _kudos_delta(alias: str) -> str:
    """SQL for `Entry.kudos_delta` of ledger rows called `alias`."""
    return (
        f"CASE WHEN {alias}.addon IS NOT NULL THEN 0 WHEN {alias}.kind = 'kudos' THEN 1 "
        f"WHEN {alias}.kind = 'revoke' THEN -1 ELSE 0 END"
    )


def _cross(alias: str) -> str:
    """SQL for `Entry.cross` of ledger rows called `alias` (false when a department is unknown)."""
    return f"({alias}.giver_department <> {alias}.recipient_department) IS TRUE"


# ------------------------------------------------------------------------------------------------ rebuild

# The ledger, one row per entry, with the counting rules of `apply()` and its local week and month.
_LEDGER = """
    SELECT l.kudos, l.giver, l.recipient, l.recipient_department AS rd, l.amount, {dk} AS dk, {cross} AS cross_dept,
           date_trunc('week', t.local_time)::date AS week, date_trunc('month', t.local_time)::date AS month
    FROM ledger_entry l CROSS JOIN LATERAL (SELECT l.effective_at AT TIME ZONE {tz} AS local_time) AS t
"""
# Two passes over the ledger into temporary tables; everything else is computed from these.
# rebuild_part: per (recipient, giver, their department, week, month) — a week split at a month's edge is two
# parts, so each part lies in exactly one period of every kind.
_STAGES = (
    """
    CREATE TEMPORARY TABLE rebuild_part ON COMMIT DROP AS
    SELECT recipient, giver, rd, week, month, sum(amount)::int AS points, sum(dk)::int AS kudos,
           coalesce(sum(dk) FILTER (WHERE cross_dept), 0)::int AS cross_kudos
    FROM ({ledger}) AS e GROUP BY recipient, giver, rd, week, month
    """,
    # kudos given: each kudos once, however many recipients (all its entries share their moment)
    """
    CREATE TEMPORARY TABLE rebuild_given ON COMMIT DROP AS
    SELECT giver, week, month, sum(dk)::int AS given
    FROM (SELECT DISTINCT kudos, giver, dk, week, month FROM ({ledger}) AS e WHERE dk <> 0) AS k
    GROUP BY giver, week, month
    """,
    """
    CREATE TEMPORARY TABLE rebuild_department_pairs ON COMMIT DROP AS
    SELECT rd AS department, giver, month AS start, sum(kudos)::int AS kudos, sum(cross_kudos)::int AS cross_kudos
    FROM rebuild_part WHERE rd IS NOT NULL AND (kudos <> 0 OR cross_kudos <> 0) GROUP BY rd, giver, month
    """,
)


# A grouping set's period: GROUPING(week, month, quarter, year) has a bit set for each column left out.
_SET_PERIOD = (
    "CASE GROUPING(week, month, quarter, year) WHEN 7 THEN 'week' WHEN 11 THEN 'month' WHEN 13 THEN 'quarter' "
    "WHEN 14 THEN 'year' ELSE 'all' END"
)
_QUARTER_BITS = (7, 56, 448, 3584)  # months of each quarter in a 12-bit month mask


def _totals(owner: str, sources: str, figures: tuple[str, ...]) -> str:
    """(owner, period, start, *figures, 0, 0): `sources` (owner, week, month, *figures) summed per period, every
    kind of period in one pass (grouping sets) over its (owner, week, month) sums."""
    inner = ", ".join(f"sum({f})::int AS {f}" for f in figures)  # int sums add up as bigint, not numeric
    outer = ", ".join(f"sum({f})::int" for f in figures)
    return f"""
        SELECT {owner}, {_SET_PERIOD}, coalesce(week, month, quarter, year, DATE '{ALL_TIME_START}'), {outer}, 0, 0
        FROM (SELECT {owner}, week, month, date_trunc('quarter', month::timestamp)::date AS quarter,
                     date_trunc('year', month::timestamp)::date AS year, {inner}
              FROM ({sources}) AS s GROUP BY {owner}, week, month) AS t
        GROUP BY {owner}, GROUPING SETS ((week), (month), (quarter), (year), ())
    """


def _givers(owner: str, source: str, zeros: str) -> str:
    """(owner, period, start, *zeros, givers, cross givers): weeks from the pairs in rebuild_part (whose owner
    column is `source`), months from the month pairs, quarters, years and all time from `years` (each pair's
    months with standing kudos per year, as bit masks)."""
    quarters = ", ".join(f"('quarter', (y.year + interval '{3 * q} months')::date, y.k{q}, y.c{q})" for q in range(4))
    counts = ", ".join(
        f"count(*) FILTER (WHERE kb & {bits} <> 0)::int AS k{q}, count(*) FILTER (WHERE cb & {bits} <> 0)::int AS c{q}"
        for q, bits in enumerate(_QUARTER_BITS)
    )
    return f"""
        SELECT {owner}, 'week', week, {zeros}, count(*) FILTER (WHERE kudos > 0)::int,
               count(*) FILTER (WHERE cross_kudos > 0)::int
        FROM (SELECT {source} AS {owner}, giver, week, sum(kudos)::int AS kudos, sum(cross_kudos)::int AS cross_kudos
              FROM rebuild_part WHERE {source} IS NOT NULL AND (kudos <> 0 OR cross_kudos <> 0)
              GROUP BY 1, 2, 3) AS w
        GROUP BY {owner}, week
        UNION ALL
        SELECT {owner}, 'month', start, {zeros}, count(*) FILTER (WHERE kudos > 0)::int,
               count(*) FILTER (WHERE cross_kudos > 0)::int
        FROM month_pairs GROUP BY {owner}, start
        UNION ALL
        SELECT y.{owner}, p.period, p.start, {zeros}, p.givers, p.cross_givers
        FROM (SELECT {owner}, year, {counts}, count(*) FILTER (WHERE kb <> 0)::int AS ky,
                     count(*) FILTER (WHERE cb <> 0)::int AS cy
              FROM years GROUP BY {owner}, year) AS y
        CROSS JOIN LATERAL (VALUES {quarters}, ('year', y.year, y.ky, y.cy)) AS p(period, start, givers, cross_givers)
        UNION ALL
        SELECT {owner}, 'all', DATE '{ALL_TIME_START}', {zeros}, count(*) FILTER (WHERE k)::int,
               count(*) FILTER (WHERE c)::int
        FROM (SELECT {owner}, giver, bool_or(kb <> 0) AS k, bool_or(cb <> 0) AS c FROM years GROUP BY 1, 2) AS a
        GROUP BY {owner}
    """


def _owner_rollup(owner: str, source: str, month_pairs: str, sources: str, figures: tuple[str, ...]) -> str:
    """(owner, period, start, *figures, givers, cross_givers) of a person or department rollup."""
    zeros = ", ".join("0" for _ in figures)
    sums = ", ".join(f"sum({f})::int AS {f}" for f in (*figures, "givers", "cross_givers"))
    return f"""
        WITH month_pairs AS MATERIALIZED ({month_pairs}),
        years AS MATERIALIZED (
            SELECT {owner}, giver, date_trunc('year', start::timestamp)::date AS year,
                   bit_or(CASE WHEN kudos > 0 THEN 1 << (extract(month FROM start)::int - 1) ELSE 0 END) AS kb,
                   bit_or(CASE WHEN cross_kudos > 0 THEN 1 << (extract(month FROM start)::int - 1) ELSE 0 END) AS cb
            FROM month_pairs GROUP BY 1, 2, 3
        )
        SELECT {owner}, period, start, {sums}
        FROM ({_totals(owner, sources, figures)} UNION ALL {_givers(owner, source, zeros)})
            AS parts({owner}, period, start, {", ".join(figures)}, givers, cross_givers)
        GROUP BY {owner}, period, start
    """


def _rebuilt_sql(table: str, pairs: str) -> str:
    """A SELECT of the rows `table` should hold (those carrying any figure; its columns, by name) from the stages;
    `pairs` names the table that already holds the rebuilt person_giver_period."""
    if table == "person_giver_period":
        sql = """
            SELECT recipient, giver, 'month' AS period, month AS start, sum(kudos)::int AS kudos,
                   sum(cross_kudos)::int AS cross_kudos
            FROM rebuild_part GROUP BY recipient, giver, month
        """
    elif table == "person_period":
        sql = _owner_rollup(
            "employee",
            "recipient",
            f"SELECT recipient AS employee, giver, start, kudos, cross_kudos FROM {pairs} WHERE period = 'month'",
            """
            SELECT recipient AS employee, week, month, points, kudos, 0 AS given, 0 AS given_points FROM rebuild_part
            UNION ALL SELECT giver, week, month, 0, 0, 0, points FROM rebuild_part
            UNION ALL SELECT giver, week, month, 0, 0, given, 0 FROM rebuild_given
            """,
            ("points", "kudos", "given", "given_points"),
        )
    else:
        sql = _owner_rollup(
            "department",
            "rd",
            "SELECT department, giver, start, kudos, cross_kudos FROM rebuild_department_pairs",
            "SELECT rd AS department, week, month, points, kudos, cross_kudos FROM rebuild_part WHERE rd IS NOT NULL",
            ("points", "kudos", "cross_kudos"),
        )
    return f"SELECT {_COLUMNS[table]} FROM ({_with_figures(sql, table)}) AS r"


_COLUMNS = {
    "person_giver_period": "recipient, giver, period, start, kudos, cross_kudos",
    "person_period": "employee, period, start, points, kudos, givers, cross_givers, given, given_points",
    "department_period": "department, period, start, points, kudos, givers, cross_givers, cross_kudos",
}


def _figures(table: str) -> list[str]:
    keys = {"employee", "department", "recipient", "giver", "period", "start"}
    return [c for c in _COLUMNS[table].split(", ") if c not in keys]


def _with_figures(select: str, table: str) -> str:
    """The rows of `select` (with `table`'s columns, by name) that carry any figure: revokes can leave rows of
    zeros."""
    return f"SELECT * FROM ({select}) AS f WHERE " + " OR ".join(f"f.{c} <> 0" for c in _figures(table))


async def _drop_indexes(engine: Engine[Any], table: str) -> list[str]:
    """Drop `table`'s unique and foreign-key constraints and its other indexes (the primary key stays); returns
    the statements that put them back. Building an index once over the loaded rows is far cheaper than updating
    it row by row, and a foreign key is checked by one join instead of a trigger per row."""
    constraints = await engine.run_ddl(
        f"SELECT format('%I', conname) AS name, pg_get_constraintdef(oid) AS definition, contype FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname"
    )
    indexes = await engine.run_ddl(
        f"SELECT format('%I', indexname) AS name, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        f"AND tablename = '{table}' AND indexname NOT IN "
        f"(SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass) ORDER BY indexname"
    )
    for row in constraints:
        await engine.run_ddl(f"ALTER TABLE {table} DROP CONSTRAINT {row['name']}")
    for row in indexes:
        await engine.run_ddl(f"DROP INDEX {row['name']}")
    return [f"ALTER TABLE {table} ADD CONSTRAINT {row['name']} {row['definition']}" for row in constraints] + [
        row["indexdef"] for row in indexes
    ]


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

    tz_name = tz_name or get_settings().timezone
    ledger = _LEDGER.format(dk=_kudos_delta("l"), cross=_cross("l"), tz=_quoted(tz_name))
    engine = engine_finder()
    assert engine is not None, "no database engine configured"
    nested = engine.current_transaction.get() is not None
    started = time.perf_counter()
    rows: dict[str, int] = {}
    differences: dict[str, int] = {}
    async with engine.transaction():
        await engine.run_ddl("SET LOCAL work_mem = '256MB'")
        await engine.run_ddl("SET LOCAL maintenance_work_mem = '512MB'")
        for stage in _STAGES:
            await engine.run_ddl(stage.format(ledger=ledger))
        for table in ROLLUP_TABLES:
            if check:
                target = f"rebuild_{table}"
                await engine.run_ddl(
                    f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS "
                    f"{_rebuilt_sql(table, 'rebuild_person_giver_period')}"
                )
                stored = _with_figures(f"SELECT {_COLUMNS[table]} FROM {table}", table)
                result = await engine.run_ddl(
                    f"SELECT (SELECT count(*) FROM (TABLE {target} EXCEPT {stored}) AS a) "
                    f"+ (SELECT count(*) FROM ({stored} EXCEPT TABLE {target}) AS b) AS n, "
                    f"(SELECT count(*) FROM {target}) AS total"
                )
                differences[table] = result[0]["n"]
                rows[table] = result[0]["total"]
            else:
                restore = await _drop_indexes(engine, table)
                await engine.run_ddl(f"TRUNCATE {table}")
                await engine.run_ddl(
                    f"INSERT INTO {table} ({_COLUMNS[table]}) {_rebuilt_sql(table, 'person_giver_period')}"
                )
                for statement in restore:
                    await engine.run_ddl(statement)
                rows[table] = (await engine.run_ddl(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
    if not check:
        # Fresh statistics (or boards fall back to poor plans) and a visibility map (or index-only scans fetch
        # every heap row): what autovacuum would do some minutes later.
        await engine.run_ddl(f"{'ANALYZE' if nested else 'VACUUM (ANALYZE)'} {', '.join(ROLLUP_TABLES)}")
    return RebuildReport(seconds=time.perf_counter() - started, rows=rows, differences=differences)
