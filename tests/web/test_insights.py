"""Insights over HTTP: each view as a page and as an HTMX fragment, role denials and the manager's scope, CSV
export, review marks, the threshold setting, on-demand runs and the department page's partners."""

from __future__ import annotations

import csv
import io

import pytest

from app.audit.tables import AuditEntry
from app.insights import rollups, runs
from app.insights.tables import DetectionRun, Finding, FindingReview
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from tests.factories import make_department, make_employee, make_lead, make_request
from tests.helpers import HTMX, post_form, signed_in

VIEWS = ("participation", "equity", "invisible", "signals", "map")


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    boss = await make_employee("Boss Lead", department=it, role=Role.MANAGER, email="boss@example.com")
    await make_lead(it, boss)
    people = {
        "it": it,
        "boss": boss,
        "ravi": await make_employee("Ravi Resolver", department=it, manager=boss, email="ravi@example.com"),
        "gina": await make_employee("=Gina Giver", department=finance, email="gina@example.com"),
        "otto": await make_employee("Otto Other", department=finance, email="otto@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com"),
    }
    request_id = await make_request(people["gina"], it, resolvers=(people["ravi"],), status="completed")
    for recipient, points in ((people["ravi"], 20), (people["otto"], 30), (people["otto"], 30)):
        form = GiveForm(recipient_ids=[recipient.id], message="Thank you!", points=str(points),
                        request_id=request_id if recipient is people["ravi"] else None)  # fmt: skip
        await give_kudos(await load_current_user(people["gina"].id), form)
    form = GiveForm(recipient_ids=[people["ravi"].id], message="Thanks for the VPN!", points="30")
    await give_kudos(await load_current_user(people["otto"].id), form)
    await rollups.refresh_recent()
    return people


async def _run_detection(percent: int = 10) -> int:
    run_id = await runs.start_run(runs.RunKind.NIGHTLY, runs.last_days(), label="Last 90 days")
    await DetectionRun.update({DetectionRun.concentration_percent: percent}).where(DetectionRun.id == run_id)
    await runs.execute_run(run_id)
    return run_id


@pytest.mark.parametrize("view", VIEWS)
async def test_admin_sees_each_view_as_a_page_and_as_a_fragment(client, org, view) -> None:
    await _run_detection()
    await signed_in(client, "ada@example.com")
    page = await client.get(f"/admin/insights?view={view}&period=quarter")
    assert page.status_code == 200 and "<html" in page.text
    assert page.headers["vary"] == "HX-Request"
    assert "<svg" in page.text and "<table" in page.text and "<caption" in page.text
    current = 'value="quarter" selected>' if view == "signals" else 'aria-current="page">This quarter'
    assert current in page.text
    fragment = await client.get(f"/admin/insights?view={view}&period=quarter", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="insights-view"')


async def test_views_show_the_figures(client, org) -> None:
    await _run_detection()
    await signed_in(client, "ada@example.com")
    text = (await client.get("/admin/insights?view=map")).text
    assert "IT served Finance: 1 requests, 2 kudos back" in text
    text = (await client.get("/admin/insights?view=signals")).text
    assert "Concentration" in text and "=Gina Giver sent Otto Other" in text and "Not reviewed" in text
    text = (await client.get("/admin/insights?view=participation")).text
    assert "All departments" in text


@pytest.mark.parametrize("path", ["/insights", "/admin/insights", "/insights/export.csv", "/admin/insights/export.csv"])
async def test_employees_are_refused(client, org, path) -> None:
    await signed_in(client, "ravi@example.com")
    assert (await client.get(path)).status_code == 403


async def test_signed_out_people_are_sent_to_sign_in(client, org) -> None:
    response = await client.get("/insights")
    assert response.status_code in {302, 303, 401}


async def test_manager_sees_their_scope_only(client, org) -> None:
    run_id = await _run_detection()
    finding = await Finding.select(Finding.id).where(Finding.run == run_id).first()
    await signed_in(client, "boss@example.com")
    assert (await client.get("/admin/insights")).status_code == 403
    page = await client.get("/insights?view=equity&period=month")
    assert page.status_code == 200 and "Your department" in page.text
    assert "Ravi Resolver" in page.text and "Gina Giver" not in page.text  # Gina gives much; she is in Finance
    signals = await client.get("/insights?view=signals")
    assert "Gina Giver" not in signals.text and "Run detection" not in signals.text
    assert (await client.get(f"/insights/signals/{finding['id']}")).status_code == 404
    csv_text = (await client.get("/insights/export.csv?view=equity")).content.decode("utf-8-sig")
    assert "Ravi Resolver" in csv_text and "Gina" not in csv_text
    # the nav leads managers to their own insights
    assert 'href="/insights"' in page.text


async def test_csv_export_of_each_view(client, org) -> None:
    await _run_detection()
    await signed_in(client, "ada@example.com")
    for view in VIEWS:
        response = await client.get(f"/admin/insights/export.csv?view={view}&period=year")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith(
            f'attachment; filename="{"service-map" if view == "map" else view}'
        )
        assert response.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) >= 2, view
    equity = (await client.get("/admin/insights/export.csv?view=equity")).content.decode("utf-8-sig")
    gina = next(r for r in csv.reader(io.StringIO(equity)) if "Gina" in ",".join(r))
    assert gina[:2] == ["gives more", "'=Gina Giver"]  # a name starting with = cannot run as a formula
    signals = list(
        csv.reader(
            io.StringIO((await client.get("/admin/insights/export.csv?view=signals")).content.decode("utf-8-sig"))
        )
    )
    assert signals[1][1] == "Concentration" and signals[1][6] == "Not reviewed"


