"""Stored award shortlists (app/awards/stored.py): what the page shows equals the live computation for every viewer,
read-time exclusions, a change to the month making the lists due and the worker's job refreshing them, the category
form's job, one computation under concurrent first views, and a worker killed mid-computation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

import app.db as database
from app.awards import categories, cycles, shortlist, stored
from app.awards.categories import CategoryForm
from app.awards.cycles import Cycle
from app.awards.shortlist import Suggestion
from app.awards.tables import AwardCycle, AwardShortlist
from app.handlers import register_all
from app.jobs.outbox import add_job, one_at_a_time
from app.jobs.tables import JobOutbox
from app.kudos import changes
from app.people.services import led_departments
from app.people.tables import Department, Employee
from app.requests import workflow
from app.timeutil import now
from tests.awards_world import OCT, World, build_world, october_figures, thank

# the job's connection waiting for a list's lock
WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%award_shortlist%'"
KILL = """
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE '%award_shortlist%'
"""

register_all()
pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


@pytest.fixture
async def world() -> World:
    world = await build_world()
    await october_figures(world)
    return world


async def open_october() -> Cycle:
    """October's cycle, taking nominations now (the job's clock is the real one)."""
    moment = now()
    cycle_id = await cycles.create_cycle(
        date(2026, 10, 1), moment - timedelta(days=1), moment + timedelta(days=3), at=moment
    )
    assert cycle_id is not None
    cycle = await cycles.get_cycle(cycle_id)
    assert cycle is not None
    return cycle


async def live(cycle: Cycle, viewer: int) -> list[list[Suggestion]]:
    """Each active category's shortlist for `viewer`, computed now from the month's figures."""
    led = await led_departments(viewer)
    lists = []
    for category in await categories.categories():
        if category.for_people:
            found = await shortlist.people(cycle.month, category.shortlist, viewer=viewer, label=cycle.label)
        else:
            found = await shortlist.departments(cycle.month, category.shortlist, excluded=led, label=cycle.label)
        lists.append(found)
    return lists


async def shown(cycle: Cycle, viewer: int) -> list[list[Suggestion]]:
    """What the page shows `viewer`: the stored lists, filtered at read time."""
    lists = await stored.shortlists(cycle, await categories.categories(), viewer=viewer)
    return [s.suggestions for s in lists]


def names(lists: list[list[Suggestion]]) -> list[list[str]]:
    return [[s.name for s in found] for found in lists]


async def test_stored_lists_equal_the_live_computation_for_every_viewer(world: World) -> None:
    cycle = await open_october()
    assert await stored.refresh_due() == 3
    assert await stored.refresh_due() == 0  # idempotent: nothing is due any more
    for viewer in (world.max, world.mia, world.ravi, world.olu, world.ana):
        assert await shown(cycle, viewer.id) == await live(cycle, viewer.id), viewer.name
    # the viewer is left out and the ranks close up; so are the departments they lead (Mia leads IT)
    assert names(await shown(cycle, world.olu.id)) == [
        ["Ravi Patel", "Ana Silva"],
        ["IT", "Finance"],
        ["Ravi Patel", "Ana Silva"],
    ]
    assert [s.rank for s in (await shown(cycle, world.olu.id))[0]] == [1, 2]
    assert names(await shown(cycle, world.mia.id))[1] == ["Finance"]
    ravi = (await shown(cycle, world.max.id))[0][1]
    assert ravi.figures == {"points": 20, "givers": 3, "departments": 2, "rating": Decimal("4.3")}
    assert ravi.draft.startswith("In October 2026: 20 points received from 3 colleagues")


async def test_people_who_opt_out_or_leave_and_archived_departments_go_at_read_time(world: World) -> None:
    cycle = await open_october()
    await stored.refresh_due()
    computed = await AwardShortlist.select(AwardShortlist.computed_at).where(AwardShortlist.cycle == cycle.id)
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id == world.olu.id)
    await Employee.update({Employee.active: False}).where(Employee.id == world.ana.id)
    await Department.update({Department.archived_at: now()}).where(Department.id == world.finance.id)
    assert names(await shown(cycle, world.max.id)) == [["Ravi Patel"], ["IT"], ["Ravi Patel"]]
    assert await shown(cycle, world.max.id) == await live(cycle, world.max.id)
    # nothing was computed again for that
    assert await stored.refresh_due() == 0
    assert await AwardShortlist.select(AwardShortlist.computed_at).where(AwardShortlist.cycle == cycle.id) == computed


async def test_a_list_that_lost_too_many_is_computed_again(world: World, monkeypatch) -> None:
    # four more people thanked in October, each by a colleague of their own department (no department helped)
    for giver, person, points in (
        (world.ada, world.sam, 4),
        (world.ana, world.max, 3),
        (world.ravi, world.mia, 2),
        (world.sam, world.ada, 1),
    ):
        await thank(giver, [person], points, OCT)
    monkeypatch.setattr(stored, "STORED", 6)  # Service Star keeps six of its seven: Ada, last, is not stored
    cycle = await open_october()
    await stored.refresh_due()
    assert names(await shown(cycle, world.olu.id))[0] == [
        "Ravi Patel",
        "Ana Silva",
        "Sam Berg",
        "Max Manager",
        "Mia Manager",
    ]
    assert await stored.refresh_due() == 0  # leaving the viewer out still leaves five
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id == world.ravi.id)
    meanwhile = ["Ana Silva", "Sam Berg", "Max Manager", "Mia Manager"]
    assert names(await shown(cycle, world.olu.id))[0] == meanwhile  # what is left
    assert await stored.refresh_due() == 1  # only the list left without five
    assert names(await shown(cycle, world.olu.id))[0] == [*meanwhile, "Ada Admin"]
    assert await shown(cycle, world.olu.id) == await live(cycle, world.olu.id)


async def _rate_later(world: World, resolver: Employee) -> int:
    """A request completed in October whose rating comes later."""
    request_id = await workflow.file_request(world.ana.id, world.it.id, None, "Help", at=OCT)
    await workflow.claim(resolver.id, request_id, at=OCT + timedelta(hours=1))
    await workflow.complete(resolver.id, request_id, at=OCT + timedelta(hours=2))
    return request_id


async def _changes(cycle: Cycle) -> int:
    row = await AwardCycle.select(AwardCycle.changes).where(AwardCycle.id == cycle.id).first()
    assert row is not None
    return int(row["changes"])


async def test_a_change_to_the_month_makes_the_lists_due_and_the_job_refreshes_them(world: World, run_worker) -> None:
    unrated = await _rate_later(world, world.olu)
    cycle = await open_october()
    await stored.refresh_due()
    before = await shown(cycle, world.max.id)
    # this month's kudos do not change October
    await thank(world.sam, [world.olu], 5, now())
    assert await _changes(cycle) == 0
    # an October kudos revoked (Ana → Olu, 15 points) and an October request rated now do
    kudos_id = await thank(world.ana, [world.olu], 1, OCT, message="A small one")
    assert await _changes(cycle) == 0  # given in October (a test's clock): not a change after the fact
    await changes.revoke(await world.user(world.ada), kudos_id, reason="Duplicate")
    assert await _changes(cycle) == 1
    ana = await world.user(world.ana)
    await workflow.rate(ana, unrated, 5, 5, 5)
    assert await _changes(cycle) == 2
    assert await shown(cycle, world.max.id) == before  # as stored, until the job runs
    assert await shown(cycle, world.max.id) != await live(cycle, world.max.id)
    # the worker's job (recorded as the category form records it), through a real burst worker
    async with database.transaction():
        await add_job(shortlist.REFRESH_JOB, **one_at_a_time(shortlist.REFRESH_JOB))
    run = await run_worker(cron_jobs=[])
    assert run.jobs_failed == 0
    assert await shown(cycle, world.max.id) == await live(cycle, world.max.id)
    assert (await shown(cycle, world.max.id))[0][0].figures["rating"] is not None  # Olu's third rating counts
    assert await stored.refresh_due() == 0


async def test_a_category_edit_records_the_job_that_recomputes_its_list(world: World, run_worker) -> None:
    cycle = await open_october()
    await stored.refresh_due()
    ada = await world.user(world.ada)
    form = CategoryForm(name="Service Star", nominee_kind="person", winners="1", shortlist="givers", active="1")
    await categories.save_category(ada, form, world.star)
    assert await JobOutbox.count().where(JobOutbox.function == shortlist.REFRESH_JOB) == 1
    await run_worker(cron_jobs=[])
    row = await AwardShortlist.select().where(AwardShortlist.category == world.star).first()
    assert row is not None and row["ranked_by"] == "givers"
    assert await shown(cycle, world.max.id) == await live(cycle, world.max.id)
    assert names(await shown(cycle, world.max.id))[0] == ["Ravi Patel", "Olu Bello", "Ana Silva"]


async def test_concurrent_first_views_compute_each_list_once(world: World, monkeypatch) -> None:
    cycle = await open_october()
    computed: list[Any] = []
    compute: Callable[..., Awaitable[Any]] = stored._compute

    async def counted(*args: Any) -> Any:
        computed.append(args)
        return await compute(*args)

    monkeypatch.setattr(stored, "_compute", counted)
    views = await asyncio.gather(*(shown(cycle, viewer.id) for viewer in (world.max, world.mia, world.sam)))
    assert len(computed) == 3  # one per category, not one per view
    assert views[0] == await live(cycle, world.max.id)
    assert views[2] == await live(cycle, world.sam.id)


async def test_a_worker_killed_mid_computation_leaves_the_lists_due_and_the_next_run_computes_them_once(
    world: World,
) -> None:
    cycle = await open_october()
    admin = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        # hold the first list's lock, so the job stops inside its transaction; then its connection dies
        await admin.execute(
            "SELECT pg_advisory_lock(hashtextextended('kudos.award_shortlist ' || $1::int || ' ' || $2::int, 0))",
            cycle.id,
            world.star,
        )
        job = asyncio.create_task(stored.refresh_due())
        async with asyncio.timeout(30):
            while not await admin.fetchval(WAITING):  # noqa: ASYNC110 — the database has no event to wait on
                await asyncio.sleep(0.02)
        await admin.execute(KILL)
        with pytest.raises(database.UNAVAILABLE):
            await job
        await admin.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await admin.close()
    assert await AwardShortlist.count() == 0  # nothing half-written
    assert await stored.refresh_due() == 3
    assert await stored.refresh_due() == 0
    assert await shown(cycle, world.max.id) == await live(cycle, world.max.id)


async def test_closed_cycles_are_left_alone(world: World) -> None:
    cycle = await open_october()
    await AwardCycle.update({AwardCycle.closes_at: now() - timedelta(minutes=1)}).where(AwardCycle.id == cycle.id)
    assert await stored.refresh_due() == 0
    assert await stored.shortlists(cycle, await categories.categories(), viewer=world.max.id) == []
