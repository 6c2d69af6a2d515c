"""Admin console, departments, company values and allowances: the rules, the merge (boards equal a rebuild from the
ledger), and an audit entry for every action."""

from __future__ import annotations

import pytest

from app.admin.services import department_merge, departments
from app.audit.tables import AuditEntry
from app.boards import rollups
from app.boards.tables import DepartmentPeriod, Period
from app.kudos import allowance
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.kudos.tables import CompanyValue, LedgerEntry
from app.people.services import load_current_user
from app.people.tables import Department, DepartmentLead, Employee, Role, Service
from app.requests.tables import Request
from app.rules import RuleViolation
from tests.factories import make_department, make_employee, make_lead, make_request, make_service
from tests.helpers import post_form, signed_in


@pytest.fixture
async def org():
    ops = await make_department("Operations", slug="ops")
    it = await make_department("IT", slug="it", parent=ops.id)
    desk = await make_department("Service Desk", slug="desk", parent=it.id)
    hr = await make_department("HR", slug="hr")
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=hr)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it)
    dora = await make_employee("Dora Desk", email="dora@example.com", department=desk)
    hana = await make_employee("Hana Ito", email="hana@example.com", department=hr)
    return {"ops": ops, "it": it, "desk": desk, "hr": hr, "admin": admin, "ravi": ravi, "dora": dora, "hana": hana}


async def as_admin(client_factory, org):
    return await signed_in(await client_factory(), org["admin"].email)


async def actions() -> list[str]:
    return [row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]


