"""The leaderboard page (full page and HTMX fragment for every switch, plain URLs, fallbacks) and /me/settings."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import urlencode

import pytest

from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Employee
from app.timeutil import month_bounds, month_of, now
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, csrf_token, post_form, signed_in


def board_url(scope: str, period: str, metric: str) -> str:
    """The plain URL of one board state, as a switch links to it."""
    return "/leaderboards?" + urlencode({"board": scope, "period": period, "metric": metric})


async def thank(giver: Employee, *recipients: Employee, points: int = 10, **kw) -> None:
    user = await load_current_user(giver.id)
    form = GiveForm(recipient_ids=[r.id for r in recipients], message="Thanks!", points=str(points))
    await give_kudos(user, form, **kw)


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    people = {
        "gina": await make_employee("Gina Giver", department=hr, email="gina@example.com"),
        "hal": await make_employee("Hal Helper", department=hr, email="hal@example.com"),
        "ravi": await make_employee("Ravi Resolver", department=it, email="ravi@example.com"),
        "sam": await make_employee("Sam Support", department=it, email="sam@example.com"),
    }
    await thank(people["gina"], people["ravi"], points=30)
    await thank(people["hal"], people["ravi"], points=5)
    await thank(people["gina"], people["sam"], points=20)
    await thank(people["ravi"], people["hal"], points=10)
    last_month = month_bounds(month_of(now()))[0] - timedelta(hours=1)
    await thank(people["sam"], people["gina"], points=40, at=last_month)
    return people


def rows(html: str) -> list[str]:
    """The board's rows as text: rank, name and figures, tags stripped."""
    body = html.split('<table class="board-table', 1)[1].split("</table>", 1)[0]
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]
    ]


def current(html: str, switch: str) -> str:
    """The label of the switch link marked as current."""
    found = re.search(rf'id="board-{switch}-[^"]+" href="[^"]+"[^>]*aria-current="page">([^<]+)</a>', html)
    assert found, f"no current {switch} link"
    return found.group(1)


