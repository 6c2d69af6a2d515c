"""Internal service surveys (SPEC F15): departments as service providers, rated by their internal customers.

Admins schedule a round. When it opens (job `advance_surveys`, every five minutes and at worker start, in the
organisation's time zone; state in PostgreSQL, so a missed run is caught up and a repeated one does nothing) each
department's internal customers are invited: the people who filed requests to it in the round's period (or, for
an "everyone" round, every active person about every department but their own). A person gets one page listing
the departments they were asked about, answers any of them (satisfaction 1-5, ease 1-5, recommend 0-10, a
comment) and may change their answers until the round closes. One reminder goes out a day before the deadline.

Anonymity by design — what a department (its leads) and admins can learn:
- Nothing while the round is open: results are computed only when it closes, so comparing the page before and
  after one more answer shows nothing.
- At close, in one transaction: each department's aggregates go to `survey_result` (averages and the
  promoter/passive/detractor split only when at least MIN_ANSWERS answered; comments only when at least
  MIN_ANSWERS comments were written, in random order, with people's names and email addresses removed), then the
  round's rows of `survey_answer` — the only place that linked a person to what they answered — are deleted.
  What stays about a person is the participation record `survey_invite.answered_at` (they answered about that
  department), which is what stops double answers and gives the response rate.
- Answering never earns anything.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app import db
from app.events import SurveyReminderDue, SurveyRoundClosed, SurveyRoundOpened, publish
from app.paging import valid_id
from app.people.tables import Department, DepartmentLead, Employee
from app.rules import Actor, RuleViolation
from app.surveys.tables import Audience, RoundStatus, SurveyAnswer, SurveyInvite, SurveyResult, SurveyRound
from app.timeutil import local_date, now, org_tz

MIN_ANSWERS = 5
REMIND_BEFORE = timedelta(days=1)
MAX_COMMENT = 2000
MAX_TITLE = 120
NAME_MASK = "[name]"


# ------------------------------------------------------------------------------------------------ typed values


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


# ---------------------------------------------------------------------------------------------------- helpers


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=org_tz())


# Rounds with their participation counts: every round (admins, `{}` NULL), or the open rounds person `{}` was
# invited to (the same id three times, and the moment).
_ROUNDS_SQL = """
SELECT r.id, r.title, r.audience, r.period_start, r.period_end, r.opens_at, r.closes_at, r.status,
       (SELECT count(DISTINCT i.employee) FROM survey_invite i WHERE i.round = r.id) AS invited,
       (SELECT count(DISTINCT i.employee) FROM survey_invite i WHERE i.round = r.id AND i.answered_at IS NOT NULL)
           AS participated
FROM survey_round r
WHERE {}::int IS NULL OR (
    r.status = 'open' AND r.closes_at > {}
    AND EXISTS (SELECT 1 FROM survey_invite i WHERE i.round = r.id AND i.employee = {}::int)
)
ORDER BY r.opens_at DESC, r.id DESC
LIMIT 50
"""


def _round(row: dict) -> Round:
    return Round(
        **{**row, "audience": Audience(row["audience"]), "status": RoundStatus(row["status"])},
    )


def parse_score(text: str, low: int, high: int) -> int | None:
    """A score from a form field: None when missing, not a whole number or out of range."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 and low <= int(text) <= high else None


# --------------------------------------------------------------------------------------------------- schedule


async def schedule_round(actor: Actor, data: RoundInput, *, at: datetime | None = None) -> int:
    """An admin schedules a round: it opens at the start of `opens_on` and closes at the end of `closes_on`
    (organisation time zone)."""
    if not actor.is_admin:
        raise RuleViolation("Only admins schedule survey rounds.", status_code=403)
    moment = at or now()
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not 1 <= len(title) <= MAX_TITLE or "\x00" in title:
        errors["title"] = f"Give the round a title (1 to {MAX_TITLE} characters)."
    if data.audience not in set(Audience):
        errors["audience"] = "Choose who is asked."
    if data.period_start is None or data.period_end is None or data.period_end < data.period_start:
        errors["period"] = "Give the period whose requests make the internal customers (start on or before end)."
    today = local_date(moment)
    if data.opens_on is None or data.opens_on < today:
        errors["opens_on"] = "The round opens today or later."
    if data.closes_on is None or (data.opens_on is not None and data.closes_on < data.opens_on):
        errors["closes_on"] = "The round closes on or after the day it opens."
    if errors or data.opens_on is None or data.closes_on is None:
        raise RuleViolation(errors)
    rows = await SurveyRound.insert(
        SurveyRound(
            title=title,
            audience=Audience(data.audience),
            period_start=data.period_start,
            period_end=data.period_end,
            opens_at=_start_of(data.opens_on),
            closes_at=_start_of(data.closes_on + timedelta(days=1)),
            created_by=actor.id,
            created_at=moment,
        )
    ).returning(SurveyRound.id)
    return rows[0]["id"]


