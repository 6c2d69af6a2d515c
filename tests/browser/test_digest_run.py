"""Digests in a real browser: an admin starts last month's run, watches it finish, and reads a digest."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from app.people.tables import Role
from tests.browser.test_kudos import sign_in
from tests.digest_org import small_org
from tests.factories import make_employee


async def test_admin_runs_last_months_digests_and_reads_one_in_the_outbox(page: Page, run_worker) -> None:
    org = await small_org()
    await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    await sign_in(page, "ada@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True).click()
    await page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Digests").click()
    await expect(page.locator("#start-month")).to_have_value(f"{org.month:%Y-%m}")  # last month is preselected
    await page.get_by_role("button", name="Start sending").click()
    await expect(page).to_have_url(re.compile(rf"/admin/digests/{org.month:%Y-%m}$"))
    await expect(page.locator("#flash")).to_contain_text("6 to send")
    progress = page.locator("#digest-progress")
    await expect(progress).to_contain_text("Sending")

    await run_worker()  # a worker sends them; the page polls its progress and stops when done
    await expect(progress).to_contain_text("Done: 6 of 6 sent", timeout=10_000)
    await expect(progress.locator('[data-count="sent"]')).to_have_text("6")
    assert await progress.get_attribute("hx-trigger") is None

    await page.get_by_role("link", name="Read them in the outbox").click()
    await page.get_by_role("link", name=f"Your team in {org.month:%B %Y}").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Your team in {org.month:%B %Y}")
    frame = page.frame_locator("iframe.mail-frame")
    await expect(frame.get_by_role("heading", name=f"Your team in {org.month:%B %Y}")).to_be_visible()
    await expect(frame.get_by_text("Gus Quiet")).to_be_visible()
    await expect(page.locator("pre.mail-text")).to_contain_text("NOT RECOGNISED IN")
    assert errors == []
