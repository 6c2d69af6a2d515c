"""Insights (SPEC B3, B4, B6): participation, equity, invisible contributors, collusion signals and the service
map, read-only over the board rollups, the ledger, allowances and requests. No HTTP here.

Who sees what: admins everything; a manager their own department, the departments they lead and their direct
reports (people-level figures only for those people; department-level figures of every department, which name
nobody); anyone else is refused. Private kudos count in every figure; their messages appear in a signal's
evidence only to the people SPEC F3 lets read them (giver, recipients, the recipients' managers), never to an
admin as such.

Periods are this month, last month, this quarter and this year in the organisation's time zone (the board
windows of app/boards/periods.py, read from the same rollup rows). "Active people" are today's active people in
their current department.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app import db
from app.audit.services import record as audit
from app.boards.periods import Window, window
from app.boards.tables import Period
from app.insights import detection, rollups
from app.insights.charts import (
    MAX_EDGES,
    MAX_NODES,
    BarChart,
    LineChart,
    MapPicture,
    bar_chart,
    service_map_picture,
    share_trend,
)
from app.insights.tables import (
    DepartmentFigures,
    DetectionRun,
    Finding,
    FindingReview,
    ReviewStatus,
    RunKind,
    RunStatus,
    SignalKind,
    SignalSettings,
    SilentContributor,
)
from app.jobs.outbox import add_job
from app.paging import valid_id
from app.people.services import CurrentUser
from app.people.tables import Department, DepartmentLead, Employee
from app.rules import RuleViolation
from app.timeutil import month_bounds, month_of, next_month, now, previous_month

PERIODS: dict[str, str] = {
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
}
DEFAULT_PERIOD = "month"
VIEWS: dict[str, str] = {
    "participation": "Participation",
    "equity": "Equity",
    "invisible": "Invisible contributors",
    "signals": "Collusion signals",
    "map": "Service map",
}
DEFAULT_VIEW = "participation"
TREND_MONTHS = 12
SILENT_DAYS = (30, 60, 90)
IMBALANCE = 3  # "gives far more than they receive": at least this many times as much …
IMBALANCE_MIN_POINTS = 50  # … and at least this many points
PEOPLE_LIMIT = 50  # people listed per table on a page (the CSV has them all)
REVIEW_LABELS = {ReviewStatus.FINE: "Reviewed — fine", ReviewStatus.ACTED: "Reviewed — acted"}
KIND_LABELS = {
    SignalKind.RECIPROCAL: "Reciprocal pair",
    SignalKind.RING: "Ring",
    SignalKind.DUMPING: "Month-end dumping",
    SignalKind.CONCENTRATION: "Concentration",
}


# ------------------------------------------------------------------------------------------- scope and period


@dataclass(frozen=True, slots=True)
class Scope:
    """What one viewer may see: `departments`/`people` None means everything (an admin)."""

    viewer: CurrentUser
    departments: frozenset[int] | None
    people: frozenset[int] | None

    @property
    def everything(self) -> bool:
        return self.departments is None

    def person(self, person_id: int) -> bool:
        return self.people is None or person_id in self.people

    def department(self, department_id: int | None) -> bool:
        return self.departments is None or department_id in self.departments


async def scope_for(user: CurrentUser) -> Scope:
    """The viewer's scope; employees are refused (403)."""
    if user.is_admin:
        return Scope(user, None, None)
    if not user.is_manager:
        raise RuleViolation("Insights are for managers and admins.", status_code=403)
    led = await DepartmentLead.select(DepartmentLead.department).where(DepartmentLead.employee == user.id)
    departments = {row["department"] for row in led}
    if user.department_id is not None:
        departments.add(user.department_id)
    rows = await Employee.select(Employee.id).where(
        Employee.active.eq(True) & (Employee.department.is_in(list(departments) or [0]) | (Employee.manager == user.id))
    )
    return Scope(user, frozenset(departments), frozenset(row["id"] for row in rows) | {user.id})


@dataclass(frozen=True, slots=True)
class InsightPeriod:
    name: str
    label: str  # "November 2026", "Q4 2026", "2026"
    kind: Period
    start: date
    end: date  # first day after it

    @property
    def choice(self) -> str:
        return PERIODS[self.name]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return month_bounds(self.start)[0], month_bounds(self.end)[0]

    @property
    def months(self) -> list[date]:
        months, month = [], self.start
        while month < self.end:
            months.append(month)
            month = next_month(month)
        return months


