"""Giving kudos in a real browser: with htmx from the home box, and as a plain form with JavaScript off."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from app.kudos.tables import Kudos, LedgerEntry
from tests.factories import PASSWORD, make_department, make_employee


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Work email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/$"))


async def test_give_kudos_from_the_home_box_without_a_page_load(page: Page) -> None:
    it = await make_department("IT", slug="it")
    await make_employee("Gina Giver", email="gina@example.com", department=it)
    await make_employee("Ravi Resolver", email="ravi@example.com", department=it)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await sign_in(page, "gina@example.com")
    await page.evaluate("window.notReloaded = true")

    box = page.locator("#box-form")
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/kudos/recipients" in r.url else None)
    await box.get_by_label("Find people to thank").fill("rav")
    # what the search found is announced: the status region was on the page before the search
    await expect(page.locator("#picker-status[role=status]")).to_have_text(
        "1 person matches “rav”: tick the ones to thank."
    )
    await box.get_by_role("checkbox", name=re.compile("Ravi Resolver")).check()
    assert searches and not [url for url in searches if "csrf" in url or "idempotency" in url]
    await box.get_by_label("What did they do?").fill("Fixed the VPN in five minutes flat.")
    await box.get_by_label("Points for each person").fill("20")
    await box.get_by_role("button", name="Send kudos").click()

    # the notice lands in the live region that was there before the swap, and takes the focus
    notice = page.locator("#flash[role=status] .flash-success")
    await expect(notice).to_contain_text("Your kudos to Ravi Resolver is on its way.")
    await expect(notice).to_be_focused()
    first_card = page.locator("#feed-list > li").first
    await expect(first_card).to_contain_text("Fixed the VPN in five minutes flat.")
    await expect(page.locator("#header-allowance")).to_contain_text("80/100")
    await expect(box.get_by_label("What did they do?")).to_have_value("")
    assert await page.evaluate("window.notReloaded") is True
    assert await Kudos.count() == 1

    # an error comes back next to its field, the input kept, and nothing is created
    await box.get_by_label("What did they do?").fill("No one chosen")
    await box.get_by_role("button", name="Send kudos").click()
    await expect(page.locator("#box-recipients-error")).to_have_text("Choose at least one person to thank.")
    await expect(box.get_by_label("Find people to thank")).to_be_focused()  # the first invalid field
    await expect(box.get_by_label("What did they do?")).to_have_value("No one chosen")
    assert await Kudos.count() == 1
    # the browser logs the refused POST's status; anything else (CSP, htmx) would be a defect
    assert [e for e in errors if "status of 422" not in e] == []


async def test_give_kudos_with_javascript_disabled(db: None, browser: Browser, live_server: str) -> None:
    finance = await make_department("Finance", slug="finance")
    await make_employee("Gina Giver", email="gina@example.com", department=finance)
    await make_employee("Ravi Resolver", email="ravi@example.com", department=finance)
    context = await browser.new_context(base_url=live_server, java_script_enabled=False)
    page = await context.new_page()
    try:
        await sign_in(page, "gina@example.com")
        await page.goto("/kudos/new")
        await page.get_by_label("What did they do?").fill("Sorted my expenses before the deadline.")
        await page.get_by_label("Find people to thank").fill("Ravi")
        await page.get_by_role("button", name="Find").click()  # back to a GET that keeps what was typed
        await expect(page.get_by_label("What did they do?")).to_have_value("Sorted my expenses before the deadline.")
        assert "q=Ravi" in page.url and "csrf" not in page.url and "idempotency" not in page.url  # GETs carry no token
        await page.get_by_role("checkbox", name=re.compile("Ravi Resolver")).check()
        await page.get_by_label("Points for each person").fill("5")
        await page.get_by_label("Only them and their managers").check()
        await page.get_by_role("button", name="Send kudos").click()

        await expect(page).to_have_url(re.compile(r"/kudos/\d+$"))
        await expect(page.get_by_text("Your kudos to Ravi Resolver is on its way.")).to_be_visible()
        await expect(page.get_by_text("Sorted my expenses before the deadline.")).to_be_visible()
        kudos = await Kudos.select(Kudos.visibility, Kudos.points).first()
        assert kudos == {"visibility": "private", "points": 5}
        assert await LedgerEntry.count() == 1
    finally:
        await context.close()
