"""Admin console, people: list with filters and paging, create and edit with their rules, deactivation ending
sessions, one-time password links; every action audited."""

from __future__ import annotations

import re

import pytest

from app.admin.services import people
from app.admin.tables import PasswordReset
from app.audit.tables import AuditEntry
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.signin import password_links
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, login, post_form, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=hr)
    boss = await make_employee("Marta Boss", email="marta@example.com", role=Role.MANAGER, department=it)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it, manager=boss)
    return {"it": it, "hr": hr, "admin": admin, "boss": boss, "ravi": ravi}


async def as_admin(client_factory, org):
    return await signed_in(await client_factory(), org["admin"].email)


async def actions() -> list[str]:
    return [row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]


async def test_list_filters_and_pages_by_keyset(client_factory, org) -> None:
    for n in range(5):
        await make_employee(f"Zed {n}", department=org["it"])
    await make_employee("Zed Gone", department=org["it"], active=False)
    client = await as_admin(client_factory, org)

    page = await people.list_people(people.clean_filters("zed", str(org["it"].id), "", "active", ""), per_page=3)
    assert [p.name for p in page.people] == ["Zed 0", "Zed 1", "Zed 2"]
    following = await people.list_people(
        people.clean_filters("zed", str(org["it"].id), "", "active", str(page.next_after)), per_page=3
    )
    assert [p.name for p in following.people] == ["Zed 3", "Zed 4"] and following.next_after is None

    response = await client.get("/admin/people?q=zed&active=inactive")
    assert response.status_code == 200 and "Zed Gone" in response.text and "Zed 0" not in response.text
    assert "<h1>People</h1>" in response.text
    fragment = await client.get("/admin/people?role=manager", headers=HTMX)
    assert fragment.status_code == 200 and "<h1>" not in fragment.text
    assert "Marta Boss" in fragment.text and "Ravi Patel" not in fragment.text
    nobody = await client.get(f"/admin/people?department={org['hr'].id}&role=employee")
    assert "No one matches these filters." in nobody.text


