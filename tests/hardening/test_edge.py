"""Input refused at the edge: NUL bytes anywhere (path, query, form fields) and numbers out of range give a 4xx with
a clear message — a page, a toast for HTMX, the JSON error for /api — never a 500, and change nothing."""

from __future__ import annotations

import pytest

from app.kudos.tables import Kudos
from app.people.tables import Role
from app.web.edge import NUL_MESSAGE
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, post_form, signed_in

NUL = "\x00"


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    return {
        "it": it,
        "giver": await make_employee("Gina Giver", department=it, email="gina@example.com"),
        "ravi": await make_employee("Ravi Resolver", department=it, email="ravi@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com", department=it),
    }


def _refused(response, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert "NUL characters" in response.text


async def test_a_nul_in_the_signed_out_login_form_is_a_400_page(client, org) -> None:
    response = await post_form(client, "/login", {"email": f"gina{NUL}@example.com", "password": "x"})
    _refused(response)
    assert "<html" in response.text


async def test_a_nul_in_a_kudos_message_is_refused_and_nothing_is_given(client, org) -> None:
    await signed_in(client, org["giver"].email)
    data = {
        "recipients": str(org["ravi"].id),
        "message": f"Thanks{NUL}!",
        "points": "5",
        "visibility": "public",
        "idempotency_key": "k1",
    }
    _refused(await post_form(client, "/kudos", data))
    toast = await post_form(client, "/kudos", data, headers=HTMX)
    _refused(toast)
    assert toast.headers["hx-retarget"] == "#toasts"
    assert await Kudos.count() == 0


@pytest.mark.parametrize(
    "url",
    ["/people?q=a%00b", "/people?q=%00", "/kudos/new?find=%00", "/departments/it%00", "/departments/%00", "/?x=%00"],
)
async def test_a_nul_in_the_query_or_path_is_a_400(client, org, url) -> None:
    await signed_in(client, org["giver"].email)
    _refused(await client.get(url))


async def test_a_nul_in_a_key_of_a_form_is_refused(client, org) -> None:
    await signed_in(client, org["giver"].email)
    _refused(await post_form(client, "/requests/new", {f"title{NUL}": "x"}))


async def test_a_nul_on_the_api_is_the_json_error(client, org) -> None:
    response = await client.get("/api/v1/leaderboards?period=%00")
    assert response.status_code == 400
    assert response.json()["detail"] == NUL_MESSAGE


async def test_a_page_number_out_of_range_is_not_a_500(client, org) -> None:
    await signed_in(client, org["giver"].email)
    for page in ("9" * 39, "-1", "0", "abc", "2147483648"):
        response = await client.get("/people", params={"page": page})
        assert response.status_code == 200, page
        assert "Gina Giver" in response.text or "No one" in response.text


async def test_the_digest_preview_refuses_huge_ids_and_far_months(client, org) -> None:
    await signed_in(client, org["admin"].email)
    huge = await client.get(
        "/admin/digests/preview", params={"person": "9" * 30, "month": "2026-10", "kind": "employee"}
    )
    assert huge.status_code == 422
    assert "No one with that" in huge.text
    far = await client.get(
        "/admin/digests/preview", params={"person": org["ravi"].email, "month": "9999-12", "kind": "employee"}
    )
    assert far.status_code == 422
    assert "Choose a month" in far.text
    html = await client.get(
        "/admin/digests/preview/html", params={"person": org["ravi"].email, "month": "9999-12", "kind": "employee"}
    )
    assert html.status_code == 404
    assert (await client.get("/admin/digests/9999-12")).status_code == 404


async def test_far_dates_in_the_audit_filters_and_hall_of_fame_are_ignored(client, org) -> None:
    await signed_in(client, org["admin"].email)
    assert (await client.get("/admin/audit", params={"since": "0001-01-01", "until": "9999-12-31"})).status_code == 200
    assert (await client.get("/awards/hall-of-fame", params={"year": "9" * 40})).status_code == 200
