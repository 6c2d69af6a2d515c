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
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from piccolo.engine import engine_finder

from app.boards.tables import Period
from app.timeutil import org_tz

ALL_TIME_START = date(1970, 1, 1)
METRIC_COLUMNS = ("points", "kudos", "givers", "cross_givers")
ROLLUP_TABLES = ("person_period", "department_period", "person_giver_period", "department_giver_period")


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


def _values(rows: Iterable[tuple], width: int) -> tuple[str, list]:
    """A VALUES list of `{}` placeholders (Piccolo's raw() numbers them) and the flat arguments."""
    rows = list(rows)
    row = "(" + ", ".join(["{}"] * width) + ")"
    return ", ".join([row] * len(rows)), [value for r in rows for value in r]


async def _run(sql: str, args: list) -> list[dict]:
    from app.boards.tables import PersonPeriod

    return await PersonPeriod.raw(sql, *args)


async def _pairs(table: str, owner: str, deltas: dict[tuple, list[int]]) -> dict[tuple, list[int]]:
    """Upsert giver-pair counts; returns, per (owner, period, start), the change in distinct givers and cross
    givers caused by pairs whose count crossed zero."""
    changes: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    if not deltas:
        return changes
    values, args = _values(((*key, d[0], d[1]) for key, d in deltas.items()), 6)
    rows = await _run(
        f"INSERT INTO {table} ({owner}, giver, period, start, kudos, cross_kudos) VALUES {values} "
        f"ON CONFLICT ({owner}, giver, period, start) DO UPDATE SET kudos = {table}.kudos + EXCLUDED.kudos, "
        f"cross_kudos = {table}.cross_kudos + EXCLUDED.cross_kudos "
        f"RETURNING {owner} AS owner, giver, period, start, kudos, cross_kudos",
        args,
    )
    for row in rows:
        delta_kudos, delta_cross = deltas[(row["owner"], row["giver"], row["period"], row["start"])]
        change = changes[(row["owner"], row["period"], row["start"])]
        change[0] += _crossed(row["kudos"], delta_kudos)
        change[1] += _crossed(row["cross_kudos"], delta_cross)
    return changes


def _crossed(new: int, delta: int) -> int:
    """+1 when a count went from zero to positive with this delta, -1 when it went back to zero, else 0."""
    old = new - delta
    return (old <= 0 < new) - (new <= 0 < old)


async def _totals(table: str, owner: str, columns: tuple[str, ...], deltas: dict[tuple, list[int]]) -> None:
    deltas = {key: d for key, d in deltas.items() if any(d)}
    if not deltas:
        return
    values, args = _values(((*key, *d) for key, d in deltas.items()), 3 + len(columns))
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in columns)
    await _run(
        f"INSERT INTO {table} ({owner}, period, start, {', '.join(columns)}) VALUES {values} "
        f"ON CONFLICT ({owner}, period, start) DO UPDATE SET {updates}",
        args,
    )


