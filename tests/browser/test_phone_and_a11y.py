"""Every page of every role fits a phone; axe-core finds nothing serious in either colour scheme; the header
works on a phone and a desktop (issue 15). One demo organisation (seeded once per test process, restored for each
test), one test per role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from playwright.async_api import Browser, BrowserContext, expect

from app.demo.seed import seed_demo
from tests.browser.site import LOGINS, PASSWORD, ROLES, SitePage, site_pages
from tests.browser.sweep import SCHEMES, axe_violations, blocking, phone_overflows, role_context
from tests.plugins.database import built_once

# the main page of each area; each role sees the ones it may open
AREAS = ["/", "/requests", "/leaderboards", "/people", "/departments", "/awards", "/notifications", "/me/settings"]
ADMIN_AREAS = ["/admin", "/admin/people", "/admin/audit"]


@pytest.fixture
async def demo(app: Litestar) -> list[SitePage]:
    """The demo organisation and its pages: seeded by the first test of this process, restored for the others."""

    async def seed() -> list[SitePage]:
        await seed_demo()
        return await site_pages(app)

    return await built_once("demo organisation and its pages", seed)


@pytest.fixture
async def contexts(
    demo: list[SitePage], browser: Browser, live_server: str
) -> AsyncIterator[dict[str, BrowserContext]]:
    made = {role: await role_context(browser, live_server, role, LOGINS.get(role, ""), PASSWORD) for role in ROLES}
    yield made
    for context in made.values():
        await context.close()


# Each role's pages in this many interleaved shares, one test each, so no test runs long (an admin sees the most).
SHARES = {"signed-out": 1, "employee": 2, "manager": 2, "admin": 4}
ROLE_SHARES = [(role, k, SHARES[role]) for role in ROLES for k in range(SHARES[role])]


@pytest.mark.parametrize(("role", "share", "shares"), ROLE_SHARES, ids=[f"{r}-{k + 1}of{n}" for r, k, n in ROLE_SHARES])
async def test_every_page_fits_a_phone_and_axe_finds_nothing_serious(
    role: str, share: int, shares: int, demo: list[SitePage], browser: Browser, live_server: str
) -> None:
    assert {p.role for p in demo} == set(ROLES)
    assert len(demo) > 80  # every route with its real ids, not a handful
    context = await role_context(browser, live_server, role, LOGINS.get(role, ""), PASSWORD)
    too_wide, broken, serious = [], [], []
    tab = await context.new_page()
    for item in [p for p in demo if p.role == role][share::shares]:
        response = await tab.goto(item.path)
        if response is None or response.status != 200:
            broken.append((role, item.path, response.status if response else None))
        widths = await phone_overflows(tab)
        if any(widths.values()):
            too_wide.append((role, item.path, widths))
        if item.path in AREAS + ADMIN_AREAS or (role == "signed-out"):
            for scheme in SCHEMES:
                found = blocking(await axe_violations(tab, scheme))
                serious += [(scheme, role, item.path, v["id"], v["nodes"][:3]) for v in found]
    await context.close()
    assert (broken, too_wide, serious) == ([], [], [])  # too wide: scrollWidth > innerWidth at 390 and 320 px


async def test_the_header_works_on_a_phone_and_a_desktop_and_focus_rings_show(
    contexts: dict[str, BrowserContext],
) -> None:
    await _header_menus_on_a_phone_and_on_a_desktop(contexts)
    await _focus_rings_are_solid_and_contrast_with_the_page(contexts)


async def _header_menus_on_a_phone_and_on_a_desktop(contexts: dict[str, BrowserContext]) -> None:
    tab = await contexts["employee"].new_page()
    await tab.set_viewport_size({"width": 390, "height": 844})
    await tab.goto("/")
    nav = tab.get_by_role("navigation", name="Main")
    header = tab.locator(".header-bar")
    assert (await header.bounding_box() or {}).get("height", 999) < 70  # one compact row
    await expect(nav.get_by_role("link", name="Leaderboards")).to_be_hidden()
    menu = tab.locator(".nav-toggle summary")
    await menu.focus()
    await tab.keyboard.press("Enter")  # a <details> disclosure: no JavaScript needed
    await nav.get_by_role("link", name="Leaderboards").click()
    await expect(tab.get_by_role("heading", name="Leaderboards", level=1)).to_be_visible()

    # the user's menu: Profile, Settings, Sign out; Escape closes it and returns to its button
    user = tab.locator(".user-menu summary")
    await user.click()
    await expect(tab.locator(".user-menu").get_by_role("link", name="Settings")).to_be_visible()
    await tab.keyboard.press("Tab")
    await tab.keyboard.press("Escape")
    await expect(user).to_be_focused()
    await expect(tab.locator(".user-menu").get_by_role("link", name="Settings")).to_be_hidden()

    # a desktop: every section, the allowance, the notifications and the user on one row, for every role (an
    # admin has the most sections)
    await tab.set_viewport_size({"width": 1280, "height": 900})
    await expect(nav.get_by_role("link", name="Awards")).to_be_visible()
    await expect(tab.locator(".nav-toggle")).to_be_hidden()
    for role in ("employee", "manager", "admin"):
        desk = await contexts[role].new_page()
        for width in (1280, 1920):
            await desk.set_viewport_size({"width": width, "height": 900})
            await desk.goto("/")
            tops = await desk.evaluate(
                "[...document.querySelectorAll('.brand, .site-nav li, .header-tools > li')]"
                ".map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2))"
            )
            assert max(tops) - min(tops) <= 4, (role, width, tops)
        await desk.close()

    # the admin sections come in whole rows: "Webhooks" never alone on a line
    admin = await contexts["admin"].new_page()
    for width in (320, 390, 800, 1280):
        await admin.set_viewport_size({"width": width, "height": 900})
        await admin.goto("/admin")
        rows = await admin.evaluate(
            "[...document.querySelectorAll('.admin-nav li')].map(e => Math.round(e.getBoundingClientRect().top))"
        )
        assert rows.count(rows[-1]) > 1, (width, rows)
    await admin.close()
    await tab.close()


async def _focus_rings_are_solid_and_contrast_with_the_page(contexts: dict[str, BrowserContext]) -> None:
    """A 3 px solid ring of at least 3:1 against the page on links, buttons and fields, in both schemes."""
    tab = await contexts["employee"].new_page()
    await tab.goto("/")
    for scheme in SCHEMES:
        await tab.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # type: ignore[arg-type]
        for selector in ("main a[href]", "main button[type=submit]", "main textarea", ".user-menu summary"):
            await tab.locator(selector).first.focus()
            await tab.keyboard.press("Shift+Tab")  # a keyboard move, so :focus-visible applies
            await tab.keyboard.press("Tab")
            ring = await tab.evaluate(
                """() => {
                  const s = getComputedStyle(document.activeElement);
                  const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
                  const page = getComputedStyle(document.body).backgroundColor;
                  const [a, b] = [lum(s.outlineColor), lum(page)].sort((x, y) => y - x);
                  return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), ratio: (a + 0.05) / (b + 0.05)};
                }"""
            )
            assert ring["style"] == "solid" and ring["width"] >= 2, (scheme, selector, ring)
            assert ring["ratio"] >= 3, (scheme, selector, ring)
    await tab.close()
