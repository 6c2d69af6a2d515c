"""Demo awards: one announced cycle (the month before last) and one cycle taking nominations (last month).

Runs after the demo activity, through the award services with `at=` set, so nominations, winners, notifications,
badges and the feed hold exactly as if managers and admins had used the app. Nominees come from each cycle's
shortlist (SPEC B5), as a manager following the suggestions would pick them. Reasons and citations are written the
way a manager would write them: in their own words, quoting a kudos the nominee actually received that month. The
open cycle's deadline is a few days after the load, whatever the award calendar says, so the demo always has
nominations open to try.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.awards import categories, cycles, nominations, shortlist, winners
from app.awards.calendar import get_calendar
from app.awards.cycles import Cycle
from app.awards.nominations import NominationForm
from app.awards.winners import ReviewedNominee
from app.handlers import register_all
from app.jobs.handling import run_recorded
from app.kudos.tables import Kudos
from app.people.seed import DEMO_LOGINS
from app.people.services import CurrentUser, led_departments, load_current_user
from app.people.tables import Employee, Role
from app.timeutil import month_bounds, month_of, now, previous_month
from app.words import excerpt

OPEN_FOR = timedelta(days=5)  # the open cycle's deadline, from the load
NOMINATORS = 3  # managers who nominate in each cycle (never the demo manager login, left to try it)
# What a manager writes: {first} the nominee's first name (a department's name), {giver} and {team} who thanked them
# and from where, {quote} that kudos.
PERSON_REASONS = (
    "{first} is who my team goes to when something is stuck, and we are not the only ones. {giver} from {team} "
    "wrote: “{quote}” That is the kind of service I would like everyone to notice.",
    "I lost count of the thank-yous for {first} this month. The one that stayed with me was from {giver} in "
    "{team}: “{quote}”",
    "Quietly reliable, all month long. When {giver} ({team}) needed help, {first} sorted it and explained it so it "
    "would not come back. In {giver_first}'s words: “{quote}”",
    "{first} never makes anyone feel their request is a small one. {giver} said it better than I can: “{quote}”",
)
DEPARTMENT_REASONS = (
    "{first} had a busy month and still treated every request from my team with care. {giver} from {team} summed "
    "it up: “{quote}”",
    "Every handover to {first} this month went smoothly, and my people noticed. {giver} ({team}) put it in one "
    "line: “{quote}”",
    "Small team, big month. {first} kept the rest of us moving; {giver} from {team} wrote: “{quote}”",
)
NO_QUOTE = "{first} helped colleagues well beyond their own team this month, without anyone having to ask twice."
# What the admin writes when picking a winner: {first} as above, {month}, {managers} who nominated them in words.
PERSON_CITATIONS = (
    "{managers} nominated {first} for {month}, and every reason said the same thing in different words: "
    "dependable, quick and kind about it. Thank you, {first}.",
    "For {month}: the colleague other teams asked for by name. Thank you, {first}, for making the rest of us "
    "look good.",
    "{first} spent {month} helping people far outside their own team, and it showed in every nomination. Well earned.",
)
DEPARTMENT_CITATIONS = (
    "{first} for {month}: busy, fair to every team that asked, and still cheerful on the last day of the month. "
    "Nominated by {managers}.",
)
_NUMBERS = ("no one", "one manager", "two managers", "three managers", "four managers", "five managers")

# The nominee's most generous public kudos of the month (from outside the department, for a department).
_QUOTE_SQL = """
SELECT k.message, g.name AS giver, coalesce(d.name, 'another team') AS team
FROM kudos k
JOIN kudos_recipient kr ON kr.kudos = k.id
JOIN employee r ON r.id = kr.employee
JOIN employee g ON g.id = k.giver
LEFT JOIN department d ON d.id = g.department
WHERE k.visibility = 'public' AND k.revoked_at IS NULL AND k.created_at >= {} AND k.created_at < {}
  AND position('“' IN k.message) = 0  -- a quote inside the quote reads badly
  AND (({} = 'p' AND r.id = {}) OR ({} = 'd' AND r.department = {} AND g.department IS DISTINCT FROM r.department))
