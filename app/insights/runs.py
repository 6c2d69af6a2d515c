"""Running collusion detection (app/insights/detection.py): read a window's flows from the ledger and the
allowances, detect, and store the findings of a run — nightly over the last WINDOW_DAYS days, or on demand over a
period an admin chose (a pending run, executed by the worker's job; the nightly sweep runs any whose job was lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import app.db as db
from app.insights.detection import DEFAULT_CONCENTRATION_PERCENT, LATE_DAYS, Flow, Signal, detect
from app.insights.tables import DetectionRun, Finding, RunKind, RunStatus, SignalKind, SignalSettings
from app.kudos.tables import Allowance, AllowancePolicy
from app.people.tables import Employee
from app.settings import get_settings
from app.timeutil import month_bounds, month_of, next_month, now

WINDOW_DAYS = 90
SETTINGS_ID = 1
EVIDENCE_LIMIT = 50

# Placeholders: zone (3 times), late days, start, end. Net points per (giver, recipient, month): kudos and add-ons
# less revokes, by the moment each counts for (`effective_at`, also on a revoke).
_FLOWS_SQL = """
SELECT giver, recipient, month, sum(amount)::int AS points, coalesce(sum(amount) FILTER (WHERE late), 0)::int AS late
FROM (
    SELECT l.giver, l.recipient, l.amount,
           date_trunc('month', l.effective_at AT TIME ZONE {})::date AS month,
           (date_trunc('month', l.effective_at AT TIME ZONE {}) + interval '1 month')::date
               - (l.effective_at AT TIME ZONE {})::date <= {} AS late
    FROM ledger_entry l WHERE l.effective_at >= {} AND l.effective_at < {}
) f
GROUP BY giver, recipient, month HAVING sum(amount) > 0
"""

# How many kudos each giver gave on the last days of each month (one kudos to three people is one).
# Placeholders: zone, start, end, zone (twice), late days.
_LATE_KUDOS_SQL = """
SELECT l.giver, date_trunc('month', l.effective_at AT TIME ZONE {})::date AS month, count(DISTINCT l.kudos) AS kudos
FROM ledger_entry l
WHERE l.kind = 'kudos' AND l.effective_at >= {} AND l.effective_at < {}
  AND (date_trunc('month', l.effective_at AT TIME ZONE {}) + interval '1 month')::date
      - (l.effective_at AT TIME ZONE {})::date <= {}
GROUP BY 1, 2
"""

# The kudos behind a signal: from `givers` to `recipients` in the window (optionally only on a month's last days).
# Placeholders: recipients, givers, start, end, late-only flag, zone (2 times), late days, limit.
_EVIDENCE_SQL = """
SELECT l.kudos, max(l.effective_at) AS at FROM ledger_entry l
WHERE l.recipient = ANY({}) AND l.giver = ANY({}) AND l.addon IS NULL AND l.kind = 'kudos'
  AND l.effective_at >= {} AND l.effective_at < {}
  AND (NOT {} OR (date_trunc('month', l.effective_at AT TIME ZONE {}) + interval '1 month')::date
                 - (l.effective_at AT TIME ZONE {})::date <= {})
