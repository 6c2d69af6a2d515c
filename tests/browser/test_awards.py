"""A manager nominates from the shortlist, an admin picks and announces, the winner sees the notification and the
hall of fame entry (SPEC F9, B5)."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Browser, Page, expect

from app.awards import cycles
from app.awards.tables import AwardCycle, Nomination
from app.timeutil import month_bounds, month_of, now, previous_month
from tests.awards_world import build_world, run_handlers, thank
from tests.browser.test_kudos import sign_in


async def test_nominate_from_the_shortlist_pick_announce_and_see_it(
    page: Page, browser: Browser, live_server: str, run_worker
) -> None:
    world = await build_world()
    moment = now()
    month = previous_month(month_of(moment))
    in_month = month_bounds(month)[0] + timedelta(days=10)
    await thank(world.ana, [world.ravi], 20, in_month, "Rescued the quarter close")
    await thank(world.sam, [world.olu], 5, in_month)
    cycle = await cycles.create_cycle(month, moment - timedelta(days=1), moment + timedelta(days=3), at=moment)

    # Max (a manager) nominates Ravi with one click from the shortlist
    await sign_in(page, "max@example.com")
    await page.get_by_role("link", name="Awards").click()
    await expect(page.get_by_role("heading", name=re.compile("Shortlist from"))).to_be_visible()
    await page.get_by_role("link", name="Nominate Ravi Patel for Service Star").click()
    await expect(page.get_by_role("radio", name=re.compile("Ravi Patel"))).to_be_checked()
    await expect(page.get_by_label("Why do they deserve it?")).to_have_value(re.compile("20 points received"))
    await page.get_by_role("checkbox", name=re.compile("Rescued the quarter close")).check()
    await page.get_by_role("button", name="Nominate", exact=True).click()
    await expect(page.get_by_text("Your nomination of Ravi Patel was recorded.")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Withdraw the nomination of Ravi Patel"))).to_be_visible()
    assert await Nomination.count() == 1

    # nominations close; Ada (admin) picks Ravi and announces
    await AwardCycle.update({AwardCycle.closes_at: now() - timedelta(minutes=1)}).where(AwardCycle.id == cycle)
    admin = await browser.new_context(base_url=live_server)
    tab = await admin.new_page()
    try:
        await sign_in(tab, "ada@example.com")
        await tab.goto(f"/awards/{cycle}")
        await expect(tab.get_by_text("Rescued the quarter close")).to_be_visible()
        await tab.locator("#category-" + str(world.star)).get_by_label("Winner").check()
        await tab.get_by_label("Citation for Ravi Patel (optional)").fill("Kept finance running all month.")
        await tab.get_by_role("button", name="Save Service Star winners").click()
        await expect(tab.get_by_text("The winners were saved.")).to_be_visible()
        await tab.get_by_role("button", name=re.compile("^Announce the .* winners$")).click()
        await expect(tab.get_by_text(re.compile("awards are announced"))).to_be_visible()
    finally:
        await admin.close()
    await run_handlers(run_worker)  # the worker tells the winners

    # Ravi sees the notification and the hall of fame entry
    winner = await browser.new_context(base_url=live_server)
    tab = await winner.new_page()
    try:
        await sign_in(tab, "ravi@example.com")
        await tab.locator("#notification-badge").click()
        await expect(tab.get_by_role("link", name=re.compile("^Service Star for .*: you won!"))).to_be_visible()
        await tab.goto("/awards/hall-of-fame")
        row = tab.get_by_role("row", name=re.compile("Ravi Patel"))
        await expect(row).to_contain_text("Kept finance running all month.")
        await tab.goto(f"/people/{world.ravi.id}")
        await expect(tab.locator("#awards")).to_contain_text("Service Star")
    finally:
        await winner.close()


async def test_choosing_a_nominee_is_an_explicit_action(page: Page) -> None:
    """Moving through the matches changes nothing (WCAG 3.2.2); Choose does, and the focus stays in the picker."""
    world = await build_world()
    moment = now()
    month = previous_month(month_of(moment))
    await thank(world.ana, [world.ravi], 20, month_bounds(month)[0] + timedelta(days=10), "Rescued the quarter close")
    await cycles.create_cycle(month, moment - timedelta(days=1), moment + timedelta(days=3), at=moment)
    await sign_in(page, "max@example.com")
    await page.goto("/awards")

    search = page.get_by_label("Find a person or department to nominate")
    await search.fill("Ravi")
    choose = page.get_by_role("button", name="Choose Ravi Patel")
    await expect(choose).to_be_visible()
    # the matches come after the search box
    assert await page.evaluate(
        "document.querySelector('#nominate-q').compareDocumentPosition(document.querySelector('.matches'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    await search.press("Tab")  # the Find button, then the match: pressing keys on the way picks no one
    await page.keyboard.press("Tab")
    await expect(choose).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(choose).to_be_focused()
    await expect(page.locator("#nominee-picker .chosen")).to_have_count(0)

    await page.keyboard.press("Enter")
    chosen = page.get_by_role("radio", name=re.compile("Ravi Patel"))
    await expect(chosen).to_be_checked()
    await expect(chosen).to_be_focused()  # the control that replaced the one pressed, not <body>
    await expect(page.get_by_role("checkbox", name=re.compile("Rescued the quarter close"))).to_be_visible()
    # the search still says "Ravi": no "No person matches" under the chosen Ravi
    await expect(page.locator("#nominee-picker")).not_to_contain_text("No person matches")
    # the chosen name does not wrap mid-name on a phone
    await page.set_viewport_size({"width": 320, "height": 640})
    name = page.locator("#nominee-picker .chosen .chip-name")
    box = await name.bounding_box()
    assert box is not None and box["height"] < 30

    # choosing someone else replaces the chosen nominee
    await search.fill("Olu")
    await page.get_by_role("button", name="Choose Olu Bello").click()
    await expect(page.get_by_role("radio", name=re.compile("Olu Bello"))).to_be_checked()
    await expect(page.get_by_role("radio", name=re.compile("Ravi Patel"))).to_have_count(0)
