"""Leaderboards (SPEC F8, B2): people and departments ranked on the rollups, and who appears on them. No HTTP.

Boards read only the rollup tables (plus names): a people board is a range scan of the index
`person_period (period, start, <metric> DESC, employee)` stopped after the top N; a department board reads the
period's few DepartmentPeriod rows in one query. Ranks are competition ranks ("1, 2, 2, 4"): everyone with the
same value shares the better rank, and ties are listed by name. Rows with a value of 0 are left out.

People who opted out of boards (`employee.board_opt_out`) and people who left (inactive) never appear on the
people boards and do not push anyone else down; an opted-out viewer is told their rank is hidden and why.

A viewer outside the top N is ranked by counting the people ahead of their value, which costs in proportion to
that count (a B-tree keeps no subtree sizes). The web page passes Redis as a cache: each (board, value) count is
then reused for AHEAD_TTL seconds, so such a rank may lag others' changes by that long (the page says so); the
top N and the viewer's own figure are always read fresh, and the rank is never put inside the top N shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from app.boards.periods import Window, window
from app.boards.tables import DepartmentPeriod, PersonPeriod
from app.people.services import CurrentUser
from app.people.tables import Employee

SCOPES: dict[str, str] = {"people": "People", "departments": "Departments"}
DEFAULT_SCOPE = "people"
METRICS: dict[str, str] = {
    "points": "Points received",
    "kudos": "Kudos received",
    "givers": "Distinct givers",
    "cross_givers": "Givers from other departments",
}
DEFAULT_METRIC = "points"
PER_HEAD = "_per_head"  # a department metric divided by the department's active members: "points_per_head"
BOARD_SIZE = 25
MAX_BOARD_SIZE = 100  # the largest board the API serves
# A board's SQL is built once, below, per metric and row limit: LIMIT BOARD_SIZE (the web's boards), or
# MAX_BOARD_SIZE with the rows cut down to another limit asked for (the API).
_LIMITS = (BOARD_SIZE, MAX_BOARD_SIZE)


def _sql_limit(limit: int) -> int:
    if not 0 < limit <= MAX_BOARD_SIZE:
        raise ValueError(f"a board shows 1 to {MAX_BOARD_SIZE} rows, not {limit}")
    return limit if limit in _LIMITS else MAX_BOARD_SIZE


def parse_metric(scope: str, metric: str) -> tuple[str, bool]:
    """The rollup column and whether it is per head; unknown metrics mean points, and people have no per head."""
    per_head = metric.endswith(PER_HEAD)
    column = metric.removesuffix(PER_HEAD)
    if column not in METRICS:
        column, per_head = DEFAULT_METRIC, False
    return column, per_head and scope == "departments"


def metric_label(column: str, per_head: bool) -> str:
    return METRICS[column] + (" per member" if per_head else "")


@dataclass(frozen=True, slots=True)
class BoardRow:
    rank: int
    id: int  # the person's or the department's
    name: str
    department: str | None  # a person's department (None on department boards)
    slug: str | None  # the slug of the person's department, or of the department itself
    value: int | Decimal  # Decimal (one decimal place) on per-head boards
    is_viewer: bool  # the viewer, or on department boards the viewer's department
    members: int | None = None  # active members (per-head department boards)

    @property
    def shown(self) -> str:
        return f"{self.value:.1f}" if isinstance(self.value, Decimal) else f"{self.value:,}"


@dataclass(frozen=True, slots=True)
class Board:
    scope: str  # a key of SCOPES
    window: Window
    metric: str  # the metric's name in URLs: "points", "givers_per_head", …
    column: str  # the rollup column: a key of METRICS
    per_head: bool
    rows: list[BoardRow] = field(default_factory=list)
    viewer_row: BoardRow | None = None  # the viewer's own row (their department's), also when outside the top N
    viewer_hidden: bool = False  # the viewer opted out of individual boards: their rank is not shown
    viewer_department: bool = True  # False when a department board's viewer belongs to no department
    rank_lag: int = 0  # seconds the viewer's rank (outside the top N) may lag others' changes: a cached count

    @property
    def label(self) -> str:
        return metric_label(self.column, self.per_head)

    @property
    def viewer_outside(self) -> bool:
        """The viewer has a row, but not among the top N shown."""
        return self.viewer_row is not None and not any(row.is_viewer for row in self.rows)


async def board(
    viewer: CurrentUser,
    *,
    scope: str,
    period: str,
    metric: str,
    limit: int = BOARD_SIZE,
    at: datetime | None = None,
    cache: Redis | None = None,
) -> Board:
    """The top `limit` of a board with the viewer's own position. Unknown scope, period or metric values fall
    back to people, this month and points; `at` is the moment "this week/month…" is measured from. With a
    `cache`, a people board's count of those ahead of a viewer outside the top may be up to AHEAD_TTL s old."""
    scope = scope if scope in SCOPES else DEFAULT_SCOPE
    column, per_head = parse_metric(scope, metric)
    current = window(period, now=at)
    empty = Board(
        scope=scope,
        window=current,
        metric=column + (PER_HEAD if per_head else ""),
        column=column,
        per_head=per_head,
    )
    if scope == "departments":
        return await _department_board(viewer, empty, limit)
    return await _people_board(viewer, empty, limit, cache)


