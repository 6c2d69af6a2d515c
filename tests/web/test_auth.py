"""Sign-in, sessions, sign-out, the throttle, CSRF and `next` safety."""

from __future__ import annotations

import httpx
import pytest
import uvicorn

from app.main import create_app
from app.people.tables import Role
from app.signin.throttle import LoginThrottle
from tests.factories import PASSWORD, make_employee
from tests.helpers import HTMX, login, post_form, signed_in

GENERIC = "That email and password do not match an active account."


def plant_session(client, value: str) -> None:
    """Set a session cookie the way the cookie jar stores the server's (host-only names get `.local`)."""
    client.cookies.set("kudos_session", value, domain="testserver.local")


async def test_login_page_renders_form_with_csrf(client) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert 'name="_csrf_token"' in response.text
    assert 'name="email"' in response.text and 'name="password"' in response.text


async def test_login_success_redirects_and_shows_the_person(client) -> None:
    await make_employee("Lena Ortiz", email="lena@example.com")
    response = await login(client, "LENA@example.com ", next_url="/departments")
    assert response.status_code == 303
    assert response.headers["location"] == "/departments"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Hello, Lena" in home.text


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.com", PASSWORD), ("known@example.com", "wrong password"), ("inactive@example.com", PASSWORD)],
)
async def test_login_failures_share_one_generic_message(client, email: str, password: str) -> None:
    await make_employee(email="known@example.com")
    await make_employee(email="inactive@example.com", active=False)
    response = await login(client, email, password)
    assert response.status_code == 400
    assert GENERIC in response.text
    assert "kudos_session" not in response.cookies
    assert (await client.get("/")).status_code == 303


async def test_login_with_empty_fields_asks_for_both(client) -> None:
    response = await login(client, "", "")
    assert response.status_code == 400
    assert "Enter your email and password." in response.text


async def test_person_without_password_cannot_sign_in(client) -> None:
    await make_employee(email="nopass@example.com", password=False)
    response = await login(client, "nopass@example.com", "")
    assert response.status_code == 400
    response = await login(client, "nopass@example.com", "anything at all")
    assert GENERIC in response.text