def period_for(name: str, *, at: datetime | None = None) -> InsightPeriod:
    """The period `name` (a key of PERIODS; anything else is this month) at `at` (default now)."""
    chosen: Window = window(name if name in PERIODS else DEFAULT_PERIOD, now=at)
    return InsightPeriod(
        chosen.name, chosen.label, chosen.kind, chosen.start, rollups.period_end(chosen.kind, chosen.start)
    )


# ---------------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A view's table as the CSV export writes it."""

    name: str  # file name stem
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (numbers stay numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: CsvTable) -> bytes:
    """UTF-8 with a byte-order mark (so spreadsheets read the accents), every text cell quoted."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def _departments() -> dict[int, dict]:
    rows = await Department.select(Department.id, Department.name, Department.slug, Department.archived_at)
    return {row["id"]: row for row in rows}


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


# ----------------------------------------------------------------------------------------------- participation


@dataclass(frozen=True, slots=True)
class ParticipationRow:
    department_id: int | None
    department: str
    active: int
    gave: int
    received: int
    allowance_used: float

    @property
    def gave_share(self) -> float:
        return _share(self.gave, self.active)

    @property
    def received_share(self) -> float:
        return _share(self.received, self.active)


@dataclass(frozen=True, slots=True)
class ParticipationView:
    period: InsightPeriod
    rows: tuple[ParticipationRow, ...]
    total: ParticipationRow
    chart: BarChart
    trend: LineChart
    refreshed_at: datetime | None

    def table(self) -> CsvTable:
        return CsvTable(
            f"participation-{self.period.start:%Y-%m}-{self.period.name}",
            ("department", "active people", "gave kudos", "gave %", "received kudos", "received %", "allowance used %"),
            tuple(
                (r.department, r.active, r.gave, round(100 * r.gave_share, 1), r.received,
                 round(100 * r.received_share, 1), round(100 * r.allowance_used, 1))
                for r in (*self.rows, self.total)
            ),
        )  # fmt: skip


async def _figures(period: Period, starts: Sequence[date]) -> list[dict]:
    return await DepartmentFigures.select().where(
        (DepartmentFigures.period == period.value) & DepartmentFigures.start.is_in(list(starts))
    )


def _in_scope(rows: Sequence[dict], scope: Scope) -> list[dict]:
    """Department rows the viewer may see: all of them for an admin, their departments for a manager."""
    return [r for r in rows if r["department"] is not None and scope.department(r["department"])]


def _total(rows: Sequence[dict], scope: Scope) -> dict | None:
    """The organisation's row for an admin; the sum of the viewer's departments for a manager."""
    if scope.everything:
        return next((r for r in rows if r["department"] is None), None)
    mine = _in_scope(rows, scope)
    if not mine:
        return None
    return {key: sum(r[key] for r in mine) for key in ("active", "gave", "received", "spent", "budget")}


def _participation_row(row: dict, name: str) -> ParticipationRow:
    return ParticipationRow(
        row.get("department"), name, row["active"], row["gave"], row["received"], _share(row["spent"], row["budget"])
    )


async def participation(scope: Scope, period: InsightPeriod) -> ParticipationView:
    departments = await _departments()
    rows = await _figures(period.kind, [period.start])
    shown = sorted(
        (_participation_row(r, departments.get(r["department"], {}).get("name", "?")) for r in _in_scope(rows, scope)),
        key=lambda r: r.department.lower(),
    )
    total_row = _total(rows, scope)
    total_name = "All departments" if scope.everything else "Your departments"
    total = _participation_row(total_row, total_name) if total_row else ParticipationRow(None, total_name, 0, 0, 0, 0)
    months = [month_of(now())]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, previous_month(months[0]))
    by_month: dict[date, list[dict]] = defaultdict(list)
    for row in await _figures(Period.MONTH, months):
        by_month[row["start"]].append(row)
    totals = {m: _total(by_month.get(m, []), scope) for m in months}
    trend = share_trend(
        f"Share of active people who gave and received kudos, last {TREND_MONTHS} months",
        [f"{m:%b}" for m in months],
        [
            (label, [_share(t[key], t["active"]) if (t := totals[m]) else 0.0 for m in months])
            for label, key in (("Gave", "gave"), ("Received", "received"))
        ],
    )
    chart = bar_chart(
        f"Share of active people who gave kudos, {period.label}",
        sorted(((r.department, r.gave_share) for r in shown), key=lambda item: -item[1]),
        percent=True,
    )
    refreshed = min((r["refreshed_at"] for r in rows), default=None)
    return ParticipationView(period, tuple(shown), total, chart, trend, refreshed)


# ------------------------------------------------------------------------------------------------------ equity


@dataclass(frozen=True, slots=True)
class EquityRow:
    department_id: int
    department: str
    active: int
    points: int
    per_head: float
    top10: float
    gini: float


@dataclass(frozen=True, slots=True)
class Imbalance:
    id: int
    name: str
    department: str
    given: int
    received: int


@dataclass(frozen=True, slots=True)
class EquityView:
    period: InsightPeriod
    rows: tuple[EquityRow, ...]
    overall_top10: float
    overall_gini: float
    gini_chart: BarChart
    per_head_chart: BarChart
    givers: tuple[Imbalance, ...]  # give far more than they receive (the first PEOPLE_LIMIT, or all)
    receivers: tuple[Imbalance, ...]  # the reverse
    givers_count: int  # how many there are in all
    receivers_count: int

    def table(self) -> CsvTable:
        rows: list[tuple[object, ...]] = [
            ("department", r.department, r.active, r.points, round(r.per_head, 1), round(100 * r.top10, 1),
             round(r.gini, 3))
            for r in self.rows
        ]  # fmt: skip
        rows += [("gives more", p.name, p.department, p.given, p.received, "", "") for p in self.givers]
        rows += [("receives more", p.name, p.department, p.given, p.received, "", "") for p in self.receivers]
        return CsvTable(
            f"equity-{self.period.start:%Y-%m}-{self.period.name}",
            ("row", "name", "active people / department", "points received / given", "per head / received",
             "top 10 % share", "gini"),
            tuple(rows),
        )  # fmt: skip


# People who give far more than they receive (or, swapping the two columns, the reverse) in one period, from the
# board rollup, the most lopsided first. Placeholders: period, start, minimum, factor, scoped?, people, limit.
_IMBALANCE_SQL = """
SELECT e.id, e.name, e.department, pp.given_points AS given, pp.points AS received, count(*) OVER () AS total
FROM person_period pp JOIN employee e ON e.id = pp.employee
WHERE pp.period = {} AND pp.start = {} AND e.active
  AND pp.{more} >= {} AND pp.{more} >= {} * greatest(pp.{less}, 1) AND (NOT {} OR e.id = ANY({}))
