"""What a new user tripped over (issue 15), seen in a real browser: requests past their target, boards that line
up and say what is missing, one offer of a +1, one heading hierarchy, named values in the audit log."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Page, expect

from app.audit.services import record
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from app.timeutil import now
from tests.browser.test_kudos import sign_in
from tests.factories import make_department, make_employee, make_lead, make_request, make_service


async def _style(page: Page, selector: str, prop: str) -> str:
    return await page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")


async def test_a_lead_sees_which_requests_are_past_their_target(page: Page) -> None:
    it = await make_department("IT", slug="it")
    vpn = await make_service(it, "VPN help", target_hours=4)
    marta = await make_employee("Marta Quist", email="marta@example.com", role=Role.MANAGER, department=it)
    await make_lead(it, marta)
    ana = await make_employee("Ana Silva", email="ana@example.com")
    late = await make_request(ana, it, "Late VPN", service=vpn, created_at=now() - timedelta(hours=71))
    await make_request(ana, it, "Fresh VPN", service=vpn, created_at=now() - timedelta(minutes=30))

    await sign_in(page, "marta@example.com")
    await page.goto("/requests?box=queue")
    late_row = page.get_by_role("row").filter(has_text="Late VPN")
    await expect(late_row).to_contain_text("over target by 2 d 19 h")
    await expect(late_row).to_contain_text("open for 2 d 23 h")
    await expect(page.get_by_role("row").filter(has_text="Fresh VPN")).not_to_contain_text("over target")
    await page.get_by_role("link", name="Late VPN").click()
    await expect(page).to_have_url(re.compile(rf"/requests/{late}$"))
    await expect(page.get_by_text("over target by 2 d 19 h")).to_be_visible()
    await expect(page.get_by_text("Status", exact=True)).to_have_count(1)
    crumb = await page.locator("nav.breadcrumb").bounding_box()
    heading = await page.get_by_role("heading", level=1).bounding_box()
    assert crumb and heading and abs(crumb["x"] - heading["x"]) < 2, (crumb, heading)  # aligned with the content
    await page.goto("/departments/it")
    await expect(page.get_by_role("cell", name="4 h", exact=True).first).to_be_visible()  # the catalogue's target
    await expect(page.get_by_text("working day")).to_have_count(0)


async def test_boards_kudos_profile_and_home_read_clearly(page: Page) -> None:
    it = await make_department("IT", slug="it")
    gina = await make_employee("Gina Giver", email="gina@example.com", department=it)
    ravi = await make_employee("Ravi Resolver", email="ravi@example.com", department=it)
    await make_employee("Otto Other", email="otto@example.com")
    form = GiveForm(recipient_ids=[ravi.id], message="Fixed the VPN in five minutes.", points="15")
    kudos = await give_kudos(await load_current_user(gina.id), form)

    await sign_in(page, "otto@example.com")
    h1 = float((await _style(page, "h1", "fontSize")).removesuffix("px"))
    h2 = float((await _style(page, "main h2", "fontSize")).removesuffix("px"))
    assert h1 > h2 and await page.locator("h1").count() == 1  # "Hello, Otto" is the biggest heading

    await page.goto(f"/kudos/{kudos.kudos_id}")
    await expect(page.get_by_text("Add your +1")).to_have_count(1)
    await expect(page.get_by_text("0 +1s")).to_have_count(0)
    await page.get_by_label("Your comment").fill("Seconded, it saved my morning too.")
    await page.get_by_role("button", name="Add +1").click()
    await expect(page.get_by_role("heading", name="1 +1", exact=True)).to_be_visible()

    await page.goto("/leaderboards")
    await expect(page.get_by_text("nobody has given you points for")).to_be_visible()
    await expect(page.get_by_text("Fair boards")).to_have_count(0)
    assert await _style(page, ".board-table td.number", "textAlign") == "right"
    await page.get_by_role("link", name="Distinct givers").click()
    await expect(page.get_by_text("Fair boards: distinct givers counts")).to_be_visible()
    await expect(page.get_by_text("nobody has thanked you for")).to_be_visible()

    await page.goto(f"/people/{ravi.id}")
    await expect(page.locator("#awards")).to_contain_text("No awards yet.")


async def test_the_audit_log_names_what_changed(page: Page) -> None:
    hr = await make_department("Human Resources Departments", slug="hr")
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=hr)
    ravi = await make_employee("Ravi Resolver", email="ravi@example.com")
    await record(
        actor_id=admin.id,
        action="awards.announce",
        target_type="award_cycle",
        target_id=1,
        summary="Announced the winners",
        after={"winners": [f"p{ravi.id}", f"d{hr.id}"]},
    )
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, "admin@example.com")
    await page.goto("/admin/audit")
    await expect(page.locator(".audit-changes ins")).to_have_text("Ravi Resolver, Human Resources Departments")
    assert await _style(page, ".audit-changes dd", "overflowWrap") == "break-word"  # words stay whole
