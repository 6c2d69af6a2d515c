"""The scorecard on `/departments/{slug}` (SPEC B7): figures next to the published targets, months as columns,
"no data" readable without colour, and a department without a catalogue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.requests import workflow
from app.timeutil import month_bounds, month_of, now
from tests.factories import make_department, make_employee, make_service
from tests.helpers import signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    vpn = await make_service(it, "VPN help", target_hours=4)
    await make_service(it, "New laptop", target_hours=48)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it)
    finance = await make_department("Finance", slug="finance")
    ana = await make_employee("Ana Silva", email="ana@example.com", department=finance)
    return {"it": it, "vpn": vpn, "ravi": ravi, "ana": ana}


def row(html: str, label: str) -> list[str]:
    """The cells of the scorecard row headed `label`, as text (tags dropped, spaces squeezed)."""
    match = re.search(rf'<th scope="row">{re.escape(label)}.*?</th>(.*?)</tr>', html, re.S)
    assert match, f"no row {label!r}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


async def test_department_page_shows_the_scorecard_against_its_targets(client, org) -> None:
    start = month_bounds(month_of(now()))[0]  # this month, in the organisation's zone (may complete "later today")
    request_id = await workflow.file_request(org["ana"].id, org["it"].id, org["vpn"].id, "VPN down", at=start)
    await workflow.claim(org["ravi"].id, request_id, at=start + timedelta(minutes=30))
    await workflow.complete(org["ravi"].id, request_id, at=start + timedelta(hours=2))
    await signed_in(client, "ana@example.com")

    response = await client.get("/departments/it")

    assert response.status_code == 200
    html = response.text
    assert 'id="scorecard-heading"' in html and "<caption" in html
    assert f"{month_of(now()):%b %Y}" in html and "(so far)" in html
    scorecard = html[html.index('id="scorecard"') :]
    assert scorecard.count('<th scope="col"') == 2 + 7  # measure, target and seven months
    # target column first, then this month, then the six before it (no data: "—" plus hidden text)
    assert row(html, "Requests completed") == ["— no target", "1", "0", "0", "0", "0", "0", "0"]
    assert row(html, "Median first response")[:3] == ["— no target", "30 min", "— no data"]
    assert row(html, "Median turnaround")[:3] == ["4 h to 2 d (by service)", "2 h", "— no data"]
    assert row(html, "Completed within target")[:2] == [
        "Target of each service: New laptop: 2 d VPN help: 4 h",
        "100% (1 of 1)",
    ]
    assert row(html, "Kudos from other departments")[1] == "0"
    assert row(html, "Timeliness (average of 5)")[1] == "— no data"
    # the rest of the page is still there
    assert "Service catalogue" in html and 'id="members-heading"' in html


async def test_a_department_without_catalogue_or_requests_says_so(client, org) -> None:
    await make_department("R&D Lab", slug="lab")
    await signed_in(client, "ana@example.com")
    response = await client.get("/departments/lab")
    assert response.status_code == 200
    html = response.text
    assert "R&amp;D Lab: service by month" in html
    assert "no published targets" in html
    assert row(html, "Median turnaround") == ["no published targets"] + ["— no data"] * 7
    assert row(html, "Requests completed")[1:] == ["0"] * 7