# --- people ------------------------------------------------------------------------------------------------------

# One round trip: the top N (a range scan of the metric's index stopped after N rows) and the viewer's own row.
# N is written into the SQL, not bound: with a bound LIMIT PostgreSQL's generic plan looks dearer than a custom
# one, so every execution of the prepared statement was planned again (0.6-0.8 ms, more than running it).
_PEOPLE = """
    WITH top AS (
        SELECT pp.employee AS id, e.name, pp.{m} AS value, d.name AS department, d.slug AS slug
        FROM person_period pp
        JOIN employee e ON e.id = pp.employee
        LEFT JOIN department d ON d.id = e.department
        WHERE pp.period = {{}} AND pp.start = {{}} AND pp.{m} > 0 AND e.active AND NOT e.board_opt_out
        ORDER BY pp.{m} DESC, e.name, pp.employee
        LIMIT {limit:d}
    )
    SELECT false AS is_me, id, name, value, department, slug, false AS board_opt_out,
           row_number() OVER (ORDER BY value DESC, name, id) AS position
    FROM top
    UNION ALL
    SELECT true, e.id, e.name, coalesce(pp.{m}, 0), d.name, d.slug, e.board_opt_out, NULL
    FROM employee e
    LEFT JOIN department d ON d.id = e.department
    LEFT JOIN person_period pp ON pp.employee = e.id AND pp.period = {{}} AND pp.start = {{}}
    WHERE e.id = {{}}
    ORDER BY is_me, position
"""
_PEOPLE_SQL = {(m, n): _PEOPLE.format(m=m, limit=n) for m in METRICS for n in _LIMITS}

# How many people on the board have more than a value: one index-only range scan of the metric's index, less
# the few people kept off boards (inactive or opted out). Its cost grows with the rank (about 2 ms at 4,000 people
# ahead, 13 ms at 40,000), so with a cache it is kept for AHEAD_TTL seconds per board and value.
_AHEAD = """
    SELECT count(*) - count(off.id) AS ahead
    FROM person_period pp
    LEFT JOIN (SELECT id FROM employee WHERE NOT active OR board_opt_out) AS off ON off.id = pp.employee
    WHERE pp.period = {{}} AND pp.start = {{}} AND pp.{m} > {{}}
"""
_AHEAD_SQL = {m: _AHEAD.format(m=m) for m in METRICS}
AHEAD_TTL = 30  # seconds a cached count of the people ahead of a value is used (ranks outside the top N only)


def _ranked(rows: list[dict[str, Any]], viewer_id: int | None) -> list[BoardRow]:
    """Competition ranks for rows sorted best first: a row shares the rank of the first row with its value."""
    ranked: list[BoardRow] = []
    for position, row in enumerate(rows):
        same = ranked and ranked[-1].value == row["value"]
        ranked.append(
            BoardRow(
                rank=ranked[-1].rank if same else position + 1,
                id=row["id"],
                name=row["name"],
                department=row["department"],
                slug=row["slug"],
                value=row["value"],
                is_viewer=row["id"] == viewer_id,
            )
        )
    return ranked


async def _ahead(board: Board, value: int, cache: Redis | None) -> int:
    """How many people on the board have more than `value`: counted, or read from `cache` when it has a count
    for this board and value less than AHEAD_TTL seconds old (so it may miss others' changes since)."""
    kind, start = str(board.window.kind), board.window.start
    key = f"kudos:boards:ahead:{kind}:{start.isoformat()}:{board.column}:{value}"
    if cache is not None and (cached := await cache.get(key)) is not None:
        return int(cached)
    rows = await PersonPeriod.raw(_AHEAD_SQL[board.column], kind, start, value)
    ahead = int(rows[0]["ahead"])
    if cache is not None:
        await cache.set(key, ahead, ex=AHEAD_TTL)
    return ahead


