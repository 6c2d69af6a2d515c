"""The demo's feedback and its closed survey round (app.demo.feedback), loaded through the services."""

from __future__ import annotations

import pytest

from app.demo.feedback import seed_feedback
from app.feedback import queries
from app.feedback.tables import Feedback
from app.people.seed import DEMO_LOGINS
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.surveys import models
from app.surveys.tables import RoundStatus, SurveyAnswer, SurveyResult, SurveyRound
from tests.unit.test_demo_activity import NOW, _load

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


async def test_demo_feedback_and_a_closed_survey_round_with_results() -> None:
    await _load()
    counts = await seed_feedback(at=NOW)
    assert counts == {"feedback": 5, "survey_rounds": 1}
    assert await Feedback.count() == 5
    row = await Employee.select(Employee.id).where(Employee.email == DEMO_LOGINS[Role.EMPLOYEE]).first()
    employee = await load_current_user(row["id"])
    overview = await queries.overview(employee, at=NOW)
    assert len(overview.waiting) == 1 and len(overview.my_asks) == 1 and overview.my_asks[0].answered == 2
    assert len(overview.received) == 3 and len(overview.given) == 2

    assert (await SurveyRound.select(SurveyRound.status).first())["status"] == RoundStatus.CLOSED
    assert await SurveyAnswer.count() == 0
    shown = await SurveyResult.count().where(SurveyResult.answers >= models.MIN_ANSWERS)
    assert shown >= 3
    with_comments = await SurveyResult.raw("SELECT count(*) AS n FROM survey_result WHERE comments <> '[]'::jsonb")
    assert with_comments[0]["n"] >= 1