async def test_create_and_edit_a_person(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    data = {
        "name": "  Nia   Quist ",
        "email": "Nia@Example.com",
        "title": "Analyst",
        "department": str(org["it"].id),
        "manager": "marta@example.com",
        "role": "employee",
    }
    response = await post_form(client, "/admin/people/new", data)
    assert response.status_code == 303
    nia = await Employee.select().where(Employee.email == "nia@example.com").first()
    assert nia["name"] == "Nia Quist" and nia["manager"] == org["boss"].id and nia["password_hash"] is None
    assert response.headers["location"] == f"/admin/people/{nia['id']}"

    response = await post_form(client, f"/admin/people/{nia['id']}", {**data, "role": "manager", "title": "Lead"})
    assert response.status_code == 303
    entry = await AuditEntry.select().where(AuditEntry.action == "person.update").output(load_json=True).first()
    assert entry["before"] == {"title": "Analyst", "role": "employee"}
    assert entry["after"] == {"title": "Lead", "role": "manager"}
    assert entry["actor"] == org["admin"].id
    assert await actions() == ["person.create", "person.update"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the person&#39;s full name."),
        ({"email": "not-an-email"}, "email", "is not a valid email address"),
        ({"email": "marta@example.com"}, "email", "already belongs to someone else"),
        ({"department": "999999"}, "department", "Choose a department from the list."),
        ({"department": "abc"}, "department", "Choose a department from the list."),
        ({"manager": "nobody@example.com"}, "manager", "No active person has the email"),
        ({"role": "owner"}, "role", "Choose employee, manager or admin."),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(client_factory, org, change, field, message) -> None:
    client = await as_admin(client_factory, org)
    data = {"name": "Nia", "email": "nia@example.com", "department": "", "manager": "", "role": "employee"}
    before = await Employee.count()
    response = await post_form(client, "/admin/people/new", {**data, **change})
    assert response.status_code == 422
    assert f'id="person-{field}-error"' in response.text and message in response.text
    assert await Employee.count() == before and await AuditEntry.count() == 0


async def test_a_manager_loop_is_refused(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    response = await post_form(
        client,
        f"/admin/people/{org['boss'].id}",
        {"name": "Marta Boss", "email": "marta@example.com", "department": str(org["it"].id),
         "manager": "ravi@example.com", "role": "manager"},
    )  # fmt: skip
    assert response.status_code == 422 and "it would make a loop" in response.text
    assert (await Employee.select(Employee.manager).where(Employee.id == org["boss"].id).first())["manager"] is None


async def test_an_admin_cannot_demote_or_deactivate_themselves(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    admin = org["admin"]
    response = await post_form(
        client, f"/admin/people/{admin.id}", {"name": admin.name, "email": admin.email, "role": "employee"}
    )
    assert response.status_code == 409 and "your own admin role" in response.text
    response = await post_form(client, f"/admin/people/{admin.id}/deactivate")
    assert response.status_code == 409 and "You can&#39;t deactivate yourself" in response.text
    assert await load_current_user(admin.id) is not None


async def test_deactivation_ends_sessions_and_blocks_sign_in(client_factory, org, redis) -> None:
    ravi = org["ravi"]
    phone, laptop = await client_factory(), await client_factory()
    await signed_in(phone, ravi.email)
    await signed_in(laptop, ravi.email)
    assert (await laptop.get("/")).status_code == 200
    assert await redis.scard(f"kudos:user-sessions:{ravi.id}") == 2
    admin = await as_admin(client_factory, org)

    response = await post_form(admin, f"/admin/people/{ravi.id}/deactivate")
    assert response.status_code == 303

    assert await redis.exists(f"kudos:user-sessions:{ravi.id}") == 0
    for device in (phone, laptop):
        session_id = device.cookies.get("kudos_session")
        assert await redis.exists(f"kudos:sessions:{session_id}") == 0
        response = await device.get("/")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    refused = await login(await client_factory(), ravi.email)
    assert refused.status_code == 400
    # history stays: the person row is kept; reactivation lets them back in
    assert await post_form(admin, f"/admin/people/{ravi.id}/reactivate") is not None
    assert (await login(await client_factory(), ravi.email)).status_code == 303
    assert await actions() == ["person.deactivate", "person.reactivate"]


async def test_a_password_link_works_once(client_factory, org) -> None:
    ravi = org["ravi"]
    admin = await as_admin(client_factory, org)
    old_session = await signed_in(await client_factory(), ravi.email)

    response = await post_form(admin, f"/admin/people/{ravi.id}/password-link")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    url = re.search(r'value="(http://testserver/password/[^"]+)"', response.text).group(1)
    path = url.removeprefix("http://testserver")
    stored = await PasswordReset.select(PasswordReset.token_hash).first()
    assert stored["token_hash"] not in url and path.rsplit("/", 1)[1] not in str(stored)

    visitor = await client_factory()
    page = await visitor.get(path)
    assert page.status_code == 200 and "Ravi Patel" in page.text
    assert page.headers["cache-control"] == "no-store"
    mismatch = await post_form(visitor, path, {"password": "a new long password", "confirm": "something else"})
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    short = await post_form(visitor, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    done = await post_form(visitor, path, {"password": "a new long password", "confirm": "a new long password"})
    assert done.status_code == 303 and done.headers["location"] == "/login"

    again = await post_form(visitor, path, {"password": "another password!", "confirm": "another password!"})
    assert again.status_code == 400 and "already been used" in again.text
    assert (await visitor.get(path)).status_code == 400
    assert (await login(await client_factory(), ravi.email, "a new long password")).status_code == 303
    assert (await login(await client_factory(), ravi.email, "another password!")).status_code == 400
    # the password change signed out the sessions from before it
    assert (await old_session.get("/")).status_code == 303
    assert await actions() == ["person.password_link"]


async def test_a_new_link_replaces_the_old_one_and_deactivation_voids_it(db, org) -> None:
    admin = await load_current_user(org["admin"].id)
    first = await password_links.create_password_link(admin, org["ravi"].id)
    second = await password_links.create_password_link(admin, org["ravi"].id)
    token = second.token
    assert await password_links.link_holder(first.token) is None
    assert (await password_links.link_holder(token)).id == org["ravi"].id
    await people.set_active(admin, org["ravi"].id, False)
    assert await password_links.link_holder(token) is None
    with pytest.raises(people.RuleViolation):
        await password_links.create_password_link(admin, org["ravi"].id)


async def test_deactivated_people_receive_no_notifications(db, org) -> None:
    from app.notifications.services import notify
    from app.notifications.tables import Kind, Notification

    admin = await load_current_user(org["admin"].id)
    await people.set_active(admin, org["ravi"].id, False)
    await notify([org["ravi"].id, org["boss"].id], Kind.KUDOS_RECEIVED, text="Thanks", subject="kudos:1")
    assert [r["recipient"] for r in await Notification.select(Notification.recipient)] == [org["boss"].id]


async def test_services_refuse_non_admins(db, org) -> None:
    manager = await load_current_user(org["boss"].id)
    with pytest.raises(people.RuleViolation) as refused:
        await people.set_active(manager, org["ravi"].id, False)
    assert refused.value.status_code == 403
    with pytest.raises(people.RuleViolation):
        await password_links.create_password_link(manager, org["ravi"].id)


async def test_admin_forms_need_the_csrf_token(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    response = await client.post("/admin/people/new", data={"name": "Nia", "email": "nia@example.com"})
    assert response.status_code == 403 and "This form has expired" in response.text
    assert await Employee.count().where(Employee.email == "nia@example.com") == 0
