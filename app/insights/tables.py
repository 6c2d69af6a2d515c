"""Insights (SPEC B3, B4, B6): stored collusion findings, their review marks, the signal settings and the
department-to-department kudos flows behind the service map. Everything else in insights is read from the
ledger, the board rollups and requests as they are."""

from enum import StrEnum

from piccolo.columns import (
    Array,
    BigInt,
    BigSerial,
    Date,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from app.people.tables import Department, Employee


class SignalKind(StrEnum):
    RECIPROCAL = "reciprocal"
    RING = "ring"
    DUMPING = "dumping"
    CONCENTRATION = "concentration"


class RunKind(StrEnum):
    NIGHTLY = "nightly"  # the last 90 days, every night
    ON_DEMAND = "on_demand"  # a period an admin asked for


class RunStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ReviewStatus(StrEnum):
    FINE = "fine"
    ACTED = "acted"


class SignalSettings(Table):
    """One row (id 1): the concentration threshold, as a share of a giver's allowance in percent."""

    id = Serial(primary_key=True)

    concentration_percent = Integer(default=50)

    percent_range = Check((concentration_percent >= 10) & (concentration_percent <= 100))


class DetectionRun(Table):
    """One pass of collusion detection over [window_start, window_end); its findings are stored with it."""

    id = Serial(primary_key=True)

    kind = Varchar(length=10, choices=RunKind)
    window_start = Timestamptz()
    window_end = Timestamptz()
    label = Varchar(length=60, default="")
    status = Varchar(length=10, choices=RunStatus, default=RunStatus.PENDING)
    requested_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    concentration_percent = Integer(default=50)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    findings = Integer(default=0)


class Finding(Table):
    """A pattern worth a look, never a verdict. `people` are employee ids (a concentration's giver first, then
    the recipient; a dumper's recipients after the giver); `signature` names the pattern across runs (so a review
    mark stays with it); `evidence` holds the ids of the kudos behind it, newest first."""

    id = BigSerial(primary_key=True)
    run = ForeignKey(DetectionRun, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, choices=SignalKind)
    signature = Varchar(length=200, index=True)
    people = Array(base_column=Integer())
    points = Integer(default=0)
    share = Float(default=0.0)  # the share that tripped the signal (0..1)
    months = Integer(default=0)  # months in which the pattern showed
    explanation = Text(default="")
    evidence = Array(base_column=BigInt())


class FindingReview(Table):
    """An admin's mark on a pattern ("reviewed — fine" / "reviewed — acted"); the newest per signature counts."""

    id = Serial(primary_key=True)

    signature = Varchar(length=200, index=True)
    kind = Varchar(length=20, choices=SignalKind)
    status = Varchar(length=10, choices=ReviewStatus)
    reviewer = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    note = Text(default="")
    created_at = Timestamptz()


class DepartmentFlow(Table):
    """Between two departments in one board period (month, quarter or year; organisation time zone): kudos and
    points from the first's people to the second's (departments as recorded in the ledger), and the first's
    requests that the second completed (the requester's current department). Kept by a job
    (app/insights/rollups.py)."""

    id = Serial(primary_key=True)

    period = Varchar(length=8)
    start = Date()
    giver_department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)  # the customer
    recipient_department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)  # the supplier
    kudos = Integer(default=0)
    points = Integer(default=0)
    requests = Integer(default=0)
    refreshed_at = Timestamptz()

    unique_flow = Unique([period, start, giver_department, recipient_department])


class DepartmentFigures(Table):
    """One department's participation and equity in one board period (a row with no department: the whole
    organisation), from the board rollups and allowances; refreshed by a job (app/insights/rollups.py)."""

    id = Serial(primary_key=True)

    period = Varchar(length=8)
    start = Date()
    department = ForeignKey(Department, null=True, on_delete=OnDelete.cascade)
    active = Integer(default=0)  # active people (today) in the department
    gave = Integer(default=0)  # ... who gave at least one kudos in the period
    received = Integer(default=0)  # ... who received a kudos or +1 points
    spent = Integer(default=0)  # allowance spent
    budget = Integer(default=0)  # allowance available (months without a row count at the default budget)
    points = Integer(default=0)  # points received
    top10 = Float(default=0.0)  # share of the points received by the top 10 % of people
    gini = Float(default=0.0)
    completed = Integer(default=0)  # requests the department completed in the period
    thanked = Integer(default=0)  # ... that someone thanked with a linked, standing kudos
    refreshed_at = Timestamptz()

    unique_figures = Unique([period, start, department])


class SilentContributor(Table):
    """Someone who completed requests in the last 90 days and received no recognition for at least 30 of them
    (SPEC B3), as of `refreshed_at`; kept by a job (app/insights/rollups.py)."""

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, unique=True)
    department = ForeignKey(Department, null=True, on_delete=OnDelete.cascade)
    completed_30 = Integer(default=0)  # requests completed in the last 30 days
    completed_60 = Integer(default=0)
    completed_90 = Integer(default=0)
    last_recognised = Timestamptz(null=True, default=None)
    refreshed_at = Timestamptz()
