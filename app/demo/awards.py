"""Demo awards: one announced cycle (the month before last) and one cycle taking nominations (last month).

Runs after the demo activity, through the award services with `at=` set, so nominations, winners, notifications,
badges and the feed hold exactly as if managers and admins had used the app. Nominees come from each cycle's
shortlist (SPEC B5), as a manager following the suggestions would pick them. The open cycle's deadline is a few
days after the load, whatever the award calendar says, so the demo always has nominations open to try.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.awards import services, shortlist
from app.awards.calendar import get_calendar
from app.awards.services import NominationForm
from app.people.seed import DEMO_LOGINS
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Employee, Role
from app.timeutil import month_of, now, previous_month

OPEN_FOR = timedelta(days=5)  # the open cycle's deadline, from the load
NOMINATORS = 3  # managers who nominate in each cycle (never the demo manager login, left to try it)
REASONS = (
    "Always the first to pick up a request and the clearest about what happens next.",
    "Went out of their way for other teams again and again this month.",
    "Colleagues across the organisation keep thanking them; the figures back it up.",
)


async def _people(role: Role, exclude: str) -> list[CurrentUser]:
    rows = (
        await Employee.select(Employee.id)
        .where(Employee.active.eq(True) & (Employee.role == role) & (Employee.email != exclude))
        .order_by(Employee.id)
    )
    users = [await load_current_user(row["id"]) for row in rows]
    return [u for u in users if u is not None]


async def _nominate(cycle: services.Cycle, managers: list[CurrentUser], *, at: datetime) -> int:
    """Each manager nominates the best shortlist suggestion they may nominate, in each category."""
    made = 0
    for turn, manager in enumerate(managers):
        led = await services.leads(manager.id)
        for category in await services.categories():
            if category.for_people:
                found = await shortlist.people(cycle.month, category.shortlist, viewer=manager.id, label=cycle.label)
            else:
                found = await shortlist.departments(cycle.month, category.shortlist, excluded=led, label=cycle.label)
            if not found:
                continue
            pick = found[turn % min(2, len(found))]
            reason = f"{pick.draft} {REASONS[(turn + category.position) % len(REASONS)]}"
            await services.nominate(
                manager, NominationForm(category_id=category.id, nominee=pick.token, reason=reason), at=at
            )
            made += 1
    return made


async def seed_awards(*, at: datetime | None = None) -> dict[str, int]:
    moment = at or now()
    managers = (await _people(Role.MANAGER, DEMO_LOGINS[Role.MANAGER]))[:NOMINATORS]
    admins = await _people(Role.ADMIN, "")
    if not managers or not admins:
        return {"award_cycles": 0, "nominations": 0}
    admin = next((a for a in admins if a.email == DEMO_LOGINS[Role.ADMIN]), admins[0])
    calendar = await get_calendar()
    last_month = previous_month(month_of(moment))

    # the month before last: nominated, closed, picked and announced on the calendar's schedule
    past = previous_month(last_month)
    opens_at, closes_at = calendar.window(past)
    past_id = await services.create_cycle(past, opens_at, closes_at, at=opens_at)
    assert past_id is not None
    cycle = await services.get_cycle(past_id)
    assert cycle is not None
    nominations = await _nominate(cycle, managers, at=opens_at + timedelta(hours=3))
    await services.close_due_cycles(at=closes_at)
    picked = False
    for entry in await services.review(cycle):
        if entry.nominees:
            picked = True
            top = entry.nominees[0]
            count = len(top.nominations)
            citation = (
                f"For {cycle.label}: chosen from {count} {'nomination' if count == 1 else 'nominations'} "
                "by their colleagues' managers."
            )
            await services.pick_winners(admin, past_id, entry.category.id, [(top.token, citation)], at=closes_at)
    if picked:
        await services.announce(admin, past_id, at=closes_at + timedelta(hours=2))

    # last month: open until a few days from now
    opens_at, _ = calendar.window(last_month)
    open_id = await services.create_cycle(last_month, min(opens_at, moment), moment + OPEN_FOR, at=moment)
    assert open_id is not None
    cycle = await services.get_cycle(open_id)
    assert cycle is not None
    nominations += await _nominate(cycle, managers[:2], at=moment)
    return {"award_cycles": 2, "nominations": nominations}