async def test_the_page_shows_this_months_people_board_with_the_viewer_marked(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    response = await client.get("/leaderboards")
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    html = response.text
    assert '<a href="/leaderboards" aria-current="page">Leaderboards</a>' in html
    assert rows(html) == ["1 Ravi Resolver (you) IT 35", "2 Sam Support IT 20", "3 Hal Helper HR 10"]
    assert '<tr class="is-viewer">' in html
    assert f"<caption>People ranked by points received, {month_of(now()):%B %Y} (this month)</caption>" in html
    assert '<th scope="col" class="number">Rank</th>' in html and '<th scope="row"><a href="/people/' in html
    assert '<td class="number">35</td>' in html  # figures are right-aligned
    assert f'href="/people/{org["sam"].id}"' in html and 'href="/departments/it"' in html
    assert "Fair boards" not in html  # points need no explaining; the fair metrics do
    givers = (await client.get("/leaderboards?metric=givers")).text
    assert "Fair boards: distinct givers counts" in givers and "outside" not in givers
    cross = (await client.get("/leaderboards?metric=cross_givers")).text
    assert "Fair boards: givers from other departments counts" in cross and "distinct givers counts" not in cross
    assert (current(html, "scope"), current(html, "period"), current(html, "metric")) == (
        "People",
        "This month",
        "Points received",
    )


@pytest.mark.parametrize(
    ("query", "switches", "expected"),
    [
        (
            {"board": "people", "period": "last_month", "metric": "points"},
            ("People", "Last month"),
            ["1 Gina Giver HR 40"],
        ),
        (
            {"board": "people", "period": "month", "metric": "givers"},
            ("People", "This month", "Distinct givers"),
            ["1 Ravi Resolver (you) IT 2", "2 Hal Helper HR 1", "2 Sam Support IT 1"],
        ),
        (
            {"board": "people", "period": "all", "metric": "cross_givers"},
            ("People", "All time", "Givers from other departments"),
            ["1 Ravi Resolver (you) IT 2", "2 Gina Giver HR 1", "2 Hal Helper HR 1", "2 Sam Support IT 1"],
        ),
        (
            {"board": "departments", "period": "all", "metric": "points"},
            ("Departments", "All time", "Points received", "Total"),
            ["1 IT (your department) 55", "2 HR 50"],
        ),
        (
            {"board": "departments", "period": "month", "metric": "kudos_per_head"},
            ("Departments", "This month", "Kudos received", "Per member"),
            ["1 IT (your department) 2 1.5", "2 HR 2 0.5"],
        ),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
async def test_every_switch_has_a_plain_url_and_an_htmx_fragment(client, org, query, switches, expected, htmx) -> None:
    await signed_in(client, "ravi@example.com")
    response = await client.get("/leaderboards", params=query, headers=HTMX if htmx else None)
    assert response.status_code == 200
    html = response.text
    assert ("<html" in html) is not htmx
    if htmx:
        assert html.lstrip().startswith('<section id="board"')
    assert rows(html) == expected
    names = ("scope", "period", "metric", "count")
    assert tuple(current(html, name) for name in names[: len(switches)]) == switches


async def test_switch_links_are_plain_urls_that_htmx_fetches_and_pushes(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    html = (await client.get("/leaderboards?board=departments&period=quarter&metric=givers_per_head")).text
    links = re.findall(r'<a id="board-[^"]+" href="([^"]+)" hx-get="([^"]+)" hx-target="#board" '
                       r'hx-swap="outerHTML" hx-push-url="true"', html)  # fmt: skip
    assert len(links) == 2 + 6 + 4 + 2
    assert all(unescape(href) == unescape(get) for href, get in links)
    hrefs = {unescape(href) for href, _ in links}
    assert board_url("people", "quarter", "givers") in hrefs  # people boards have no per head
    assert board_url("departments", "week", "givers_per_head") in hrefs  # the other switches are kept
    assert board_url("departments", "quarter", "kudos_per_head") in hrefs
    assert board_url("departments", "quarter", "givers") in hrefs  # back to totals
    for href in hrefs:
        assert (await client.get(href)).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "?board=everyone&period=decade&metric=smiles",
        "?board=&period=&metric=",
        "?period=LAST_MONTH&metric=points_per_head",
    ],
)
async def test_unknown_values_fall_back_to_the_defaults(client, org, query: str) -> None:
    """(A NUL byte never gets this far: the app refuses it at the edge, see tests/hardening/test_edge.py.)"""
    await signed_in(client, "ravi@example.com")
    response = await client.get("/leaderboards" + query)
    assert response.status_code == 200
    assert (current(response.text, "scope"), current(response.text, "period"), current(response.text, "metric")) == (
        "People",
        "This month",
        "Points received",
    )


async def test_the_viewer_outside_the_top_gets_their_own_row(client, org) -> None:
    it = await make_department("Support", slug="support")
    top = [await make_employee(f"Top {n:02}", department=it) for n in range(25)]
    for n in range(0, 25, 5):
        await thank(await make_employee(f"Fan {n}", department=it), *top[n : n + 5], points=15)
    await signed_in(client, "hal@example.com")
    html = (await client.get("/leaderboards")).text
    assert len(rows(html)) == 26
    assert rows(html)[-1] == "28 Hal Helper (you) HR 10"  # 25 at 15, Ravi 35, Sam 20 ahead
    assert '<tbody class="board-viewer">' in html
    assert "You are number 28 on this board" in html
    assert "Ranks below the top are recounted every 30 seconds" in html


async def test_an_opted_out_viewer_is_told_why_their_rank_is_hidden(client, org) -> None:
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id == org["ravi"].id)
    await signed_in(client, "ravi@example.com")
    html = (await client.get("/leaderboards")).text
    assert "Your rank is hidden because you chose not to appear on individual leaderboards." in html
    assert '<a href="/me/settings">Change this in your settings</a>' in html
    assert rows(html) == ["1 Sam Support IT 20", "2 Hal Helper HR 10"]
    assert "recounted" not in html  # no rank of their own, so nothing can lag
    departments = (await client.get("/leaderboards?board=departments")).text
    assert "Your rank is hidden" not in departments and rows(departments)[0] == "1 IT (your department) 55"


async def test_viewers_not_on_the_board_are_told_so(client_factory, org) -> None:
    legal = await make_department("Legal", slug="legal")
    await make_employee("Lee Lawyer", department=legal, email="lee@example.com")
    await make_employee("Nadia New", email="nadia@example.com")
    lee = await signed_in(await client_factory(), "lee@example.com")
    assert "You are not on this board yet: nobody has given you points for " in (await lee.get("/leaderboards")).text
    for metric, wording in (
        ("kudos", "you have received no kudos"),
        ("givers", "nobody has thanked you"),
        ("cross_givers", "nobody from another department has thanked you"),
    ):
        page = (await lee.get(f"/leaderboards?metric={metric}")).text
        assert f"You are not on this board yet: {wording} for " in page and "given you" not in page
    assert "Your department is not on this board" in (await lee.get("/leaderboards?board=departments")).text
    nadia = await signed_in(await client_factory(), "nadia@example.com")
    assert "You do not belong to a department" in (await nadia.get("/leaderboards?board=departments")).text
    html = (await nadia.get("/leaderboards?board=departments&period=week&metric=points")).text
    assert "(your department)" not in html


async def test_an_empty_board_invites_thanks(client, org) -> None:
    await make_employee("Lee Lawyer", email="lee@example.com")
    await signed_in(client, "lee@example.com")
    start = month_of(now())
    html = (await client.get("/leaderboards?period=all&metric=points&board=people")).text
    assert "<table" in html
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id.is_in([p.id for p in org.values()]))
    html = (await client.get("/leaderboards?period=month")).text
    assert "<table" not in html
    assert f"No one is on this board for {start:%B %Y} yet." in html and 'href="/kudos/new"' in html


