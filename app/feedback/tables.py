"""Peer feedback (SPEC F14): asks for feedback, the people asked, and feedback items.

Feedback is private: every query that reads text is scoped to the people allowed to read it (app/feedback/services).
"""

from enum import StrEnum

from piccolo.columns import JSONB, Boolean, Date, ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table

from app.people.tables import Department, Employee
from app.requests.tables import Request


class SubjectKind(StrEnum):
    NONE = "none"
    REQUEST = "request"  # a completed request the asker worked on
    PROJECT = "project"  # a project, by name
    DEPARTMENT = "department"  # "how I work with your department"


class AskStatus(StrEnum):
    WAITING = "waiting"
    ANSWERED = "answered"
    DECLINED = "declined"


class FeedbackAsk(Table):
    """One ask for feedback: who asked, about what, which questions, until when."""

    id = Serial(primary_key=True)

    asker = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    subject_kind = Varchar(length=20, choices=SubjectKind, default=SubjectKind.NONE)
    subject_request = ForeignKey(Request, null=True, on_delete=OnDelete.set_null)
    subject_department = ForeignKey(Department, null=True, on_delete=OnDelete.set_null)
    subject_text = Varchar(length=200, default="")  # the project's name
    questions = JSONB(default=[])  # list of question texts, 1-5
    due_on = Date()
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)  # closed by the asker; an ask past its due date is closed too


class FeedbackAskee(Table):
    """A person asked: their answer (a Feedback row) or their decline."""

    id = Serial(primary_key=True)

    ask = ForeignKey(FeedbackAsk, null=False, on_delete=OnDelete.cascade)
    recipient = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=20, choices=AskStatus, default=AskStatus.WAITING)
    responded_at = Timestamptz(null=True, default=None)

    unique_askee = Unique([ask, recipient])


class Feedback(Table):
    """One feedback item by `author` about `subject`: `answers` is a list of [question, answer] pairs (the question
    is "" for unprompted feedback). Visible to the subject and the author; to the subject's manager only when the
    author shared it (`shared_with_manager`)."""

    id = Serial(primary_key=True)

    author = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    subject = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    ask = ForeignKey(FeedbackAsk, null=True, on_delete=OnDelete.set_null)
    answers = JSONB(default=[])
    shared_with_manager = Boolean(default=False)
    created_at = Timestamptz()

    one_answer_per_ask = Unique([ask, author])