async def list_rounds(actor: Actor) -> list[Round]:
    if not actor.is_admin:
        raise RuleViolation("Only admins manage survey rounds.", status_code=403)
    return [_round(row) for row in await SurveyRound.raw(_ROUNDS_SQL, None, now(), None)]


# ---------------------------------------------------------------------------------------- the round's calendar

_INVITE_CUSTOMERS_SQL = """
INSERT INTO survey_invite (round, employee, department, answered_at)
SELECT DISTINCT {}::int, r.requester, r.department, NULL::timestamptz
FROM request r
JOIN employee e ON e.id = r.requester AND e.active
JOIN department d ON d.id = r.department AND d.archived_at IS NULL
WHERE r.created_at >= {} AND r.created_at < {} AND e.department IS DISTINCT FROM r.department
ON CONFLICT DO NOTHING
"""
_INVITE_EVERYONE_SQL = """
INSERT INTO survey_invite (round, employee, department, answered_at)
SELECT {}::int, e.id, d.id, NULL::timestamptz
FROM employee e CROSS JOIN department d
WHERE e.active AND d.archived_at IS NULL AND e.department IS DISTINCT FROM d.id
ON CONFLICT DO NOTHING
"""


async def _participants(round_id: int, *, only_unanswered: bool = False) -> tuple[int, ...]:
    rows = await SurveyInvite.raw(
        "SELECT DISTINCT employee FROM survey_invite WHERE round = {} AND ({} OR answered_at IS NULL) ORDER BY 1",
        round_id,
        not only_unanswered,
    )
    return tuple(row["employee"] for row in rows)


async def open_due(at: datetime) -> list[int]:
    """Open scheduled rounds whose time has come: invite their people (once), tell them."""
    opened = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            "UPDATE survey_round SET status = 'open', opened_at = {} WHERE status = 'scheduled' AND opens_at <= {} "
            "RETURNING id, audience, period_start, period_end, closes_at",
            at,
            at,
        )
        for row in rows:
            if row["audience"] == Audience.EVERYONE:
                await SurveyInvite.raw(_INVITE_EVERYONE_SQL, row["id"])
            else:
                start, end = _start_of(row["period_start"]), _start_of(row["period_end"] + timedelta(days=1))
                await SurveyInvite.raw(_INVITE_CUSTOMERS_SQL, row["id"], start, end)
            await publish(
                SurveyRoundOpened(
                    round_id=row["id"],
                    participant_ids=await _participants(row["id"]),
                    closes_at=row["closes_at"],
                    at=at,
                )
            )
            opened.append(row["id"])
    return opened


async def remind_due(at: datetime) -> list[int]:
    """Once per round, a day before it closes: remind the people who have not answered about every department."""
    reminded = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            "UPDATE survey_round SET reminded_at = {} WHERE status = 'open' AND reminded_at IS NULL "
            "AND closes_at <= {} AND closes_at > {} RETURNING id, closes_at",
            at,
            at + REMIND_BEFORE,
            at,
        )
        for row in rows:
            people = await _participants(row["id"], only_unanswered=True)
            if people:
                await publish(
                    SurveyReminderDue(round_id=row["id"], participant_ids=people, closes_at=row["closes_at"], at=at)
                )
            reminded.append(row["id"])
    return reminded


_AGGREGATE_SQL = """
SELECT i.department, count(*) AS invited, count(a.id) AS answers,
       avg(a.satisfaction)::float AS satisfaction, avg(a.ease)::float AS ease,
       count(*) FILTER (WHERE a.recommend >= 9) AS promoters,
       count(*) FILTER (WHERE a.recommend BETWEEN 7 AND 8) AS passives,
       count(*) FILTER (WHERE a.recommend <= 6) AS detractors
FROM survey_invite i
LEFT JOIN survey_answer a ON a.round = i.round AND a.department = i.department AND a.respondent = i.employee
WHERE i.round = {}
GROUP BY i.department
ORDER BY i.department
"""


async def _name_pattern() -> re.Pattern[str] | None:
    """Every word of every person's name (2+ letters), as whole words, case-insensitive."""
    words: set[str] = set()
    for row in await Employee.select(Employee.name):
        words.update(w for w in re.split(r"[\s\-']+", row["name"]) if len(w) >= 2)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


_EMAIL = re.compile(r"\S+@\S+")


def scrub(comment: str, names: re.Pattern[str] | None) -> str:
    """A comment with people's names and email addresses replaced by NAME_MASK."""
    text = _EMAIL.sub(NAME_MASK, comment)
    return names.sub(NAME_MASK, text) if names else text


