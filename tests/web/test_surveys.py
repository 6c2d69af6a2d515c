"""The survey pages: my survey (page and per-department fragment), the admins' schedule, a department's results and
its comments page, with bad input next to its field and each role's denials."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.people.services import load_current_user
from app.people.tables import Role
from app.surveys import lifecycle, services
from app.surveys.models import AnswerInput, RoundInput
from app.surveys.tables import SurveyAnswer, SurveyRound
from app.timeutil import local_date, now
from tests.factories import make_department, make_employee, make_lead, make_request
from tests.helpers import HTMX, post_form, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    lead = await make_employee("Lena Lead", email="lena@example.com", department=it, role=Role.MANAGER)
    await make_lead(it, lead)
    admin = await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)
    customers = [await make_employee(f"Customer {n}", email=f"c{n}@example.com", department=finance) for n in range(6)]
    for person in customers:
        await make_request(person, it, "Help please")
    return {"it": it, "lead": lead, "admin": admin, "customers": customers}


async def as_(client_factory, who):
    return await signed_in(await client_factory(), who.email)


async def open_round(org) -> int:
    today = local_date(now())
    admin = await load_current_user(org["admin"].id)
    round_id = await services.schedule_round(
        admin, RoundInput("Q4 survey", "customers", today - timedelta(days=30), today, today, today + timedelta(days=3))
    )
    await lifecycle.advance()
    return round_id


async def test_my_survey_page_and_answering_with_htmx(client_factory, org) -> None:
    round_id = await open_round(org)
    me = await as_(client_factory, org["customers"][0])
    page = await me.get("/surveys")
    assert page.status_code == 200 and "Q4 survey" in page.text and "<h3" in page.text and "IT" in page.text
    url = f"/surveys/{round_id}/departments/{org['it'].id}"
    bad = await post_form(me, url, {"satisfaction": "9", "ease": "3", "recommend": "8"}, headers=HTMX)
    assert bad.status_code == 422 and "<html" not in bad.text
    assert f'id="survey-{round_id}-{org["it"].id}-satisfaction-error"' in bad.text
    assert 'value="3" checked' in bad.text  # the input is kept
    assert await SurveyAnswer.count() == 0
    ok = await post_form(
        me, url, {"satisfaction": "4", "ease": "3", "recommend": "8", "comment": "Quick"}, headers=HTMX
    )
    assert ok.status_code == 200 and "Saved." in ok.text and "Update my answer" in ok.text
    again = await me.get("/surveys")
    assert ">Quick</textarea>" in again.text


async def test_answer_without_js_and_denials(client_factory, org) -> None:
    round_id = await open_round(org)
    url = f"/surveys/{round_id}/departments/{org['it'].id}"
    me = await as_(client_factory, org["customers"][1])
    done = await post_form(me, url, {"satisfaction": "5", "ease": "5", "recommend": "10"})
    assert done.status_code == 303 and done.headers["location"] == "/surveys"
    lead = await as_(client_factory, org["lead"])
    assert (await post_form(lead, url, {"satisfaction": "1", "ease": "1", "recommend": "0"})).status_code == 404
    assert "There is no survey for you right now" in (await lead.get("/surveys")).text
    assert await SurveyAnswer.count() == 1


async def test_admin_schedules_rounds_and_others_may_not(client_factory, org) -> None:
    lead = await as_(client_factory, org["lead"])
    assert (await lead.get("/admin/surveys")).status_code == 403
    assert (await post_form(lead, "/admin/surveys", {"title": "X"})).status_code == 403
    admin = await as_(client_factory, org["admin"])
    assert (await admin.get("/admin/surveys")).status_code == 200
    today = local_date(now())
    bad = await post_form(
        admin,
        "/admin/surveys",
        {"title": "", "audience": "customers", "period_start": "2026-01-01", "period_end": "2025-01-01",
         "opens_on": today.isoformat(), "closes_on": "nonsense"},
    )  # fmt: skip
    assert bad.status_code == 422
    for field in ("title", "period", "closes_on"):
        assert f'id="survey-{field}-error"' in bad.text
    assert await SurveyRound.count() == 0
    ok = await post_form(
        admin,
        "/admin/surveys",
        {"title": "Q1", "audience": "everyone", "period_start": today.isoformat(), "period_end": today.isoformat(),
         "opens_on": today.isoformat(), "closes_on": (today + timedelta(days=7)).isoformat()},
    )  # fmt: skip
    assert ok.status_code == 303
    assert "Q1" in (await admin.get("/admin/surveys")).text


async def test_department_page_results_and_comments(client_factory, org) -> None:
    customer = await as_(client_factory, org["customers"][0])
    assert "No survey round has closed yet" in (await customer.get("/departments/it")).text
    round_id = await open_round(org)
    for n, person in enumerate(org["customers"][:5]):
        actor = await load_current_user(person.id)
        await services.submit_answer(actor, round_id, org["it"].id, AnswerInput(4, 5, 10 - n, f"Lena helped me {n}"))
    assert "No survey round has closed yet" in (await customer.get("/departments/it")).text  # nothing while open
    closes_at = (await SurveyRound.select(SurveyRound.closes_at).first())["closes_at"]
    await lifecycle.advance(at=closes_at)
    page = await customer.get("/departments/it")
    assert "5 of 6 internal customers answered (83%)" in page.text and "4.0 / 5" in page.text
    assert "Read the comments" not in page.text
    assert (await customer.get("/surveys/departments/it/comments")).status_code == 404
    lead = await as_(client_factory, org["lead"])
    assert "Read the comments" in (await lead.get("/departments/it")).text
    comments = await lead.get("/surveys/departments/it/comments")
    assert comments.status_code == 200 and "[name] helped me 3" in comments.text and "Lena helped" not in comments.text
    assert (await lead.get("/surveys/departments/nowhere/comments")).status_code == 404
