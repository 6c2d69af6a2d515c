"""Changing an email notice preference in a real browser: with HTMX the form is swapped in place and the flash says
so; the settings page fits a phone and axe-core finds nothing serious in either colour scheme."""

from __future__ import annotations

from playwright.async_api import Page, expect

from app.notices.preferences import preferences
from app.notices.tables import Choice, NoticeKind
from tests.browser.sweep import SCHEMES, axe_violations, blocking, phone_overflows
from tests.factories import PASSWORD, make_employee


async def test_a_person_sets_kudos_notices_to_never_and_the_page_fits_a_phone(page: Page) -> None:
    ann = await make_employee(name="Ann Lee", email="ann@example.com")
    await page.goto("/login")
    await page.get_by_label("Work email").fill(ann.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/")
    await page.goto("/me/settings")

    thanks = page.get_by_role("group", name="Someone thanks you")
    await expect(thanks.get_by_role("radio", name="Right away")).to_be_checked()
    await thanks.get_by_role("radio", name="Never").check()
    await page.get_by_role("group", name="You earn a badge").get_by_role("radio", name="Right away").check()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#flash")).to_contain_text("Your settings were saved.")
    await expect(
        page.get_by_role("group", name="Someone thanks you").get_by_role("radio", name="Never")
    ).to_be_checked()
    chosen = {p.kind: p.choice for p in await preferences(ann.id)}
    assert chosen[NoticeKind.KUDOS] == Choice.NEVER and chosen[NoticeKind.BADGE] == Choice.INSTANT

    await page.reload()
    assert not any((await phone_overflows(page)).values())  # nothing scrolls sideways at 390 and 320 px
    for scheme in SCHEMES:
        assert blocking(await axe_violations(page, scheme)) == []