# --- /me/settings ------------------------------------------------------------------------------------------------


async def opted_out(person: Employee) -> bool:
    row = await Employee.select(Employee.board_opt_out).where(Employee.id == person.id).first()
    return row["board_opt_out"]


async def test_settings_page_shows_the_board_visibility_switch(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    response = await client.get("/me/settings")
    assert response.status_code == 200
    html = response.text
    assert '<form id="settings-form" method="post" action="/me/settings"' in html
    assert 'name="_csrf_token"' in html
    assert '<input type="checkbox" name="show_on_boards" value="1" role="switch" checked>' in html
    assert '<input type="hidden" name="section" value="boards">' in html
    assert "Show me on individual leaderboards" in html


async def test_saving_settings_without_javascript_redirects_with_a_flash(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    response = await post_form(client, "/me/settings", {"section": "boards"})  # the box left unticked
    assert response.status_code == 303 and response.headers["location"] == "/me/settings"
    assert await opted_out(org["ravi"])
    page = (await client.get("/me/settings")).text
    assert "Your settings were saved." in page
    assert 'name="show_on_boards" value="1" role="switch">' in page
    assert "Ravi Resolver" not in "".join(rows((await client.get("/leaderboards")).text))

    response = await post_form(client, "/me/settings", {"section": "boards", "show_on_boards": "1"})
    assert response.status_code == 303 and not await opted_out(org["ravi"])


async def test_saving_settings_with_htmx_returns_the_form_and_a_saved_message(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    response = await post_form(client, "/me/settings", {"section": "boards"}, headers=HTMX)
    assert response.status_code == 200
    html = response.text
    assert "<html" not in html and html.lstrip().startswith('<form id="settings-form"')
    assert (
        '<div hx-swap-oob="innerHTML:#flash"><p class="flash flash-success">Your settings were saved.</p></div>' in html
    )
    assert 'name="show_on_boards" value="1" role="switch">' in html
    assert await opted_out(org["ravi"])


async def test_a_form_without_the_boards_section_changes_nothing(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    assert (await post_form(client, "/me/settings")).status_code == 303
    assert not await opted_out(org["ravi"])


async def test_settings_without_the_csrf_token_are_refused(client, org) -> None:
    await signed_in(client, "ravi@example.com")
    await csrf_token(client)
    response = await client.post("/me/settings", data={"section": "boards"})
    assert response.status_code == 403
    assert not await opted_out(org["ravi"])


async def test_settings_are_only_ever_ones_own(client_factory, org) -> None:
    ravi = await signed_in(await client_factory(), "ravi@example.com")
    await post_form(ravi, "/me/settings", {"section": "boards", "employee": str(org["sam"].id)})
    assert await opted_out(org["ravi"]) and not await opted_out(org["sam"])
