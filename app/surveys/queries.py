"""Reading service surveys: the rounds (admins), my open surveys, a department's results (anyone: aggregates of
at least MIN_ANSWERS answers only) and its comments (its leads and admins)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.people.tables import Department, DepartmentLead
from app.rules import Actor, RuleViolation
from app.surveys.models import (
    MIN_ANSWERS,
    AnswerInput,
    Comments,
    DepartmentRef,
    DepartmentSurvey,
    DepartmentToRate,
    MySurvey,
    Result,
    Round,
)
from app.surveys.tables import Audience, RoundStatus, SurveyInvite, SurveyResult, SurveyRound
from app.timeutil import now

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

# The departments one person was invited to rate in one round, with their answer so far (person, round, person).
_TO_RATE_SQL = """
SELECT d.id, d.name, a.satisfaction, a.ease, a.recommend, a.comment FROM survey_invite i
JOIN department d ON d.id = i.department
LEFT JOIN survey_answer a ON a.round = i.round AND a.department = i.department AND a.respondent = {}
WHERE i.round = {} AND i.employee = {} ORDER BY d.name, d.id
"""

_RESULTS_SQL = """
SELECT s.round AS round_id, r.title AS round_title, r.closed_at, s.invited, s.answers, s.satisfaction, s.ease,
       s.promoters, s.detractors
FROM survey_result s JOIN survey_round r ON r.id = s.round
WHERE s.department = {} AND r.status = 'closed'
ORDER BY r.closed_at DESC, r.id DESC
LIMIT 2
"""

_COMMENTS_SQL = """
SELECT r.title, r.closed_at, s.comments, s.answers FROM survey_result s JOIN survey_round r ON r.id = s.round
WHERE s.department = {} AND r.status = 'closed' ORDER BY r.closed_at DESC, r.id DESC LIMIT 8
"""


def _round(row: Mapping[str, Any]) -> Round:
    return Round(**{**row, "audience": Audience(row["audience"]), "status": RoundStatus(row["status"])})


async def list_rounds(actor: Actor) -> list[Round]:
    if not actor.is_admin:
        raise RuleViolation("Only admins manage survey rounds.", status_code=403)
    return [_round(row) for row in await SurveyRound.raw(_ROUNDS_SQL, None, now(), None)]


async def my_surveys(actor: Actor, *, at: datetime | None = None) -> list[MySurvey]:
    """The open rounds `actor` was invited to, each with the departments to rate and their answers so far."""
    moment = at or now()
    rounds = [_round(row) for row in await SurveyRound.raw(_ROUNDS_SQL, actor.id, moment, actor.id)]
    surveys = []
    for found in rounds:
        rows = await SurveyInvite.raw(_TO_RATE_SQL, actor.id, found.id, actor.id)
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


def _result(row: Mapping[str, Any]) -> Result:
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


_LEADS_SQL = "SELECT 1 FROM department_lead WHERE department = {} AND employee = {}"


async def may_read_comments(actor: Actor, department_id: int) -> bool:
    return actor.is_admin or bool(await DepartmentLead.raw(_LEADS_SQL, department_id, actor.id))


def _json_list(value: object) -> list[str]:
    items = json.loads(value) if isinstance(value, str) else value
    return [str(v) for v in items] if isinstance(items, list | tuple) else []


async def department_comments(actor: Actor, department_id: int) -> list[Comments]:
    """The comments of a department's closed rounds (names removed, random order), for its leads and admins."""
    if not await may_read_comments(actor, department_id):
        raise RuleViolation(
            "Survey comments are for the department's leads: there are none for you here.", status_code=404
        )
    rows = await SurveyResult.raw(_COMMENTS_SQL, department_id)
    return [
        Comments(
            round_title=row["title"],
            closed_at=row["closed_at"],
            comments=tuple(_json_list(row["comments"])),
            answers=row["answers"],
        )
        for row in rows
    ]


async def department_by_slug(slug: str) -> DepartmentRef | None:
    """The active department at `slug`, None when there is none."""
    row = (
        await Department.select(Department.id, Department.name, Department.slug)
        .where((Department.slug == slug) & Department.archived_at.is_null())
        .first()
    )
    return DepartmentRef(row["id"], row["name"], row["slug"]) if row else None
