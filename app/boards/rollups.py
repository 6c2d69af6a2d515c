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
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

import app.boards.rebuild_sql as sql
import app.db as db
from app.boards.tables import Period, PersonPeriod
from app.timeutil import next_month, org_tz

ALL_TIME_START = date(1970, 1, 1)
ALL_TIME_END = date(9999, 1, 1)
ROLLUP_TABLES = tuple(rollup.table for rollup in sql.ROLLUPS)


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


async def _drop_indexes(table: str) -> list[str]:
    """Drop `table`'s unique and foreign-key constraints and its other indexes (the primary key stays); returns
    the statements that put them back. Building an index once over the loaded rows is far cheaper than updating
    it row by row, and a foreign key is checked by one join instead of a trigger per row."""
    found = [
        *await PersonPeriod.raw(sql.CONSTRAINTS_SQL, table),
        *await PersonPeriod.raw(sql.INDEXES_SQL, table, table),
    ]
    for row in found:
        await db.engine().run_ddl(row["drop"])
    return [row["restore"] for row in found]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    seconds: float
    rows: dict[str, int]  # per table: its rows (a full rebuild), the rows compared (check) or written (a scope)
    differences: dict[str, int]


def month_weeks(month: date) -> tuple[date, date]:
    """The first day of the first week with a day in `month` and the first day after its last such week."""
    last = next_month(month) - timedelta(days=1)
    return month - timedelta(days=month.weekday()), last + timedelta(days=7 - last.weekday())


async def _compute(
    entries_sql: str,
    tz_name: str | None,
    *,
    month: date | None = None,
    people: Collection[int] = (),
    departments: Collection[int] = (),
) -> None:
    """Aggregate the entries `entries_sql` selects into the temporary tables the statements below load from."""
    from app.settings import get_settings

    first, after = month_weeks(month) if month else (ALL_TIME_START, ALL_TIME_END)
    engine = db.engine()
    await PersonPeriod.raw(
        sql.SETTINGS_SQL,
        tz_name or get_settings().timezone,
        first.isoformat(),
        after.isoformat(),
        (month or ALL_TIME_START).isoformat(),
        _int_array(people),
        _int_array(departments),
    )
    await engine.run_ddl(sql.LEDGER_VIEW_SQL)
    await engine.run_ddl(entries_sql)
    for stage in (*sql.STAGES, *sql.ROLLUP_STAGES):
        await engine.run_ddl(stage)
    await PersonPeriod.raw(sql.ROLLUPS_SQL, ALL_TIME_START, ALL_TIME_START)


def _int_array(ids: Collection[int]) -> str:
    return "{" + ",".join(str(int(i)) for i in sorted(ids)) + "}"


async def _load() -> dict[str, int]:
    """Insert the computed rows (into tables keeping their indexes); returns how many per table."""
    engine = db.engine()
    for rollup in sql.ROLLUPS:
        await engine.run_ddl(rollup.insert)
    return dict((await engine.run_ddl(sql.COMPUTED_COUNTS_SQL))[0])


async def rebuild(*, check: bool = False, tz_name: str | None = None, month: date | None = None) -> RebuildReport:
    """Recompute every rollup from the ledger in one transaction (then vacuum them, so boards get index-only scans
    at once; inside a caller's transaction only analyse them). With `check`, write nothing and count, per table,
    the rows that differ between the stored rollups and the recomputed ones.

    With `month` (its first day), recompute only the rows of the periods containing some of it: its weeks (whole,
    from their entries), the month, and the quarter, year and all-time rows of the people and departments with
    figures in that month (derived from the month rows of the other months, as stored, and this month's, as in a
    full rebuild). The result is a full rebuild's as long as the other months' rows were right."""
    engine = db.engine()
    nested = engine.current_transaction.get() is not None
    started = time.perf_counter()
    rows: dict[str, int] = {}
    differences: dict[str, int] = {}
    async with db.transaction():
        if month is not None:
            await _compute(sql.WEEKS_ENTRIES_SQL, tz_name, month=month)
            rows = await _replace_month(month)
        else:
            await _compute(sql.ALL_ENTRIES_SQL, tz_name)
            if check:
                for rollup in sql.ROLLUPS:
                    result = (await engine.run_ddl(rollup.check))[0]
                    differences[rollup.table], rows[rollup.table] = result["n"], result["total"]
            else:
                await engine.run_ddl(sql.TRUNCATE_SQL)
                for rollup in sql.ROLLUPS:
                    restore = await _drop_indexes(rollup.table)
                    await engine.run_ddl(rollup.insert)
                    for statement in restore:
                        await engine.run_ddl(statement)
                rows = dict((await engine.run_ddl(sql.COUNTS_SQL))[0])
        await engine.run_ddl(sql.DROP_VIEWS_SQL)
    if not check:
        await engine.run_ddl(sql.ANALYZE_SQL if nested else sql.VACUUM_SQL)
    return RebuildReport(seconds=time.perf_counter() - started, rows=rows, differences=differences)


async def _replace_month(month: date) -> dict[str, int]:
    """Replace the stored rows of the periods containing `month` by the computed ones (see `rebuild`)."""
    engine = db.engine()
    quarter = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    year = month.replace(month=1)
    await engine.run_ddl(sql.MONTH_SCOPE_SQL)
    await engine.run_ddl(sql.AFFECTED_TABLE_SQL)
    await engine.run_ddl(sql.CLEAR_MONTH_SQL)
    await engine.run_ddl(sql.ANALYZE_AFFECTED_SQL)
    await PersonPeriod.raw(
        sql.COARSE_SQL,
        quarter,
        period_end(Period.QUARTER, quarter),
        year,
        period_end(Period.YEAR, year),
        ALL_TIME_START,
        ALL_TIME_END,
    )
    await PersonPeriod.raw(sql.CLEAR_COARSE_SQL, quarter, year, quarter, year)
    return await _load()


async def rebuild_owners(
    people: Collection[int], departments: Collection[int], *, tz_name: str | None = None
) -> RebuildReport:
    """Recompute every row of `people` (the figures they received and gave, their month pairs as recipients) and
    of `departments` from the entries that count for them, in the caller's transaction or one of its own: what a
    full rebuild would give them, reading only their entries' share of the ledger. Returns the rows written."""
    started = time.perf_counter()
    async with db.transaction():
        await _compute(sql.OWNERS_ENTRIES_SQL, tz_name, people=people, departments=departments)
        engine = db.engine()
        await engine.run_ddl(sql.OWNERS_SCOPE_SQL)
        await engine.run_ddl(sql.CLEAR_OWNERS_SQL)
        rows = await _load()
        await engine.run_ddl(sql.DROP_VIEWS_SQL)
    return RebuildReport(seconds=time.perf_counter() - started, rows=rows, differences={})
