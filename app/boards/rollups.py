# ruff: noqa: S608 — SQL here is assembled from this module's constant table and column names; values are bound
"""Keep the board rollups in step with the ledger, and rebuild them from it (see app/boards/tables.py).

`apply()` runs inside the transaction that appends ledger entries, so boards never disagree with the ledger.
Counting rules (the same in `apply()` and `rebuild()`):
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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from piccolo.engine import engine_finder

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


@dataclass(frozen=True, slots=True)
class Entry:
    """What the rollups need of one ledger entry."""

    kind: str
    is_addon: bool
    kudos_id: int
    giver: int
    giver_department: int | None
    recipient: int
    recipient_department: int | None
    amount: int
    effective_at: datetime

    @property
    def kudos_delta(self) -> int:
        if self.is_addon:
            return 0
        return {"kudos": 1, "revoke": -1}.get(self.kind, 0)

    @property
    def cross(self) -> bool:
        return (
            self.giver_department is not None
            and self.recipient_department is not None
            and self.giver_department != self.recipient_department
        )


def _values(rows: Iterable[tuple], types: tuple[str, ...]) -> tuple[str, list]:
    """A VALUES list of typed `{}` placeholders (Piccolo's raw() numbers them) and the flat arguments."""
    rows = list(rows)
    row = "(" + ", ".join(f"{{}}::{t}" for t in types) + ")"
    return ", ".join([row] * len(rows)), [value for r in rows for value in r]


async def _run(sql: str, args: list) -> list[dict]:
    from app.boards.tables import PersonPeriod

    return await PersonPeriod.raw(sql, *args)


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


# A pair's standing kudos in a period, this transaction's entries included: one index scan of the pair's kudos
# entries (person pairs by `ledger_entry_recipient_pair`, department pairs by `ledger_entry_department_pair`).
_PAIR_COUNTS = """
    WITH k(n, owner, giver, first_day, end_day, department) AS (VALUES {values})
    SELECT k.n, coalesce(sum({dk}), 0) AS kudos, coalesce(sum({dk}) FILTER (WHERE {cross}), 0) AS cross_kudos
    FROM k LEFT JOIN ledger_entry l ON l.addon IS NULL AND l.recipient = k.owner AND l.giver = k.giver
        AND {within}
    WHERE NOT k.department GROUP BY k.n
    UNION ALL
    SELECT k.n, coalesce(sum({dk}), 0), coalesce(sum({dk}) FILTER (WHERE {cross}), 0)
    FROM k LEFT JOIN ledger_entry l ON l.addon IS NULL AND l.recipient_department = k.owner AND l.giver = k.giver
        AND {within}
    WHERE k.department GROUP BY k.n
"""


async def _giver_changes(
    tz: tzinfo, person_pairs: dict[tuple, list[int]], department_pairs: dict[tuple, list[int]]
) -> tuple[dict[tuple, list[int]], dict[tuple, list[int]]]:
    """Per (person or department, period, start), the change in distinct givers and cross givers: pairs whose
    standing kudos in the period (read from the ledger after this batch) crossed zero with this batch's delta."""
    changes: tuple[dict, dict] = (defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0]))
    keys = [(False, key, d) for key, d in person_pairs.items() if any(d)]
    keys += [(True, key, d) for key, d in department_pairs.items() if any(d)]
    if not keys:
        return changes
    # One lock per pair, taken in a fixed order: a concurrent transaction giving to the same pair waits here, then
    # reads this one's committed entries (each statement reads afresh), so zero is crossed once.
    locks = sorted({(-owner if department else owner, giver) for department, (owner, giver, _, _), _ in keys})
    lock_values, lock_args = _values(locks, ("int", "int"))
    await _run(
        f"SELECT count(pg_advisory_xact_lock(a, b)) FROM (SELECT a, b FROM (VALUES {lock_values}) AS v(a, b) "
        "ORDER BY a, b) AS ordered",
        lock_args,
    )
    local_day = f"(l.effective_at AT TIME ZONE {_quoted(str(tz))})::date"
    values, args = _values(
        (
            (n, owner, giver, start, period_end(Period(period), start), department)
            for n, (department, (owner, giver, period, start), _) in enumerate(keys)
        ),
        ("int", "int", "int", "date", "date", "bool"),
    )
    sql = _PAIR_COUNTS.format(
        values=values,
        dk=_kudos_delta("l"),
        cross=_cross("l"),
        within=f"{local_day} >= k.first_day AND {local_day} < k.end_day",
    )
    for row in await _run(sql, args):
        department, (owner, _, period, start), (delta, cross_delta) = keys[row["n"]]
        change = changes[department][(owner, period, start)]
        change[0] += _crossed(row["kudos"], delta)
        change[1] += _crossed(row["cross_kudos"], cross_delta)
    return changes