async def close_due(at: datetime) -> list[int]:
    """Close open rounds whose deadline has passed: compute results, delete the answers (see the module notes)."""
    closed = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            "UPDATE survey_round SET status = 'closed', closed_at = {} WHERE status = 'open' AND closes_at <= {} "
            "RETURNING id",
            at,
            at,
        )
        names = await _name_pattern() if rows else None
        for row in rows:
            shown = await _compute_results(row["id"], names)
            await SurveyAnswer.delete().where(SurveyAnswer.round == row["id"])
            await publish(SurveyRoundClosed(round_id=row["id"], department_ids=tuple(shown), at=at))
            closed.append(row["id"])
    return closed


async def _compute_results(round_id: int, names: re.Pattern[str] | None) -> list[int]:
    aggregates = await SurveyAnswer.raw(_AGGREGATE_SQL, round_id)
    comment_rows = await SurveyAnswer.raw(
        "SELECT department, comment FROM survey_answer WHERE round = {} AND comment <> ''", round_id
    )
    comments: dict[int, list[str]] = {}
    for row in comment_rows:
        comments.setdefault(row["department"], []).append(scrub(row["comment"], names))
    results, shown = [], []
    for row in aggregates:
        enough = row["answers"] >= MIN_ANSWERS
        kept = comments.get(row["department"], []) if enough else []
        kept = kept if len(kept) >= MIN_ANSWERS else []
        random.SystemRandom().shuffle(kept)
        results.append(
            SurveyResult(
                round=round_id,
                department=row["department"],
                invited=row["invited"],
                answers=row["answers"],
                satisfaction=row["satisfaction"] if enough else None,
                ease=row["ease"] if enough else None,
                promoters=row["promoters"] if enough else 0,
                passives=row["passives"] if enough else 0,
                detractors=row["detractors"] if enough else 0,
                comments=kept,
            )
        )
        if enough:
            shown.append(row["department"])
    if results:
        await SurveyResult.insert(*results).on_conflict(
            target=(SurveyResult.round, SurveyResult.department), action="DO NOTHING"
        )
    return shown


@dataclass(frozen=True, slots=True)
class Advance:
    opened: list[int]
    reminded: list[int]
    closed: list[int]


async def advance(*, at: datetime | None = None) -> Advance:
    """Everything due on the survey calendar, in order (job `advance_surveys`). A round whose whole window passed
    while no worker ran is opened and closed in one call; nothing happens twice."""
    moment = at or now()
    return Advance(opened=await open_due(moment), reminded=await remind_due(moment), closed=await close_due(moment))


# ---------------------------------------------------------------------------------------------------- answering


async def my_surveys(actor: Actor, *, at: datetime | None = None) -> list[MySurvey]:
    """The open rounds `actor` was invited to, each with the departments to rate and their answers so far."""
    moment = at or now()
    rounds = [_round(row) for row in await SurveyRound.raw(_ROUNDS_SQL, actor.id, moment, actor.id)]
    surveys = []
    for found in rounds:
        rows = await SurveyInvite.raw(
            "SELECT d.id, d.name, a.satisfaction, a.ease, a.recommend, a.comment FROM survey_invite i "
            "JOIN department d ON d.id = i.department "
            "LEFT JOIN survey_answer a ON a.round = i.round AND a.department = i.department AND a.respondent = {} "
            "WHERE i.round = {} AND i.employee = {} ORDER BY d.name, d.id",
            actor.id,
            found.id,
            actor.id,
        )
        departments = tuple(
            DepartmentToRate(
                id=row["id"],
                name=row["name"],
                answer=AnswerInput(row["satisfaction"], row["ease"], row["recommend"], row["comment"])
                if row["satisfaction"] is not None
                else None,
            )
            for row in rows
        )
        surveys.append(MySurvey(round=found, departments=departments))
    return surveys


def _check_answer(data: AnswerInput) -> dict[str, str]:
    errors = {}
    if data.satisfaction is None or not 1 <= data.satisfaction <= 5:
        errors["satisfaction"] = "Choose how satisfied you were, from 1 to 5."
    if data.ease is None or not 1 <= data.ease <= 5:
        errors["ease"] = "Choose how easy it was to get help, from 1 to 5."
    if data.recommend is None or not 0 <= data.recommend <= 10:
        errors["recommend"] = "Choose how likely you are to recommend them, from 0 to 10."
    if len(data.comment.strip()) > MAX_COMMENT or "\x00" in data.comment:
        errors["comment"] = f"Keep the comment under {MAX_COMMENT:,} characters."
    return errors


