"""HTTP helpers for tests: CSRF-aware form posts and signing in."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD

HTMX = {"HX-Request": "true"}


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The CSRF token the browser would send: the cookie value, set on the first safe request."""
    if "kudos_csrf" not in client.cookies:
        await client.get("/login")
    return client.cookies["kudos_csrf"]


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str] | None = None, *, headers: dict | None = None
) -> httpx.Response:
    form = {"_csrf_token": await csrf_token(client), **(data or {})}
    return await client.post(url, data=form, headers=headers)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_url: str = "") -> httpx.Response:
    response = await post_form(client, "/login", {"email": email, "password": password, "next": next_url})
    return response


async def signed_in(client: httpx.AsyncClient, email: str) -> httpx.AsyncClient:
    response = await login(client, email)
    assert response.status_code == 303, response.text
    return client
