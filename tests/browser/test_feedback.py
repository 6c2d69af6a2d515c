"""Peer feedback and a service survey in a real browser: ask → answer → read, give, and a survey round from the
admin's schedule to the department's results."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Browser, Page, expect

from app.handlers import register_all
from app.people.services import load_current_user
from app.people.tables import Role
from app.surveys import lifecycle
from app.surveys import services as surveys
from app.surveys.models import AnswerInput
from app.surveys.tables import SurveyRound
from app.timeutil import local_date, now
from tests.browser.test_kudos import sign_in
from tests.factories import make_department, make_employee, make_lead, make_request

register_all()


async def test_ask_answer_and_read_feedback(page: Page, browser: Browser, live_server: str) -> None:
    it = await make_department("IT", slug="it")
    await make_employee("Ann Asker", email="ann@example.com", department=it)
    await make_employee("Bob Answer", email="bob@example.com", department=it)

    await sign_in(page, "ann@example.com")
    await page.get_by_role("link", name="Feedback", exact=True).click()
    await page.get_by_role("button", name="Ask for feedback").first.click()
    await page.get_by_label("Find colleagues to ask").fill("Bob")
    await page.get_by_role("checkbox", name=re.compile("Bob Answer")).check()
    await page.get_by_role("radio", name=re.compile("^What went well")).check()
    await page.get_by_role("button", name="Ask for feedback").click()
    await expect(page).to_have_url(re.compile(r"/feedback$"))
    await expect(page.get_by_text("Asked 1 colleague for feedback.")).to_be_visible()
    await expect(page.get_by_text("Bob Answer: waiting")).to_be_visible()

    context = await browser.new_context(base_url=live_server)
    tab = await context.new_page()
    try:
        await sign_in(tab, "bob@example.com")
        await tab.goto("/feedback")
        await tab.get_by_role("link", name="Ann Asker asked for your feedback").click()
        await tab.get_by_role("button", name="Send feedback").click()  # empty: refused next to the fields
        await expect(tab.locator("#feedback-answer-0-error")).to_have_text("Write between 1 and 2,000 characters.")
        await tab.get_by_label("What went well?").fill("The migration plan was clear to everyone.")
        await tab.get_by_label("What could be better?").fill("Share the agenda a day earlier.")
        await tab.get_by_role("button", name="Send feedback").click()
        await expect(tab).to_have_url(re.compile(r"/feedback/\d+$"))
    finally:
        await context.close()

    await page.goto("/feedback")
    await expect(page.get_by_text("Bob Answer: answered")).to_be_visible()
    await page.get_by_role("link", name="Bob Answer → Ann Asker").click()
    await expect(page.get_by_text("Share the agenda a day earlier.")).to_be_visible()
    await expect(page.get_by_text("not shared with the manager")).to_be_visible()


async def test_give_feedback_unprompted(page: Page) -> None:
    it = await make_department("IT", slug="it")
    boss = await make_employee("Bea Boss", email="bea@example.com", department=it, role=Role.MANAGER)
    await make_employee("Ann Asker", email="ann@example.com", department=it, manager=boss)
    await make_employee("Bob Answer", email="bob@example.com", department=it)

    await sign_in(page, "bob@example.com")
    await page.goto("/feedback/give")
    await page.get_by_label("Find a colleague").fill("Ann")
    await page.get_by_role("radio", name=re.compile("Ann Asker")).check()
    await page.get_by_label("Your feedback").fill("Calm and clear during the outage.")
    await page.get_by_role("switch", name="Also share with their manager").check()
    await page.get_by_role("button", name="Send feedback").click()
    await expect(page).to_have_url(re.compile(r"/feedback/\d+$"))
    await expect(page.get_by_text("Calm and clear during the outage.")).to_be_visible()
    await expect(page.get_by_text("shared with Ann Asker\u2019s manager")).to_be_visible()


async def test_a_survey_round_from_schedule_to_results(page: Page, browser: Browser, live_server: str) -> None:
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    lead = await make_employee("Lena Lead", email="lena@example.com", department=it, role=Role.MANAGER)
    await make_lead(it, lead)
    await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)
    customers = [await make_employee(f"Customer {n}", email=f"c{n}@example.com", department=finance) for n in range(5)]
    for person in customers:
        await make_request(person, it, "Help please")

    today = local_date(now())
    await sign_in(page, "ada@example.com")
    await page.goto("/admin/surveys")
    await page.get_by_label("Title").fill("Q4 service survey")
    await page.get_by_label("Requests filed from").fill((today - timedelta(days=30)).isoformat())
    await page.get_by_label("to", exact=True).fill(today.isoformat())
    await page.get_by_label("Opens on").fill(today.isoformat())
    await page.get_by_label("Closes at the end of").fill((today + timedelta(days=3)).isoformat())
    await page.get_by_role("button", name="Schedule round").click()
    await expect(page.get_by_role("cell", name="scheduled")).to_be_visible()

    await lifecycle.advance()  # the worker's five-minute tick opens it

    context = await browser.new_context(base_url=live_server)
    tab = await context.new_page()
    try:
        await sign_in(tab, "c0@example.com")
        await tab.goto("/surveys")
        card = tab.locator("article", has_text="IT")
        await card.get_by_role("group", name=re.compile("how satisfied")).get_by_role("radio", name="5").check()
        await card.get_by_role("group", name=re.compile("How easy")).get_by_role("radio", name="4").check()
        await card.get_by_label(re.compile("recommend")).select_option("9")
        await card.get_by_label(re.compile("^Comment")).fill("Sorted my laptop the same day.")
        await card.get_by_role("button", name="Send my answer").click()
        await expect(card.get_by_text("Saved.")).to_be_visible()
    finally:
        await context.close()

    round_id = await SurveyRound.select(SurveyRound.id, SurveyRound.closes_at).first()
    for n, person in enumerate(customers[1:]):
        actor = await load_current_user(person.id)
        await surveys.submit_answer(actor, round_id["id"], it.id, AnswerInput(4, 4, 8 + n % 3, f"Fine {n}"))
    await lifecycle.advance(at=round_id["closes_at"])  # closed: results computed

    lead_tab = await (await browser.new_context(base_url=live_server)).new_page()
    await sign_in(lead_tab, "lena@example.com")
    await lead_tab.goto("/departments/it")
    results = lead_tab.locator("#survey-results")
    await expect(results).to_contain_text("5 of 5 internal customers answered (100%)")
    await expect(results).to_contain_text("Satisfaction")
    await results.get_by_role("link", name="Read the comments").click()
    await expect(lead_tab.get_by_text("Sorted my laptop the same day.")).to_be_visible()
    await lead_tab.context.close()
