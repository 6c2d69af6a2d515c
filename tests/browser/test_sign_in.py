"""Signing in through a real browser shows each role its own navigation."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from app.people.tables import Role
from tests.factories import PASSWORD, make_department, make_employee


async def _sign_in(page: Page, email: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    await page.get_by_label("Work email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize(
    ("role", "sees_admin"),
    [(Role.EMPLOYEE, False), (Role.MANAGER, False), (Role.ADMIN, True)],
)
async def test_each_role_signs_in_and_sees_its_nav(page: Page, live_server: str, role: Role, sees_admin: bool) -> None:
    department = await make_department("Facilities", slug="facilities")
    person = await make_employee("Ada Brightwater", email=f"{role.value}@example.com", role=role, department=department)

    await _sign_in(page, person.email)

    await expect(page).to_have_url(f"{live_server}/")
    nav = page.get_by_role("navigation", name="Main")
    await expect(page.get_by_role("heading", name="Hello, Ada")).to_be_visible()
    for label in ("Home", "People", "Departments"):
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    admin_link = nav.get_by_role("link", name="Admin", exact=True)
    if sees_admin:
        await admin_link.click()
        await expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    else:
        await expect(admin_link).to_have_count(0)
        response = await page.goto("/admin")
        assert response is not None and response.status == 403

    # the user's name opens a menu with their profile, their settings and signing out
    await page.locator(".user-menu summary").click()
    menu = page.locator(".user-menu")
    await expect(menu.get_by_role("link", name="Settings")).to_have_attribute("href", "/me/settings")
    await expect(menu.get_by_role("link", name="Profile")).to_have_attribute("href", f"/people/{person.id}")
    await menu.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{live_server}/login?signed_out=1")
    await page.goto("/")
    await expect(page).to_have_url(f"{live_server}/login?next=%2F")


async def test_wrong_password_shows_one_generic_message(page: Page) -> None:
    await make_employee(email="someone@example.com")
    await page.goto("/login")
    await page.get_by_label("Work email").fill("someone@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That email and password do not match an active account.")
    await expect(page.get_by_label("Work email")).to_have_value("someone@example.com")


async def test_people_search_updates_as_you_type(page: Page) -> None:
    department = await make_department("Legal", slug="legal")
    await make_employee("Grace Okonkwo", department=department, title="Counsel")
    await make_employee("Henry Falk", department=department)
    me = await make_employee("Searcher", email="searcher@example.com")
    await _sign_in(page, me.email)

    await page.goto("/people")
    await page.get_by_label("Search people and departments").fill("okon")
    results = page.locator("#directory-results")
    await expect(results.get_by_role("link", name="Grace Okonkwo")).to_be_visible()
    await expect(results.get_by_role("link", name="Henry Falk")).to_have_count(0)
    await expect(page).to_have_url(re.compile(r"/people\?q=okon$"))
