"""Company sign-in (OpenID Connect) against a real provider on loopback (tests/oidc/provider.mjs): the whole flow
through the provider's login and consent pages, and each way Kudos refuses it."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.audit.tables import AuditEntry
from app.people.tables import Employee, Role
from app.settings import get_settings
from app.signin import oidc
from app.signin.services import SignInRefused
from tests.factories import PASSWORD, make_department, make_employee
from tests.helpers import login
from tests.plugins.oidc_provider import OidcProvider

pytestmark = pytest.mark.usefixtures("company_sign_in")

FAILED = "Signing in with Acme Login did not work."


def claims(email: str, *, verified: bool = True, **extra: str) -> dict[str, object]:
    return {"email": email, "email_verified": verified, "name": "Ada Brightwater", **extra}


async def start(client: httpx.AsyncClient, next_url: str = "") -> str:
    """Press "Sign in with Acme Login": the provider's authorization address Kudos sends the browser to."""
    response = await client.get("/login/company", params={"next": next_url})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def through_provider(
    client: httpx.AsyncClient, provider: OidcProvider, login_name: str, next_url: str = ""
) -> tuple[str, httpx.Response]:
    """The whole flow: the callback address the provider sent the browser to, and Kudos's answer to it."""
    callback = await provider.sign_in(await start(client, next_url), login_name)
    return callback, await client.get(callback.removeprefix("http://testserver"))


async def signed_in_as(client: httpx.AsyncClient) -> str | None:
    home = await client.get("/")
    return home.text.split("Hello, ")[1].split("<")[0] if home.status_code == 200 else None


async def test_login_page_offers_company_sign_in_first(client) -> None:
    page = (await client.get("/login")).text
    assert "Sign in with Acme Login" in page
    assert page.index("Sign in with Acme Login") < page.index('name="password"')
    assert "Administrator sign-in" not in page  # password sign-in is on: its form is shown as usual


async def test_success_signs_in_by_verified_email_under_a_new_session_id(client, company_sign_in) -> None:
    person = await make_employee("Ada Brightwater", email="ada@example.com")
    company_sign_in.accounts(ada=claims("Ada@Example.COM"))
    await client.get("/login")
    before = client.cookies.get("kudos_session")

    authorize = await start(client, "/departments")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["kudos"]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]
    pending_cookie = client.cookies["kudos_session"]
    callback = await company_sign_in.sign_in(authorize, "ada")
    response = await client.get(callback.removeprefix("http://testserver"))

    assert response.status_code == 303 and response.headers["location"] == "/departments"
    assert client.cookies["kudos_session"] not in {before, pending_cookie}
    assert await signed_in_as(client) == "Ada"
    entry = await AuditEntry.objects().where(AuditEntry.action == "signin.oidc").first()
    assert entry is not None and entry.actor == person.id and entry.target_id == person.id
    assert entry.summary == "Signed in with Acme Login"


async def test_wrong_state_is_refused(client, company_sign_in) -> None:
    await make_employee(email="ada@example.com")
    company_sign_in.accounts(ada=claims("ada@example.com"))
    callback = await company_sign_in.sign_in(await start(client), "ada")
    forged = callback.replace("state=", "state=x")
    response = await client.get(forged.removeprefix("http://testserver"))
    assert response.status_code == 400
    assert "was not started here, or it was already used" in response.text
    assert await signed_in_as(client) is None
    # the pending sign-in is used up by that attempt: the real state no longer works either
    assert (await client.get(callback.removeprefix("http://testserver"))).status_code == 400
    assert await signed_in_as(client) is None


async def test_callback_without_a_pending_sign_in_is_refused(client) -> None:
    response = await client.get("/login/company/callback?state=abc&code=def")
    assert response.status_code == 400 and "Start again from the sign-in page" in response.text


async def test_replayed_code_is_refused(client_factory, company_sign_in) -> None:
    await make_employee(email="ada@example.com")
    company_sign_in.accounts(ada=claims("ada@example.com"))
    first = await client_factory()
    callback, response = await through_provider(first, company_sign_in, "ada")
    assert response.status_code == 303

    # the same callback again, in the same browser or another one: no pending sign-in matches it any more
    for client in (first, await client_factory()):
        again = await client.get(callback.removeprefix("http://testserver"))
        assert again.status_code == 400 and "already used" in again.text
    assert await signed_in_as(await client_factory()) is None


async def test_replayed_code_with_its_verifier_is_refused_by_the_exchange(company_sign_in, db) -> None:
    company_sign_in.accounts(ada=claims("ada@example.com"))
    settings = get_settings().oidc
    assert settings is not None
    url, pending = await oidc.begin(settings, company_sign_in.redirect_uri, "/")
    code = parse_qs(urlsplit(await company_sign_in.sign_in(url, "ada")).query)["code"][0]
    identity = await oidc.finish(settings, pending, code, company_sign_in.redirect_uri)
    assert identity.email == "ada@example.com" and identity.email_verified
    with pytest.raises(SignInRefused) as refused:
        await oidc.finish(settings, pending, code, company_sign_in.redirect_uri)
    assert refused.value.status_code == 400


async def test_id_token_for_another_sign_in_is_refused_by_its_nonce(company_sign_in, db) -> None:
    company_sign_in.accounts(ada=claims("ada@example.com"))
    settings = get_settings().oidc
    assert settings is not None
    url, pending = await oidc.begin(settings, company_sign_in.redirect_uri, "/")
    code = parse_qs(urlsplit(await company_sign_in.sign_in(url, "ada")).query)["code"][0]
    with pytest.raises(SignInRefused) as refused:
        await oidc.finish(
            settings, replace(pending, nonce="the nonce of another sign-in"), code, company_sign_in.redirect_uri
        )
    assert refused.value.status_code == 400 and FAILED in refused.value.message


