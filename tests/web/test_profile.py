"""The profile page (/people/{id}): level, giving streak, badges with dates, the recognition chart and recent
public kudos (SPEC F7, Pages)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import timeutil
from app.boards import levels, rollups
from app.kudos.changes import revoke
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from app.timeutil import now
from app.web import templating
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_lead
from tests.helpers import signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    return {
        "ravi": await make_employee("Ravi Resolver", department=it, email="ravi@example.com"),
        "gina": await make_employee("Gina Giver", department=finance, email="gina@example.com"),
        "otto": await make_employee("Otto Other", department=finance, email="otto@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com"),
    }


async def thank(giver, *recipients, at: datetime | None = None, **fields) -> int:
    values = {"message": "Thanks for the quick fix!", "points": "10", **fields}
    current = await load_current_user(giver.id)
    form = GiveForm(recipient_ids=[r.id for r in recipients], **values)
    kudos_id = (await give_kudos(current, form, at=at)).kudos_id
    await run_stored_events()  # what the worker does next: badges among others
    return kudos_id


def section(text: str, element_id: str) -> str:
    """The HTML of the <section id="element_id">."""
    start = text.index(f'<section id="{element_id}"')
    return text[start : text.index("</section>", start)]


async def test_profile_shows_level_progress_and_streak(client, org) -> None:
    moment = now()
    await thank(org["gina"], org["ravi"], at=moment, points="40")
    await thank(org["ravi"], org["gina"], at=moment, points="5")
    await signed_in(client, "ravi@example.com")

    text = (await client.get(f"/people/{org['ravi'].id}")).text
    progress = section(text, "progress")
    # 40 points received + 5 * 1 kudos given = 45: level 0, 45 of the 50 that level 1 needs
    assert "Level 0" in progress and "<strong>45</strong> activity points" in progress
    assert '<progress id="level-progress" value="45" max="50">90%</progress>' in progress
    assert '<label for="level-progress">Progress to level 1</label>' in progress
    assert "5 more to reach level 1" in progress
    times = "\N{MULTIPLICATION SIGN}"
    assert f"5 {times} kudos given (1)" in progress
    assert f"10 {times} requests resolved and completed (0)" in progress
    assert "<strong>1 week</strong> in a row" in progress
    assert "Kudos given this week" in progress


async def test_a_broken_streak_shows_zero_with_an_encouraging_line(client, org) -> None:
    await thank(org["ravi"], org["gina"], at=now() - timedelta(weeks=3))
    await signed_in(client, "ravi@example.com")
    mine = section((await client.get(f"/people/{org['ravi'].id}")).text, "progress")
    assert "<strong>0 weeks</strong>" in mine
    assert "Every week is a fresh start: thank a colleague this week to begin a streak." in mine
    theirs = section((await client.get(f"/people/{org['gina'].id}")).text, "progress")
    assert "<strong>0 weeks</strong>" in theirs and "fresh start" not in theirs


async def test_streak_up_to_last_week_still_counts_before_giving_this_week(client, org) -> None:
    await thank(org["ravi"], org["gina"], at=now() - timedelta(weeks=1))
    await signed_in(client, "ravi@example.com")
    progress = section((await client.get(f"/people/{org['ravi'].id}")).text, "progress")
    assert "<strong>1 week</strong> in a row" in progress
    assert "Give a kudos this week to keep it going." in progress


async def test_profile_shows_badges_with_dates_in_the_organisation_zone(client, org, monkeypatch) -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    for module in (rollups, levels, timeutil):  # timeutil: `localtime` shows the dates
        monkeypatch.setattr(module, "org_tz", lambda: auckland)
    # 31 March 2026, 12:00 UTC is already 1 April in Auckland
    await thank(org["gina"], org["ravi"], at=datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    await signed_in(client, "otto@example.com")

    badges = section((await client.get(f"/people/{org['ravi'].id}")).text, "badges")
    assert '<h2 id="badges-heading">Badges</h2>' in badges
    earned = badges[: badges.index("How badges are earned")]
    assert "<strong>First kudos</strong>" in earned
    assert re.search(
        r"First kudos received — earned <time datetime=\"2026-03-31T12:00:00\+00:00\">1 Apr 2026</time>", earned
    )
    assert "Recognised" not in earned  # not earned yet: only in the rules below
    assert "Badges stay earned even if a kudos behind them is later revoked." in badges
    assert "Level 3: Receive 100 kudos." in badges and "Give kudos 4 weeks in a row." in badges
    assert "Be thanked with kudos by people from 5 departments other than your own." in badges

    empty = section((await client.get(f"/people/{org['otto'].id}")).text, "badges")
    assert "No badges yet." in empty


async def test_profile_chart_is_an_accessible_inline_svg_with_a_table(client, org) -> None:
    moment = now()
    for _ in range(3):
        await thank(org["gina"], org["ravi"], at=moment, points="1")
    await signed_in(client, "otto@example.com")
    text = (await client.get(f"/people/{org['ravi'].id}")).text
    chart = section(text, "recognition")

    svg = re.search(r"<svg[^>]*>", chart)
    assert svg is not None
    assert 'role="img"' in svg.group(0) and 'aria-labelledby="chart-title chart-desc"' in svg.group(0)
    assert '<title id="chart-title">Kudos received per month, last 12 months</title>' in chart
    month = moment.strftime("%B %Y")
    assert re.search(rf'<desc id="chart-desc">3 kudos received from [A-Z][a-z]+ \d{{4}} to {month}; ', chart)
    assert len(re.findall(r'<rect class="chart-bar"', chart)) == 1  # one month with kudos
    table = chart[chart.index('<div class="visually-hidden">') :]  # a div clips it; a table would widen phones
    assert table.index("<table>") < table.index("</div>")
    assert "<caption>Kudos received per month, last 12 months</caption>" in table
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td></tr>', table)
    assert len(rows) == 12 and rows[-1] == (month, "3") and {value for _, value in rows[:-1]} == {"0"}
    assert " style=" not in text  # the CSP allows no inline styles


async def test_profile_lists_recent_public_kudos_received_and_given(client, org) -> None:
    await thank(org["gina"], org["ravi"], message="Fixed my VPN in minutes")
    await thank(org["ravi"], org["otto"], message="Great month-end close")
    await thank(org["otto"], org["ravi"], message="Private thanks for the laptop", visibility="private")
    revoked = await thank(org["otto"], org["ravi"], message="Revoked thanks")
    await revoke(await load_current_user(org["admin"].id), revoked, reason="test")
    for n in range(6):
        await thank(org["ravi"], org["gina"], message=f"Given number {n}", points="0")
    await signed_in(client, "gina@example.com")  # the private kudos is neither hers nor to her

    text = (await client.get(f"/people/{org['ravi'].id}")).text
    recent = section(text, "recent-kudos")
    received = recent[recent.index("Recent kudos received") : recent.index("Recent kudos given")]
    given = recent[recent.index("Recent kudos given") :]
    assert "Fixed my VPN in minutes" in received
    assert "Private thanks" not in text and "Revoked thanks" not in text
    assert re.findall(r"Given number (\d)", given) == ["5", "4", "3", "2", "1"]  # newest five
    assert "Great month-end close" not in given


async def test_private_kudos_never_show_on_someone_else_s_profile(client, org) -> None:
    await thank(org["gina"], org["ravi"], message="Secret thanks", visibility="private")
    await signed_in(client, "otto@example.com")
    for person in (org["ravi"], org["gina"]):
        response = await client.get(f"/people/{person.id}")
        assert response.status_code == 200 and "Secret thanks" not in response.text
    assert "No public kudos received yet." in (await client.get(f"/people/{org['ravi'].id}")).text


async def test_the_feed_item_for_a_badge_award_renders_escaped(org, app) -> None:
    from dataclasses import replace

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from app.boards.badges import recent_awards

    await thank(org["gina"], org["ravi"])
    environment = Environment(loader=FileSystemLoader(templating.TEMPLATE_DIR), autoescape=select_autoescape())
    environment.filters.update({"localtime": templating.localtime, "ago": templating.ago})
    environment.globals["url_for"] = app.route_reverse  # links are built from route names
    item = next(a for a in await recent_awards(5) if a.employee_id == org["ravi"].id)
    item = replace(item, employee_name="<b>Ravi</b>")
    html = environment.get_template("fragments/boards/badges_feed_item.html").render(a=item)
    assert "&lt;b&gt;Ravi&lt;/b&gt;</a> earned the" in html
    assert f'<a href="/people/{org["ravi"].id}#badges">First kudos</a> badge: first kudos received.' in html


async def test_a_profile_without_awards_says_so(client, org) -> None:
    await signed_in(client, "gina@example.com")
    page = (await client.get(f"/people/{org['ravi'].id}")).text
    assert "No awards yet." in page and "No winners yet." not in page


async def test_profile_shows_where_a_person_sits_their_reports_and_the_departments_they_lead(client, org) -> None:
    it = await make_department("Service Desk", slug="service-desk")
    boss = await make_employee("Mona Manager", role=Role.MANAGER, department=it, title="Head of desk")
    await make_lead(it, boss)
    await make_employee("Zed Report", department=it, manager=boss, title="Analyst")
    await make_employee("Abe Report", department=it, manager=boss, title="Engineer")
    await make_employee("Gone Report", department=it, manager=boss, active=False)
    member = await make_employee("Mia Member", department=it, manager=boss)
    await signed_in(client, "gina@example.com")

    text = (await client.get(f"/people/{boss.id}")).text
    assert 'href="/departments/service-desk">Service Desk</a>' in text and "<dt>Leads</dt>" in text
    reports = text[text.index("Direct reports") :]
    names = re.findall(r'href="/people/\d+">([^<]+)</a> — (\w+)', reports)
    assert names == [("Abe Report", "Engineer"), ("Mia Member", "Specialist"), ("Zed Report", "Analyst")]
    assert "Gone Report" not in text  # people who left are not listed

    text = (await client.get(f"/people/{member.id}")).text
    assert f'href="/people/{boss.id}">Mona Manager</a>' in text and "Direct reports" not in text
    assert "<dt>Leads</dt>" not in text
    assert (await client.get("/people/999999")).status_code == 404
