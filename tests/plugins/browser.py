"""Browser-test fixtures: the app served by uvicorn in a subprocess, driven by Debian's Chromium via Playwright.

Without a Chromium the browser tests are skipped with the reason, except under CI (CI=true), where a missing
browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("KUDOS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving_app(port: int, environment: dict[str, str] | None = None) -> Iterator[str]:
    """The app under uvicorn on `port`, against the test process's database and Redis (argon2 at the tests' cost:
    see tests/plugins/live_app.py), with `environment` added to the test process's."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.plugins.live_app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **(environment or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError("the live server exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the live server did not answer within 30 s")
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The app under uvicorn on a free port."""
    with serving_app(_free_port()) as url:
        yield url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Chromium for the browser tests: install Debian's chromium package")
        pytest.skip(reason="browser tests need Chromium (/usr/bin/chromium, or KUDOS_CHROMIUM); none was found")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield instance
        await instance.close()


@pytest.fixture
async def page(browser, live_server: str, db: None) -> AsyncIterator[object]:
    context = await browser.new_context(base_url=live_server)
    tab = await context.new_page()
    yield tab
    await context.close()
