"""Digest runs, one delivery row per (person, period, kind), opt-outs and the schedule's state (SPEC F10)."""

from enum import StrEnum

from piccolo.columns import BigSerial, Date, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table

from app.people.tables import Employee


class DigestKind(StrEnum):
    EMPLOYEE = "employee"  # everyone's monthly recognition digest
    MANAGER = "manager"  # team insights for people with reports or a department to lead


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker (or for its next attempt after a failure)
    SENDING = "sending"  # claimed by a worker; the reaper returns it to pending if the worker died
    SENT = "sent"  # handed to the mail server (or written to the outbox)
    FAILED = "failed"  # every attempt failed; `last_error` says why; an admin can retry
    SKIPPED = "skipped"  # no longer eligible when its turn came (left, or opted out after the run started)


class DigestRun(Table):
    """A month's digests were started (by the schedule, a catch-up at worker start, an admin or the CLI)."""

    id = Serial(primary_key=True)

    period = Date(unique=True)  # the first day of the month the digests are about
    trigger = Varchar(length=20)  # schedule, catch-up, admin, cli
    started_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    planned_at = Timestamptz()  # the last time deliveries were planned for this period (a restart plans newcomers)


class DigestDelivery(Table):
    id = BigSerial(primary_key=True)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    period = Date()
    kind = Varchar(length=10, choices=DigestKind)
    status = Varchar(length=10, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    claimed_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=64, null=True, default=None)  # the claiming worker's token
    sent_at = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()

    one_per_person_period_kind = Unique([employee, period, kind])


class DigestOptOut(Table):
    """A person does not want this kind of digest (set at /me/settings or by the unsubscribe link)."""

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=10, choices=DigestKind)
    created_at = Timestamptz()

    one_per_kind = Unique([employee, kind])


class DigestSchedule(Table):
    """One row: since when digests are scheduled. A missed month is caught up only if it fell due after this,
    so a new installation does not mail everyone about the month before it existed."""

    id = Serial(primary_key=True)

    since = Timestamptz()
