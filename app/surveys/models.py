"""Service surveys' vocabulary: the limits, the typed input a form is parsed into and the typed values the
services and queries return (the rules and the anonymity design: app/surveys/services.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.surveys.tables import Audience, RoundStatus
from app.timeutil import org_tz

MIN_ANSWERS = 5
REMIND_BEFORE = timedelta(days=1)
MAX_COMMENT = 2000
MAX_TITLE = 120
NAME_MASK = "[name]"


@dataclass(frozen=True, slots=True)
class RoundInput:
    title: str
    audience: str
    period_start: date | None
    period_end: date | None
    opens_on: date | None
    closes_on: date | None


@dataclass(frozen=True, slots=True)
class AnswerInput:
    """Scores as typed in: None when missing or not a whole number."""

    satisfaction: int | None
    ease: int | None
    recommend: int | None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    title: str
    audience: Audience
    period_start: date
    period_end: date
    opens_at: datetime
    closes_at: datetime
    status: RoundStatus
    invited: int  # people invited
    participated: int  # people who answered about at least one department


@dataclass(frozen=True, slots=True)
class DepartmentToRate:
    id: int
    name: str
    answer: AnswerInput | None  # my answer so far (only while the round is open)


@dataclass(frozen=True, slots=True)
class MySurvey:
    round: Round
    departments: tuple[DepartmentToRate, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """A department's result in one closed round."""

    round_id: int
    round_title: str
    closed_at: datetime
    invited: int
    answers: int
    satisfaction: float | None
    ease: float | None
    recommend_score: int | None  # % promoters - % detractors, -100..100

    @property
    def shown(self) -> bool:
        return self.answers >= MIN_ANSWERS

    @property
    def response_rate(self) -> int:
        return round(100 * self.answers / self.invited) if self.invited else 0


@dataclass(frozen=True, slots=True)
class DepartmentSurvey:
    """What the department page shows: the latest closed round, and the change since the round before it."""

    latest: Result
    previous: Result | None

    def change(self, name: str) -> float | None:
        if self.previous is None or not (self.latest.shown and self.previous.shown):
            return None
        now_value, then_value = getattr(self.latest, name), getattr(self.previous, name)
        return None if now_value is None or then_value is None else round(now_value - then_value, 1)


@dataclass(frozen=True, slots=True)
class Comments:
    round_title: str
    closed_at: datetime
    comments: tuple[str, ...]
    answers: int


@dataclass(frozen=True, slots=True)
class DepartmentRef:
    id: int
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Advance:
    opened: list[int]
    reminded: list[int]
    closed: list[int]


def start_of(day: date) -> datetime:
    """The first moment of `day` in the organisation's time zone."""
    return datetime.combine(day, time(0, 0), tzinfo=org_tz())


def parse_score(text: str, low: int, high: int) -> int | None:
    """A score from a form field: None when missing, not a whole number or out of range."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 and low <= int(text) <= high else None
