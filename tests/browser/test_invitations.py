"""Invitations and password resets through a real browser: an admin invites a ticked person, the mail's link sets
their password and they sign in; someone who forgot their password asks for a link on the sign-in page and uses it."""

from __future__ import annotations

import re

from litestar import Litestar
from playwright.async_api import Browser, Page, expect

from app.people.tables import Role
from tests.events import run_stored_events
from tests.factories import PASSWORD, make_department, make_employee
from tests.plugins.smtp import SmtpServer

LINK_PATH = re.compile(r"https?://[^/\s]+(/password/[\w-]+)")


def mailed_link_path(server: SmtpServer) -> str:
    text = server.messages[-1].get_body(preferencelist=("plain",)).get_content()
    found = LINK_PATH.search(text)
    assert found, text
    return found.group(1)


async def set_password_and_sign_in(browser: Browser, live_server: str, path: str, email: str, password: str) -> None:
    context = await browser.new_context(base_url=live_server)
    tab = await context.new_page()
    await tab.goto(path)
    await tab.get_by_label("New password").fill(password)
    await tab.get_by_label("The same password again").fill(password)
    await tab.get_by_role("button", name="Set password").click()
    await expect(tab.get_by_role("status").filter(has_text="Your password is set")).to_be_visible()
    await tab.get_by_label("Work email").fill(email)
    await tab.get_by_label("Password").fill(password)
    await tab.get_by_role("button", name="Sign in").click()
    await expect(tab).to_have_url(f"{live_server}/")
    await context.close()


async def test_an_admin_invites_a_person_who_sets_a_password_from_the_mail(
    page: Page, browser: Browser, live_server: str, app: Litestar, smtp_settings: SmtpServer
) -> None:
    it = await make_department("IT", slug="it")
    await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=it)
    await make_employee("Ana Novak", email="ana@example.com", department=it, password=False)
    await page.goto("/login")
    await page.get_by_label("Work email").fill("admin@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await page.goto("/admin/people")
    await page.get_by_label("Invite Ana Novak").check()
    await page.get_by_role("button", name="Invite the ticked people by email").click()
    await expect(page.get_by_text("Invitation on its way to Ana Novak")).to_be_visible()
    await expect(page.get_by_role("cell", name="invited", exact=True)).to_be_visible()

    await run_stored_events()  # what the worker does
    await set_password_and_sign_in(
        browser, live_server, mailed_link_path(smtp_settings), "ana@example.com", "ana's own password"
    )
    await page.goto("/admin/people?active=invited")
    await expect(page.get_by_text("No one matches these filters.")).to_be_visible()


async def test_someone_who_forgot_their_password_gets_a_link_by_mail(
    page: Page, browser: Browser, live_server: str, app: Litestar, smtp_settings: SmtpServer
) -> None:
    await make_employee("Ravi Patel", email="ravi@example.com")
    await page.goto("/login")
    await page.get_by_role("link", name="Forgot password?").click()
    await page.get_by_label("Work email").fill("ravi@example.com")
    await page.get_by_role("button", name="Mail me a link").click()
    await expect(page).to_have_url(f"{live_server}/login")
    await expect(page.get_by_text("a link to set a new password is on its way")).to_be_visible()

    await run_stored_events()
    await set_password_and_sign_in(
        browser, live_server, mailed_link_path(smtp_settings), "ravi@example.com", "a brand new password"
    )
