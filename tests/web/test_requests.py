"""The requests pages and actions: full pages and HTMX fragments, bad input, denials and no-JS flows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.notifications.tables import Kind, Notification
from app.people.tables import Role
from app.requests import workflow
from app.requests.tables import Request, RequestEvent, RequestRating, RequestResolver, Status
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_lead, make_request, make_service
from tests.helpers import HTMX, post_form, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    hr = await make_department("HR", slug="hr")
    vpn = await make_service(it, "VPN help", target_hours=4)
    invoices = await make_service(finance, "Invoices")
    head = await make_employee("Marta Quist", email="marta@example.com", role=Role.MANAGER, department=it)
    await make_lead(it, head)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it)
    olu = await make_employee("Olu Bello", email="olu@example.com", department=it)
    ana = await make_employee("Ana Silva", email="ana@example.com", department=finance)
    hana = await make_employee("Hana Ito", email="hana@example.com", department=hr)
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=hr)
    return {
        "it": it,
        "finance": finance,
        "hr": hr,
        "vpn": vpn,
        "invoices": invoices,
        "head": head,
        "ravi": ravi,
        "olu": olu,
        "ana": ana,
        "hana": hana,
        "admin": admin,
    }


async def as_(client_factory, who) -> object:
    client = await client_factory()
    return await signed_in(client, who.email)


async def state(request_id: int) -> dict:
    row = await Request.select(Request.status).where(Request.id == request_id).first()
    return {
        "status": row["status"],
        "events": await RequestEvent.count().where(RequestEvent.request == request_id),
        "resolvers": await RequestResolver.count().where(RequestResolver.request == request_id),
        "notifications": await Notification.count(),
        "ratings": await RequestRating.count(),
    }


async def follow_with_flash(client, response, message: str) -> str:
    """A no-JS action: 303 to the request's page, which shows the flash message once."""
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    flash = page.text[page.text.index('id="flash"') :]
    assert message in flash[: flash.index("</div>")]
    return page.text


# --- the lists ------------------------------------------------------------------------------------------------


