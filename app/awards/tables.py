"""Monthly awards (SPEC F9, B5): categories, the award calendar, cycles, nominations, evidence, reminders, winners."""

from enum import StrEnum

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from app.kudos.tables import Kudos
from app.people.tables import Department, Employee


class NomineeKind(StrEnum):
    PERSON = "person"
    DEPARTMENT = "department"


class CycleStatus(StrEnum):
    OPEN = "open"  # nominations accepted until closes_at
    CLOSED = "closed"  # nominations closed: admins review and pick winners
    ANNOUNCED = "announced"  # winners announced: final


class AwardCategory(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=80, unique=True)
    description = Text(default="")
    nominee_kind = Varchar(length=12, choices=NomineeKind, default=NomineeKind.PERSON)
    winners = Integer(default=1)  # at most this many winners per cycle
    shortlist = Varchar(length=20, default="points")  # the figure the shortlist ranks by (app.awards.shortlist)
    position = Integer(default=0)
    active = Boolean(default=True)

    winners_range = Check((winners >= 1) & (winners <= 10))


class AwardCalendar(Table):
    """When nominations open and close; one row (id 1). Nominations for a month open on `open_day` of the
    following month and close on `close_day`, both at `time_of_day`, in `timezone` ("" = the organisation's)."""

    id = Serial(primary_key=True)

    open_day = Integer(default=1)
    close_day = Integer(default=7)
    time_of_day = Varchar(length=5, default="09:00")  # HH:MM
    timezone = Varchar(length=60, default="")

    days_range = Check((open_day >= 1) & (close_day <= 28) & (open_day < close_day))


class AwardCycle(Table):
    """The awards for one month. Times are fixed when the cycle opens, so a later calendar change affects only
    later cycles. Status moves open → closed → announced, each step by one conditional UPDATE."""

    id = Serial(primary_key=True)

    month = Date(unique=True)  # first day of the month the awards are for (organisation time zone)
    opens_at = Timestamptz()
    closes_at = Timestamptz()
    remind_at = Timestamptz()  # a day before closes_at: one reminder to managers who have not nominated
    status = Varchar(length=12, choices=CycleStatus, default=CycleStatus.OPEN)
    opened_at = Timestamptz()  # when the job (or the demo) actually opened it
    closed_at = Timestamptz(null=True, default=None)
    announced_at = Timestamptz(null=True, default=None)
    announced_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    # changes to the month's figures noticed while the cycle is open (a kudos of the month revoked, a request of the
    # month rated): a stored shortlist computed at a lower count is due again (app/awards/stored.py)
    changes = Integer(default=0)


class Nomination(Table):
    """A manager's nomination of a person or a department; one per (cycle, category, nominator, nominee) — the
    unique index over both nominee columns is in a raw-SQL migration."""

    id = Serial(primary_key=True)

    cycle = ForeignKey(AwardCycle, null=False, on_delete=OnDelete.cascade)
    category = ForeignKey(AwardCategory, null=False, on_delete=OnDelete.restrict)
    nominator = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(Employee, null=True, on_delete=OnDelete.cascade)
    department = ForeignKey(Department, null=True, on_delete=OnDelete.cascade)
    reason = Text()
    created_at = Timestamptz()


class NominationEvidence(Table):
    id = Serial(primary_key=True)
    nomination = ForeignKey(Nomination, null=False, on_delete=OnDelete.cascade)
    kudos = ForeignKey(Kudos, null=False, on_delete=OnDelete.cascade)

    unique_evidence = Unique([nomination, kudos])


class AwardReminder(Table):
    """The one nomination reminder a manager gets per cycle, recorded in the transaction that sends it."""

    id = Serial(primary_key=True)

    cycle = ForeignKey(AwardCycle, null=False, on_delete=OnDelete.cascade)
    manager = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    sent_at = Timestamptz()

    unique_reminder = Unique([cycle, manager])


class AwardWinner(Table):
    """A winner picked by an admin (a person or a department, who must be nominated in that category)."""

    id = Serial(primary_key=True)

    cycle = ForeignKey(AwardCycle, null=False, on_delete=OnDelete.cascade)
    category = ForeignKey(AwardCategory, null=False, on_delete=OnDelete.restrict)
    person = ForeignKey(Employee, null=True, on_delete=OnDelete.cascade, index=True)
    department = ForeignKey(Department, null=True, on_delete=OnDelete.cascade, index=True)
    citation = Text(default="")
    picked_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    picked_at = Timestamptz()


class AwardShortlist(Table):
    """A cycle's shortlist in one category as last computed (app/awards/stored.py): when, by which figure, and at
    which of the cycle's `changes`; its ranked candidates are AwardShortlistEntry rows."""

    id = Serial(primary_key=True)

    cycle = ForeignKey(AwardCycle, null=False, on_delete=OnDelete.cascade)
    category = ForeignKey(AwardCategory, null=False, on_delete=OnDelete.cascade)
    nominee_kind = Varchar(length=12, choices=NomineeKind)
    ranked_by = Varchar(length=20)  # the category's figure when computed
    changes = Integer(default=0)  # the cycle's `changes` when computed
    truncated = Boolean(default=False)  # more candidates than were stored
    computed_at = Timestamptz()

    unique_shortlist = Unique([cycle, category])


class AwardShortlistEntry(Table):
    """A candidate of a stored shortlist at its rank, with the month's figures (see app/awards/shortlist.py)."""

    id = Serial(primary_key=True)

    shortlist = ForeignKey(AwardShortlist, null=False, on_delete=OnDelete.cascade)
    rank = Integer()
    person = ForeignKey(Employee, null=True, on_delete=OnDelete.cascade, index=True)
    department = ForeignKey(Department, null=True, on_delete=OnDelete.cascade, index=True)
    points = Integer(default=0)
    givers = Integer(default=0)
    departments = Integer(default=0)  # people: departments helped
    rating = Numeric(null=True, default=None)  # people: average rating as resolver, None below MIN_RATINGS
    ratings = Integer(default=0)
    members = Integer(default=0)  # departments: active members

    unique_rank = Unique([shortlist, rank])
