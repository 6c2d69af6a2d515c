"""Directory, departments, profiles, admin landing, error pages and headers."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import httpx
import pytest
from litestar import get
from litestar.exceptions import InternalServerException

from app.main import create_app
from app.people.services import MEMBERS_SHOWN
from app.people.tables import Department, Employee, Role
from app.web.access_log import AccessLog
from app.web.errors import CLIENT_GONE
from tests.factories import make_department, make_employee, make_lead, make_request, make_service
from tests.helpers import HTMX, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it", description="Laptops & access")
    security = await make_department("IT Security", slug="it-security", parent=it.id)
    await make_service(it, "VPN help", target_hours=4)
    await make_service(it, "New laptop", target_hours=48)
    head = await make_employee(
        "Marta Quist", email="marta@example.com", role=Role.MANAGER, department=it, title="Head of IT"
    )
    await make_lead(it, head)
    worker = await make_employee(
        "Olu Bello", email="olu@example.com", department=it, manager=head, title="Support Engineer"
    )
    await make_employee("Gone Person", department=it, active=False)
    return {"it": it, "security": security, "head": head, "worker": worker}


async def test_departments_list_shows_counts_leads_and_children(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/departments")
    assert response.status_code == 200
    assert "IT Security" in response.text and "in IT" in response.text
    assert "2 members · 2 services" in response.text  # the inactive person is not counted
    assert "Marta Quist" in response.text


async def test_department_page_shows_catalogue_members_and_teams(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/departments/it")
    assert response.status_code == 200
    text = response.text
    assert "VPN help" in text and "<td>4 h</td>" in text  # targets read as everywhere else: wall-clock time
    assert "New laptop" in text and "<td>2 d</td>" in text and "working day" not in text
    assert "Laptops &amp; access" in text
    assert "Olu Bello" in text and "Gone Person" not in text
    members = text[text.index('id="members-heading"') :]
    assert members.index("Marta Quist") < members.index("Olu Bello")  # leads first
    assert "/departments/it-security" in text
    assert 'href="/requests/new?department=it"' in text


async def test_a_large_department_lists_its_first_members_and_pages_the_rest(client, org) -> None:
    for n in range(60):  # 62 active members in all with the head and Olu
        await make_employee(f"Member {n:02d}", department=org["it"], title="Analyst")
    await signed_in(client, "olu@example.com")
    text = (await client.get("/departments/it")).text
    members = text[text.index('id="members-heading"') :]
    assert "Members (62)" in members
    listed = re.findall(r'href="/people/\d+">([^<]+)</a>', members)
    assert len(listed) == MEMBERS_SHOWN and listed[0] == "Marta Quist"  # leads first, then by name
    assert listed[1:3] == ["Member 00", "Member 01"] and "Olu Bello" not in listed
    assert 'href="/departments/it/members">All 62 members of IT</a>' in members

    first = (await client.get("/departments/it/members")).text
    names = re.findall(r'href="/people/\d+">([^<]+)</a>', first[first.index("<h1>") :])
    assert names[:3] == ["Marta Quist", "Member 00", "Member 01"] and len(names) == 50  # by name, leads among them
    assert 'href="/departments/it/members?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = (await client.get("/departments/it/members?page=2")).text
    rest = re.findall(r'href="/people/\d+">([^<]+)</a>', second[second.index("<h1>") :])
    assert rest == [*(f"Member {n}" for n in range(49, 60)), "Olu Bello"] and 'rel="next"' not in second
    assert "Marta Quist" in first and '<span class="badge">Lead</span>' in first
    assert "Gone Person" not in first + second
    assert "No one is on this page" in (await client.get("/departments/it/members?page=9")).text
    assert (await client.get("/departments/it/members?page=abc")).status_code == 200  # read as the first page
    assert (await client.get("/departments/nope/members")).status_code == 404


async def test_a_profile_id_too_large_for_the_database_is_a_404(client, org) -> None:
    await signed_in(client, "olu@example.com")
    assert (await client.get("/people/99999999999")).status_code == 404


async def test_unknown_department_is_a_404_page(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/departments/nope")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "There is no department at that address." in response.text


async def test_profile_shows_manager_reports_and_leadership(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get(f"/people/{org['head'].id}")
    assert response.status_code == 200
    assert "Head of IT" in response.text
    assert "Olu Bello" in response.text  # direct report
    assert "Leads" in response.text
    response = await client.get(f"/people/{org['worker'].id}")
    assert "Reports to" in response.text and "Marta Quist" in response.text


async def test_unknown_profile_is_404(client, org) -> None:
    await signed_in(client, "olu@example.com")
    assert (await client.get("/people/999999")).status_code == 404
    assert (await client.get("/people/not-a-number")).status_code == 404


async def test_directory_search_page_and_fragment(client, org) -> None:
    await signed_in(client, "olu@example.com")
    page = await client.get("/people", params={"q": "it"})
    assert page.status_code == 200
    assert "<html" in page.text and 'id="directory-results"' in page.text
    assert page.headers["vary"] == "HX-Request"
    fragment = await client.get("/people", params={"q": "marta"}, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Marta Quist" in fragment.text and "Olu Bello" not in fragment.text
    # a boosted navigation or a history restore gets the whole page
    boosted = await client.get("/people", params={"q": "marta"}, headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in boosted.text
    restore = await client.get("/people", params={"q": "marta"}, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


async def test_directory_matches_departments_titles_and_hides_inactive(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/people", params={"q": "security"}, headers=HTMX)
    assert "/departments/it-security" in response.text
    response = await client.get("/people", params={"q": "support engineer"}, headers=HTMX)
    assert "Olu Bello" in response.text
    response = await client.get("/people", params={"q": "gone"}, headers=HTMX)
    assert "Gone Person" not in response.text and "No one matches" in response.text


async def test_directory_search_treats_like_wildcards_literally(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/people", params={"q": "%"}, headers=HTMX)
    assert "Olu Bello" not in response.text


async def test_directory_escapes_user_text(client, org) -> None:
    await make_employee("<script>alert(1)</script>", title="<b>x</b>")
    await signed_in(client, "olu@example.com")
    response = await client.get("/people", params={"q": "<script>"}, headers=HTMX)
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


async def test_directory_pages_through_everyone(client, org) -> None:
    for n in range(35):
        await make_employee(f"Zed {n:02d}")
    await signed_in(client, "olu@example.com")
    first = await client.get("/people")
    assert 'rel="next"' in first.text and "Zed 27" in first.text and "Zed 28" not in first.text
    second = await client.get("/people", params={"page": 2})
    assert "Zed 28" in second.text and "Zed 27" not in second.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


async def test_admin_landing_shows_organisation_and_system(client, org) -> None:
    admin = await make_employee(role=Role.ADMIN, email="root@example.com")
    await signed_in(client, admin.email)
    response = await client.get("/admin")
    assert response.status_code == 200
    assert "Active people</dt><dd>3</dd>" in response.text.replace("\n", "")
    assert "Database</dt><dd>answering" in response.text
    assert "no heartbeat yet" in response.text


async def test_nav_shows_admin_only_to_admins(client, org) -> None:
    await signed_in(client, "olu@example.com")
    assert 'href="/admin"' not in (await client.get("/")).text
    admin = await make_employee(role=Role.ADMIN, email="root@example.com")
    other = await signed_in(client, admin.email)
    assert 'href="/admin"' in (await other.get("/")).text


async def test_admin_landing_counts_people_departments_and_admins(client, org) -> None:
    admin = await make_employee(role=Role.ADMIN, email="root@example.com")
    await make_employee(role=Role.ADMIN, email="gone-admin@example.com", active=False)
    archived = await make_department("Old team", slug="old-team")
    await Department.update({Department.archived_at: datetime.now(UTC)}).where(Department.id == archived.id)
    text = (await (await signed_in(client, admin.email)).get("/admin")).text
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<a [^>]*>)?(\d+)", text))
    # active: Marta, Olu and the admin; deactivated: Gone Person and the former admin; IT and IT Security
    assert counts == {"Active people": "3", "Deactivated": "2", "Departments": "2", "Admins": "1"}


async def test_security_headers_and_csp_without_inline_scripts(client) -> None:
    response = await client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline scripts at all


async def test_healthz_reports_database_and_redis(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] and body["database"] and body["redis"]


async def test_unknown_path_is_a_404_page(client) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/page", 404), ("GET", "/static/nope.css", 404), ("DELETE", "/login", 405), ("GET", "/", 303)],
)
async def test_every_answer_carries_the_security_headers(client, method: str, path: str, status: int) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_htmx_errors_come_back_as_a_toast(client, org) -> None:
    await signed_in(client, "olu@example.com")
    response = await client.get("/admin", headers=HTMX)
    assert response.status_code == 403
    assert response.headers["hx-retarget"] == "#toasts"
    assert response.headers["hx-reswap"] == "beforeend"
    assert 'class="toast toast-error"' in response.text and "<html" not in response.text


async def test_unexpected_errors_show_the_500_page_without_details(db, org) -> None:
    @get("/test-explode", name="test-explode")
    async def explode() -> None:
        raise RuntimeError("secret internals")

    @get("/test-gone", name="test-gone")
    async def gone() -> None:
        raise InternalServerException(CLIENT_GONE)

    app = create_app(manage_pool=False)  # a fresh app, so the shared one keeps only real routes
    app.register(explode)
    app.register(gone)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("kudos.web").addHandler(handler)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        await signed_in(client, "olu@example.com")
        response = await client.get("/test-explode")
        assert response.status_code == 500
        assert "Something went wrong on our side" in response.text
        assert "secret internals" not in response.text
        fragment = await client.get("/test-explode", headers=HTMX)
        assert fragment.status_code == 500 and fragment.headers["hx-retarget"] == "#toasts"
        assert [(r.levelname, r.exc_info is not None) for r in records] == [("ERROR", True), ("ERROR", True)]
        records.clear()
        # a client that went away mid-request is no error to chase: logged as information, without a traceback
        assert (await client.get("/test-gone")).status_code == 500
        assert [(r.levelname, r.exc_info) for r in records] == [("INFO", None)]
    logging.getLogger("kudos.web").removeHandler(handler)
    await app.state.redis.aclose()


async def test_get_forms_carry_no_csrf_token(client, org) -> None:
    """A GET form puts its fields in the URL: the CSRF token must never be one of them (item of issue 15)."""
    await Employee.update({Employee.role: Role.ADMIN}).where(Employee.id == org["head"].id)
    request_id = await make_request(org["worker"], org["it"])
    await signed_in(client, "marta@example.com")
    pages = ["/people", "/requests", f"/requests/{request_id}", "/awards/hall-of-fame", "/admin/digests"]
    pages += ["/admin/audit", "/admin/people", "/kudos/new"]
    checked = 0
    for url in pages:
        page = await client.get(url)
        assert page.status_code == 200, url
        for form in re.findall(r"<form\b[^>]*>.*?</form>", page.text, flags=re.S):
            opening = form[: form.index(">")]
            if 'method="get"' in opening or "hx-get=" in opening:
                checked += 1
                assert "_csrf_token" not in form, (url, opening)
        assert 'formmethod="get"' not in page.text, url  # a GET button inside a POST form sends its token
    assert checked >= 7


async def test_the_access_log_has_one_line_per_request_without_the_query(caplog) -> None:
    async def app(scope, receive, send) -> None:
        status = 404 if scope["path"] == "/nowhere" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    transport = httpx.ASGITransport(AccessLog(app))
    with caplog.at_level(logging.INFO, logger="kudos.http"):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as plain:
            await plain.get("/people?q=secret")
            await plain.post("/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "kudos.http"]
    assert len(lines) == 2
    assert re.fullmatch(r"GET /people 200 \d+\.\d ms", lines[0]) and "secret" not in lines[0]
    assert re.fullmatch(r"POST /nowhere 404 \d+\.\d ms", lines[1])