async def test_requests_page_and_fragment(client_factory, org) -> None:
    await make_request(org["ana"], org["it"], "Laptop won't boot", resolvers=(org["ravi"],))
    await make_request(org["ana"], org["it"], "Old printer", resolvers=(org["ravi"],), status="completed")
    ana = await as_(client_factory, org["ana"])
    page = await ana.get("/requests")
    assert page.status_code == 200 and "<html" in page.text
    assert page.headers["vary"] == "HX-Request"
    assert 'id="requests-panel"' in page.text and "Laptop won&#39;t boot" in page.text
    assert "Old printer" not in page.text  # open and in progress by default
    assert "Ravi Patel" in page.text and "In progress" in page.text
    assert 'aria-current="page">My requests' in page.text
    fragment = await ana.get("/requests", params={"box": "mine", "status": "completed"}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="requests-panel"' in fragment.text
    assert "Old printer" in fragment.text and "Laptop" not in fragment.text
    assert 'hx-push-url="true"' in fragment.text


async def test_queue_tab_shows_the_department_queue(client_factory, org) -> None:
    await make_request(org["ana"], org["it"], "Need VPN")
    await make_request(org["ravi"], org["hr"], "Payslip question")
    ravi = await as_(client_factory, org["ravi"])
    queue = await ravi.get("/requests", params={"box": "queue"}, headers=HTMX)
    assert "Need VPN" in queue.text and "Payslip question" not in queue.text
    assert 'aria-current="page">My department&#39;s queue' in queue.text
    mine = await ravi.get("/requests", params={"box": "mine"}, headers=HTMX)
    assert "Payslip question" in mine.text and "Need VPN" not in mine.text


async def test_requests_list_pages_with_plain_links(client_factory, org) -> None:
    for n in range(27):
        await make_request(org["ana"], org["it"], f"Request number {n:02d}")
    ana = await as_(client_factory, org["ana"])
    first = await ana.get("/requests")
    assert "Request number 26" in first.text and "Request number 01" not in first.text
    link = re.search(r'href="(/requests\?box=mine&amp;status=active&amp;cursor=[^"]+)" [^>]*rel="next"', first.text)
    assert link, first.text
    second = await ana.get(link.group(1).replace("&amp;", "&"))
    assert "Request number 01" in second.text and "Request number 00" in second.text
    assert "Request number 26" not in second.text and 'rel="next"' not in second.text
    assert "← Newest" in second.text


# --- filing ---------------------------------------------------------------------------------------------------


async def test_new_request_form_preselects_a_department_by_slug(client_factory, org) -> None:
    ana = await as_(client_factory, org["ana"])
    page = await ana.get("/requests/new", params={"department": "it"})
    assert page.status_code == 200 and "<html" in page.text
    assert f'<option value="{org["it"].id}" selected>IT</option>' in page.text
    assert "VPN help" in page.text and "Invoices" in page.text  # every department's services without JS
    assert 'name="_csrf_token"' in page.text


async def test_changing_the_department_with_htmx_narrows_the_services(client_factory, org) -> None:
    ana = await as_(client_factory, org["ana"])
    fragment = await ana.get("/requests/new", params={"department": str(org["it"].id)}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="service-field"' in fragment.text
    assert "VPN help" in fragment.text and "Invoices" not in fragment.text


async def test_filing_without_js_redirects_with_a_flash(client_factory, org) -> None:
    ana = await as_(client_factory, org["ana"])
    response = await post_form(
        ana,
        "/requests/new",
        {"department": str(org["it"].id), "service": str(org["vpn"].id), "title": "VPN drops", "description": "Hourly"},
    )
    request_id = (await Request.select(Request.id).first())["id"]
    assert response.headers["location"] == f"/requests/{request_id}"
    page = await follow_with_flash(ana, response, "Your request has been filed.")
    assert "VPN drops" in page and "Hourly" in page and "VPN help" in page


async def test_filing_with_htmx_redirects_the_client(client_factory, org) -> None:
    ana = await as_(client_factory, org["ana"])
    response = await post_form(ana, "/requests/new", {"department": str(org["it"].id), "title": "VPN"}, headers=HTMX)
    request_id = (await Request.select(Request.id).first())["id"]
    assert response.status_code == 200 and response.headers["hx-redirect"] == f"/requests/{request_id}"


async def test_bad_input_re_renders_the_form_with_input_kept(client_factory, org) -> None:
    ana = await as_(client_factory, org["ana"])
    data = {
        "department": str(org["it"].id),
        "service": str(org["invoices"].id),
        "title": "   ",
        "description": "Keep <this> text",
    }
    page = await post_form(ana, "/requests/new", data)
    assert page.status_code == 422 and "<html" in page.text
    assert "Give your request a short title." in page.text
    assert "That service is offered by Finance, not IT." in page.text
    assert "Keep &lt;this&gt; text</textarea>" in page.text
    assert f'<option value="{org["it"].id}" selected>IT</option>' in page.text
    assert 'aria-invalid="true" aria-describedby="request-title-error"' in page.text
    fragment = await post_form(ana, "/requests/new", {**data, "department": "nonsense"}, headers=HTMX)
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<form id="new-request-form"')
    assert "Choose a department from the list." in fragment.text
    too_long = await post_form(ana, "/requests/new", {"department": str(org["it"].id), "title": "x" * 201})
    assert too_long.status_code == 422 and "Keep the title to 200 characters or fewer (it has 201)." in too_long.text
    assert await Request.count() == 0


# --- one request ----------------------------------------------------------------------------------------------


async def test_request_page_and_fragment_with_history(client_factory, org) -> None:
    request_id = await make_request(
        org["ana"], org["it"], "<b>Laptop</b>", description="It <script>beeps</script>", resolvers=(org["ravi"],)
    )
    hana = await as_(client_factory, org["hana"])  # anyone signed in may look
    page = await hana.get(f"/requests/{request_id}")
    assert page.status_code == 200 and "<html" in page.text
    assert "&lt;b&gt;Laptop&lt;/b&gt;" in page.text and "<script>beeps" not in page.text
    assert f'filed by <a href="/people/{org["ana"].id}">Ana Silva</a>' in page.text
    assert "filed the request" in page.text and "picked it up" in page.text
    assert "In progress" in page.text and "Nothing for you to do here." in page.text
    fragment = await hana.get(f"/requests/{request_id}", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="request-detail"' in fragment.text and "picked it up" in fragment.text
    assert (await hana.get("/requests/999999")).status_code == 404
    assert (await hana.get("/requests/99999999999")).status_code == 404


async def test_claim_without_js_and_with_htmx(client_factory, org) -> None:
    first = await make_request(org["ana"], org["it"])
    second = await make_request(org["ana"], org["it"])
    ravi = await as_(client_factory, org["ravi"])
    page = await follow_with_flash(
        ravi, await post_form(ravi, f"/requests/{first}/claim"), "You are working on this request."
    )
    assert "Mark as completed" in page
    fragment = await post_form(ravi, f"/requests/{second}/claim", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "You are working on this request." in fragment.text and "Mark as completed" in fragment.text
    assert (await state(second))["status"] == Status.IN_PROGRESS


async def test_someone_from_another_department_cannot_claim(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    before = await state(request_id)
    hana = await as_(client_factory, org["hana"])
    page = await post_form(hana, f"/requests/{request_id}/claim")
    assert page.status_code == 403 and "<html" in page.text
    assert "Only members of IT can claim its requests." in page.text
    fragment = await post_form(hana, f"/requests/{request_id}/claim", headers=HTMX)
    assert fragment.status_code == 403 and 'id="request-detail"' in fragment.text
    assert "Only members of IT can claim its requests." in fragment.text
    assert await state(request_id) == before


async def test_actions_on_an_unknown_request_are_404(client_factory, org) -> None:
    ravi = await as_(client_factory, org["ravi"])
    response = await post_form(ravi, "/requests/999999/claim")
    assert response.status_code == 404 and "There is no request with that number." in response.text


async def test_adding_a_resolver_by_search_and_by_select(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    ravi = await as_(client_factory, org["ravi"])
    page = await ravi.get(f"/requests/{request_id}")
    candidates = page.text[page.text.index('id="resolver-candidates"') :]
    assert "Olu Bello" in candidates and "Hana Ito" not in candidates  # department members only, until a search
    assert "Ana Silva" not in candidates[: candidates.index("</select>")]
    found = await ravi.get(f"/requests/{request_id}", params={"find": "hana"})  # the no-JS search
    assert f'<option value="{org["hana"].id}"' in found.text and "Matching “hana”" in found.text
    live = await ravi.get(f"/requests/{request_id}", params={"find": "hana"}, headers=HTMX)  # as you type
    assert "<html" not in live.text and f'<option value="{org["hana"].id}"' in live.text
    response = await post_form(ravi, f"/requests/{request_id}/resolvers", {"employee": str(org["hana"].id)})
    page = await follow_with_flash(ravi, response, "Hana Ito now works on this request too.")
    assert "added Hana Ito as a resolver" in page
    await run_stored_events()  # the worker notifies
    note = await Notification.select().where(Notification.recipient == org["hana"].id).first()
    assert note["kind"] == Kind.REQUEST_ASSIGNED
    fragment = await post_form(
        ravi, f"/requests/{request_id}/resolvers", {"employee": str(org["olu"].id)}, headers=HTMX
    )
    assert fragment.status_code == 200 and "Olu Bello now works on this request too." in fragment.text


async def test_adding_a_resolver_refuses_bad_choices_next_to_the_field(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    before = await state(request_id)
    ravi = await as_(client_factory, org["ravi"])
    page = await post_form(ravi, f"/requests/{request_id}/resolvers", {"employee": ""})
    assert page.status_code == 422 and "Choose the colleague to add." in page.text
    assert 'id="resolvers-employee-error"' in page.text
    fragment = await post_form(
        ravi, f"/requests/{request_id}/resolvers", {"employee": str(org["ravi"].id)}, headers=HTMX
    )
    assert fragment.status_code == 422 and "Ravi Patel already works on this request." in fragment.text
    for bad in ("abc", "99999999999999"):
        response = await post_form(ravi, f"/requests/{request_id}/resolvers", {"employee": bad})
        assert response.status_code == 422 and "Choose an active colleague." in response.text
    hana = await as_(client_factory, org["hana"])
    denied = await post_form(hana, f"/requests/{request_id}/resolvers", {"employee": str(org["olu"].id)})
    assert denied.status_code == 403
    assert "Only people working on this request or members of IT can add resolvers." in denied.text
    assert await state(request_id) == before


async def test_complete_without_js_and_with_htmx(client_factory, org) -> None:
    first = await make_request(org["ana"], org["it"], "Laptop won't boot", resolvers=(org["ravi"],))
    second = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    ravi = await as_(client_factory, org["ravi"])
    page = await follow_with_flash(ravi, await post_form(ravi, f"/requests/{first}/complete"), "Request completed.")
    assert "completed it" in page and "turnaround" in page
    await run_stored_events()  # the worker notifies
    note = await Notification.select().where(Notification.recipient == org["ana"].id).first()
    assert note["text"] == "Ravi Patel completed your request “Laptop won't boot”"
    fragment = await post_form(ravi, f"/requests/{second}/complete", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "Completed" in fragment.text


async def test_completing_a_request_you_do_not_work_on_is_forbidden(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    before = await state(request_id)
    olu = await as_(client_factory, org["olu"])
    page = await post_form(olu, f"/requests/{request_id}/complete")
    assert page.status_code == 403
    assert "Only the people working on this request can complete it." in page.text
    assert await state(request_id) == before


async def test_completing_twice_is_a_conflict(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    ravi = await as_(client_factory, org["ravi"])
    response = await post_form(ravi, f"/requests/{request_id}/complete", headers=HTMX)
    assert response.status_code == 409 and "This request is already completed." in response.text


async def test_cancel_needs_a_reason_from_staff(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    before = await state(request_id)
    head = await as_(client_factory, org["head"])
    page = await post_form(head, f"/requests/{request_id}/cancel", {"reason": "  "})
    assert page.status_code == 422
    assert "Tell the requester why you are cancelling their request." in page.text
    assert '<details class="cancel-request" open>' in page.text
    assert await state(request_id) == before
    response = await post_form(head, f"/requests/{request_id}/cancel", {"reason": "Duplicate <of> #3"})
    page = await follow_with_flash(head, response, "Request cancelled.")
    assert "cancelled it: “Duplicate &lt;of&gt; #3”" in page and "Cancelled" in page


async def test_requester_cancels_with_htmx_and_outsiders_cannot(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    hana = await as_(client_factory, org["hana"])
    denied = await post_form(hana, f"/requests/{request_id}/cancel", {"reason": "no"}, headers=HTMX)
    assert denied.status_code == 403
    assert "Only the requester or members of IT can cancel this request." in denied.text
    ana = await as_(client_factory, org["ana"])
    fragment = await post_form(ana, f"/requests/{request_id}/cancel", headers=HTMX)
    assert fragment.status_code == 200 and "Request cancelled." in fragment.text
    assert (await state(request_id))["status"] == Status.CANCELLED


# --- rating ---------------------------------------------------------------------------------------------------


async def test_rating_bad_input_keeps_the_choices(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    ana = await as_(client_factory, org["ana"])
    page = await ana.get(f"/requests/{request_id}")
    assert "Rate this request" in page.text and f'href="/kudos/new?request={request_id}"' in page.text
    data = {"timeliness": "4", "quality": "9", "communication": "", "comment": "Fine <really>"}
    response = await post_form(ana, f"/requests/{request_id}/rating", data)
    assert response.status_code == 422 and "<html" in response.text
    assert "Rate quality from 1 to 5." in response.text and "Rate communication from 1 to 5." in response.text
    assert "Rate timeliness" not in response.text
    assert 'name="timeliness" value="4" checked' in response.text
    assert "Fine &lt;really&gt;</textarea>" in response.text
    fragment = await post_form(ana, f"/requests/{request_id}/rating", {**data, "comment": "c" * 2001}, headers=HTMX)
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert "Keep the comment to 2000 characters or fewer (it has 2001)." in fragment.text
    assert await RequestRating.count() == 0


async def test_rating_without_js_then_twice_is_a_conflict(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    ana = await as_(client_factory, org["ana"])
    data = {"timeliness": "5", "quality": "4", "communication": "3", "comment": "Secret praise"}
    page = await follow_with_flash(
        ana, await post_form(ana, f"/requests/{request_id}/rating", data), "Thank you for your feedback."
    )
    assert "Secret praise" in page and "Rate this request" not in page
    again = await post_form(ana, f"/requests/{request_id}/rating", data, headers=HTMX)
    assert again.status_code == 409 and "You have already rated this request." in again.text
    assert await RequestRating.count() == 1


async def test_rating_a_request_you_did_not_file_is_forbidden(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    ravi = await as_(client_factory, org["ravi"])
    response = await post_form(ravi, f"/requests/{request_id}/rating", {"timeliness": "5", "quality": "5"})
    assert response.status_code == 403 and "Only the person who filed this request can rate it." in response.text
    assert await RequestRating.count() == 0


async def test_the_rating_is_shown_only_to_resolvers_leads_and_the_requester(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await workflow.rate(org["ana"].id, request_id, 2, 3, 4, "Secret critique")
    for who in ("ana", "ravi", "head"):
        client = await as_(client_factory, org[who])
        page = await client.get(f"/requests/{request_id}")
        assert "Secret critique" in page.text and "2 of 5" in page.text, who
    for who in ("olu", "hana", "admin"):
        client = await as_(client_factory, org[who])
        for headers in ({}, HTMX):
            page = await client.get(f"/requests/{request_id}", headers=headers)
            assert page.status_code == 200
            assert "Secret critique" not in page.text and "of 5" not in page.text, who
            assert "The requester has given feedback." in page.text


async def test_forms_need_the_csrf_token(client_factory, org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    ravi = await as_(client_factory, org["ravi"])
    response = await ravi.post(f"/requests/{request_id}/claim")
    assert response.status_code == 403
    assert (await state(request_id))["resolvers"] == 0


async def test_requests_past_their_target_say_so_and_open_ones_show_their_age(client_factory, org) -> None:
    late = await make_request(
        org["ana"], org["it"], "Late VPN", service=org["vpn"], created_at=now() - timedelta(hours=71)
    )
    fresh = await make_request(
        org["ana"], org["it"], "Fresh VPN", service=org["vpn"], created_at=now() - timedelta(hours=1)
    )
    marta = await as_(client_factory, org["head"])
    queue = (await marta.get("/requests?box=queue")).text
    assert queue.count("over target by") == 1 and "over target by 2 d 19 h" in queue
    assert "open for 2 d 23 h" in queue and "open for 1 h" in queue
    page = (await marta.get(f"/requests/{late}")).text
    assert '<span class="status status-overdue">over target by 2 d 19 h</span>' in page
    assert "(open for 2 d 23 h; target 4 h)" in page
    assert page.count(">Status<") == 1  # a heading, not also a label
    assert "over target" not in (await marta.get(f"/requests/{fresh}")).text
    catalogue = (await marta.get("/departments/it")).text
    assert "<td>4 h</td>" in catalogue and "working day" not in catalogue
    form = (await marta.get("/requests/new?department=it")).text
    assert "VPN help (target 4 h)" in form