async def test_repeated_failures_are_throttled_across_app_instances(client_factory) -> None:
    await make_employee(email="target@example.com")
    client = await client_factory()
    for _ in range(5):
        assert (await login(client, "target@example.com", "guess")).status_code == 400
    # A second app instance stands for a second web process: the count lives in Redis.
    other_app = create_app(manage_pool=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://testserver") as other:
        blocked = await login(other, "target@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert "kudos_session" not in blocked.cookies
    await other_app.state.redis.aclose()


def from_address(app, address: str, **headers: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (through `app`, which may be wrapped)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_failures_from_one_address_lock_only_the_email_tried(app) -> None:
    """Behind one NAT or load balancer address, a colleague's failures (or a few people's) lock nobody else."""
    await make_employee(email="target@example.com")
    await make_employee(email="colleague@example.com")
    async with from_address(app, "10.1.1.1") as office, from_address(app, "10.2.2.2") as home:
        for n in range(30):  # thirty mistyped emails from the office: the old per-address lock
            assert (await login(office, f"typo{n}@example.com", "guess")).status_code == 400
        for _ in range(5):
            assert (await login(office, "target@example.com", "guess")).status_code == 400
        assert (await login(office, "target@example.com")).status_code == 429  # this email from this address
        assert (await login(home, "target@example.com")).status_code == 303  # the same person, elsewhere
        assert (await login(office, "colleague@example.com")).status_code == 303  # the rest of the office


async def test_many_failures_from_anywhere_lock_an_email_and_an_address_has_a_ceiling(app, redis) -> None:
    throttle = LoginThrottle(redis, per_pair=5, per_email=6, per_address=8)
    for n in range(6):
        await throttle.record("target@example.com", f"10.0.0.{n}")
    assert await throttle.retry_after("target@example.com", "10.9.9.9") > 0  # guessing spread over addresses
    assert await throttle.retry_after("other@example.com", "10.0.0.1") == 0
    for n in range(8):
        await throttle.record(f"user{n}@example.com", "10.5.5.5")
    assert await throttle.retry_after("anyone@example.com", "10.5.5.5") > 0  # spraying from one address
    await throttle.reset("anyone@example.com", "10.5.5.5")
    assert await throttle.retry_after("anyone@example.com", "10.5.5.5") > 0  # a success does not lift the ceiling


async def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(app, redis, monkeypatch) -> None:
    """`FORWARDED_ALLOW_IPS` names the proxy, as `kudos web`/`kudos serve` run uvicorn: its X-Forwarded-For is used."""
    await make_employee(email="target@example.com")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")
    config = uvicorn.Config(app, proxy_headers=True, log_config=None)
    config.load()
    async with (
        from_address(config.loaded_app, "10.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}) as guesser,
        from_address(config.loaded_app, "10.0.0.1", **{"X-Forwarded-For": "198.51.100.4"}) as owner,
        from_address(config.loaded_app, "10.0.0.2", **{"X-Forwarded-For": "198.51.100.4"}) as untrusted,
    ):
        for _ in range(5):
            assert (await login(guesser, "target@example.com", "guess")).status_code == 400
        assert await redis.get("kudos:login-fail:pair:203.0.113.9:target@example.com") == b"5"
        assert (await login(guesser, "target@example.com")).status_code == 429
        assert (await login(owner, "target@example.com")).status_code == 303
        await login(untrusted, "nobody@example.com", "guess")  # a header from an untrusted peer is ignored
        assert await redis.get("kudos:login-fail:pair:10.0.0.2:nobody@example.com") == b"1"


async def test_successful_login_resets_the_email_counter(client) -> None:
    await make_employee(email="forgetful@example.com")
    for _ in range(4):
        await login(client, "forgetful@example.com", "guess")
    assert (await login(client, "forgetful@example.com")).status_code == 303
    await client.post("/logout", data={"_csrf_token": client.cookies["kudos_csrf"]})
    for _ in range(4):
        assert (await login(client, "forgetful@example.com", "guess")).status_code == 400
    assert (await login(client, "forgetful@example.com")).status_code == 303


async def test_login_issues_a_new_session_id(client_factory) -> None:
    await make_employee(email="fixated@example.com")
    victim = await client_factory()
    plant_session(victim, "a" * 64)
    await signed_in(victim, "fixated@example.com")
    first = victim.cookies["kudos_session"]
    assert first != "a" * 64
    attacker = await client_factory()
    plant_session(attacker, "a" * 64)
    assert (await attacker.get("/")).status_code == 303

    # Signing in again (e.g. as someone else on a shared machine) rotates the id again.
    await signed_in(victim, "fixated@example.com")
    assert victim.cookies["kudos_session"] != first
    stale = await client_factory()
    plant_session(stale, first)
    assert (await stale.get("/")).status_code == 303


async def test_logout_ends_the_session_on_the_server(client_factory) -> None:
    await make_employee(email="leaving@example.com")
    client = await signed_in(await client_factory(), "leaving@example.com")
    session_id = client.cookies["kudos_session"]
    response = await post_form(client, "/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    replay = await client_factory()
    plant_session(replay, session_id)
    response = await replay.get("/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_deactivated_person_loses_their_session(client) -> None:
    from app.people.tables import Employee

    person = await make_employee(email="soon-gone@example.com")
    await signed_in(client, person.email)
    assert (await client.get("/")).status_code == 200
    await Employee.update({Employee.active: False}).where(Employee.id == person.id)
    assert (await client.get("/")).status_code == 303


async def test_logout_without_csrf_token_is_refused(client) -> None:
    await make_employee(email="csrf@example.com")
    await signed_in(client, "csrf@example.com")
    response = await client.post("/logout")
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert (await client.get("/")).status_code == 200


async def test_login_with_forged_csrf_token_is_refused(client) -> None:
    await make_employee(email="forged@example.com")
    await client.get("/login")
    response = await client.post(
        "/login", data={"_csrf_token": "forged", "email": "forged@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "kudos_session" not in client.cookies


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/departments?x=1", "/departments?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
async def test_next_only_accepts_local_paths(client, target: str, expected: str) -> None:
    await make_employee(email="next@example.com")
    response = await login(client, "next@example.com", next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_signed_out_page_redirects_to_login_with_next(client) -> None:
    response = await client.get("/departments?view=all")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdepartments%3Fview%3Dall"


async def test_signed_out_htmx_request_gets_a_client_redirect(client) -> None:
    response = await client.get("/people?q=a", headers=HTMX)
    assert response.headers["hx-redirect"] == "/login?next=%2Fpeople%3Fq%3Da"


async def test_signed_in_visit_to_login_goes_home(client) -> None:
    await make_employee(email="already@example.com", role=Role.MANAGER)
    await signed_in(client, "already@example.com")
    response = await client.get("/login")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
