"""Internal service surveys (SPEC F15): scheduling, the round's calendar, answering, anonymity and results."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.handlers import register_all
from app.notifications.tables import Kind, Notification
from app.people.tables import Role
from app.rules import RuleViolation
from app.surveys import lifecycle, queries, services
from app.surveys.models import AnswerInput, RoundInput
from app.surveys.tables import RoundStatus, SurveyAnswer, SurveyInvite, SurveyResult, SurveyRound
from app.timeutil import local_date, now
from tests.events import run_stored_events
from tests.factories import as_user, make_department, make_employee, make_lead, make_request

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

register_all()


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    finance = await make_department("Finance", slug="finance")
    lead = await make_employee("Lena Lead", department=it, role=Role.MANAGER)
    await make_lead(it, lead)
    admin = await make_employee("Ada Admin", role=Role.ADMIN, department=hr)
    customers = [await make_employee(f"Customer {n} Smith", department=finance) for n in range(7)]
    for person in customers:
        await make_request(person, it, "Help please")
    await make_request(customers[0], hr, "Payslip")
    await make_request(lead, it, "Own department: not a customer")
    return {"it": it, "hr": hr, "finance": finance, "lead": lead, "admin": admin, "customers": customers}


async def schedule(org, *, audience: str = "customers", days: int = 7) -> int:
    today = local_date(now())
    data = RoundInput(
        title="Q4 service survey",
        audience=audience,
        period_start=today - timedelta(days=90),
        period_end=today,
        opens_on=today,
        closes_on=today + timedelta(days=days),
    )
    return await services.schedule_round(await as_user(org["admin"]), data)


def answer(satisfaction: int = 4, ease: int = 4, recommend: int = 9, comment: str = "") -> AnswerInput:
    return AnswerInput(satisfaction, ease, recommend, comment)


async def close_at(round_id: int):
    return (await SurveyRound.select(SurveyRound.closes_at).where(SurveyRound.id == round_id).first())["closes_at"]


async def test_round_opens_with_the_departments_internal_customers(org) -> None:
    round_id = await schedule(org)
    done = await lifecycle.advance()
    assert done.opened == [round_id]
    invites = await SurveyInvite.select(SurveyInvite.employee, SurveyInvite.department)
    assert {(i["employee"], i["department"]) for i in invites} == {
        *((c.id, org["it"].id) for c in org["customers"]),
        (org["customers"][0].id, org["hr"].id),
    }  # the lead filed to their own department: not a customer of it
    assert (await lifecycle.advance()).opened == []  # idempotent
    await run_stored_events()
    told = await Notification.select(Notification.recipient).where(Notification.kind == Kind.SURVEY_OPEN)
    assert {row["recipient"] for row in told} == {c.id for c in org["customers"]}
    mine = await queries.my_surveys(await as_user(org["customers"][0]))
    assert [d.name for d in mine[0].departments] == ["HR", "IT"]


async def test_everyone_round_asks_about_every_other_department(org) -> None:
    await schedule(org, audience="everyone")
    await lifecycle.advance()
    mine = await queries.my_surveys(await as_user(org["lead"]))
    assert [d.name for d in mine[0].departments] == ["Finance", "HR"]


async def test_answers_can_change_until_close(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    me = await as_user(org["customers"][0])
    await services.submit_answer(me, round_id, org["it"].id, answer(2, 2, 3, "Slow"))
    await services.submit_answer(me, round_id, org["it"].id, answer(5, 5, 10, "Fixed it fast"))
    assert await SurveyAnswer.count() == 1
    mine = await queries.my_surveys(me)
    it = next(d for d in mine[0].departments if d.name == "IT")
    assert it.answer == answer(5, 5, 10, "Fixed it fast")


async def test_results_only_at_close_with_five_answers_and_no_trace_of_who_said_what(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    scores = [(5, 4, 10), (4, 4, 9), (3, 2, 6), (4, 5, 8), (5, 5, 10)]
    for person, (s, e, r) in zip(org["customers"], scores, strict=False):
        comment = f"{person.name.split()[0]} here: Lena Lead fixed it, mail lena@example.com"
        await services.submit_answer(await as_user(person), round_id, org["it"].id, answer(s, e, r, comment))
    # a department lead comparing before and after one more answer learns nothing: nothing is shown while open
    before = await queries.department_results(org["it"].id)
    await services.submit_answer(await as_user(org["customers"][5]), round_id, org["it"].id, answer(1, 1, 0, "Awful"))
    after = await queries.department_results(org["it"].id)
    assert before is None and after is None
    await lifecycle.advance(at=await close_at(round_id))
    result = await queries.department_results(org["it"].id)
    assert result is not None and result.latest.shown
    latest = result.latest
    assert (latest.answers, latest.invited, latest.response_rate) == (6, 7, 86)
    assert latest.satisfaction == round((5 + 4 + 3 + 4 + 5 + 1) / 6, 1)
    assert latest.recommend_score == round(100 * (3 - 2) / 6)  # promoters 10, 9, 10; detractors 6, 0
    # the answers are gone; what stays per person is that they answered (participation), not what
    assert await SurveyAnswer.count() == 0
    assert await SurveyInvite.count().where(SurveyInvite.answered_at.is_not_null()) == 6
    assert "respondent" not in {c._meta.name for c in SurveyResult._meta.columns}
    comments = await queries.department_comments(await as_user(org["lead"]), org["it"].id)
    texts = comments[0].comments
    assert len(texts) == 6
    assert all("Customer" not in t and "Lena" not in t and "@" not in t for t in texts)
    assert "[name] here: [name] [name] fixed it, mail [name]" in texts
    # the closed round takes no more answers, so its results never move
    with pytest.raises(RuleViolation) as late:
        await services.submit_answer(await as_user(org["customers"][6]), round_id, org["it"].id, answer())
    assert late.value.status_code == 409


async def test_fewer_than_five_answers_show_nothing(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    for person in org["customers"][:4]:
        await services.submit_answer(await as_user(person), round_id, org["it"].id, answer(comment="Hi"))
    await lifecycle.advance(at=await close_at(round_id))
    result = await queries.department_results(org["it"].id)
    assert result is not None and not result.latest.shown
    assert (result.latest.satisfaction, result.latest.ease, result.latest.recommend_score) == (None, None, None)
    assert (await queries.department_comments(await as_user(org["admin"]), org["it"].id))[0].comments == ()
    row = await SurveyResult.select().where(SurveyResult.department == org["it"].id).first()
    assert row["satisfaction"] is None and row["promoters"] == 0


async def test_comments_need_five_comments(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    for n, person in enumerate(org["customers"][:6]):
        await services.submit_answer(
            await as_user(person), round_id, org["it"].id, answer(comment="Good" if n < 4 else "")
        )
    await lifecycle.advance(at=await close_at(round_id))
    assert (await queries.department_results(org["it"].id)).latest.shown
    assert (await queries.department_comments(await as_user(org["lead"]), org["it"].id))[0].comments == ()


async def test_change_since_the_last_round(org) -> None:
    for satisfaction in (3, 5):
        round_id = await schedule(org)
        await lifecycle.advance()
        for person in org["customers"][:5]:
            await services.submit_answer(await as_user(person), round_id, org["it"].id, answer(satisfaction, 3, 9))
        await lifecycle.advance(at=await close_at(round_id))
    result = await queries.department_results(org["it"].id)
    assert result.latest.satisfaction == 5 and result.previous.satisfaction == 3
    assert result.change("satisfaction") == 2 and result.change("ease") == 0


async def test_a_round_missed_entirely_is_opened_and_closed_when_the_worker_is_back(org) -> None:
    round_id = await schedule(org, days=1)
    done = await lifecycle.advance(at=await close_at(round_id) + timedelta(days=3))
    assert (done.opened, done.reminded, done.closed) == ([round_id], [], [round_id])
    status = (await SurveyRound.select(SurveyRound.status).first())["status"]
    assert status == RoundStatus.CLOSED
    assert (await lifecycle.advance(at=await close_at(round_id) + timedelta(days=4))).closed == []


async def test_one_reminder_before_the_deadline_to_those_who_have_not_answered(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    await services.submit_answer(await as_user(org["customers"][1]), round_id, org["it"].id, answer())
    soon = await close_at(round_id) - timedelta(hours=12)
    assert (await lifecycle.advance(at=soon)).reminded == [round_id]
    assert (await lifecycle.advance(at=soon + timedelta(hours=1))).reminded == []
    await run_stored_events()
    reminded = await Notification.select(Notification.recipient).where(Notification.kind == Kind.SURVEY_REMINDER)
    assert {row["recipient"] for row in reminded} == {c.id for c in org["customers"]} - {org["customers"][1].id}


# ---------------------------------------------------------------------------------------- denials, bad input


async def test_only_invited_people_answer_and_only_about_their_departments(org) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    for who, department in ((org["lead"], org["it"]), (org["customers"][1], org["hr"]), (org["admin"], org["it"])):
        with pytest.raises(RuleViolation) as refused:
            await services.submit_answer(await as_user(who), round_id, department.id, answer())
        assert refused.value.status_code == 404
    with pytest.raises(RuleViolation):
        await services.submit_answer(await as_user(org["customers"][0]), 0, org["it"].id, answer())
    assert await SurveyAnswer.count() == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (AnswerInput(None, 3, 5), "satisfaction"),
        (AnswerInput(0, 3, 5), "satisfaction"),
        (AnswerInput(3, 6, 5), "ease"),
        (AnswerInput(3, 3, 11), "recommend"),
        (AnswerInput(3, 3, None), "recommend"),
        (AnswerInput(3, 3, 5, "x" * 2001), "comment"),
        (AnswerInput(3, 3, 5, "nul\x00"), "comment"),
    ],
)
async def test_bad_answers_are_refused(org, data, field) -> None:
    round_id = await schedule(org)
    await lifecycle.advance()
    with pytest.raises(RuleViolation) as refused:
        await services.submit_answer(await as_user(org["customers"][0]), round_id, org["it"].id, data)
    assert refused.value.status_code == 422 and field in refused.value.errors
    assert await SurveyAnswer.count() == 0
    assert await SurveyInvite.count().where(SurveyInvite.answered_at.is_not_null()) == 0


async def test_scheduling_rules_and_roles(org) -> None:
    today = local_date(now())
    good = RoundInput("Q1", "customers", today, today, today, today)
    with pytest.raises(RuleViolation) as denied:
        await services.schedule_round(await as_user(org["lead"]), good)
    assert denied.value.status_code == 403
    bad = [
        (RoundInput("", "customers", today, today, today, today), "title"),
        (RoundInput("Q", "nobody", today, today, today, today), "audience"),
        (RoundInput("Q", "customers", today, today - timedelta(days=1), today, today), "period"),
        (RoundInput("Q", "customers", None, today, today, today), "period"),
        (RoundInput("Q", "customers", today, today, today - timedelta(days=1), today), "opens_on"),
        (RoundInput("Q", "customers", today, today, today, today - timedelta(days=1)), "closes_on"),
    ]
    for data, field in bad:
        with pytest.raises(RuleViolation) as refused:
            await services.schedule_round(await as_user(org["admin"]), data)
        assert field in refused.value.errors
    assert await SurveyRound.count() == 0
    with pytest.raises(RuleViolation):
        await queries.list_rounds(await as_user(org["lead"]))


async def test_comments_are_for_the_departments_leads_and_admins(org) -> None:
    for who in (org["customers"][0], org["lead"]):
        with pytest.raises(RuleViolation) as refused:
            await queries.department_comments(await as_user(who), org["hr"].id)
        assert refused.value.status_code == 404
    assert await queries.department_comments(await as_user(org["lead"]), org["it"].id) == []
    assert await queries.department_comments(await as_user(org["admin"]), org["hr"].id) == []
