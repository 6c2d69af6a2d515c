"""Leaderboards from the rollups: ranks with ties, each metric, opt-out, inactive people, the viewer's own
position, per-head department boards and periods. Data goes in through the kudos services (which keep the
rollups), at fixed moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.boards import services
from app.boards.services import board
from app.kudos.changes import revoke
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Employee, Role
from tests.factories import make_department, make_employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

AT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday in November 2026 (the tests run in UTC)


async def me(person: Employee) -> CurrentUser:
    user = await load_current_user(person.id)
    assert user is not None
    return user


async def thank(giver: Employee, *recipients: Employee, points: int = 10, at: datetime = AT) -> int:
    form = GiveForm(recipient_ids=[r.id for r in recipients], message="Thank you!", points=str(points))
    return (await give_kudos(await me(giver), form, at=at)).kudos_id


def table(shown: services.Board) -> list[tuple]:
    return [(row.rank, row.name, row.value) for row in shown.rows]


async def people_board(viewer: Employee, metric: str = "points", period: str = "month", **kw) -> services.Board:
    return await board(await me(viewer), scope="people", period=period, metric=metric, at=AT, **kw)


async def department_board(viewer: Employee, metric: str = "points", period: str = "month") -> services.Board:
    return await board(await me(viewer), scope="departments", period=period, metric=metric, at=AT)


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    return {"it": it, "hr": hr, "giver": await make_employee("Gus Giver", department=hr)}


async def test_ties_share_a_rank_and_are_listed_by_name(org) -> None:
    it, giver = org["it"], org["giver"]
    ann, zed, bob, dan = [await make_employee(n, department=it) for n in ("Ann", "Zed", "Bob", "Dan")]
    await thank(giver, ann, points=30)
    await thank(giver, zed, bob, points=20)
    await thank(org["giver"], dan, points=10)  # 30 + 40 + 10: within the giver's 100
    shown = await people_board(giver)
    assert table(shown) == [(1, "Ann", 30), (2, "Bob", 20), (2, "Zed", 20), (4, "Dan", 10)]
    assert [row.department for row in shown.rows] == ["IT"] * 4
    assert [row.slug for row in shown.rows] == ["it"] * 4


async def test_each_metric_ranks_on_its_own_figure(org) -> None:
    it, hr = org["it"], org["hr"]
    xena, yuri, zoe = [await make_employee(n, department=it) for n in ("Xena", "Yuri", "Zoe")]
    colleague, other = await make_employee("Cal", department=it), await make_employee("Oli", department=it)
    for n in range(3):  # Xena: three people from HR, 5 points each
        await thank(await make_employee(f"HR {n}", department=hr), xena, points=5)
    await thank(colleague, yuri, points=40)  # Yuri: one IT colleague, twice, 80 points
    await thank(colleague, yuri, points=40)
    for person in (colleague, other, colleague, other):  # Zoe: two IT colleagues, four kudos, no points
        await thank(person, zoe, points=0)

    assert table(await people_board(xena, "points")) == [(1, "Yuri", 80), (2, "Xena", 15)]  # Zoe's 0 is left out
    assert table(await people_board(xena, "kudos")) == [(1, "Zoe", 4), (2, "Xena", 3), (3, "Yuri", 2)]
    assert table(await people_board(xena, "givers")) == [(1, "Xena", 3), (2, "Zoe", 2), (3, "Yuri", 1)]
    assert table(await people_board(xena, "cross_givers")) == [(1, "Xena", 3)]
    for metric in ("points", "kudos", "givers", "cross_givers"):
        assert (await people_board(xena, metric)).metric == metric


async def test_opted_out_people_are_left_off_and_see_why(org) -> None:
    it, giver = org["it"], org["giver"]
    shy, ann, bob = [await make_employee(n, department=it) for n in ("Shy", "Ann", "Bob")]
    await thank(giver, shy, points=50)
    await thank(giver, ann, points=20)
    await thank(giver, bob, points=20)
    await services.set_shown_on_boards(shy.id, False)

    shown = await people_board(ann)
    assert table(shown) == [(1, "Ann", 20), (1, "Bob", 20)]  # Shy's 50 pushes no one down
    assert shown.viewer_row is not None and shown.viewer_row.rank == 1 and not shown.viewer_hidden

    hidden = await people_board(shy)
    assert hidden.viewer_hidden and hidden.viewer_row is None
    assert all(not row.is_viewer for row in hidden.rows)
    assert not await services.shown_on_boards(shy.id)

    # department boards still count what Shy received
    assert table(await department_board(shy)) == [(1, "IT", 90)]

    await services.set_shown_on_boards(shy.id, True)
    assert table(await people_board(ann))[0] == (1, "Shy", 50)


async def test_people_who_left_are_not_on_boards_nor_counted_in_ranks(org) -> None:
    it, giver = org["it"], org["giver"]
    gone, ann, bob = [await make_employee(n, department=it) for n in ("Gone", "Ann", "Bob")]
    await thank(giver, gone, points=40)
    await thank(giver, ann, points=30)
    await thank(giver, bob, points=20)
    await Employee.update({Employee.active: False}).where(Employee.id == gone.id)

    shown = await people_board(bob, limit=1)
    assert table(shown) == [(1, "Ann", 30)]
    assert shown.viewer_outside and shown.viewer_row is not None
    assert (shown.viewer_row.rank, shown.viewer_row.name, shown.viewer_row.value) == (2, "Bob", 20)


async def test_the_viewer_outside_the_top_n_gets_their_own_row_and_rank(org) -> None:
    it = org["it"]
    people = {n: await make_employee(n, department=it) for n in ("Ann", "Bea", "Cid", "Dot", "Eve", "Shy")}
    givers = [await make_employee(f"Giver {n}", department=org["hr"]) for n in range(3)]
    await thank(givers[0], people["Ann"], points=50)
    await thank(givers[0], people["Shy"], points=40)  # opted out: not ahead of anyone
    await thank(givers[1], people["Bea"], points=40)
    await thank(givers[1], people["Cid"], points=40)
    await thank(givers[2], people["Dot"], points=20)
    await thank(givers[2], people["Eve"], points=10)
    await services.set_shown_on_boards(people["Shy"].id, False)

    shown = await people_board(people["Eve"], limit=2)
    assert table(shown) == [(1, "Ann", 50), (2, "Bea", 40)]
    assert shown.viewer_outside
    own = shown.viewer_row
    assert own is not None
    assert (own.rank, own.name, own.value, own.is_viewer, own.department) == (5, "Eve", 10, True, "IT")

    cid = await people_board(people["Cid"], limit=2)  # tied with the last row shown, but listed after it by name
    assert cid.viewer_row is not None and cid.viewer_row.rank == 2 and cid.viewer_outside

    inside = await people_board(people["Ann"], limit=2)
    assert inside.rows[0].is_viewer and not inside.viewer_outside and inside.viewer_row == inside.rows[0]


async def test_with_a_cache_the_count_ahead_is_reused_for_a_while_and_the_viewers_own_figure_is_fresh(
    org, redis
) -> None:
    it = org["it"]
    people = {n: await make_employee(n, department=it) for n in ("Ann", "Bea", "Cid", "Dot", "Eve")}
    givers = [await make_employee(f"Giver {n}", department=org["hr"]) for n in range(4)]
    await thank(givers[0], people["Ann"], points=50)
    await thank(givers[1], people["Bea"], points=40)
    await thank(givers[1], people["Cid"], points=30)
    await thank(givers[2], people["Dot"], points=20)
    await thank(givers[2], people["Eve"], points=10)

    first = await people_board(people["Eve"], limit=1, cache=redis)
    assert first.viewer_row is not None and first.viewer_row.rank == 5 and first.rank_lag == services.AHEAD_TTL
    key = f"kudos:boards:ahead:month:{AT:%Y-%m}-01:points:10"
    assert int(await redis.get(key)) == 4 and 0 < await redis.ttl(key) <= services.AHEAD_TTL

    await thank(givers[3], people["Dot"], people["Cid"], people["Bea"], points=1)  # nobody overtakes Eve
    await redis.set(key, 2, ex=services.AHEAD_TTL)  # as if others had changed since the count
    lagging = await people_board(people["Eve"], limit=1, cache=redis)
    assert lagging.viewer_row is not None and lagging.viewer_row.rank == 3  # the cached count, not a recount
    assert table(lagging) == [(1, "Ann", 50)]  # the top is always read fresh

    await thank(givers[3], people["Eve"], points=5)  # the viewer's own figure is fresh: 15, a count not cached yet
    moved = await people_board(people["Eve"], limit=1, cache=redis)
    assert moved.viewer_row is not None and (moved.viewer_row.value, moved.viewer_row.rank) == (15, 5)

    await redis.set(f"kudos:boards:ahead:month:{AT:%Y-%m}-01:points:15", 0, ex=services.AHEAD_TTL)
    clamped = await people_board(people["Eve"], limit=2, cache=redis)  # a stale count never ranks inside the top
    assert clamped.viewer_row is not None and clamped.viewer_row.rank == 3 and clamped.viewer_outside

    exact = await people_board(people["Eve"], limit=1)  # without a cache: counted every time
    assert exact.viewer_row is not None and exact.viewer_row.rank == 5 and exact.rank_lag == 0


async def test_a_viewer_tied_with_the_last_row_shown_is_ranked_without_a_count(org, redis) -> None:
    it = org["it"]
    ann, bob, cid = [await make_employee(n, department=it) for n in ("Ann", "Bob", "Cid")]
    await thank(org["giver"], ann, points=30)
    await thank(org["giver"], bob, cid, points=20)
    shown = await people_board(cid, limit=2, cache=redis)
    assert table(shown) == [(1, "Ann", 30), (2, "Bob", 20)]
    assert shown.viewer_row is not None and shown.viewer_row.rank == 2 and shown.rank_lag == 0
    assert await redis.keys("kudos:boards:ahead:*") == []


async def test_a_viewer_with_nothing_this_period_has_no_row(org) -> None:
    ann = await make_employee("Ann", department=org["it"])
    await thank(org["giver"], ann)
    shown = await people_board(org["giver"])
    assert shown.viewer_row is None and not shown.viewer_hidden and not shown.viewer_outside
    assert table(shown) == [(1, "Ann", 10)]


async def test_department_boards_total_and_per_head(org) -> None:
    it, hr = org["it"], org["hr"]
    legal = await make_department("Legal", slug="legal")
    finance = await make_department("Finance", slug="finance")
    it_people = [await make_employee(f"IT {n}", department=it) for n in range(2)]
    await make_employee("Left IT", department=it, active=False)  # not a member any more
    hr_people = [org["giver"], *[await make_employee(f"HR {n}", department=hr) for n in range(2)]]
    lawyer = await make_employee("Lawyer", department=legal)
    fin = [await make_employee(f"Fin {n}", department=finance) for n in range(3)]
    outsider = await make_employee("Outsider", department=finance)

    await thank(outsider, *it_people, points=15)  # IT: 30 points from 2 members → 15.0 per member
    await thank(fin[0], *hr_people[1:], points=20)  # HR: 40 points from 3 members → 13.3
    await thank(fin[1], lawyer, points=45)  # Legal: 45, then nobody left in it
    await Employee.update({Employee.active: False}).where(Employee.id == lawyer.id)
    await thank(fin[2], *hr_people[:1], points=0)  # HR gets a kudos with no points

    viewer = it_people[0]
    total = await department_board(viewer)
    assert table(total) == [(1, "Legal", 45), (2, "HR", 40), (3, "IT", 30)]
    assert [row.members for row in total.rows] == [None, None, None]  # only per-head boards count members
    assert [row.slug for row in total.rows] == ["legal", "hr", "it"]
    assert total.viewer_row is not None and total.viewer_row.name == "IT" and total.rows[2].is_viewer

    per_head = await department_board(viewer, "points_per_head")
    assert per_head.per_head and per_head.metric == "points_per_head" and per_head.column == "points"
    assert table(per_head) == [(1, "IT", Decimal("15.0")), (2, "HR", Decimal("13.3"))]  # Legal: no members
    assert [row.members for row in per_head.rows] == [2, 3]
    assert [row.shown for row in per_head.rows] == ["15.0", "13.3"]
    assert per_head.label == "Points received per member"

    kudos = await department_board(viewer, "kudos_per_head")
    assert table(kudos) == [(1, "HR", Decimal("1.0")), (1, "IT", Decimal("1.0"))]  # 3/3 and 2/2 tie

    givers = await department_board(viewer, "givers")
    assert table(givers) == [(1, "HR", 2), (2, "IT", 1), (2, "Legal", 1)]
    cross = await department_board(viewer, "cross_givers_per_head")
    assert table(cross) == [(1, "HR", Decimal("0.7")), (2, "IT", Decimal("0.5"))]


async def test_the_viewers_department_outside_the_top_gets_its_own_row_and_rank(org) -> None:
    depts = [org["it"], org["hr"], *[await make_department(n, slug=n.lower()) for n in ("Legal", "Sales")]]
    members = [await make_employee(f"Member {d.name}", department=d) for d in depts]
    outsider = await make_employee("Outsider")
    for member, points in zip(members, (40, 30, 30, 0), strict=True):
        await thank(outsider, member, points=points)
    viewer = await me(members[3])
    shown = await board(viewer, scope="departments", period="month", metric="points", limit=2, at=AT)
    assert table(shown) == [(1, "IT", 40), (2, "HR", 30)]
    assert shown.viewer_row is None  # Sales got a kudos with no points: not on the points board
    sales = await board(viewer, scope="departments", period="month", metric="kudos", limit=2, at=AT)
    assert table(sales) == [(1, "HR", 1), (1, "IT", 1)] and sales.viewer_row is not None
    assert (sales.viewer_row.rank, sales.viewer_row.name, sales.viewer_outside) == (1, "Sales", True)
    legal = await board(await me(members[2]), scope="departments", period="month", metric="points", limit=2, at=AT)
    assert legal.viewer_row is not None and (legal.viewer_row.rank, legal.viewer_row.name) == (2, "Legal")
    assert legal.viewer_outside  # tied with HR, listed after it by name


async def test_the_viewers_department_is_marked_and_a_person_without_one_is_told(org) -> None:
    ann = await make_employee("Ann", department=org["it"])
    await thank(org["giver"], ann)
    nowhere = await make_employee("Nomad")
    shown = await department_board(nowhere)
    assert table(shown) == [(1, "IT", 10)] and shown.viewer_row is None and not shown.viewer_department
    hr = await department_board(org["giver"])
    assert hr.viewer_row is None and hr.viewer_department  # HR received nothing


async def test_boards_read_the_period_asked_for(org) -> None:
    it, giver = org["it"], org["giver"]
    ann, bob, cat = [await make_employee(n, department=it) for n in ("Ann", "Bob", "Cat")]
    await thank(giver, ann, points=10, at=AT - timedelta(days=30))  # 19 October
    await thank(giver, bob, points=20, at=AT)  # Wednesday 18 November
    await thank(giver, cat, points=30, at=AT - timedelta(days=3))  # Sunday 15 November: the week before
    expected = {
        "week": [(1, "Bob", 20)],
        "month": [(1, "Cat", 30), (2, "Bob", 20)],
        "last_month": [(1, "Ann", 10)],
        "quarter": [(1, "Cat", 30), (2, "Bob", 20), (3, "Ann", 10)],
        "year": [(1, "Cat", 30), (2, "Bob", 20), (3, "Ann", 10)],
        "all": [(1, "Cat", 30), (2, "Bob", 20), (3, "Ann", 10)],
    }
    for period, rows in expected.items():
        shown = await people_board(giver, period=period)
        assert (shown.window.name, table(shown)) == (period, rows)
    assert (await people_board(giver, period="week")).window.label == "Week of 16 Nov 2026"


async def test_a_revoked_kudos_leaves_the_boards(org) -> None:
    ann, bob = [await make_employee(n, department=org["it"]) for n in ("Ann", "Bob")]
    admin = await make_employee("Ada Admin", role=Role.ADMIN)
    kudos_id = await thank(org["giver"], ann, points=30)
    await thank(org["giver"], bob, points=20)
    await revoke(await me(admin), kudos_id, reason="Duplicate", at=AT + timedelta(hours=1))
    assert table(await people_board(bob)) == [(1, "Bob", 20)]
    assert table(await people_board(bob, "givers")) == [(1, "Bob", 1)]
    assert table(await department_board(bob)) == [(1, "IT", 20)]


async def test_unknown_switch_values_fall_back_to_people_this_month_points(org) -> None:
    ann = await make_employee("Ann", department=org["it"])
    await thank(org["giver"], ann)
    user = await me(org["giver"])
    shown = await board(user, scope="teams", period="fortnight", metric="smiles", at=AT)
    assert (shown.scope, shown.window.name, shown.metric, shown.per_head) == ("people", "month", "points", False)
    assert table(shown) == [(1, "Ann", 10)]
    people = await board(user, scope="people", period="month", metric="givers_per_head", at=AT)
    assert (people.metric, people.column, people.per_head) == ("givers", "givers", False)