async def test_review_a_signal_with_and_without_htmx(client, org) -> None:
    run_id = await _run_detection()
    finding = await Finding.select(Finding.id).where(Finding.run == run_id).first()
    url = f"/admin/insights/signals/{finding['id']}"
    await signed_in(client, "ada@example.com")
    page = await client.get(url)
    assert page.status_code == 200 and "Evidence: 2 kudos" in page.text and "Mark this pattern" in page.text

    bad = await post_form(client, url + "/review", {"status": "meh", "note": "x"})
    assert bad.status_code == 422 and "Choose" in bad.text
    assert await FindingReview.count() == 0 and await AuditEntry.count().where(AuditEntry.action.like("insights%")) == 0
    missing = await post_form(client, "/admin/insights/signals/999999/review", {"status": "fine"})
    assert missing.status_code == 404

    done = await post_form(client, url + "/review", {"status": "acted", "note": "Talked to Gina."})
    assert done.status_code == 303 and done.headers["location"] == url
    fragment = await post_form(client, url + "/review", {"status": "fine", "note": ""}, headers=HTMX)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<section id="signal-review"')
    assert "data-focus-after-swap" in fragment.text and "Reviewed — acted" in fragment.text
    assert await AuditEntry.count().where(AuditEntry.action == "insights.signal_reviewed") == 2
    assert "Reviewed — fine" in (await client.get("/admin/insights?view=signals")).text

    await signed_in(client, "boss@example.com")
    refused = await post_form(client, url + "/review", {"status": "fine"})
    assert refused.status_code == 403


async def test_threshold_setting_refuses_bad_input_and_changes_nothing(client, org) -> None:
    await signed_in(client, "ada@example.com")
    for bad in ("5", "abc", "1000"):
        response = await post_form(client, "/admin/insights/settings", {"concentration_percent": bad})
        assert response.status_code == 422 and "whole percentage from 10 to 100" in response.text
        assert f'value="{bad}"' in response.text
    assert await runs.concentration_percent() == 50
    response = await post_form(client, "/admin/insights/settings", {"concentration_percent": "30"})
    assert response.status_code == 303 and await runs.concentration_percent() == 30


async def test_run_detection_for_a_period_on_request(client, org) -> None:
    await signed_in(client, "ada@example.com")
    response = await post_form(client, "/admin/insights/runs", {"period": "quarter"})
    assert response.status_code == 303
    run = await DetectionRun.select().first()
    assert run["kind"] == "on_demand" and run["status"] == "pending" and run["requested_by"] == org["admin"].id
    assert response.headers["location"].endswith(f"run={run['id']}")
    page = await client.get(response.headers["location"])
    assert "still running" in page.text


async def test_department_page_lists_top_customers_and_suppliers(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    page = await client.get("/departments/it")
    assert page.status_code == 200
    section = page.text[page.text.index('id="partners-heading"') :]
    assert "Top customers" in section and "Finance" in section.split("Top suppliers")[0]