def _crossed(new: int, delta: int) -> int:
    """+1 when a count went from zero to positive with this delta, -1 when it went back to zero, else 0."""
    old = new - delta
    return (old <= 0 < new) - (new <= 0 < old)


async def _add(table: str, keys: tuple[str, ...], columns: tuple[str, ...], deltas: dict[tuple, list[int]]) -> None:
    """Add `deltas` ({key values: column deltas}) to `table`'s rows, creating the missing ones. Rows go in key
    order, so concurrent transactions lock the rows they share in the same order and cannot deadlock here."""
    deltas = {key: d for key, d in sorted(deltas.items()) if any(d)}
    if not deltas:
        return
    types = tuple("date" if k == "start" else "text" if k == "period" else "int" for k in keys)
    values, args = _values(((*key, *d) for key, d in deltas.items()), types + ("int",) * len(columns))
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in columns)
    await _run(
        f"INSERT INTO {table} ({', '.join(keys + columns)}) VALUES {values} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        args,
    )


async def apply(entries: list[Entry]) -> None:
    """Add `entries` to every rollup (call inside the transaction that appended them, after appending them)."""
    if not entries:
        return
    tz = org_tz()
    month_pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # PersonGiverPeriod month rows
    person_pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    department_pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    people: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)  # points kudos givers cross given given_points
    departments: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)  # points kudos givers cross cross_kudos
    given_kudos: set[tuple] = set()
    for entry in entries:
        delta = entry.kudos_delta
        cross_delta = delta if entry.cross else 0
        starts = period_starts(entry.effective_at, tz)
        if delta:
            pair = month_pairs[(entry.recipient, entry.giver, Period.MONTH.value, starts[Period.MONTH])]
            pair[0] += delta
            pair[1] += cross_delta
        for period, start in starts.items():
            received = people[(entry.recipient, period.value, start)]
            received[0] += entry.amount
            received[1] += delta
            giver = people[(entry.giver, period.value, start)]
            giver[5] += entry.amount
            if delta and (entry.kudos_id, entry.giver, period, start) not in given_kudos:
                given_kudos.add((entry.kudos_id, entry.giver, period, start))
                giver[4] += delta
            if delta:
                pair = person_pairs[(entry.recipient, entry.giver, period.value, start)]
                pair[0] += delta
                pair[1] += cross_delta
            if entry.recipient_department is not None:
                team = departments[(entry.recipient_department, period.value, start)]
                team[0] += entry.amount
                team[1] += delta
                team[4] += cross_delta
                if delta:
                    pair = department_pairs[(entry.recipient_department, entry.giver, period.value, start)]
                    pair[0] += delta
                    pair[1] += cross_delta
    person_changes, department_changes = await _giver_changes(tz, person_pairs, department_pairs)
    for key, (givers, cross) in person_changes.items():
        people[key][2] += givers
        people[key][3] += cross
    for key, (givers, cross) in department_changes.items():
        departments[key][2] += givers
        departments[key][3] += cross
    await _add("person_giver_period", ("recipient", "giver", "period", "start"), ("kudos", "cross_kudos"), month_pairs)
    await _add(
        "person_period",
        ("employee", "period", "start"),
        ("points", "kudos", "givers", "cross_givers", "given", "given_points"),
        people,
    )
    await _add(
        "department_period",
        ("department", "period", "start"),
        ("points", "kudos", "givers", "cross_givers", "cross_kudos"),
        departments,
    )


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


async def _drop_indexes(engine, table: str) -> list[str]:
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
