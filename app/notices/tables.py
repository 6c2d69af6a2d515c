"""Email notices (SPEC F16): each person's choice per kind, the notices themselves and the mails that carry them."""

from enum import StrEnum

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

from app.people.tables import Employee


class NoticeKind(StrEnum):
    KUDOS = "kudos"  # someone thanked you
    ADDON = "addon"  # someone added a +1 to a kudos you received or gave
    BADGE = "badge"  # you earned a badge
    AWARD = "award"  # you (or your department) won an award
    REQUEST = "request"  # a request you filed was completed


class Choice(StrEnum):
    INSTANT = "instant"  # a mail per notice, as soon as the worker can
    DAILY = "daily"  # one summary a day of the day's notices
    NEVER = "never"  # no mail


class NoticePreference(Table):
    """A person's choice for one kind; no row: the kind's default (app/notices/preferences.py)."""

    id = Serial(primary_key=True)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=10, choices=NoticeKind)
    choice = Varchar(length=10, choices=Choice)
    updated_at = Timestamptz()

    notice_preference_one_per_kind = Unique([employee, kind])


class NoticeMail(Table):
    """A mail to send (the delivery rules of app/mail/queue.py): one notice when `day` is null (instant), else the
    summary of that day's notices — one per person per day."""

    id = BigSerial(primary_key=True)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    day = Date(null=True, default=None)
    status = Varchar(length=10, default="pending")  # pending, sending, sent, failed, skipped
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    claimed_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=64, null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()

    notice_mail_one_summary_per_day = Unique([employee, day])


class Notice(Table):
    """Something a person is told by email: one per (person, event, kind), so a handler run twice adds nothing.
    `mail` is the mail that carries it: set at once for an instant notice, by the daily summary for the others."""

    id = BigSerial(primary_key=True)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=10, choices=NoticeKind)
    event_id = Varchar(length=32)
    choice = Varchar(length=10, choices=Choice)  # instant or daily, as chosen when it happened
    actor = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    subject_id = BigInt()  # the kudos, badge award, award cycle or request it is about
    headline = Text()  # who and what, e.g. "Ann Lee thanked you"
    detail = Text(default="")  # the message, comment or citation
    private = Boolean(default=False)  # about a private kudos
    mail = ForeignKey(NoticeMail, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()

    notice_one_per_person_event_kind = Unique([employee, event_id, kind])
