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

The calendar (open, remind, close) is in app/surveys/lifecycle.py, reading in queries.py, the typed values in
models.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import app.db as db
from app.paging import valid_id
from app.rules import Actor, RuleViolation
from app.surveys.models import MAX_COMMENT, MAX_TITLE, AnswerInput, RoundInput, start_of
from app.surveys.tables import Audience, SurveyAnswer, SurveyInvite, SurveyRound
from app.timeutil import local_date, now

# FOR SHARE: closing the round (an UPDATE of this row) waits for this answer, or this answer sees it closed.
_STILL_OPEN_SQL = "SELECT id FROM survey_round WHERE id = {} AND status = 'open' AND closes_at > {} FOR SHARE"
_UPSERT_ANSWER_SQL = """
INSERT INTO survey_answer (round, department, respondent, satisfaction, ease, recommend, comment, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (round, department, respondent) DO UPDATE SET satisfaction = EXCLUDED.satisfaction,
    ease = EXCLUDED.ease, recommend = EXCLUDED.recommend, comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at
"""


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
            opens_at=start_of(data.opens_on),
            closes_at=start_of(data.closes_on + timedelta(days=1)),
            created_by=actor.id,
            created_at=moment,
        )
    ).returning(SurveyRound.id)
    return int(rows[0]["id"])


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
        still_open = await SurveyRound.raw(_STILL_OPEN_SQL, round_id, moment)
        if not still_open:
            raise RuleViolation("This survey round is closed: answers are no longer taken.", status_code=409)
        await SurveyAnswer.raw(
            _UPSERT_ANSWER_SQL,
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
