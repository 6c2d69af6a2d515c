"""A real OpenID Connect provider for the company sign-in tests: tests/oidc/provider.mjs (the OpenID-certified
`oidc-provider` package) run by node on a free loopback port.

Without node the tests that need it are skipped with the reason, except under CI (CI=true), where a missing node is
a failure. `npm ci` installs the pinned package the first time (the npm registry is only needed then); CI installs it
before the run (.ci/run).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.plugins.smtp import free_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID, CLIENT_SECRET = "kudos", "kudos-secret"
CALLBACK_PATH = "/login/company/callback"


@dataclass
class OidcProvider:
    issuer: str
    redirect_uri: str

    def accounts(self, **accounts: dict[str, Any]) -> None:
        """Who may sign in: login name → claims (email, email_verified, name, department, job_title)."""
        httpx.post(f"{self.issuer}/__test/accounts", json=accounts).raise_for_status()

    def switches(self, **switches: Any) -> None:
        """idTokenAge (seconds before now the ID token is issued at) and audience (what ID tokens name instead of
        the client); no arguments turns them off."""
        httpx.post(f"{self.issuer}/__test/switches", json=switches).raise_for_status()

    async def sign_in(self, authorize_url: str, login: str) -> str:
        """What a browser does at the provider: its login page (any password), its consent page; the address it is
        sent back to (the callback, with code and state)."""
        url = authorize_url
        async with httpx.AsyncClient() as browser:
            for _ in range(12):
                if url.startswith(self.redirect_uri):
                    return url
                response = await browser.get(url)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                assert response.status_code == 200, response.text
                action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                assert action, response.text
                fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
                if 'name="login"' in response.text:
                    fields.update(login=login, password="any password")
                response = await browser.post(urljoin(url, unescape(action.group(1))), data=fields)
                assert response.is_redirect, response.text
                url = urljoin(url, response.headers["location"])
        raise AssertionError(f"the provider did not send the browser back (last at {url})")


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs node and npm for the company sign-in tests: install Debian's nodejs and npm")
        pytest.skip(reason="company sign-in tests need node and npm (the OpenID Connect provider runs on them)")
    with (PROVIDER_DIR / "package-lock.json").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers never install at once into one node_modules
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, capture_output=True)
    return node


@contextmanager
def running_provider(app_url: str) -> Iterator[OidcProvider]:
    """The provider on a free port, with client `kudos` redirecting to `app_url`'s callback."""
    node = _node()
    port = free_port()
    redirect_uri = app_url + CALLBACK_PATH
    process = subprocess.Popen(
        [node, "provider.mjs", str(port), redirect_uri],
        cwd=PROVIDER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("ready "):
                break
        else:
            raise RuntimeError("the OpenID Connect provider exited during start-up")
        yield OidcProvider(issuer=line.split()[1], redirect_uri=redirect_uri)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def company_sign_in_environment(provider: OidcProvider, **extra: str) -> dict[str, str]:
    return {
        "KUDOS_OIDC_ISSUER": provider.issuer,
        "KUDOS_OIDC_CLIENT_ID": CLIENT_ID,
        "KUDOS_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "KUDOS_OIDC_NAME": "Acme Login",
        **extra,
    }


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """The provider for the in-process app (http://testserver)."""
    with running_provider("http://testserver") as provider:
        yield provider


@pytest.fixture
def company_sign_in(oidc_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[OidcProvider]:
    """Company sign-in set up against `oidc_provider` (accounts and switches reset); set more KUDOS_ variables with
    monkeypatch.setenv and call get_settings.cache_clear()."""
    from app.settings import get_settings

    oidc_provider.accounts()
    oidc_provider.switches()
    for name, value in company_sign_in_environment(oidc_provider).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield oidc_provider
    monkeypatch.undo()  # every variable the test set too, before the settings are read again
    get_settings.cache_clear()