async def test_expired_id_token_is_refused(client, company_sign_in) -> None:
    await make_employee(email="ada@example.com")
    company_sign_in.accounts(ada=claims("ada@example.com"))
    company_sign_in.switches(idTokenAge=7200)  # issued two hours ago with an hour's lifetime: expired an hour ago
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 400 and FAILED in response.text
    assert await signed_in_as(client) is None


async def test_id_token_for_another_audience_is_refused(client, company_sign_in) -> None:
    await make_employee(email="ada@example.com")
    company_sign_in.accounts(ada=claims("ada@example.com"))
    company_sign_in.switches(audience="another-app")
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 400 and FAILED in response.text
    assert await signed_in_as(client) is None


async def test_unverified_email_is_refused(client, company_sign_in) -> None:
    await make_employee(email="ada@example.com")
    company_sign_in.accounts(ada=claims("ada@example.com", verified=False))
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 403 and "did not confirm your email address is verified" in response.text
    assert await signed_in_as(client) is None


async def test_deactivated_person_is_refused(client, company_sign_in) -> None:
    await make_employee(email="ada@example.com", active=False)
    company_sign_in.accounts(ada=claims("ada@example.com"))
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 403 and "Your Kudos account is deactivated" in response.text
    assert await signed_in_as(client) is None
    assert not await AuditEntry.exists().where(AuditEntry.action == "signin.oidc")


async def test_unknown_email_is_refused_without_just_in_time_creation(client, company_sign_in) -> None:
    company_sign_in.accounts(ada=claims("new.person@example.com"))
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 403
    assert "No one in Kudos has the email new.person@example.com. Ask an administrator to add you." in response.text
    assert await Employee.count() == 0


async def test_unknown_email_becomes_a_person_with_just_in_time_creation(
    client_factory, company_sign_in, monkeypatch
) -> None:
    monkeypatch.setenv("KUDOS_OIDC_CREATE_PEOPLE", "true")
    get_settings.cache_clear()
    facilities = await make_department("Facilities", slug="facilities")
    company_sign_in.accounts(
        ada=claims("New.Person@example.com", name="Nia Okafor", department="FACILITIES"),
        bo=claims("bo@example.com", name="Bo Lind", department="No Such Team"),
    )
    client = await client_factory()
    _, response = await through_provider(client, company_sign_in, "ada")
    assert response.status_code == 303
    assert await signed_in_as(client) == "Nia"
    person = await Employee.objects().where(Employee.email == "new.person@example.com").first()
    assert person is not None and person.name == "Nia Okafor" and person.department == facilities.id
    assert person.role == Role.EMPLOYEE and person.active
    created = await AuditEntry.objects().where(AuditEntry.action == "person.create").first()
    assert created is not None and created.target_id == person.id and created.actor is None

    _, response = await through_provider(await client_factory(), company_sign_in, "bo")
    assert response.status_code == 303
    bo = await Employee.objects().where(Employee.email == "bo@example.com").first()
    assert bo is not None and bo.department is None  # the claim names no department Kudos has


async def test_provider_answering_with_an_error_is_refused(client, company_sign_in) -> None:
    authorize = await start(client)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    response = await client.get(f"/login/company/callback?state={state}&error=access_denied")
    assert response.status_code == 400 and "Acme Login did not sign you in" in response.text


async def test_unreachable_provider_is_a_clear_refusal(client, monkeypatch) -> None:
    monkeypatch.setenv("KUDOS_OIDC_ISSUER", "http://127.0.0.1:9")
    get_settings.cache_clear()
    response = await client.get("/login/company")
    assert response.status_code == 502 and FAILED in response.text


async def test_password_sign_in_turned_off_leaves_only_the_break_glass_admin(client_factory, monkeypatch) -> None:
    monkeypatch.setenv("KUDOS_PASSWORD_LOGIN", "false")
    monkeypatch.setenv("KUDOS_BREAK_GLASS_ADMIN", "Root@Example.com")
    get_settings.cache_clear()
    await make_employee(email="ada@example.com")
    root = await make_employee(email="root@example.com", role=Role.ADMIN)
    await make_employee(email="other.admin@example.com", role=Role.ADMIN)

    client = await client_factory()
    page = (await client.get("/login")).text
    assert "Sign in with Acme Login" in page and "<summary>Administrator sign-in</summary>" in page
    for email in ("ada@example.com", "other.admin@example.com"):
        refused = await login(client, email)
        assert refused.status_code == 403 and "Password sign-in is turned off here" in refused.text
        assert '<details class="admin-sign-in" open>' in refused.text
    assert (await login(client, "root@example.com", "wrong password")).status_code == 400
    assert not await AuditEntry.exists().where(AuditEntry.action == "signin.break_glass")
    assert (await login(client, "root@example.com", PASSWORD)).status_code == 303
    entry = await AuditEntry.objects().where(AuditEntry.action == "signin.break_glass").first()
    assert entry is not None and entry.target_id == root.id and entry.actor == root.id


async def test_break_glass_email_of_someone_not_an_admin_is_refused(client, monkeypatch) -> None:
    monkeypatch.setenv("KUDOS_PASSWORD_LOGIN", "false")
    monkeypatch.setenv("KUDOS_BREAK_GLASS_ADMIN", "ada@example.com")
    get_settings.cache_clear()
    await make_employee(email="ada@example.com", role=Role.MANAGER)
    refused = await login(client, "ada@example.com")
    assert refused.status_code == 403 and "Password sign-in is turned off here" in refused.text