async def apply(entries: list[Entry]) -> None:
    """Add `entries` to every rollup (call inside the transaction that appended them)."""
    if not entries:
        return
    tz = org_tz()
    person_pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    department_pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    people: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)  # points kudos givers cross given given_points
    departments: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)  # points kudos givers cross cross_kudos
    given_kudos: set[tuple] = set()
    for entry in entries:
        delta = entry.kudos_delta
        cross_delta = delta if entry.cross else 0
        for period, start in period_starts(entry.effective_at, tz).items():
            received = people[(entry.recipient, period, start)]
            received[0] += entry.amount
            received[1] += delta
            giver = people[(entry.giver, period, start)]
            giver[5] += entry.amount
            if delta and (entry.kudos_id, entry.giver, period, start) not in given_kudos:
                given_kudos.add((entry.kudos_id, entry.giver, period, start))
                giver[4] += delta
            if delta:
                pair = person_pairs[(entry.recipient, entry.giver, period, start)]
                pair[0] += delta
                pair[1] += cross_delta
            if entry.recipient_department is not None:
                team = departments[(entry.recipient_department, period, start)]
                team[0] += entry.amount
                team[1] += delta
                team[4] += cross_delta
                if delta:
                    pair = department_pairs[(entry.recipient_department, entry.giver, period, start)]
                    pair[0] += delta
                    pair[1] += cross_delta
    for key, (givers, cross) in (await _pairs("person_giver_period", "recipient", person_pairs)).items():
        people[key][2] += givers
        people[key][3] += cross
    for key, (givers, cross) in (await _pairs("department_giver_period", "department", department_pairs)).items():
        departments[key][2] += givers
        departments[key][3] += cross
    await _totals(
        "person_period",
        "employee",
        ("points", "kudos", "givers", "cross_givers", "given", "given_points"),
        people,
    )
    await _totals(
        "department_period", "department", ("points", "kudos", "givers", "cross_givers", "cross_kudos"), departments
    )


# ------------------------------------------------------------------------------------------------ rebuild

# The ledger expanded to one row per (entry, period) with the same counting rules as `apply()`.
_EXPANDED = """
    WITH entries AS (
        SELECT kudos, giver, recipient, giver_department AS gd, recipient_department AS rd, amount,
               (effective_at AT TIME ZONE {tz}) AS local_time,
               CASE WHEN addon IS NOT NULL THEN 0 WHEN kind = 'kudos' THEN 1 WHEN kind = 'revoke' THEN -1 ELSE 0 END
                   AS dk,
               (giver_department IS NOT NULL AND recipient_department IS NOT NULL
                AND giver_department <> recipient_department) AS cross_dept
        FROM ledger_entry
    ), expanded AS (
        SELECT e.*, p.period, p.start FROM entries e CROSS JOIN LATERAL (VALUES
            ('week', date_trunc('week', e.local_time)::date),
            ('month', date_trunc('month', e.local_time)::date),
            ('quarter', date_trunc('quarter', e.local_time)::date),
            ('year', date_trunc('year', e.local_time)::date),
            ('all', DATE '1970-01-01')) AS p(period, start)
    )
"""

# Each rollup as a SELECT over `expanded`, in the column order of its table (rows that are all zero left out).
_REBUILT = {
    "person_giver_period": """
        SELECT recipient, giver, period, start, sum(dk)::int, coalesce(sum(dk) FILTER (WHERE cross_dept), 0)::int
        FROM expanded WHERE dk <> 0 GROUP BY recipient, giver, period, start
    """,
    "department_giver_period": """
        SELECT rd, giver, period, start, sum(dk)::int, coalesce(sum(dk) FILTER (WHERE cross_dept), 0)::int
        FROM expanded WHERE dk <> 0 AND rd IS NOT NULL GROUP BY rd, giver, period, start
    """,
    "person_period": """
        SELECT who, period, start, sum(points)::int, sum(kudos)::int, sum(givers)::int, sum(cross_givers)::int,
               sum(given)::int, sum(given_points)::int FROM (
            SELECT recipient AS who, period, start, amount AS points, dk AS kudos, 0 AS givers, 0 AS cross_givers,
                   0 AS given, 0 AS given_points FROM expanded
            UNION ALL
            SELECT giver, period, start, 0, 0, 0, 0, 0, amount FROM expanded
            UNION ALL
            SELECT giver, period, start, 0, 0, 0, 0, dk, 0 FROM (
                SELECT DISTINCT ON (kudos, giver, period, start, dk) giver, period, start, dk
                FROM expanded WHERE dk <> 0) AS per_kudos
            UNION ALL
            SELECT recipient, period, start, 0, 0, (kudos > 0)::int, (cross_kudos > 0)::int, 0, 0
            FROM person_pairs
        ) AS parts GROUP BY who, period, start
    """,
    "department_period": """
        SELECT rd, period, start, sum(points)::int, sum(kudos)::int, sum(givers)::int, sum(cross_givers)::int,
               sum(cross_kudos)::int FROM (
            SELECT rd, period, start, amount AS points, dk AS kudos, 0 AS givers, 0 AS cross_givers,
                   CASE WHEN cross_dept THEN dk ELSE 0 END AS cross_kudos
            FROM expanded WHERE rd IS NOT NULL
            UNION ALL
            SELECT department, period, start, 0, 0, (kudos > 0)::int, (cross_kudos > 0)::int, 0
            FROM department_pairs
        ) AS parts GROUP BY rd, period, start
    """,
}
_COLUMNS = {
    "person_giver_period": "recipient, giver, period, start, kudos, cross_kudos",
    "department_giver_period": "department, giver, period, start, kudos, cross_kudos",
    "person_period": "employee, period, start, points, kudos, givers, cross_givers, given, given_points",
    "department_period": "department, period, start, points, kudos, givers, cross_givers, cross_kudos",
}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rebuilt_sql(table: str, tz_name: str) -> str:
    """A SELECT of what `table` should hold (its columns, by name), computed from the ledger alone."""

    def named(name: str) -> str:
        return f"SELECT * FROM ({_REBUILT[name]}) AS r({_COLUMNS[name]})"

    pairs = {
        "person_period": f", person_pairs AS ({named('person_giver_period')})",
        "department_period": f", department_pairs AS ({named('department_giver_period')})",
    }.get(table, "")
    return _EXPANDED.format(tz=_quoted(tz_name)) + pairs + named(table)


