"""Kudos, add-ons, company values, monthly allowances and the append-only points ledger (SPEC F3 to F6)."""

from enum import StrEnum

from piccolo.columns import BigSerial, Boolean, Date, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from app.people.tables import Department, Employee
from app.requests.tables import Request


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class EntryKind(StrEnum):
    KUDOS = "kudos"
    ADDON = "addon"
    REVOKE = "revoke"


class CompanyValue(Table):
    """A company value a kudos can be tagged with (admin-managed)."""

    id = Serial(primary_key=True)

    name = Varchar(length=60, unique=True)
    description = Text(default="")
    position = Integer(default=0)
    active = Boolean(default=True)


class AllowancePolicy(Table):
    """The organisation's giving rules; one row (id 1)."""

    id = Serial(primary_key=True)

    employee_budget = Integer(default=100)
    manager_budget = Integer(default=100)
    admin_budget = Integer(default=100)
    manager_bonus_per_report = Integer(default=10)
    max_points_per_kudos = Integer(default=50)
    value_required = Boolean(default=False)

    budgets_non_negative = Check(
        (employee_budget >= 0) & (manager_budget >= 0) & (admin_budget >= 0) & (manager_bonus_per_report >= 0)
    )
    max_positive = Check(max_points_per_kudos >= 1)


class Allowance(Table):
    """What one person may give in one month (organisation time zone); spent only by a conditional UPDATE."""

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    month = Date()
    budget = Integer()
    spent = Integer(default=0)

    unique_month = Unique([employee, month])
    spent_within_budget = Check((spent >= 0) & (spent <= budget))


class Kudos(Table):
    id = Serial(primary_key=True)
    giver = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict, index=True)
    message = Text()
    points = Integer(default=0)  # per recipient, frozen when given
    visibility = Varchar(length=10, choices=Visibility, default=Visibility.PUBLIC)
    request = ForeignKey(Request, null=True, on_delete=OnDelete.set_null, index=True)
    month = Date()  # the giver's allowance month the points came from
    idempotency_key = Varchar(length=64)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    revoke_reason = Text(null=True, default=None)

    unique_submission = Unique([giver, idempotency_key])
    points_non_negative = Check(points >= 0)


class KudosRecipient(Table):
    id = Serial(primary_key=True)
    kudos = ForeignKey(Kudos, null=False, on_delete=OnDelete.cascade)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict, index=True)

    unique_recipient = Unique([kudos, employee])


class KudosValue(Table):
    id = Serial(primary_key=True)
    kudos = ForeignKey(Kudos, null=False, on_delete=OnDelete.cascade)
    value = ForeignKey(CompanyValue, null=False, on_delete=OnDelete.restrict, index=True)

    unique_value = Unique([kudos, value])


class AddOn(Table):
    """A "+1" joining a public kudos, with a comment and optional points for each of its recipients."""

    id = Serial(primary_key=True)

    kudos = ForeignKey(Kudos, null=False, on_delete=OnDelete.cascade)
    giver = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict, index=True)
    comment = Text()
    points = Integer(default=0)
    month = Date()
    created_at = Timestamptz()

    one_per_person = Unique([kudos, giver])
    points_non_negative = Check(points >= 0)


class LedgerEntry(Table):
    """One point movement from a giver to a recipient. Append-only (a trigger refuses UPDATE and DELETE):
    a revoke is a negative entry. Departments are recorded as they were at the time, for fair boards."""

    id = BigSerial(primary_key=True)
    kind = Varchar(length=10, choices=EntryKind)
    kudos = ForeignKey(Kudos, null=False, on_delete=OnDelete.restrict, index=True)
    addon = ForeignKey(AddOn, null=True, on_delete=OnDelete.restrict)
    giver = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict)
    giver_department = ForeignKey(Department, null=True, on_delete=OnDelete.set_null)
    recipient = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict)
    recipient_department = ForeignKey(Department, null=True, on_delete=OnDelete.set_null)
    amount = Integer()
    created_at = Timestamptz()
    # The moment the movement counts for on boards: the kudos's or add-on's time, also on the revoke reversing it.
    effective_at = Timestamptz()
