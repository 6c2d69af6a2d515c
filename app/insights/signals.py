"""Collusion signals (SPEC B6): a detection run's findings as a viewer may see them, one finding with its evidence,
the admins' review marks (audited), on-demand runs and the concentration threshold. Private kudos messages appear in
a signal's evidence only to the people SPEC F3 lets read them (giver, recipients, the recipients' managers), never
to an admin as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import app.db as db
from app.audit.services import record as audit
from app.insights import runs
from app.insights.charts import BarChart, bar_chart
from app.insights.scope import CsvTable, InsightPeriod, Scope
from app.insights.tables import (
    DetectionRun,
    Finding,
    FindingReview,
    ReviewStatus,
    RunKind,
    RunStatus,
    SignalKind,
    SignalSettings,
)
from app.jobs.outbox import add_job
from app.paging import valid_id
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.rules import RuleViolation
from app.timeutil import now

REVIEW_LABELS = {ReviewStatus.FINE: "Reviewed — fine", ReviewStatus.ACTED: "Reviewed — acted"}
KIND_LABELS = {
    SignalKind.RECIPROCAL: "Reciprocal pair",
    SignalKind.RING: "Ring",
    SignalKind.DUMPING: "Month-end dumping",
    SignalKind.CONCENTRATION: "Concentration",
}


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    department: str


@dataclass(frozen=True, slots=True)
class Review:
    """A review mark on a finding's pattern."""

    status: ReviewStatus
    note: str
    created_at: datetime
    reviewer: str | None  # None: the admin who marked it is gone

    @property
    def label(self) -> str:
        return REVIEW_LABELS[self.status]


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
    review: Review | None  # the newest review mark

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def review_label(self) -> str:
        return self.review.label if self.review else "Not reviewed"


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


def _run_info(row: Mapping[str, Any]) -> RunInfo:
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


# The newest review mark of each of these patterns.
_NEWEST_REVIEWS_SQL = """
SELECT DISTINCT ON (fr.signature) fr.signature, fr.status, fr.note, fr.created_at, e.name AS reviewer
FROM finding_review fr LEFT JOIN employee e ON e.id = fr.reviewer WHERE fr.signature = ANY({})
ORDER BY fr.signature, fr.created_at DESC, fr.id DESC
"""
# Every review mark of one pattern, newest first.
_REVIEWS_SQL = """
SELECT fr.status, fr.note, fr.created_at, e.name AS reviewer FROM finding_review fr
LEFT JOIN employee e ON e.id = fr.reviewer WHERE fr.signature = {} ORDER BY fr.created_at DESC, fr.id DESC
"""
_SET_CONCENTRATION_SQL = """
INSERT INTO signal_settings (id, concentration_percent) VALUES ({}, {})
ON CONFLICT (id) DO UPDATE SET concentration_percent = EXCLUDED.concentration_percent
"""


def _review(row: Mapping[str, Any]) -> Review:
    return Review(ReviewStatus(row["status"]), row["note"], row["created_at"], row["reviewer"])


async def _reviews(signatures: Sequence[str]) -> dict[str, Review]:
    if not signatures:
        return {}
    rows = await FindingReview.raw(_NEWEST_REVIEWS_SQL, list(signatures))
    return {row["signature"]: _review(row) for row in rows}


async def signals(scope: Scope, *, run_id: int | None = None) -> SignalsView:
    """The findings of run `run_id` (default: the newest finished nightly run), those a manager may see only."""
    recent = tuple(
        _run_info(r) for r in await DetectionRun.select().order_by(DetectionRun.id, ascending=False).limit(20)
    )
    chosen = next((r for r in recent if r.id == run_id), None) if run_id else None
    if chosen is None:
        chosen = next((r for r in recent if r.kind == RunKind.NIGHTLY and r.status == RunStatus.DONE), None)
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
        chosen, recent, found, chart, await runs.concentration_percent(), can_review=scope.viewer.is_admin
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
    reviews: tuple[Review, ...]  # every mark on this pattern, newest first


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
    if run is None:  # deleted with its findings a moment ago
        raise RuleViolation("There is no such signal.", status_code=404)
    people = await _people(row["people"])
    reviews = tuple(_review(r) for r in await FindingReview.raw(_REVIEWS_SQL, row["signature"]))
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
        reviews,
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
        run_id = await runs.start_run(
            RunKind.ON_DEMAND, runs.Window(start, min(end, now())), label=period.label, requested_by=user.id
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
    before = await runs.concentration_percent()
    async with db.transaction():
        await SignalSettings.raw(_SET_CONCENTRATION_SQL, runs.SETTINGS_ID, percent)
        await audit(
            actor_id=user.id,
            action="insights.settings_changed",
            target_type="signal_settings",
            target_id=runs.SETTINGS_ID,
            summary=f"Concentration signal threshold set to {percent} % of a giver's allowance.",
            before={"concentration_percent": before},
            after={"concentration_percent": percent},
        )
    return percent


# ------------------------------------------------------------------------------------------------ service map