def _figures(table: str) -> list[str]:
    keys = {"employee", "department", "recipient", "giver", "period", "start"}
    return [c for c in _COLUMNS[table].split(", ") if c not in keys]


def _with_figures(select: str, table: str) -> str:
    """The rows of `select` (with `table`'s columns) that carry any figure: revokes can leave rows of zeros."""
    return f"SELECT * FROM ({select}) AS f WHERE " + " OR ".join(f"f.{c} <> 0" for c in _figures(table))


@dataclass(frozen=True, slots=True)
class RebuildReport:
    seconds: float
    rows: dict[str, int]
    differences: dict[str, int]


async def rebuild(*, check: bool = False, tz_name: str | None = None) -> RebuildReport:
    """Recompute every rollup from the ledger in one transaction. With `check`, write nothing and count, per
    table, the rows that differ between the stored rollups and the recomputed ones."""
    from app.settings import get_settings

    tz_name = tz_name or get_settings().timezone
    engine = engine_finder()
    started = time.perf_counter()
    rows: dict[str, int] = {}
    differences: dict[str, int] = {}
    async with engine.transaction():
        await engine.run_ddl("SET LOCAL work_mem = '256MB'")
        for table in ROLLUP_TABLES:
            rebuilt = _rebuilt_sql(table, tz_name)
            if check:
                expected = _with_figures(rebuilt, table)
                stored = _with_figures(f"SELECT {_COLUMNS[table]} FROM {table}", table)
                result = await engine.run_ddl(
                    f"SELECT (SELECT count(*) FROM (({expected}) EXCEPT ({stored})) AS a) "
                    f"+ (SELECT count(*) FROM (({stored}) EXCEPT ({expected})) AS b) AS n, "
                    f"(SELECT count(*) FROM ({expected}) AS c) AS total"
                )
                differences[table] = result[0]["n"]
                rows[table] = result[0]["total"]
            else:
                await engine.run_ddl(f"TRUNCATE {table}")
                await engine.run_ddl(f"INSERT INTO {table} ({_COLUMNS[table]}) {rebuilt}")
                rows[table] = (await engine.run_ddl(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
                await engine.run_ddl(f"ANALYZE {table}")  # fresh statistics, or boards fall back to poor plans
    return RebuildReport(seconds=time.perf_counter() - started, rows=rows, differences=differences)
