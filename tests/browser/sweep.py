"""Phone widths and axe-core over pages, shared by the browser tests and a full report over every page.

The report signs in as each role against a running app whose database holds the demo organisation:

    DATABASE_URL=… KUDOS_DATA_DIR=… uv run python -m tests.browser.sweep http://127.0.0.1:8000 [--shots DIR]

and prints the axe violations by impact for each colour scheme, and the widest page at 320 px. It adds an import
dry run, a mail in the outbox and a password link to that database (the pages that show them need one).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.plugins.browser import CHROMIUM_ARGS, chromium_path

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text()
PHONES = ({"width": 390, "height": 844}, {"width": 320, "height": 640})
DESKTOP = {"width": 1280, "height": 900}
SCHEMES = ("light", "dark")
BLOCKING = {"serious", "critical"}


async def role_context(browser: Browser, base_url: str, role: str, email: str, password: str) -> BrowserContext:
    """A browser context signed in as `role` (no sign-in for "signed-out")."""
    context = await browser.new_context(base_url=base_url, viewport=DESKTOP)
    if role != "signed-out":
        page = await context.new_page()
        await page.goto("/login")
        await page.get_by_label("Work email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base_url}/")
        await page.close()
    return context


async def overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


async def phone_overflows(page: Page) -> dict[int, int]:
    """The sideways overflow at each phone width, the viewport resized in place."""
    widths = {}
    for size in PHONES:
        await page.set_viewport_size(size)
        widths[size["width"]] = await overflow(page)
    await page.set_viewport_size(DESKTOP)
    return widths


async def axe_violations(page: Page, scheme: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as shown in `scheme`."""
    # no transitions: a colour still fading from the other scheme would be measured
    await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # type: ignore[arg-type]
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_SOURCE)  # not a script tag: the CSP rightly forbids inline scripts
    result = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},"
        " resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]], "help": v["help"]}
        for v in result["violations"]
    ]


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING]


async def _report(base_url: str, shots: Path | None) -> None:
    from app.db import close_pool, start_pool
    from app.main import create_app
    from tests.browser.site import LOGINS, PASSWORD, ROLES, site_pages

    await start_pool(max_size=4)
    try:
        pages = await site_pages(create_app())
    finally:
        await close_pool()
    totals = {scheme: Counter[str]() for scheme in SCHEMES}
    widest: tuple[int, str, str] = (0, "", "")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for role in ROLES:
            context = await role_context(browser, base_url, role, LOGINS.get(role, ""), PASSWORD)
            tab = await context.new_page()
            for item in (p for p in pages if p.role == role):
                response = await tab.goto(item.path)
                status = response.status if response else 0
                await tab.set_viewport_size(PHONES[1])
                width = await tab.evaluate("document.documentElement.scrollWidth")
                widest = max(widest, (width, role, item.path))
                await tab.set_viewport_size(DESKTOP)
                for scheme in SCHEMES:
                    found = await axe_violations(tab, scheme)
                    for violation in found:
                        totals[scheme][violation["impact"]] += len(violation["nodes"])
                        where = f"{scheme} {role} {item.path}"
                        print(f"{where}: {violation['impact']} {violation['id']} {violation['nodes'][:3]}")
                    if shots:
                        for size in (PHONES[0], DESKTOP):
                            await tab.set_viewport_size(size)
                            name = f"{role}{item.path.replace('/', '_') or '_'}-{size['width']}-{scheme}.png"
                            await tab.screenshot(path=shots / name, full_page=True)
                        await tab.set_viewport_size(DESKTOP)
                if status >= 400:
                    print(f"{role} {item.path}: HTTP {status}")
            await context.close()
        await browser.close()
    print(f"{len(pages)} pages (role and path)")
    for scheme in SCHEMES:
        print(f"axe {scheme}: {dict(totals[scheme]) or 'no violations'} (nodes by impact)")
    print(f"widest page at 320 px: {widest[0]} px ({widest[1]} {widest[2]})")


if __name__ == "__main__":
    shots_dir = Path(sys.argv[sys.argv.index("--shots") + 1]) if "--shots" in sys.argv else None
    if shots_dir:
        shots_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_report(sys.argv[1], shots_dir))