ORDER BY k.points DESC, k.created_at, k.id
LIMIT 5
"""


async def _reason(cycle: Cycle, pick: shortlist.Suggestion, turn: int) -> str:
    """A reason as a manager would write it, quoting a kudos the nominee received in the cycle's month; `turn`
    (the manager's and the category's) varies the words and the kudos quoted."""
    start, end = month_bounds(cycle.month)
    kind, nominee = pick.token[0], int(pick.token[1:])
    rows = await Kudos.raw(_QUOTE_SQL, start, end, kind, nominee, kind, nominee)
    first = pick.name.split()[0] if kind == "p" else pick.name
    if not rows:
        return NO_QUOTE.format(first=first)
    row = rows[turn % len(rows)]
    templates = PERSON_REASONS if kind == "p" else DEPARTMENT_REASONS
    return templates[(turn + nominee) % len(templates)].format(
        first=first,
        giver=row["giver"],
        giver_first=row["giver"].split()[0],
        team=row["team"],
        quote=excerpt(row["message"], 160),
    )


def _citation(cycle: Cycle, top: ReviewedNominee, position: int) -> str:
    first = top.name.split()[0] if top.token.startswith("p") else top.name
    templates = PERSON_CITATIONS if top.token.startswith("p") else DEPARTMENT_CITATIONS
    managers = _NUMBERS[min(len(top.nominations), len(_NUMBERS) - 1)]
    text = templates[position % len(templates)].format(first=first, month=cycle.label, managers=managers)
    return text[0].upper() + text[1:]


async def _people(role: Role, exclude: str) -> list[CurrentUser]:
    rows = (
        await Employee.select(Employee.id)
        .where(Employee.active.eq(True) & (Employee.role == role) & (Employee.email != exclude))
        .order_by(Employee.id)
    )
    users = [await load_current_user(row["id"]) for row in rows]
    return [u for u in users if u is not None]


async def _nominate(cycle: Cycle, managers: list[CurrentUser], *, at: datetime) -> int:
    """Each manager nominates the best shortlist suggestion they may nominate, in each category."""
    made = 0
    for turn, manager in enumerate(managers):
        led = await led_departments(manager.id)
        for category in await categories.categories():
            if category.for_people:
                found = await shortlist.people(cycle.month, category.shortlist, viewer=manager.id, label=cycle.label)
            else:
                found = await shortlist.departments(cycle.month, category.shortlist, excluded=led, label=cycle.label)
            if not found:
                continue
            pick = found[turn % min(2, len(found))]
            reason = await _reason(cycle, pick, turn + category.position)
            await nominations.nominate(
                manager, NominationForm(category=str(category.id), nominee=pick.token, reason=reason), at=at
            )
            made += 1
    return made


async def seed_awards(*, at: datetime | None = None) -> dict[str, int]:
    """The two demo cycles; the events they publish (notifications, badges) are handled at once, as the worker
    would."""
    moment = at or now()
    register_all()
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
    past_id = await cycles.create_cycle(past, opens_at, closes_at, at=opens_at)
    assert past_id is not None
    cycle = await cycles.get_cycle(past_id)
    assert cycle is not None
    made = await _nominate(cycle, managers, at=opens_at + timedelta(hours=3))
    await cycles.close_due_cycles(at=closes_at)
    await run_recorded()  # the admins' "to review" prompt exists before the announcement closes it
    picked = False
    for entry in await winners.review(cycle):
        if entry.nominees:
            picked = True
            top = entry.nominees[0]
            citation = _citation(cycle, top, entry.category.position)
            await winners.pick_winners(admin, past_id, entry.category.id, [(top.token, citation)], at=closes_at)
    if picked:
        await winners.announce(admin, past_id, at=closes_at + timedelta(hours=2))

    # last month: open until a few days from now
    opens_at, _ = calendar.window(last_month)
    open_id = await cycles.create_cycle(last_month, min(opens_at, moment), moment + OPEN_FOR, at=moment)
    assert open_id is not None
    cycle = await cycles.get_cycle(open_id)
    assert cycle is not None
    made += await _nominate(cycle, managers[:2], at=moment)
    await run_recorded()
    return {"award_cycles": 2, "nominations": made}
