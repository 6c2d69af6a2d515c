"""A small organisation with award categories and October 2026 recognition, shared by the awards tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.awards.tables import AwardCategory
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Department, Employee, Role
from app.requests import workflow
from tests.factories import make_department, make_employee, make_lead

# The cycle month is October 2026; with the default calendar nominations open on 1 Nov at 09:00 UTC, the reminder
# is due on 6 Nov at 09:00, and nominations close on 7 Nov at 09:00.
OCT = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
OPENS = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
REMIND = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
CLOSES = datetime(2026, 11, 7, 9, 0, tzinfo=UTC)
DURING = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 8, 10, 0, tzinfo=UTC)


@dataclass
class World:
    it: Department
    finance: Department
    hr: Department
    mia: Employee  # manager, leads IT
    max: Employee  # manager in Finance
    ada: Employee  # admin
    ravi: Employee  # IT
    olu: Employee  # IT
    ana: Employee  # Finance
    sam: Employee  # HR
    ian: Employee  # left (inactive), IT
    star: int  # person category, shortlist by points, 1 winner
    dept: int  # department category, per head, 1 winner
    bridge: int  # person category, departments helped, 2 winners

    async def user(self, person: Employee) -> CurrentUser:
        user = await load_current_user(person.id)
        assert user is not None
        return user


async def make_category(name: str, kind: str, shortlist: str, *, winners: int = 1, position: int = 1) -> int:
    rows = await AwardCategory.insert(
        AwardCategory(
            name=name,
            description=f"{name}.",
            nominee_kind=kind,
            winners=winners,
            shortlist=shortlist,
            position=position,
        )
    ).returning(AwardCategory.id)
    return rows[0]["id"]


async def thank(
    giver: Employee, recipients: list[Employee], points: int, at: datetime, message: str = "Thanks!"
) -> int:
    user = await load_current_user(giver.id)
    assert user is not None
    form = GiveForm(recipient_ids=[r.id for r in recipients], message=message, points=str(points))
    return (await give_kudos(user, form, at=at)).kudos_id


async def rated(world: World, resolver: Employee, scores: tuple[int, int, int], day: int) -> int:
    """A request of Ana's to IT, resolved by `resolver` on October `day` and rated by Ana; its id."""
    moment = datetime(2026, 10, day, 9, tzinfo=UTC)
    request_id = await workflow.file_request(world.ana.id, world.it.id, None, "Help", at=moment)
    await workflow.claim(resolver.id, request_id, at=moment + timedelta(hours=1))
    await workflow.complete(resolver.id, request_id, at=moment + timedelta(hours=2))
    await workflow.rate(world.ana.id, request_id, *scores, at=moment + timedelta(hours=3))
    return request_id


async def october_figures(world: World) -> None:
    """October's recognition and ratings, for the shortlist tests.

    Ravi is thanked by Ana (Finance, 10), Sam (HR, 5) and Max (Finance, 5): 20 points, 3 givers, 2 departments.
    Olu by Ana (15) and Ravi (IT, 10): 25 points, 2 givers, 1 other department. Ana by Olu (5). September's kudos
    (Sam → Ana, 30) does not count. Ravi's three rated requests average (15 + 12 + 12) / 9 = 4.33; Olu has two
    ratings: too few to show."""
    await thank(world.ana, [world.ravi], 10, OCT)
    await thank(world.sam, [world.ravi], 5, OCT)
    await thank(world.max, [world.ravi], 5, OCT)
    await thank(world.ana, [world.olu], 15, OCT)
    await thank(world.ravi, [world.olu], 10, OCT)
    await thank(world.olu, [world.ana], 5, OCT)
    await thank(world.sam, [world.ana], 30, datetime(2026, 9, 20, tzinfo=UTC))
    for scores, day in (((5, 5, 5), 2), ((4, 4, 4), 3), ((3, 4, 5), 4)):
        await rated(world, world.ravi, scores, day)
    for scores, day in (((5, 5, 5), 5), ((5, 5, 5), 6)):
        await rated(world, world.olu, scores, day)


async def build_world() -> World:
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    hr = await make_department("HR", slug="hr")
    mia = await make_employee("Mia Manager", email="mia@example.com", role=Role.MANAGER, department=it)
    await make_lead(it, mia)
    world = World(
        it=it,
        finance=finance,
        hr=hr,
        mia=mia,
        max=await make_employee("Max Manager", email="max@example.com", role=Role.MANAGER, department=finance),
        ada=await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN, department=hr),
        ravi=await make_employee("Ravi Patel", email="ravi@example.com", department=it, manager=mia),
        olu=await make_employee("Olu Bello", email="olu@example.com", department=it, manager=mia),
        ana=await make_employee("Ana Silva", email="ana@example.com", department=finance),
        sam=await make_employee("Sam Berg", email="sam@example.com", department=hr),
        ian=await make_employee("Ian Gone", email="ian@example.com", department=it, active=False),
        star=await make_category("Service Star", "person", "points", position=1),
        dept=await make_category("Department of the Month", "department", "per_head", position=2),
        bridge=await make_category("Bridge Builder", "person", "departments", winners=2, position=3),
    )
    return world


async def award_world(nominator_id: int) -> dict[str, int]:
    """For the access tests: a category and an open cycle holding one nomination by someone else."""
    from app.awards.tables import AwardCycle, Nomination
    from app.timeutil import now

    category = await make_category("Star", "person", "points")
    moment = now()
    rows = await AwardCycle.insert(
        AwardCycle(
            month=datetime(2000, 1, 1).date(), opens_at=moment, closes_at=moment, remind_at=moment, opened_at=moment
        )
    ).returning(AwardCycle.id)
    cycle = rows[0]["id"]
    nomination = await Nomination.insert(
        Nomination(
            cycle=cycle, category=category, nominator=nominator_id, person=nominator_id, reason="r", created_at=moment
        )
    ).returning(Nomination.id)
    return {"cycle": cycle, "category": category, "nomination": nomination[0]["id"]}


async def run_handlers(run_worker: Callable[..., Awaitable[object]]) -> None:
    """What the worker does with the events the awards published (notifications, badges, webhooks): the outbox is
    handed to arq and a real worker runs it (without its cron jobs, whose clock is the real one), as the worker's
    drain does, until the events its handlers published in turn (a badge earned) have run too."""
    from arq.connections import create_pool

    from app.jobs.outbox import drain
    from app.jobs.worker import redis_settings

    pool = await create_pool(redis_settings())
    try:
        await drain(pool)  # what a web request has not handed over already
        while True:
            worker = await run_worker(cron_jobs=[])
            assert worker.jobs_failed == 0  # type: ignore[attr-defined]
            if not await drain(pool):  # the events its handlers published in turn
                break
    finally:
        await pool.aclose()