async def _people_board(viewer: CurrentUser, board: Board, limit: int, cache: Redis | None) -> Board:
    kind, start = str(board.window.kind), board.window.start
    # placeholders in order: the top's period and start; the viewer's period, start and id
    sql = _PEOPLE_SQL[board.column, _sql_limit(limit)]
    found = await PersonPeriod.raw(sql, kind, start, kind, start, viewer.id)
    rows = _ranked([row for row in found if not row["is_me"]], viewer.id)[:limit]
    mine = next((row for row in found if row["is_me"]), None)
    if mine is None:
        return replace(board, rows=rows)
    if mine["board_opt_out"]:
        return replace(board, rows=rows, viewer_hidden=True)
    if mine["value"] <= 0:
        return replace(board, rows=rows)
    own = next((row for row in rows if row.is_viewer), None)
    if own is None:
        if rows and rows[-1].value == mine["value"]:
            rank = rows[-1].rank  # tied with the last row shown, listed after it by name
        else:
            # Everyone shown is ahead: a count from the cache can lag, but never puts the viewer inside the top.
            rank = max(await _ahead(board, mine["value"], cache), len(rows)) + 1
            board = replace(board, rank_lag=AHEAD_TTL if cache is not None else 0)
        own = BoardRow(
            rank=rank,
            id=mine["id"],
            name=mine["name"],
            department=mine["department"],
            slug=mine["slug"],
            value=mine["value"],
            is_viewer=True,
        )
    return replace(board, rows=rows, viewer_row=own)


# --- departments -------------------------------------------------------------------------------------------------

# Every department with a value this period is ranked in SQL (a thousand rows at most), and only the top N and
# the viewer's department come back. Per-head boards also count each department's active members now (the only
# part that reads employee rows) and rank on the figure shown, rounded to one decimal (half up, as numeric round()
# does for positive values), so departments that look tied share a rank; a department with no active member is
# left out.
_DEPARTMENTS = """
    WITH board AS (
        SELECT d.id, d.name, d.slug, {value} AS value, {members} AS members
        FROM department_period dp
        JOIN department d ON d.id = dp.department{join}
        WHERE dp.period = {{}} AND dp.start = {{}} AND dp.{m} > 0 AND d.archived_at IS NULL
    ), ranked AS (
        SELECT *, rank() OVER (ORDER BY value DESC) AS rank, row_number() OVER (ORDER BY value DESC, name, id) AS n
        FROM board
    )
    SELECT * FROM ranked WHERE n <= {limit:d} OR id = {{}} ORDER BY n
"""
_TOTAL = {"value": "dp.{m}", "members": "NULL::bigint", "join": ""}
_PER_HEAD = {
    "value": "round(dp.{m}::numeric / m.members, 1)",
    "members": "m.members",
    "join": (
        "\n        JOIN LATERAL (SELECT count(*) AS members FROM employee e WHERE e.department = d.id AND e.active) m"
        " ON m.members > 0"
    ),
}
_DEPARTMENTS_SQL = {
    (m, per_head, n): _DEPARTMENTS.format(
        m=m, limit=n, **{k: v.format(m=m) for k, v in (_PER_HEAD if per_head else _TOTAL).items()}
    )
    for m in METRICS
    for per_head in (False, True)
    for n in _LIMITS
}


async def _department_board(viewer: CurrentUser, board: Board, limit: int) -> Board:
    """The top `limit` departments with a value this period, and the viewer's department wherever it ranks."""
    sql = _DEPARTMENTS_SQL[board.column, board.per_head, _sql_limit(limit)]
    found = await DepartmentPeriod.raw(sql, str(board.window.kind), board.window.start, viewer.department_id)
    ranked = [
        BoardRow(
            rank=row["rank"],
            id=row["id"],
            name=row["name"],
            department=None,
            slug=row["slug"],
            value=row["value"],
            is_viewer=row["id"] == viewer.department_id,
            members=row["members"],
        )
        for row in found
    ]
    own = next((row for row in ranked if row.is_viewer), None)
    return replace(
        board,
        rows=[row for row, data in zip(ranked, found, strict=True) if data["n"] <= limit],
        viewer_row=own,
        viewer_department=viewer.department_id is not None,
    )


# --- who appears ---------------------------------------------------------------------------------------------------


async def shown_on_boards(employee_id: int) -> bool:
    """Whether this person appears on individual leaderboards (they have not opted out)."""
    row = await Employee.select(Employee.board_opt_out).where(Employee.id == employee_id).first()
    return row is not None and not row["board_opt_out"]


async def set_shown_on_boards(employee_id: int, shown: bool) -> None:
    """Opt in to (or out of) individual leaderboards; kudos, rollups and digests are unaffected."""
    await Employee.update({Employee.board_opt_out: not shown}).where(Employee.id == employee_id)