ORDER BY pp.{more} - pp.{less} DESC, e.id LIMIT {}
"""


async def equity(scope: Scope, period: InsightPeriod, *, every_row: bool = False) -> EquityView:
    """Concentration per department, and the people (in the viewer's scope) who give far more than they receive
    and the reverse: the first PEOPLE_LIMIT of each, or all of them with `every_row`."""
    departments = await _departments()
    figures = await _figures(period.kind, [period.start])
    rows = sorted(
        (
            EquityRow(r["department"], departments.get(r["department"], {}).get("name", "?"), r["active"], r["points"],
                      _share(r["points"], r["active"]), r["top10"], r["gini"])
            for r in figures
            if r["department"] is not None
        ),
        key=lambda r: (-r.gini, r.department),
    )  # fmt: skip
    overall = next((r for r in figures if r["department"] is None), None)

    def imbalance(p: dict) -> Imbalance:
        return Imbalance(p["id"], p["name"], departments.get(p["department"], {}).get("name", "No department"),
                         p["given"], p["received"])  # fmt: skip

    lists = []
    for more, less in (("given_points", "points"), ("points", "given_points")):
        found = await Employee.raw(
            _IMBALANCE_SQL.replace("{more}", more).replace("{less}", less),
            period.kind.value,
            period.start,
            IMBALANCE_MIN_POINTS,
            IMBALANCE,
            not scope.everything,
            sorted(scope.people or ()),
            None if every_row else PEOPLE_LIMIT,
        )
        lists.append((tuple(imbalance(p) for p in found), found[0]["total"] if found else 0))
    (givers, givers_count), (receivers, receivers_count) = lists
    return EquityView(
        period,
        tuple(rows),
        overall["top10"] if overall else 0.0,
        overall["gini"] if overall else 0.0,
        bar_chart(f"Gini coefficient of points received, by department, {period.label}",
                  [(r.department, r.gini) for r in rows], digits=2),
        bar_chart(f"Points received per active member, {period.label}",
                  sorted(((r.department, r.per_head) for r in rows), key=lambda item: -item[1]), digits=1),
        givers,
        receivers,
        givers_count,
        receivers_count,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ invisible contributors


@dataclass(frozen=True, slots=True)
class Unthanked:
    id: int
    name: str
    department: str
    completed: int  # requests completed in the longest window they are silent for
    last_recognised: datetime | None
    silent_days: int  # 30, 60 or 90: the longest window with completed requests and no recognition


@dataclass(frozen=True, slots=True)
class ThankedRate:
    department_id: int
    department: str
    completed: int
    thanked: int

    @property
    def rate(self) -> float:
        return _share(self.thanked, self.completed)


@dataclass(frozen=True, slots=True)
class InvisibleView:
    period: InsightPeriod
    people: tuple[Unthanked, ...]
    counts: tuple[tuple[str, int, int, int], ...]  # department, silent 30 / 60 / 90 days
    rates: tuple[ThankedRate, ...]
    chart: BarChart
    refreshed_at: datetime | None

    def table(self) -> CsvTable:
        rows: list[tuple[object, ...]] = [
            ("person", p.name, p.department, p.completed, p.silent_days,
             p.last_recognised.date().isoformat() if p.last_recognised else "never")
            for p in self.people
        ]  # fmt: skip
        rows += [("department", r.department, r.department, r.completed, r.thanked, round(100 * r.rate, 1))
                 for r in self.rates]  # fmt: skip
        return CsvTable(
            f"invisible-{self.period.start:%Y-%m}-{self.period.name}",
            ("row", "name", "department", "requests completed", "silent days / thanked", "last recognised / rate %"),
            tuple(rows),
        )


async def invisible(scope: Scope, period: InsightPeriod) -> InvisibleView:
    """Who served without thanks (as of the last refresh) and each department's thanked-request rate."""
    departments = await _departments()
    query = SilentContributor.select(SilentContributor.all_columns(), SilentContributor.employee.name.as_alias("name"))
    if not scope.everything:
        query = query.where(SilentContributor.department.is_in(sorted(scope.departments or [0])))
    rows = await query
    people = []
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    refreshed = min((row["refreshed_at"] for row in rows), default=None)
    for row in rows:
        last = row["last_recognised"]
        silent = [
            days
            for days in SILENT_DAYS
            if row[f"completed_{days}"] and (last is None or last < row["refreshed_at"] - timedelta(days=days))
        ]
        if not silent:
            continue
        department = departments.get(row["department"], {}).get("name", "No department")
        for n, days in enumerate(SILENT_DAYS):
            counts[department][n] += days in silent
        if scope.person(row["employee"]):
            longest = silent[-1]
            people.append(
                Unthanked(row["employee"], row["name"], department, row[f"completed_{longest}"], last, longest)
            )
    people.sort(key=lambda p: (-p.silent_days, -p.completed, p.name))
    rates = sorted(
        (
            ThankedRate(r["department"], departments.get(r["department"], {}).get("name", "?"), r["completed"],
                        r["thanked"])
            for r in await _figures(period.kind, [period.start])
            if r["department"] is not None and r["completed"]
        ),
        key=lambda r: (r.rate, r.department),
    )  # fmt: skip
    chart = bar_chart(f"Share of completed requests thanked with kudos, {period.label}",
                      [(r.department, r.rate) for r in rates], percent=True)  # fmt: skip
    return InvisibleView(
        period,
        tuple(people),
        tuple(sorted((name, *values) for name, values in counts.items())),  # type: ignore[misc]
        tuple(rates),
        chart,
        refreshed,
    )


# -------------------------------------------------------------------------------------------------- signals


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    department: str


@dataclass(frozen=True, slots=True)
class SignalRow:
    id: int
    kind: SignalKind
    people: tuple[Person, ...]
    points: int
    share: float
    months: int
    explanation: str
    evidence: tuple[int, ...]
    review: dict | None  # the newest review mark: status, reviewer name, note, when

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def review_label(self) -> str:
        return REVIEW_LABELS[ReviewStatus(self.review["status"])] if self.review else "Not reviewed"


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    kind: str
    label: str
    window_start: datetime
    window_end: datetime
    status: str
    created_at: datetime
    finished_at: datetime | None
    findings: int
    concentration_percent: int


@dataclass(frozen=True, slots=True)
class SignalsView:
    run: RunInfo | None
    runs: tuple[RunInfo, ...]
    signals: tuple[SignalRow, ...]
    chart: BarChart
    concentration_percent: int
    can_review: bool

    def table(self) -> CsvTable:
        return CsvTable(
            f"signals-{self.run.id if self.run else 'none'}",
            ("signal", "kind", "people", "points", "share %", "months", "review", "explanation", "evidence kudos"),
            tuple(
                (s.id, s.kind_label, "; ".join(p.name for p in s.people), s.points, round(100 * s.share, 1),
                 s.months, s.review_label, s.explanation, " ".join(map(str, s.evidence)))
                for s in self.signals
            ),
        )  # fmt: skip


def _run_info(row: dict) -> RunInfo:
    return RunInfo(
        row["id"], row["kind"], row["label"], row["window_start"], row["window_end"], row["status"],
        row["created_at"], row["finished_at"], row["findings"], row["concentration_percent"],
    )  # fmt: skip


async def _people(ids: Sequence[int]) -> dict[int, Person]:
    if not ids:
        return {}
    rows = await Employee.select(Employee.id, Employee.name, Employee.department.name.as_alias("department")).where(
        Employee.id.is_in(list(ids))
    )
    return {r["id"]: Person(r["id"], r["name"], r["department"] or "No department") for r in rows}


async def _reviews(signatures: Sequence[str]) -> dict[str, dict]:
    if not signatures:
        return {}
    rows = await FindingReview.raw(
        "SELECT DISTINCT ON (fr.signature) fr.signature, fr.status, fr.note, fr.created_at, e.name AS reviewer "
        "FROM finding_review fr LEFT JOIN employee e ON e.id = fr.reviewer WHERE fr.signature = ANY({}) "
        "ORDER BY fr.signature, fr.created_at DESC, fr.id DESC",
        list(signatures),
    )
    return {row["signature"]: row for row in rows}


async def signals(scope: Scope, *, run_id: int | None = None) -> SignalsView:
    """The findings of run `run_id` (default: the newest finished nightly run), those a manager may see only."""
    runs = tuple(_run_info(r) for r in await DetectionRun.select().order_by(DetectionRun.id, ascending=False).limit(20))
    chosen = next((r for r in runs if r.id == run_id), None) if run_id else None
    if chosen is None:
        chosen = next((r for r in runs if r.kind == RunKind.NIGHTLY and r.status == RunStatus.DONE), None)
    rows = await Finding.select().where(Finding.run == chosen.id).order_by(Finding.id) if chosen else []
    rows = [r for r in rows if all(scope.person(p) for p in r["people"])]
    people = await _people(sorted({p for r in rows for p in r["people"]}))
    reviews = await _reviews(sorted({r["signature"] for r in rows}))
    found = tuple(
        SignalRow(
            r["id"], SignalKind(r["kind"]), tuple(people[p] for p in r["people"] if p in people), r["points"],
            r["share"], r["months"], r["explanation"], tuple(r["evidence"]), reviews.get(r["signature"]),
        )
        for r in rows
    )  # fmt: skip
    counts = {kind: sum(1 for s in found if s.kind == kind) for kind in SignalKind}
    chart = bar_chart(
        "Signals by kind" + (f", {chosen.label or 'run ' + str(chosen.id)}" if chosen else ""),
        [(KIND_LABELS[kind], count) for kind, count in counts.items()],
    )
    return SignalsView(
        chosen, runs, found, chart, await detection.concentration_percent(), can_review=scope.viewer.is_admin
    )


@dataclass(frozen=True, slots=True)
class EvidenceKudos:
    id: int
    giver: str
    recipients: str
    points: int
    visibility: str
    created_at: datetime
    revoked: bool
    message: str | None  # None: private, and this viewer may not read it


@dataclass(frozen=True, slots=True)
class SignalDetail:
    signal: SignalRow
    run: RunInfo
    evidence: tuple[EvidenceKudos, ...]
    reviews: tuple[dict, ...]  # every mark on this pattern, newest first


# A private message is readable by its giver, its recipients and the recipients' managers (SPEC F3).
_EVIDENCE_SQL = """
SELECT k.id, g.name AS giver, k.points, k.visibility, k.created_at, k.revoked_at IS NOT NULL AS revoked,
       string_agg(re.name, ', ' ORDER BY re.name) AS recipients,
       CASE WHEN k.visibility = 'public' OR k.giver = {} OR bool_or(re.id = {} OR re.manager = {})
            THEN k.message END AS message
FROM kudos k JOIN employee g ON g.id = k.giver
JOIN kudos_recipient kr ON kr.kudos = k.id JOIN employee re ON re.id = kr.employee
WHERE k.id = ANY({})
GROUP BY k.id, g.name ORDER BY k.created_at DESC, k.id DESC
"""


async def signal_detail(scope: Scope, finding_id: int) -> SignalDetail:
    """One finding with its evidence; 404 when it does not exist or lies outside the viewer's scope."""
    row = await Finding.select().where(Finding.id == finding_id).first() if valid_id(finding_id) else None
    if row is None or not all(scope.person(p) for p in row["people"]):
        raise RuleViolation("There is no such signal.", status_code=404)
    run = await DetectionRun.select().where(DetectionRun.id == row["run"]).first()
    people = await _people(row["people"])
    reviews = await FindingReview.raw(
        "SELECT fr.status, fr.note, fr.created_at, e.name AS reviewer FROM finding_review fr "
        "LEFT JOIN employee e ON e.id = fr.reviewer WHERE fr.signature = {} ORDER BY fr.created_at DESC, fr.id DESC",
        row["signature"],
    )
    viewer = scope.viewer.id
    evidence = await Employee.raw(_EVIDENCE_SQL, viewer, viewer, viewer, list(row["evidence"]))
    signal = SignalRow(
        row["id"], SignalKind(row["kind"]), tuple(people[p] for p in row["people"] if p in people), row["points"],
        row["share"], row["months"], row["explanation"], tuple(row["evidence"]), reviews[0] if reviews else None,
    )  # fmt: skip
    return SignalDetail(
        signal,
        _run_info(run),
        tuple(EvidenceKudos(**e) for e in evidence),
        tuple(reviews),
    )


async def review_signal(user: CurrentUser, finding_id: int, status: str, note: str) -> SignalDetail:
    """Mark a finding's pattern reviewed (admins only), recorded in the audit log."""
    if not user.is_admin:
        raise RuleViolation("Only admins review signals.", status_code=403)
    row = (
        await Finding.select(Finding.id, Finding.signature, Finding.kind, Finding.explanation)
        .where(Finding.id == finding_id)
        .first()
        if valid_id(finding_id)
        else None
    )
    if row is None:
        raise RuleViolation("There is no such signal.", status_code=404)
    if status not in {s.value for s in ReviewStatus}:
        raise RuleViolation({"status": "Choose “reviewed — fine” or “reviewed — acted”."})
    note = note.strip()
    if len(note) > 1000:
        raise RuleViolation({"note": "Keep the note under 1,000 characters."})
    async with db.transaction():
        await FindingReview.insert(
            FindingReview(signature=row["signature"], kind=row["kind"], status=status, reviewer=user.id, note=note,
                          created_at=now())
        )  # fmt: skip
        await audit(
            actor_id=user.id,
            action="insights.signal_reviewed",
            target_type="finding",
            target_id=finding_id,
            summary=f"{REVIEW_LABELS[ReviewStatus(status)]}: {row['explanation']}",
            after={"signature": row["signature"], "status": status, "note": note},
        )
    return await signal_detail(Scope(user, None, None), finding_id)


async def request_run(user: CurrentUser, period: InsightPeriod) -> int:
    """Queue collusion detection over `period` (admins only; up to now for the current period)."""
    if not user.is_admin:
        raise RuleViolation("Only admins run collusion detection.", status_code=403)
    start, end = period.bounds
    async with db.transaction():
        run_id = await detection.start_run(
            RunKind.ON_DEMAND, detection.Window(start, min(end, now())), label=period.label, requested_by=user.id
        )
        await add_job("detect_collusion", run_id=run_id)
    return run_id


async def set_concentration(user: CurrentUser, raw: str) -> int:
    """Set the concentration threshold (percent of a giver's allowance, 10-100); admins only; audited."""
    if not user.is_admin:
        raise RuleViolation("Only admins change signal settings.", status_code=403)
    try:
        percent = int(raw.strip())
    except ValueError:
        percent = 0
    if not 10 <= percent <= 100:
        raise RuleViolation({"concentration_percent": "Enter a whole percentage from 10 to 100."})
    before = await detection.concentration_percent()
    async with db.transaction():
        await SignalSettings.raw(
            "INSERT INTO signal_settings (id, concentration_percent) VALUES ({}, {}) "
            "ON CONFLICT (id) DO UPDATE SET concentration_percent = EXCLUDED.concentration_percent",
            detection.SETTINGS_ID,
            percent,
        )
        await audit(
            actor_id=user.id,
            action="insights.settings_changed",
            target_type="signal_settings",
            target_id=detection.SETTINGS_ID,
            summary=f"Concentration signal threshold set to {percent} % of a giver's allowance.",
            before={"concentration_percent": before},
            after={"concentration_percent": percent},
        )
    return percent


# ------------------------------------------------------------------------------------------------ service map


@dataclass(frozen=True, slots=True)
class Link:
    supplier_id: int
    supplier: str
    customer_id: int
    customer: str
    requests: int  # requests from the customer's people the supplier completed
    kudos: int  # kudos from the customer's people to the supplier's
    points: int

    @property
    def weight(self) -> int:
        return self.requests + self.kudos


@dataclass(frozen=True, slots=True)
class MapView:
    period: InsightPeriod
    links: tuple[Link, ...]  # the busiest MAP_LINKS (every one when asked for the CSV)
    count: int  # how many connections there are
    picture: MapPicture
    refreshed_at: datetime | None = None

    def table(self) -> CsvTable:
        return CsvTable(
            f"service-map-{self.period.start:%Y-%m}-{self.period.name}",
            ("serving department", "customer department", "requests completed", "kudos received", "points received"),
            tuple((lk.supplier, lk.customer, lk.requests, lk.kudos, lk.points) for lk in self.links),
        )


MAP_LINKS = 40  # connections listed on the page (the CSV has them all)


def _links(flows: Sequence[rollups.Flow], departments: dict[int, str]) -> tuple[Link, ...]:
    return tuple(
        Link(f.supplier, departments.get(f.supplier, "?"), f.customer, departments.get(f.customer, "?"), f.requests,
             f.kudos, f.points)
        for f in flows
    )  # fmt: skip


async def service_map(period: InsightPeriod, *, every_link: bool = False) -> MapView:
    """Who serves whom: an edge from a department to each department whose requests it completed or whose people
    thanked its people in the period (department-level figures only: every viewer sees the whole map). The busiest
    MAP_LINKS connections, or all of them with `every_link`."""
    departments = {d: row["name"] for d, row in (await _departments()).items()}
    page = await rollups.flow_page(period.kind, period.start, limit=0 if every_link else MAP_LINKS)
    nodes = sorted(page.totals, key=lambda d: (-page.totals[d], departments.get(d, "")))[:MAX_NODES]
    edges = _links(await rollups.flows_for(period.kind, period.start, limit=MAX_EDGES, among=nodes), departments)
    picture = service_map_picture(
        departments,
        page.totals,
        [
            (lk.supplier_id, lk.customer_id, lk.weight,
             f"{lk.supplier} served {lk.customer}: {lk.requests} requests, {lk.kudos} kudos back")
            for lk in edges
        ],
    )  # fmt: skip
    return MapView(period, _links(page.flows, departments), page.count, picture, page.refreshed_at)


@dataclass(frozen=True, slots=True)
class Partners:
    """A department's top customers (whom it serves) and top suppliers (who serve it)."""

    period: InsightPeriod
    customers: tuple[Link, ...]
    suppliers: tuple[Link, ...]


async def partners(department_id: int, *, limit: int = 5) -> Partners:
    """For the department page: this year's top customers and suppliers by requests completed and kudos."""
    period = period_for("year")
    departments = {d: row["name"] for d, row in (await _departments()).items()}
    customers, suppliers = [
        _links(
            await rollups.flows_for(period.kind, period.start, limit=limit, department=department_id, role=role),
            departments,
        )
        for role in ("supplier", "customer")
    ]
    return Partners(period, customers, suppliers)
