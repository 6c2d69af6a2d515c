"""Internal requests between departments (SPEC F2) and their ratings (F11)."""

from enum import StrEnum

from piccolo.columns import ForeignKey, OnDelete, Serial, SmallInt, Text, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from app.people.tables import Department, Employee, Service


class Status(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    FILED = "filed"
    CLAIMED = "claimed"
    RESOLVER_ADDED = "resolver_added"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RATED = "rated"
    UPDATED = "updated"


class Request(Table):
    id = Serial(primary_key=True)
    requester = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict, index=True)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.restrict)
    service = ForeignKey(Service, null=True, on_delete=OnDelete.set_null)
    title = Varchar(length=200)
    description = Text(default="")
    status = Varchar(length=20, choices=Status, default=Status.OPEN)
    created_at = Timestamptz()
    first_response_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    # A request imported from an external tracker (SPEC F2): the same ticket is never imported twice.
    source = Varchar(length=60, null=True, default=None)
    external_id = Varchar(length=200, null=True, default=None)
    external_url = Varchar(length=1000, null=True, default=None)

    unique_external = Unique([source, external_id])


class RequestResolver(Table):
    id = Serial(primary_key=True)
    request = ForeignKey(Request, null=False, on_delete=OnDelete.cascade)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict, index=True)
    added_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    added_at = Timestamptz()

    unique_resolver = Unique([request, employee])


class RequestEvent(Table):
    """The history of a request: who did what, when."""

    id = Serial(primary_key=True)

    request = ForeignKey(Request, null=False, on_delete=OnDelete.cascade, index=True)
    actor = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=30, choices=EventKind)
    detail = Text(default="")
    created_at = Timestamptz()


class RequestRating(Table):
    """The requester's rating of a completed request; visible to its resolvers and their department's leads only."""

    id = Serial(primary_key=True)

    request = ForeignKey(Request, null=False, on_delete=OnDelete.cascade, unique=True)
    rater = ForeignKey(Employee, null=False, on_delete=OnDelete.restrict)
    timeliness = SmallInt()
    quality = SmallInt()
    communication = SmallInt()
    comment = Text(default="")
    created_at = Timestamptz()

    timeliness_range = Check((timeliness >= 1) & (timeliness <= 5))
    quality_range = Check((quality >= 1) & (quality <= 5))
    communication_range = Check((communication >= 1) & (communication <= 5))
