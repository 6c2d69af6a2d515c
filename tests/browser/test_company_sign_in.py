"""Company sign-in through a real browser: the login page, the provider's own login and consent pages, and back
signed in; the login page with company sign-in (and password sign-in turned off) fits a phone and passes axe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from tests.browser.sweep import SCHEMES, axe_violations, blocking, phone_overflows
from tests.factories import make_employee
from tests.plugins.browser import serving_app
from tests.plugins.oidc_provider import OidcProvider, company_sign_in_environment, running_provider
from tests.plugins.smtp import free_port


@pytest.fixture(scope="module")
def company_site() -> Iterator[tuple[str, OidcProvider]]:
    """The app served with company sign-in against a provider of its own, password sign-in turned off."""
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    with running_provider(app_url) as provider:
        environment = company_sign_in_environment(
            provider, KUDOS_BASE_URL=app_url, KUDOS_PASSWORD_LOGIN="false", KUDOS_BREAK_GLASS_ADMIN="root@example.com"
        )
        with serving_app(port, environment) as url:
            yield url, provider


async def test_signing_in_with_the_company_account(browser: Browser, company_site, db: None) -> None:
    url, provider = company_site
    await make_employee("Ada Brightwater", email="ada@example.com")
    provider.accounts(ada={"email": "ada@example.com", "email_verified": True, "name": "Ada Brightwater"})
    context = await browser.new_context(base_url=url)
    page = await context.new_page()

    await page.goto("/departments")
    await expect(page.get_by_role("heading", name="Sign in to Kudos")).to_be_visible()
    await expect(page.get_by_label("Work email")).to_be_hidden()  # behind "Administrator sign-in"
    await page.get_by_role("button", name="Sign in with Acme Login").click()

    await page.locator("input[name=login]").fill("ada")  # the provider's own login page
    await page.locator("input[name=password]").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()  # its consent page

    await expect(page).to_have_url(f"{url}/departments")
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Hello, Ada")).to_be_visible()
    await context.close()


async def test_login_page_with_company_sign_in_fits_a_phone_and_passes_axe(
    browser: Browser, company_site, db: None
) -> None:
    url, _ = company_site
    context = await browser.new_context(base_url=url)
    page = await context.new_page()
    await page.goto("/login")
    for opened in (False, True):  # as it opens, then with the password form shown
        if opened:
            await page.get_by_text("Administrator sign-in").click()
            await expect(page.get_by_label("Work email")).to_be_visible()
        assert not any((await phone_overflows(page)).values())
        for scheme in SCHEMES:
            assert blocking(await axe_violations(page, scheme)) == [], (scheme, opened)
    await context.close()