GROUP BY l.kudos ORDER BY at DESC, l.kudos DESC LIMIT {}
"""


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    def months(self) -> list[date]:
        """The organisation-time months that overlap the window."""
        first, months = month_of(self.start), []
        while month_bounds(first)[0] < self.end:
            months.append(first)
            first = next_month(first)
        return months

    def month_ends(self) -> set[date]:
        """Months whose last LATE_DAYS days lie inside the window."""
        return {
            m
            for m in self.months()
            if month_bounds(m)[1] - timedelta(days=LATE_DAYS) >= self.start and month_bounds(m)[1] <= self.end
        }

    def fraction(self, month: date) -> float:
        """How much of `month` lies inside the window (0..1)."""
        start, end = month_bounds(month)
        inside = min(end, self.end) - max(start, self.start)
        return max(inside / (end - start), 0.0)


def last_days(days: int = WINDOW_DAYS, *, at: datetime | None = None) -> Window:
    end = at or now()
    return Window(end - timedelta(days=days), end)


async def concentration_percent() -> int:
    row = await SignalSettings.select(SignalSettings.concentration_percent).where(SignalSettings.id == SETTINGS_ID)
    return row[0]["concentration_percent"] if row else DEFAULT_CONCENTRATION_PERCENT


async def find_signals(window: Window, *, percent: int | None = None) -> list[Signal]:
    """Every signal in `window`, read from the ledger and the allowances."""
    zone = get_settings().timezone
    rows = await Finding.raw(_FLOWS_SQL, zone, zone, zone, LATE_DAYS, window.start, window.end)
    flows = [Flow(r["giver"], r["recipient"], r["month"], r["points"], r["late"]) for r in rows]
    late_kudos = {
        (r["giver"], r["month"]): r["kudos"]
        for r in await Finding.raw(_LATE_KUDOS_SQL, zone, window.start, window.end, zone, zone, LATE_DAYS)
    }
    months = window.months()
    policy = await AllowancePolicy.select(AllowancePolicy.employee_budget).first()
    default_budget: int = policy["employee_budget"] if policy else 100
    allowance = await Allowance.select(Allowance.employee, Allowance.month, Allowance.budget).where(
        Allowance.month.is_in(months)
    )
    month_budgets: dict[tuple[int, date], int] = {(r["employee"], r["month"]): r["budget"] for r in allowance}
    givers = {flow.giver for flow in flows}
    budgets = {
        giver: sum(month_budgets.get((giver, m), default_budget) * window.fraction(m) for m in months)
        for giver in givers
    }
    return detect(
        flows,
        late_kudos=late_kudos,
        budgets=budgets,
        month_budgets=month_budgets,
        default_budget=default_budget,
        month_ends=window.month_ends(),
        concentration_percent=percent if percent is not None else await concentration_percent(),
    )


def explain(signal: Signal, names: Mapping[int, str]) -> str:
    """The signal in plain words (names as they are at detection time)."""
    who = [names.get(person, f"person {person}") for person in signal.people]
    share = f"{signal.share:.0%}"
    months = f"{signal.months} month{'s' if signal.months != 1 else ''}"
    if signal.kind == SignalKind.RECIPROCAL:
        return (
            f"{who[0]} and {who[1]} gave each other at least {share} of all the points they gave "
            f"({signal.points} points between them), in {months}."
        )
    if signal.kind == SignalKind.RING:
        return (
            f"{', '.join(who[:-1])} and {who[-1]} sent {share} of all the points they gave to each other "
            f"({signal.points} points), in {months}."
        )
    if signal.kind == SignalKind.DUMPING:
        return (
            f"{who[0]} spent at least {share} of their monthly allowance in the last {LATE_DAYS} days of the month, "
            f"mostly to {', '.join(who[1:]) or 'few people'} ({signal.points} points), in {months}."
        )
    return f"{who[0]} sent {who[1]} {share} of their allowance over the period ({signal.points} points)."


async def start_run(kind: RunKind, window: Window, *, label: str = "", requested_by: int | None = None) -> int:
    """Record a pending run (call inside the transaction that enqueues its job); its id."""
    rows = await DetectionRun.insert(
        DetectionRun(
            kind=kind,
            window_start=window.start,
            window_end=window.end,
            label=label,
            requested_by=requested_by,
            concentration_percent=await concentration_percent(),
            created_at=now(),
        )
    ).returning(DetectionRun.id)
    return int(rows[0]["id"])


async def execute_run(run_id: int) -> int | None:
    """Detect and store the findings of a pending run (idempotent: a finished run is left alone); how many."""
    run = await DetectionRun.select().where(DetectionRun.id == run_id).first()
    if run is None or run["status"] != RunStatus.PENDING:
        return None
    window = Window(run["window_start"], run["window_end"])
    signals = await find_signals(window, percent=run["concentration_percent"])
    people = sorted({p for s in signals for p in s.people})
    names = {}
    if people:
        rows = await Employee.select(Employee.id, Employee.name).where(Employee.id.is_in(people))
        names = {row["id"]: row["name"] for row in rows}
    zone = get_settings().timezone
    findings = []
    for signal in signals:
        members = list(signal.people)
        givers, recipients = (members[:1], members[1:]) if signal.kind != SignalKind.RING else (members, members)
        if signal.kind == SignalKind.RECIPROCAL:
            givers = recipients = members
        evidence = await Finding.raw(
            _EVIDENCE_SQL,
            recipients,
            givers,
            window.start,
            window.end,
            signal.late_only,
            zone,
            zone,
            LATE_DAYS,
            EVIDENCE_LIMIT,
        )
        findings.append(
            Finding(
                run=run_id,
                kind=signal.kind,
                signature=signal.signature,
                people=members,
                points=signal.points,
                share=signal.share,
                months=signal.months,
                explanation=explain(signal, names),
                evidence=[row["kudos"] for row in evidence],
            )
        )
    async with db.transaction():
        still_pending = (
            await DetectionRun.update(
                {
                    DetectionRun.status: RunStatus.DONE,
                    DetectionRun.finished_at: now(),
                    DetectionRun.findings: len(findings),
                }
            )
            .where((DetectionRun.id == run_id) & (DetectionRun.status == RunStatus.PENDING))
            .returning(DetectionRun.id)
        )
        if still_pending and findings:
            await Finding.insert(*findings)
    return len(findings)


async def run_nightly(*, at: datetime | None = None, keep: int = 7) -> int | None:
    """Detect over the last WINDOW_DAYS days and store the findings; older nightly runs beyond `keep` go."""
    window = last_days(at=at)
    run_id = await start_run(RunKind.NIGHTLY, window, label=f"Last {WINDOW_DAYS} days")
    found = await execute_run(run_id)
    old = (
        await DetectionRun.select(DetectionRun.id)
        .where(DetectionRun.kind == RunKind.NIGHTLY)
        .order_by(DetectionRun.id, ascending=False)
        .offset(keep)
    )
    if old:
        await DetectionRun.delete().where(DetectionRun.id.is_in([row["id"] for row in old]))
    return found


NIGHTLY_EVERY = timedelta(hours=20)


async def nightly_due(*, at: datetime | None = None) -> bool:
    """No nightly run was started in the last NIGHTLY_EVERY (so a worker restart does not repeat it)."""
    moment = at or now()
    return not await DetectionRun.exists().where(
        (DetectionRun.kind == RunKind.NIGHTLY) & (DetectionRun.created_at > moment - NIGHTLY_EVERY)
    )


async def pending_runs() -> list[int]:
    """On-demand runs still waiting (their job was lost): the nightly sweep runs them."""
    rows = await DetectionRun.select(DetectionRun.id).where(DetectionRun.status == RunStatus.PENDING)
    return [row["id"] for row in rows]
