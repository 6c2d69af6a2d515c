"""Peer feedback's vocabulary: its limits, question templates, the typed input a form is parsed into and the typed
values the services and queries return (see app/feedback/services.py for the rules, queries.py for who reads what).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.feedback.tables import AskStatus, SubjectKind
from app.timeutil import local_date, now

MAX_PEOPLE = 10
MAX_QUESTIONS = 5
MAX_QUESTION_LENGTH = 300
MAX_TEXT = 2000
MAX_PROJECT = 200
OPEN_ASKS_PER_WEEK = 5
DEFAULT_DUE_DAYS = 14
MAX_DUE_DAYS = 90
TEAM_DAYS = 90  # managers see their reports' counts over this many days
LIST_LIMIT = 50

TEMPLATES: dict[str, tuple[str, ...]] = {
    "start-stop-continue": (
        "What should I start doing?",
        "What should I stop doing?",
        "What should I continue doing?",
    ),
    "went-well": ("What went well?", "What could be better?"),
}
TEMPLATE_LABELS = {
    "start-stop-continue": "Start / Stop / Continue",
    "went-well": "What went well / what could be better",
}
UNPROMPTED = ""  # the question of unprompted feedback

TEXT_RULE = f"Write between 1 and {MAX_TEXT:,} characters."
RATE_RULE = f"You can have at most {OPEN_ASKS_PER_WEEK} open asks for feedback started in any 7 days."


# ------------------------------------------------------------------------------------------------ typed input


@dataclass(frozen=True, slots=True)
class AskInput:
    """An ask as parsed from the form: ids are None when empty, 0 when not a valid id."""

    people: tuple[int, ...]
    subject_kind: str = SubjectKind.NONE
    subject_request: int | None = None
    subject_department: int | None = None
    subject_text: str = ""
    template: str = ""
    questions: tuple[str, ...] = ()  # free questions, in addition to the template's
    due_on: date | None = None  # None when missing or not a date


@dataclass(frozen=True, slots=True)
class GiveInput:
    subject: int | None
    text: str
    share_with_manager: bool = False


# ------------------------------------------------------------------------------------------------ typed output


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    id: int
    author: Person
    subject: Person
    answers: tuple[tuple[str, str], ...]  # (question, answer); question "" for unprompted feedback
    shared_with_manager: bool
    created_at: datetime
    ask_id: int | None
    about: str  # what the ask was about ("" when unprompted or no subject)


@dataclass(frozen=True, slots=True)
class Askee:
    person: Person
    status: AskStatus
    responded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ask:
    id: int
    asker: Person
    about: str
    questions: tuple[str, ...]
    due_on: date
    created_at: datetime
    closed: bool
    askees: tuple[Askee, ...]

    @property
    def answered(self) -> int:
        return sum(1 for a in self.askees if a.status == AskStatus.ANSWERED)


@dataclass(frozen=True, slots=True)
class TeamCount:
    person: Person
    received: int
    given: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything /feedback shows one person."""

    received: tuple[FeedbackItem, ...]
    given: tuple[FeedbackItem, ...]
    waiting: tuple[Ask, ...]  # asks addressed to me, open, not answered or declined yet
    my_asks: tuple[Ask, ...]  # my asks (open first), with who answered
    shared_with_me: tuple[FeedbackItem, ...]  # about my reports, shared with me by their authors
    team: tuple[TeamCount, ...]  # my direct reports' counts over TEAM_DAYS


@dataclass(frozen=True, slots=True)
class OrganisationCounts:
    """What admins see of feedback: counts only."""

    days: int
    items: int
    unprompted: int
    asks: int
    asked: int
    answered: int
    declined: int


@dataclass(frozen=True, slots=True)
class SubjectChoices:
    requests: tuple[tuple[int, str], ...]  # completed requests the person worked on
    departments: tuple[tuple[int, str], ...]


def today(at: datetime | None = None) -> date:
    return local_date(at or now())
