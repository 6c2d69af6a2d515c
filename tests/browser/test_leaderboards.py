"""Leaderboards in a real browser: the period and metric switches swap the board with htmx and keep the URL."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Page, expect

from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.timeutil import month_bounds, month_of, now
from tests.browser.test_kudos import sign_in
from tests.factories import make_department, make_employee


async def thank(giver, *recipients, points: int, **kw) -> None:
    form = GiveForm(recipient_ids=[r.id for r in recipients], message="Thank you!", points=str(points))
    await give_kudos(await load_current_user(giver.id), form, **kw)


async def test_switching_period_and_metric_swaps_the_board_and_the_url(page: Page) -> None:
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    gina = await make_employee("Gina Giver", email="gina@example.com", department=hr)
    hal = await make_employee("Hal Helper", department=hr)
    ravi = await make_employee("Ravi Resolver", department=it)
    olga = await make_employee("Olga Older", department=it)
    await thank(gina, ravi, points=40)  # this month: Ravi 40 points from one giver …
    await thank(hal, gina, points=5)
    await thank(ravi, hal, points=10)
    await thank(gina, hal, points=1)  # … Hal 11 points from two givers
    await thank(hal, olga, points=30, at=month_bounds(month_of(now()))[0] - timedelta(hours=2))  # last month
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    await sign_in(page, "gina@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Leaderboards").click()
    await expect(page).to_have_url(re.compile(r"/leaderboards$"))
    board = page.locator("#board table")
    first = board.locator("tbody tr").first
    await expect(first).to_contain_text("Ravi Resolver")
    await expect(board.locator("caption")).to_contain_text("points received")
    await page.evaluate("window.notReloaded = true")

    await page.get_by_role("navigation", name="Period").get_by_role("link", name="Last month").click()
    await expect(page).to_have_url(re.compile(r"/leaderboards\?board=people&period=last_month&metric=points$"))
    await expect(first).to_contain_text("Olga Older")
    await expect(board.locator("tbody tr")).to_have_count(1)
    last_month = page.get_by_role("navigation", name="Period").get_by_role("link", name="Last month")
    await expect(last_month).to_have_attribute("aria-current", "page")
    await expect(last_month).to_be_focused()  # htmx puts the focus back on the link used

    await page.get_by_role("navigation", name="Period").get_by_role("link", name="This month").click()
    await page.get_by_role("navigation", name="Measure").get_by_role("link", name="Distinct givers").click()
    await expect(page).to_have_url(re.compile(r"/leaderboards\?board=people&period=month&metric=givers$"))
    await expect(first).to_contain_text("Hal Helper")
    await expect(first).to_contain_text("2")
    await expect(board.locator("caption")).to_contain_text("distinct givers")
    await expect(board.locator("tr.is-viewer")).to_contain_text("Gina Giver (you)")

    await page.get_by_role("navigation", name="Board").get_by_role("link", name="Departments").click()
    await page.get_by_role("navigation", name="Count").get_by_role("link", name="Per member").click()
    await expect(page).to_have_url(re.compile(r"/leaderboards\?board=departments&period=month&metric=givers_per_head$"))
    await expect(board.locator("tr.is-viewer")).to_contain_text("HR (your department)")
    assert await page.evaluate("window.notReloaded") is True

    # the browser's back button restores the earlier board
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"board=departments&period=month&metric=givers$"))
    await expect(page.locator("#board caption")).to_contain_text("Departments ranked by distinct givers")
    assert errors == []
