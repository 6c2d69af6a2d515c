"""Without company sign-in set up, its routes refuse and the login page is the password form alone."""

from __future__ import annotations


async def test_company_routes_refuse_when_not_set_up(client) -> None:
    page = (await client.get("/login")).text
    assert "Sign in with" not in page and 'name="password"' in page
    started = await client.get("/login/company")
    assert started.status_code == 400 and "Company sign-in is not set up." in started.text
    back = await client.get("/login/company/callback?state=a&code=b")
    assert back.status_code == 400 and "Company sign-in is not set up." in back.text
