"""Internal service surveys (SPEC F15): rounds, who was asked about which department, answers while a round is
open, and the aggregate results computed when it closes.

Anonymity by design: `survey_answer` holds who answered what only while the round is open (so a person can come
back and change their answers). Closing the round computes `survey_result` (aggregates, and comments without
order or author) and deletes the round's answers in the same transaction; what remains about a person is
`survey_invite.answered_at` — that they answered about a department, not what.
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Date,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from app.people.tables import Department, Employee


class Audience(StrEnum):
    CUSTOMERS = "customers"  # people who filed requests to the department in the period
    EVERYONE = "everyone"  # every active person, about every department but their own


class RoundStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


class SurveyRound(Table):
    id = Serial(primary_key=True)
    title = Varchar(length=120)
    audience = Varchar(length=20, choices=Audience, default=Audience.CUSTOMERS)
    period_start = Date()  # the requests filed in [period_start, period_end] make the internal customers
    period_end = Date()
    opens_at = Timestamptz()
    closes_at = Timestamptz()
    status = Varchar(length=20, choices=RoundStatus, default=RoundStatus.SCHEDULED, index=True)
    opened_at = Timestamptz(null=True, default=None)
    reminded_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()

    closes_after_opening = Check(closes_at > opens_at)


class SurveyInvite(Table):
    """The participation record: `employee` was asked about `department` in `round`, and whether they answered."""

    id = Serial(primary_key=True)

    round = ForeignKey(SurveyRound, null=False, on_delete=OnDelete.cascade)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)
    answered_at = Timestamptz(null=True, default=None)

    unique_invite = Unique([round, employee, department])


class SurveyAnswer(Table):
    """An answer while its round is open; deleted when the round closes (after its results are computed)."""

    id = Serial(primary_key=True)

    round = ForeignKey(SurveyRound, null=False, on_delete=OnDelete.cascade)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)
    respondent = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    satisfaction = SmallInt()
    ease = SmallInt()
    recommend = SmallInt()
    comment = Text(default="")
    updated_at = Timestamptz()

    unique_answer = Unique([round, department, respondent])
    satisfaction_range = Check((satisfaction >= 1) & (satisfaction <= 5))
    ease_range = Check((ease >= 1) & (ease <= 5))
    recommend_range = Check((recommend >= 0) & (recommend <= 10))


class SurveyResult(Table):
    """A department's aggregate result of a closed round. Averages and comments are kept only when at least
    MIN_ANSWERS answered (app/surveys/services.py); comments in random order, names removed."""

    id = Serial(primary_key=True)

    round = ForeignKey(SurveyRound, null=False, on_delete=OnDelete.cascade)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade, index=True)
    invited = Integer()
    answers = Integer()
    satisfaction = Float(null=True, default=None)
    ease = Float(null=True, default=None)
    promoters = Integer(default=0)
    passives = Integer(default=0)
    detractors = Integer(default=0)
    comments = JSONB(default=[])

    unique_result = Unique([round, department])
