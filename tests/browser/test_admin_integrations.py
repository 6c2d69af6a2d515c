"""An admin connects Slack and a Teams channel at /admin/integrations in a real browser: a refusal by field, then
the settings saved and shown as “set” (never their values); the page fits a phone and axe-core finds nothing
serious in light or dark."""

from __future__ import annotations

from playwright.async_api import Page, expect

from app.integrations.tables import ChatSettings, TeamsChannel
from app.people.tables import Role
from tests.browser.sweep import SCHEMES, axe_violations, blocking, phone_overflows
from tests.browser.test_kudos import sign_in
from tests.factories import make_employee

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


async def test_admin_connects_slack_and_a_teams_channel(page: Page) -> None:
    await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await sign_in(page, "admin@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True).click()
    await page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Chat").click()
    await expect(page.get_by_role("heading", name="Chat integrations")).to_be_visible()

    await page.get_by_label("Signing secret").fill(SECRET)
    await page.get_by_label("Bot token").fill("xoxp-a-user-token")
    await page.get_by_label("Channel for public kudos").fill("#kudos")
    await page.get_by_role("button", name="Save Slack settings").click()
    await expect(page.get_by_text("Paste the Bot User OAuth Token: it starts with “xoxb-”.")).to_be_visible()
    assert await ChatSettings.count() == 0

    await page.get_by_label("Signing secret").fill(SECRET)
    await page.get_by_label("Bot token").fill("xoxb-1-2-abc")
    await page.get_by_role("button", name="Save Slack settings").click()
    await expect(page.get_by_text("The Slack settings were saved.")).to_be_visible()
    await expect(page.get_by_label("Signing secret (set)")).to_have_value("")  # never filled back in
    assert SECRET not in await page.content()

    await page.get_by_label("Channel name").fill("General")
    await page.get_by_label("Incoming webhook URL").fill("https://93.184.216.34/workflows/abc?sig=secret-part")
    await page.get_by_role("button", name="Add channel").click()
    await expect(page.get_by_text("Kudos now posts to the Teams channel “General”.")).to_be_visible()
    await expect(page.get_by_role("button", name="Remove General")).to_be_visible()
    assert "secret-part" not in await page.content()
    assert await TeamsChannel.count() == 1

    assert set((await phone_overflows(page)).values()) == {0}
    for scheme in SCHEMES:
        assert blocking(await axe_violations(page, scheme)) == [], scheme
    # the one refusal is answered 422 (the form with its message), which the console notes
    assert errors == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
