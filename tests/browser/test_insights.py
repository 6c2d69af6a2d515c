"""Insights in a real browser: an admin switches views and periods without page loads, opens a collusion signal
and marks it reviewed; a manager reads their scoped insights and downloads a CSV."""

from __future__ import annotations

import csv
import io

from playwright.async_api import Page, expect

from app.insights import rollups, runs
from app.insights.tables import DetectionRun
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from tests.browser.test_kudos import sign_in
from tests.factories import make_department, make_employee, make_lead, make_request


async def _organisation() -> None:
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    boss = await make_employee("Boss Lead", email="boss@example.com", department=it, role=Role.MANAGER)
    await make_lead(it, boss)
    ravi = await make_employee("Ravi Resolver", email="ravi@example.com", department=it, manager=boss)
    gina = await make_employee("Gina Giver", email="gina@example.com", department=finance)
    otto = await make_employee("Otto Other", email="otto@example.com", department=finance)
    await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN)
    await make_request(gina, it, resolvers=(ravi,), status="completed")
    for giver, recipient, points in ((gina, otto, 30), (gina, otto, 30), (otto, ravi, 50)):
        form = GiveForm(recipient_ids=[recipient.id], message="Thank you so much!", points=str(points))
        await give_kudos(await load_current_user(giver.id), form)
    await rollups.refresh_recent()
    run_id = await runs.start_run(runs.RunKind.NIGHTLY, runs.last_days(), label="Last 90 days")
    await DetectionRun.update({DetectionRun.concentration_percent: 10}).where(DetectionRun.id == run_id)
    await runs.execute_run(run_id)


async def test_admin_explores_insights_and_reviews_a_signal(page: Page) -> None:
    await _organisation()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await sign_in(page, "admin@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    await expect(page.get_by_role("heading", name="Participation · ", exact=False)).to_be_visible()
    await expect(page.get_by_role("img", name="Share of active people who gave and received kudos")).to_be_visible()

    await page.evaluate("window.insightsMarker = 1")  # survives only if no page load happens
    await page.get_by_role("link", name="Equity").click()
    await expect(page.get_by_role("heading", name="Equity · ", exact=False)).to_be_visible()
    await expect(page).to_have_url("/admin/insights?view=equity&period=month")
    await page.get_by_role("navigation", name="Period").get_by_role("link", name="This year").click()
    await expect(page.get_by_role("table", name="Concentration of points received by department")).to_contain_text(
        "Finance"
    )
    await page.get_by_role("link", name="Service map").click()
    await expect(page.get_by_role("img", name="Service map")).to_be_visible()
    await expect(page.get_by_role("table", name="Connections between departments")).to_contain_text("IT")
    assert await page.evaluate("window.insightsMarker") == 1

    await page.get_by_role("link", name="Collusion signals").click()
    await page.get_by_role("row").filter(has_text="Gina Giver sent").get_by_role("link", name="Concentration").click()
    await expect(page.get_by_role("heading", name="Evidence: 2 kudos")).to_be_visible()
    await page.get_by_label("Reviewed — fine").check()
    await page.get_by_label("Note (optional, for the audit log)").fill("Otto mentors Gina.")
    await page.get_by_role("button", name="Save review").click()
    await expect(page.get_by_text("Marked reviewed — fine; the audit log has it.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Review", exact=True)).to_be_focused()
    await page.goto("/admin/audit")
    await expect(page.get_by_text("Reviewed — fine:", exact=False)).to_be_visible()
    assert errors == []


async def test_manager_reads_their_insights_and_downloads_a_csv(page: Page) -> None:
    await _organisation()
    await sign_in(page, "boss@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    await expect(page).to_have_url("/insights")
    await expect(page.get_by_text("Your department and your reports", exact=False)).to_be_visible()
    await page.get_by_role("link", name="Equity").click()
    table = page.get_by_role("region", name="Receive far more than they give")
    await expect(table).to_contain_text("Ravi Resolver")
    await expect(page.locator("#insights-view")).not_to_contain_text("Gina Giver")

    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download this table as CSV").click()
    download = await waiting.value
    assert download.suggested_filename.startswith("equity-") and download.suggested_filename.endswith(".csv")
    content = (await download.path()).read_bytes()
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][0] == "row" and any(r[1] == "Ravi Resolver" for r in rows[1:])
    assert not any("Gina" in ",".join(r) for r in rows)