async def test_create_edit_and_refuse_a_parent_cycle(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    response = await post_form(client, "/admin/departments", {"name": "Legal & Compliance", "parent": ""})
    assert response.status_code == 303
    legal = await Department.select().where(Department.slug == "legal-compliance").first()
    assert response.headers["location"] == f"/admin/departments/{legal['id']}"

    duplicate = await post_form(client, "/admin/departments", {"name": "legal & compliance"})
    assert duplicate.status_code == 422 and "There already is a department called" in duplicate.text
    bad_slug = await post_form(client, "/admin/departments", {"name": "Tax", "slug": "Tax Office!"})
    assert bad_slug.status_code == 422 and "lowercase letters" in bad_slug.text

    ops = org["ops"]
    cycle = await post_form(client, f"/admin/departments/{ops.id}", {"name": "Operations", "slug": "ops",
                                                                      "parent": str(org["desk"].id)})  # fmt: skip
    assert cycle.status_code == 422 and "under itself or under one of its own sub-departments" in cycle.text
    assert (await Department.select(Department.parent).where(Department.id == ops.id).first())["parent"] is None

    renamed = await post_form(client, f"/admin/departments/{ops.id}", {"name": "Ops", "slug": "ops", "parent": ""})
    assert renamed.status_code == 303
    page = await client.get(f"/admin/departments/{ops.id}")
    assert page.status_code == 200 and "<h1>Ops" in page.text
    assert await actions() == ["department.create", "department.update"]


async def test_leads_and_the_service_catalogue(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    it = org["it"].id
    assert (await post_form(client, f"/admin/departments/{it}/leads", {"email": "ravi@example.com"})).status_code == 303
    again = await post_form(client, f"/admin/departments/{it}/leads", {"email": "ravi@example.com"})
    assert again.status_code == 409 and "already leads" in again.text
    unknown = await post_form(client, f"/admin/departments/{it}/leads", {"email": "who@example.com"})
    assert unknown.status_code == 422 and "No active person has the email" in unknown.text
    removed = await post_form(client, f"/admin/departments/{it}/leads/remove", {"employee": str(org["ravi"].id)})
    assert removed.status_code == 303 and await DepartmentLead.count() == 0

    service = {"name": "VPN help", "target_hours": "4", "hours": "Mon-Fri 8-18", "description": "Remote access"}
    assert (await post_form(client, f"/admin/departments/{it}/services", service)).status_code == 303
    bad = await post_form(client, f"/admin/departments/{it}/services", {**service, "name": "X", "target_hours": "0"})
    assert bad.status_code == 422 and "whole number of hours" in bad.text
    same = await post_form(client, f"/admin/departments/{it}/services", service)
    assert same.status_code == 422 and "already offers VPN help" in same.text
    vpn = await Service.select().where(Service.name == "VPN help").first()
    assert vpn["active"] and vpn["target_hours"] == 4
    edited = await post_form(client, f"/admin/departments/{it}/services/{vpn['id']}", {**service, "target_hours": "8"})
    assert edited.status_code == 303
    vpn = await Service.select().where(Service.id == vpn["id"]).first()
    assert vpn["target_hours"] == 8 and not vpn["active"]  # the box was left unticked: no longer offered
    assert await actions() == [
        "department.lead_add",
        "department.lead_remove",
        "service.create",
        "service.update",
    ]


async def test_archive_needs_an_empty_department(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    refused = await post_form(client, f"/admin/departments/{org['desk'].id}/archive")
    assert refused.status_code == 409 and "1 active member, " in refused.text
    empty = await make_department("Old Team", slug="old-team")
    assert (await post_form(client, f"/admin/departments/{empty.id}/archive")).status_code == 303
    assert "archived" in (await client.get(f"/admin/departments/{empty.id}")).text
    assert (await post_form(client, f"/admin/departments/{empty.id}/restore")).status_code == 303
    assert await actions() == ["department.archive", "department.restore"]


async def _give(giver, recipient, points: int = 5) -> None:
    user = await load_current_user(giver.id)
    await give_kudos(user, GiveForm(recipient_ids=[recipient.id], message="Thanks!", points=str(points)))


async def test_merge_moves_everything_and_keeps_boards_equal_to_a_rebuild(client_factory, org) -> None:
    it, desk, hr = org["it"], org["desk"], org["hr"]
    await make_lead(desk, org["dora"])
    await make_service(it, "Laptops")
    desk_laptops = await make_service(desk, "Laptops")
    await make_service(desk, "Phones")
    request_id = await make_request(org["hana"], desk, service=desk_laptops)
    await _give(org["ravi"], org["dora"])  # IT → Service Desk: cross-department before, internal after
    await _give(org["dora"], org["ravi"], 3)
    await _give(org["hana"], org["dora"], 2)  # HR → Service Desk
    await _give(org["dora"], org["hana"], 1)
    assert (await rollups.rebuild(check=True)).differences == dict.fromkeys(rollups.ROLLUP_TABLES, 0)
    client = await as_admin(client_factory, org)

    response = await post_form(client, f"/admin/departments/{desk.id}/merge", {"into": str(it.id)})

    assert response.status_code == 303 and response.headers["location"] == f"/admin/departments/{it.id}"
    assert (await Employee.select(Employee.department).where(Employee.id == org["dora"].id).first())[
        "department"
    ] == it.id
    request = await Request.select(Request.department, Request.service).where(Request.id == request_id).first()
    laptops = await Service.select(Service.id).where((Service.department == it.id) & (Service.name == "Laptops"))
    assert request == {"department": it.id, "service": laptops[0]["id"]} and len(laptops) == 1
    assert await Service.count().where(Service.department == desk.id) == 0
    assert await Service.count().where(Service.department == it.id) == 2
    assert await DepartmentLead.count().where(DepartmentLead.department == it.id) == 1
    assert (
        await LedgerEntry.count().where(
            (LedgerEntry.giver_department == desk.id) | (LedgerEntry.recipient_department == desk.id)
        )
        == 0
    )
    archived = await Department.select(Department.archived_at).where(Department.id == desk.id).first()
    assert archived["archived_at"] is not None

    report = await rollups.rebuild(check=True)
    assert report.differences == dict.fromkeys(rollups.ROLLUP_TABLES, 0)
    assert await DepartmentPeriod.count().where(DepartmentPeriod.department == desk.id) == 0
    it_all = (
        await DepartmentPeriod.select()
        .where((DepartmentPeriod.department == it.id) & (DepartmentPeriod.period == Period.ALL))
        .first()
    )
    assert it_all["points"] == 5 + 3 + 2 and it_all["kudos"] == 3 and it_all["cross_kudos"] == 1
    entry = await AuditEntry.select().where(AuditEntry.action == "department.merge").output(load_json=True).first()
    assert entry["after"]["people"] == 1 and entry["after"]["ledger_entries"] == 4
    assert hr.id  # untouched


async def test_merge_into_a_child_takes_the_parents_place(db, org) -> None:
    admin = await load_current_user(org["admin"].id)
    await department_merge.merge(admin, org["it"].id, org["desk"].id)
    desk = await Department.select(Department.parent).where(Department.id == org["desk"].id).first()
    assert desk["parent"] == org["ops"].id


@pytest.mark.parametrize("into", [None, "self", "archived", 999999])
async def test_merge_refusals_change_nothing(db, org, into) -> None:
    admin = await load_current_user(org["admin"].id)
    archived = await make_department("Gone", slug="gone")
    await departments.set_archived(admin, archived.id, True)
    target = {"self": org["desk"].id, "archived": archived.id}.get(into, into)
    with pytest.raises(RuleViolation) as refused:
        await department_merge.merge(admin, org["desk"].id, target)
    assert "into" in refused.value.errors
    assert await Employee.count().where(Employee.department == org["desk"].id) == 1
    assert await AuditEntry.count().where(AuditEntry.action == "department.merge") == 0


async def test_the_ledger_stays_append_only_outside_a_merge(db, org) -> None:
    await _give(org["ravi"], org["dora"])
    with pytest.raises(Exception, match="append-only"):
        await LedgerEntry.update({LedgerEntry.giver_department: org["hr"].id}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await LedgerEntry.update({LedgerEntry.amount: 100}, force=True)


async def test_company_values(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    assert (await post_form(client, "/admin/values", {"name": "Curiosity", "position": "3"})).status_code == 303
    duplicate = await post_form(client, "/admin/values", {"name": "Curiosity", "position": "1"})
    assert duplicate.status_code == 422 and "There already is a value called Curiosity" in duplicate.text
    bad = await post_form(client, "/admin/values", {"name": "Grit", "position": "-1"})
    assert bad.status_code == 422 and "whole number from 0 to 1000" in bad.text
    value = await CompanyValue.select().where(CompanyValue.name == "Curiosity").first()
    assert value["active"] and value["position"] == 3
    off = await post_form(client, f"/admin/values/{value['id']}", {"name": "Curiosity", "position": "3"})
    assert off.status_code == 303
    assert not (await CompanyValue.select().where(CompanyValue.id == value["id"]).first())["active"]
    page = await client.get("/admin/values")
    assert "not offered" in page.text
    assert await actions() == ["value.create", "value.update"]


async def test_allowance_policy_and_a_required_value(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    policy = {
        "employee_budget": "120",
        "manager_budget": "150",
        "admin_budget": "100",
        "manager_bonus_per_report": "5",
        "max_points_per_kudos": "20",
        "value_required": "on",
    }
    bad = await post_form(client, "/admin/allowances", {**policy, "max_points_per_kudos": "0"})
    assert bad.status_code == 422 and "a whole number from 1" in bad.text
    assert (await allowance.get_policy()).max_points_per_kudos == 50
    assert (await post_form(client, "/admin/allowances", policy)).status_code == 303
    saved = await allowance.get_policy()
    assert (saved.employee_budget, saved.max_points_per_kudos, saved.value_required) == (120, 20, True)
    ravi = await load_current_user(org["ravi"].id)
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(ravi, GiveForm(recipient_ids=[org["dora"].id], message="Thanks", points="5"))
    assert refused.value.errors["values"] == "Pick at least one company value."
    entry = await AuditEntry.select().where(AuditEntry.action == "allowance.update").output(load_json=True).first()
    assert entry["before"]["employee_budget"] == 100 and entry["after"]["employee_budget"] == 120
    unchanged = await post_form(client, "/admin/allowances", policy)
    assert unchanged.status_code == 303 and await AuditEntry.count() == 1


async def test_the_audit_log_filters_and_is_never_editable(client_factory, org) -> None:
    client = await as_admin(client_factory, org)
    await post_form(client, "/admin/values", {"name": "Curiosity", "position": "3"})
    await post_form(client, "/admin/departments", {"name": "Legal"})
    everything = await client.get("/admin/audit")
    assert "Added company value Curiosity" in everything.text and "Created department Legal" in everything.text
    only = await client.get("/admin/audit?action=department.create", headers={"HX-Request": "true"})
    assert "Created department Legal" in only.text and "Curiosity" not in only.text and "<h1>" not in only.text
    by_actor = await client.get("/admin/audit?actor=hana@example.com")
    assert "No entries match these filters." in by_actor.text
    future = await client.get("/admin/audit?since=2999-01-01")
    assert "No entries match these filters." in future.text
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.update({AuditEntry.summary: "nothing happened"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.delete(force=True)


async def test_the_audit_log_names_people_and_departments_instead_of_ids(client_factory, org) -> None:
    from app.audit.services import record

    client = await as_admin(client_factory, org)
    desk = org["desk"]
    moved = await post_form(client, f"/admin/departments/{desk.id}", {"name": "Service Desk", "slug": "desk",
                                                                       "parent": str(org["hr"].id)})  # fmt: skip
    assert moved.status_code == 303
    await record(  # as awards record an announcement: winners are tokens
        actor_id=org["admin"].id,
        action="awards.announce",
        target_type="award_cycle",
        target_id=1,
        summary="Announced the winners",
        after={"winners": [f"p{org['ravi'].id}", f"d{org['it'].id}"]},
    )
    page = (await client.get("/admin/audit")).text
    assert "<dt>parent</dt>\n          <dd><del>IT</del> → <ins>HR</ins></dd>" in page
    assert "<ins>Ravi Patel, IT</ins>" in page
    assert "[&#39;p" not in page and f"&#39;p{org['ravi'].id}" not in page
