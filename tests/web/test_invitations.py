"""Invitations by email (admins: one person, ticked people, everyone a CSV import added; resend, revoke; the people
list shows who has not accepted) and password resets asked for on the sign-in page. The mails are made and sent by
the worker's handlers, to a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.admin.tables import CsvImport, ImportKind, ImportStatus, Invitation, PasswordReset
from app.audit.tables import AuditEntry
from app.jobs.tables import JobOutbox
from app.people.tables import Employee, Role
from app.signin import invitations
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, csrf_token, login, post_form, signed_in
from tests.plugins.smtp import SmtpServer

pytestmark = pytest.mark.usefixtures("db")
NEW_PASSWORD = "a new long password"
LINK = re.compile(r"https?://[^\s\"<>]+/password/[\w-]+")


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=it)
    boss = await make_employee("Marta Boss", email="marta@example.com", role=Role.MANAGER, department=it)
    ana = await make_employee("Ana Novak", email="ana@example.com", department=it, password=False)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it, password=False)
    gone = await make_employee("Gus Gone", email="gus@example.com", department=it, active=False)
    eve = await make_employee("Eve Staff", email="eve@example.com", department=it)
    return {"admin": admin, "boss": boss, "ana": ana, "ravi": ravi, "gone": gone, "eve": eve}


def link_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = LINK.findall(text)
    assert found, text
    return found[0]


async def use_link(client_factory, link: str, password: str = NEW_PASSWORD):
    client = await client_factory()
    path = link.split("://", 1)[1].split("/", 1)[1]
    await client.get(f"/{path}")  # a first visit, as the browser makes (the page itself: test_admin_people)
    return await post_form(client, f"/{path}", {"password": password, "confirm": password})


async def invite_ticked(client, *ids: int):
    data = {"_csrf_token": await csrf_token(client), "person": [str(i) for i in ids]}
    return await client.post("/admin/people/invite", data=data)


async def test_an_invited_person_gets_one_mail_and_signs_in_with_its_link(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    response = await post_form(admin, f"/admin/people/{org['ana'].id}/invite")
    assert response.status_code == 303
    assert smtp_settings.messages == []  # the worker sends it, not the request
    page = await admin.get(f"/admin/people/{org['ana'].id}")
    assert "Invitation on its way to Ana Novak" in page.text and "the mail is on its way" in page.text

    assert await run_stored_events() == 1
    assert await run_stored_events() == 0  # handled once
    [mail] = smtp_settings.messages
    assert mail["To"] == "ana@example.com" and mail["Subject"] == "Ada Admin invited you to Kudos"
    assert mail.get_body(preferencelist=("html",)) is not None
    assert "Ada Admin invited you" in mail.get_body(preferencelist=("plain",)).get_content()
    assert await PasswordReset.count() == 1  # only the link's hash is stored
    page = await admin.get(f"/admin/people/{org['ana'].id}")
    assert "not accepted yet" in page.text and "Revoke the invitation" in page.text
    listed = await admin.get("/admin/people?active=invited")
    assert "Ana Novak" in listed.text and ">invited<" in listed.text and "Ravi Patel" not in listed.text

    assert (await use_link(client_factory, link_in(mail))).status_code == 303
    assert (await login(await client_factory(), "ana@example.com", NEW_PASSWORD)).status_code == 303
    state = await invitations.state_of(org["ana"].id)
    assert state is not None and state.status == "accepted"
    assert "Ana Novak" not in (await admin.get("/admin/people?active=invited")).text
    again = await post_form(admin, f"/admin/people/{org['ana'].id}/invite")
    assert again.status_code == 409 and "has accepted already" in again.text


async def test_ticked_people_are_invited_together_and_the_deactivated_are_left_out(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    listed = await admin.get("/admin/people")
    assert 'name="person"' in listed.text and "Invite the ticked people by email" in listed.text
    response = await invite_ticked(admin, org["ana"].id, org["ravi"].id, org["gone"].id)
    assert response.status_code == 303 and response.headers["location"] == "/admin/people?active=invited"
    followed = await admin.get(response.headers["location"])
    assert "Invitation on its way to 2 people" in followed.text and "Gus Gone: deactivated" in followed.text
    await run_stored_events()
    assert sorted(m["To"] for m in smtp_settings.messages) == ["ana@example.com", "ravi@example.com"]
    [entry] = await AuditEntry.select().where(AuditEntry.action == "person.invited")
    assert entry["summary"] == "Invited 2 people by email"

    nobody = await invite_ticked(admin)
    assert nobody.status_code == 422 and "Choose at least one person to invite." in nobody.text
    only_gone = await invite_ticked(admin, org["gone"].id)
    assert only_gone.status_code == 409 and "Gus Gone: deactivated" in only_gone.text
    unknown = await invite_ticked(admin, 999_999)
    assert unknown.status_code == 404
    junk = await invite_ticked(admin, -1)
    assert junk.status_code == 422
    assert await Invitation.count() == 2


async def test_sending_again_mails_only_the_newest_link_and_revoking_kills_it(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    await post_form(admin, f"/admin/people/{org['ana'].id}/invite")
    await post_form(admin, f"/admin/people/{org['ana'].id}/invite")  # before the worker ran: round 2
    await run_stored_events()
    [mail] = smtp_settings.messages  # round 1's event found a newer round and mailed nothing
    assert (await Invitation.select(Invitation.round).first())["round"] == 2

    revoked = await post_form(admin, f"/admin/people/{org['ana'].id}/invitation/revoke")
    assert revoked.status_code == 303
    response = await use_link(client_factory, link_in(mail))
    assert response.status_code == 400 and "has already been used, has expired" in response.text
    again = await post_form(admin, f"/admin/people/{org['ana'].id}/invitation/revoke")
    assert again.status_code == 409 and "no open invitation" in again.text
    assert (await invitations.state_of(org["ana"].id)).status == "revoked"

    # Revoked before the worker mailed it: nothing is sent.
    await post_form(admin, f"/admin/people/{org['ravi'].id}/invite")
    await post_form(admin, f"/admin/people/{org['ravi'].id}/invitation/revoke")
    await run_stored_events()
    assert [m["To"] for m in smtp_settings.messages] == ["ana@example.com"]
    assert await PasswordReset.count() == 0


async def test_a_person_deactivated_before_the_mail_goes_gets_nothing_and_old_invitations_expire(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    await post_form(admin, f"/admin/people/{org['ana'].id}/invite")
    await Employee.update({Employee.active: False}).where(Employee.id == org["ana"].id)
    await run_stored_events()
    assert smtp_settings.messages == []

    await invitations.invite(await _admin(org), [org["ravi"].id], at=now() - timedelta(days=8))
    await run_stored_events()
    assert smtp_settings.messages == []  # expired before it could be sent
    assert (await invitations.state_of(org["ravi"].id)).status == "expired"
    assert "invitation expired" in (await admin.get("/admin/people")).text


async def _admin(org):
    from app.people.services import load_current_user

    return await load_current_user(org["admin"].id)


async def test_everyone_a_people_import_added_is_invited_at_once(client_factory, org, smtp_settings) -> None:
    report = [
        {"row": 2, "key": "ana@example.com", "outcome": "created", "changed": []},
        {"row": 3, "key": "ravi@example.com", "outcome": "updated", "changed": ["title"]},
    ]
    item = CsvImport(
        kind=ImportKind.PEOPLE, filename="people.csv", status=ImportStatus.DONE, total=2, processed=2, created=1,
        updated=1, report=report, created_by=org["admin"].id, created_at=now(),
    )  # fmt: skip
    await item.save()
    admin = await signed_in(await client_factory(), org["admin"].email)
    page = await admin.get(f"/admin/import/{item.id}")
    assert "Invite the 1 person this import added" in page.text
    response = await post_form(admin, f"/admin/import/{item.id}/invite")
    assert response.status_code == 303
    await run_stored_events()
    assert [m["To"] for m in smtp_settings.messages] == ["ana@example.com"]


async def test_only_admins_invite_or_revoke(client_factory, org) -> None:
    for email in (org["boss"].email, org["eve"].email):
        client = await signed_in(await client_factory(), email)
        for url in (
            f"/admin/people/{org['ravi'].id}/invite",
            f"/admin/people/{org['ravi'].id}/invitation/revoke",
            "/admin/people/invite",
        ):
            response = await post_form(client, url, {"person": str(org["ravi"].id)})
            assert response.status_code == 403, (email, url)
    signed_out = await post_form(await client_factory(), f"/admin/people/{org['ravi'].id}/invite")
    assert signed_out.status_code in (302, 303, 401)
    assert await Invitation.count() == 0 and await JobOutbox.count() == 0


async def test_forgot_password_mails_a_link_only_to_an_active_account_and_answers_the_same(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    client = await client_factory()
    login_page = await client.get("/login")
    assert 'href="/login/forgot"' in login_page.text
    page = await client.get("/login/forgot")
    assert page.status_code == 200 and "<h1>Set a new password</h1>" in page.text
    answers = []
    for email in ("ANA@example.com", "nobody@example.com", "gus@example.com"):
        response = await post_form(client, "/login/forgot", {"email": email})
        assert response.status_code == 303 and response.headers["location"] == "/login"
        answers.append((await client.get("/login")).text)
    assert all("a link to set a new password is on its way" in a for a in answers)
    await run_stored_events()
    [mail] = smtp_settings.messages
    assert mail["To"] == "ana@example.com" and "new password" in mail["Subject"]
    assert (await use_link(client_factory, link_in(mail), "reset password 123")).status_code == 303
    assert (await login(await client_factory(), "ana@example.com", "reset password 123")).status_code == 303

    bad = await post_form(client, "/login/forgot", {"email": "not an email"})
    assert bad.status_code == 400 and "Enter the email address you sign in with." in bad.text
    fragment = await post_form(client, "/login/forgot", {"email": ""}, headers=HTMX)
    assert fragment.status_code == 400


async def test_forgot_password_is_rate_limited(client_factory, org) -> None:
    client = await client_factory()
    for _ in range(3):
        assert (await post_form(client, "/login/forgot", {"email": "ravi@example.com"})).status_code == 303
    limited = await post_form(client, "/login/forgot", {"email": "ravi@example.com"})
    assert limited.status_code == 429 and "Too many reset links asked for" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert await JobOutbox.count() == 3  # the fourth asked for nothing


async def test_a_mail_server_that_fails_delays_the_invitation_and_it_is_sent_once_after(
    client_factory, org, smtp_settings: SmtpServer
) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    await invite_ticked(admin, org["ana"].id, org["ravi"].id)
    smtp_settings.refuse.add("ravi@example.com")
    with pytest.raises(Exception, match="No such mailbox"):
        await run_stored_events()
    assert [m["To"] for m in smtp_settings.messages] == ["ana@example.com"]
    assert await PasswordReset.count() == 1  # the failed mail's link was rolled back with it
    smtp_settings.refuse.clear()
    await run_stored_events()
    await run_stored_events()
    assert sorted(m["To"] for m in smtp_settings.messages) == ["ana@example.com", "ravi@example.com"]


async def test_signing_in_any_way_accepts_an_open_invitation(client_factory, org) -> None:
    admin = await signed_in(await client_factory(), org["admin"].email)
    await post_form(admin, f"/admin/people/{org['eve'].id}/invite")  # Eve has a password already
    assert (await invitations.state_of(org["eve"].id)).status == "sending"
    await signed_in(await client_factory(), org["eve"].email)
    assert (await invitations.state_of(org["eve"].id)).status == "accepted"


@pytest.fixture
def company_sign_in_only(monkeypatch: pytest.MonkeyPatch, smtp_settings: SmtpServer):
    """Company sign-in set up and password sign-in turned off, but for the break-glass admin."""
    from app.settings import get_settings

    monkeypatch.setenv("KUDOS_OIDC_ISSUER", "http://127.0.0.1:9/issuer")
    monkeypatch.setenv("KUDOS_OIDC_CLIENT_ID", "kudos")
    monkeypatch.setenv("KUDOS_OIDC_CLIENT_SECRET", "not-a-real-secret")
    monkeypatch.setenv("KUDOS_OIDC_NAME", "Acme SSO")
    monkeypatch.setenv("KUDOS_PASSWORD_LOGIN", "false")
    monkeypatch.setenv("KUDOS_BREAK_GLASS_ADMIN", "admin@example.com")
    get_settings.cache_clear()
    yield smtp_settings
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_with_company_sign_in_only_invitations_lead_to_it_and_only_the_break_glass_admin_resets(
    client_factory, org, company_sign_in_only: SmtpServer
) -> None:
    admin = await _admin(org)
    await invitations.invite(admin, [org["ana"].id])
    await run_stored_events()
    [mail] = company_sign_in_only.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Sign in with your Acme SSO account: http" in text and "/login" in text
    assert not LINK.search(text) and await PasswordReset.count() == 0  # no password to set

    client = await client_factory()
    for email in ("ravi@example.com", "admin@example.com"):
        response = await post_form(client, "/login/forgot", {"email": email})
        assert response.status_code == 303  # the same answer for both
    await run_stored_events()
    assert [m["To"] for m in company_sign_in_only.messages[1:]] == ["admin@example.com"]
