"""A resolver claims and completes a request; the requester thanks them from the notification (SPEC B1)."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from app.kudos.tables import Kudos, KudosRecipient
from app.notifications.tables import Kind, Notification
from tests.browser.test_kudos import sign_in
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_request


async def test_complete_a_request_then_thank_it_from_the_notification(
    page: Page, browser: Browser, live_server: str
) -> None:
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    requester = await make_employee("Gina Giver", email="gina@example.com", department=finance)
    await make_employee("Ravi Resolver", email="ravi@example.com", department=it)
    request_id = await make_request(requester, it, "Laptop will not boot")

    # the resolver works the request from IT's queue
    await sign_in(page, "ravi@example.com")
    await page.goto("/requests?box=queue")
    await page.get_by_role("link", name="Laptop will not boot").click()
    await page.get_by_role("button", name="Claim this request").click()
    # the notice is announced (a live region that was there before the swap) and focused, not <body>
    notice = page.locator("#flash[role=status] .flash-success")
    await expect(notice).to_have_text("You are working on this request.")
    await expect(notice).to_be_focused()
    await page.get_by_role("button", name="Mark as completed").click()
    await expect(page.get_by_text("Completed", exact=True).first).to_be_visible()
    await run_stored_events()  # the worker (beside the web app in `kudos serve`) notifies the requester

    # the requester sees the notification and thanks with one click
    context = await browser.new_context(base_url=live_server)
    tab = await context.new_page()
    try:
        await sign_in(tab, "gina@example.com")
        await expect(tab.locator("#notification-badge")).to_contain_text("1")
        await tab.locator("#notification-badge").click()
        await expect(tab.get_by_role("link", name=re.compile("^Ravi Resolver completed your request"))).to_be_visible()
        await tab.get_by_role("button", name=re.compile("^Thank now")).click()
        await expect(tab).to_have_url(re.compile(rf"/kudos/new\?request={request_id}$"))
        await expect(tab.get_by_role("checkbox", name=re.compile("Ravi Resolver"))).to_be_checked()
        await tab.get_by_label("What did they do?").fill("Back up and running before my client call. Thank you!")
        await tab.get_by_role("button", name="Send kudos").click()

        await expect(tab).to_have_url(re.compile(r"/kudos/\d+$"))
        await expect(tab.get_by_text("Back up and running before my client call.")).to_be_visible()
        await expect(tab.get_by_role("link", name="Laptop will not boot")).to_be_visible()
        kudos = await Kudos.select(Kudos.id, Kudos.request).first()
        assert kudos["request"] == request_id
        recipients = await KudosRecipient.select(KudosRecipient.employee.name.as_alias("name"))
        assert [r["name"] for r in recipients] == ["Ravi Resolver"]
        await run_stored_events()  # the worker settles the prompt of the request just thanked
        # thanking settled the "thank now" notification (a badge for a first kudos may have arrived meanwhile)
        unsettled = Notification.count().where(
            (Notification.recipient == requester.id)
            & (Notification.kind == Kind.REQUEST_COMPLETED)
            & Notification.read_at.is_null()
        )
        assert await unsettled == 0
        # and the prompt is gone from the notifications page: the request is thanked
        await tab.goto("/notifications")
        await expect(tab.get_by_role("link", name=re.compile("^Ravi Resolver completed your request"))).to_be_visible()
        await expect(tab.get_by_role("button", name=re.compile("^Thank now"))).to_have_count(0)
    finally:
        await context.close()