async def submit_answer(
    actor: Actor, round_id: int, department_id: int, data: AnswerInput, *, at: datetime | None = None
) -> None:
    """Answer (or change the answer) about one department of an open round `actor` was invited to."""
    moment = at or now()
    invited = (
        valid_id(round_id)
        and valid_id(department_id)
        and await SurveyInvite.exists().where(
            (SurveyInvite.round == round_id)
            & (SurveyInvite.employee == actor.id)
            & (SurveyInvite.department == department_id)
        )
    )
    if not invited:
        raise RuleViolation("You were not asked about this department in this survey.", status_code=404)
    errors = _check_answer(data)
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        # FOR SHARE: closing the round (an UPDATE of this row) waits for this answer, or this answer sees it closed.
        still_open = await SurveyRound.raw(
            "SELECT id FROM survey_round WHERE id = {} AND status = 'open' AND closes_at > {} FOR SHARE",
            round_id,
            moment,
        )
        if not still_open:
            raise RuleViolation("This survey round is closed: answers are no longer taken.", status_code=409)
        await SurveyAnswer.raw(
            "INSERT INTO survey_answer (round, department, respondent, satisfaction, ease, recommend, comment, "
            "updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (round, department, respondent) "
            "DO UPDATE SET satisfaction = EXCLUDED.satisfaction, ease = EXCLUDED.ease, "
            "recommend = EXCLUDED.recommend, comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at",
            round_id,
            department_id,
            actor.id,
            data.satisfaction,
            data.ease,
            data.recommend,
            data.comment.strip(),
            moment,
        )
        await SurveyInvite.update({SurveyInvite.answered_at: moment}).where(
            (SurveyInvite.round == round_id)
            & (SurveyInvite.employee == actor.id)
            & (SurveyInvite.department == department_id)
            & SurveyInvite.answered_at.is_null()
        )


# ------------------------------------------------------------------------------------------------------ results

_RESULTS_SQL = """
SELECT s.round AS round_id, r.title AS round_title, r.closed_at, s.invited, s.answers, s.satisfaction, s.ease,
       s.promoters, s.detractors
FROM survey_result s JOIN survey_round r ON r.id = s.round
WHERE s.department = {} AND r.status = 'closed'
ORDER BY r.closed_at DESC, r.id DESC
LIMIT 2
"""


def _result(row: dict) -> Result:
    enough = row["answers"] >= MIN_ANSWERS
    score = round(100 * (row["promoters"] - row["detractors"]) / row["answers"]) if enough else None
    return Result(
        round_id=row["round_id"],
        round_title=row["round_title"],
        closed_at=row["closed_at"],
        invited=row["invited"],
        answers=row["answers"],
        satisfaction=round(row["satisfaction"], 1) if enough and row["satisfaction"] is not None else None,
        ease=round(row["ease"], 1) if enough and row["ease"] is not None else None,
        recommend_score=score,
    )


async def department_results(department_id: int) -> DepartmentSurvey | None:
    """The latest closed round's result for a department and the one before (None before any closed round).
    Anyone may read it: aggregates of at least MIN_ANSWERS answers only."""
    rows = await SurveyResult.raw(_RESULTS_SQL, department_id)
    if not rows:
        return None
    return DepartmentSurvey(latest=_result(rows[0]), previous=_result(rows[1]) if len(rows) > 1 else None)


async def may_read_comments(actor: Actor, department_id: int) -> bool:
    return actor.is_admin or await DepartmentLead.exists().where(
        (DepartmentLead.department == department_id) & (DepartmentLead.employee == actor.id)
    )


async def department_comments(actor: Actor, department_id: int) -> list[Comments]:
    """The comments of a department's closed rounds (names removed, random order), for its leads and admins."""
    if not await may_read_comments(actor, department_id):
        raise RuleViolation(
            "Survey comments are for the department's leads: there are none for you here.", status_code=404
        )
    rows = await SurveyResult.raw(
        "SELECT r.title, r.closed_at, s.comments, s.answers FROM survey_result s JOIN survey_round r ON r.id = s.round "
        "WHERE s.department = {} AND r.status = 'closed' ORDER BY r.closed_at DESC, r.id DESC LIMIT 8",
        department_id,
    )
    return [
        Comments(
            round_title=row["title"],
            closed_at=row["closed_at"],
            comments=tuple(_json_list(row["comments"])),
            answers=row["answers"],
        )
        for row in rows
    ]


def _json_list(value: object) -> list[str]:
    return [str(v) for v in (json.loads(value) if isinstance(value, str) else value or [])]


async def department_by_slug(slug: str) -> tuple[int, str] | None:
    row = (
        await Department.select(Department.id, Department.name)
        .where((Department.slug == slug) & Department.archived_at.is_null())
        .first()
    )
    return (row["id"], row["name"]) if row else None
