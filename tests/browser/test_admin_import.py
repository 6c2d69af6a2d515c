"""An admin imports a CSV of people in a real browser, watches the progress bar, and finds the new people."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from app.people.tables import Department, Employee, Role
from tests.browser.test_kudos import sign_in
from tests.factories import make_department, make_employee

PEOPLE_CSV = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "people.csv"


async def test_admin_imports_people_and_watches_the_progress(page: Page, run_worker) -> None:
    await make_department("Operations", slug="operations")  # the file's other departments do not exist yet
    await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await sign_in(page, "admin@example.com")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True).click()
    await page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="CSV import").click()
    await page.get_by_label("People").check()
    await page.get_by_label("CSV file").set_input_files(str(PEOPLE_CSV))
    await page.get_by_role("button", name="Check the file").click()

    await expect(page.get_by_text("No problems in 5 rows. Importing would create 5")).to_be_visible()
    await expect(page.get_by_text("It would also create 3 departments")).to_contain_text(
        "Data & Analytics, Logistics, Procurement"
    )
    assert await Employee.count() == 1 and await Department.count() == 1  # the dry run changed nothing
    await page.get_by_role("button", name="Import 5 rows").click()

    bar = page.locator("#import-bar")
    await expect(bar).to_have_attribute("value", "0")
    await expect(page.get_by_role("heading", name="Waiting for the background worker…")).to_be_visible()
    await run_worker()  # the background worker picks the job up; the page keeps polling meanwhile
    await expect(page.get_by_role("heading", name="Import finished")).to_be_visible(timeout=10_000)
    await expect(bar).to_have_attribute("value", "5")
    await expect(page.get_by_text("5 of 5 rows (100%): 5 created, 0 updated, 0 unchanged.")).to_be_visible()
    await expect(page.get_by_text("The import is running")).to_have_count(0)  # nothing says otherwise

    await page.get_by_role("link", name="See the people").click()
    await expect(page.get_by_role("link", name="Tom Reyes")).to_be_visible()
    await page.get_by_label("Search by name, email or title").fill("amira")
    await expect(page.get_by_role("link", name="Amira Haddad")).to_be_visible()
    await expect(page.get_by_role("link", name="Tom Reyes")).to_have_count(0)
    assert errors == []
