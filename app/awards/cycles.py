"""Award cycles (SPEC F9): the awards for one month, moved along the calendar by the worker's jobs.

`open_due_cycle`, `send_due_reminders` and `close_due_cycles` are the jobs' services; the worker calls them every few
minutes and at start-up, so each is idempotent and safe to run late or twice: state lives in PostgreSQL (a cycle per
month, unique; one reminder row per cycle and manager; status changes by conditional UPDATE). Every service takes
`at=` (default now) so tests drive the clock. What other domains do about a cycle (notifications) they do from its
events: NominationReminderDue and NominationsClosed (app/events.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import app.db as db
from app.awards.calendar import REMIND_BEFORE, Calendar, get_calendar
from app.awards.categories import categories
from app.awards.tables import AwardCycle, AwardReminder, CycleStatus, Nomination
from app.events import NominationReminderDue, NominationsClosed, publish
from app.mail.backends import get_backend
from app.mail.message import build_message
from app.mail.render import mail_environment, render_mail
from app.paging import valid_id
from app.people.tables import Employee
from app.settings import get_settings
from app.timeutil import localtime, month_of, next_month, now, previous_month


def month_label(month: date) -> str:
    return f"{month:%B %Y}"


def deadline_words(moment: datetime) -> str:
    """A deadline in words, in the organisation's time zone: "on Saturday 7 November at 09:00 (UTC)"."""
    return f"on {localtime(moment, '%A %-d %B at %H:%M')} ({get_settings().timezone})"


@dataclass(frozen=True, slots=True)
class Cycle:
    id: int
    month: date
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime
    status: str
    opened_at: datetime
    closed_at: datetime | None
    announced_at: datetime | None
    announced_by: int | None
    changes: int = 0  # changes to the month's figures since it opened (app/awards/stored.py)

    @property
    def label(self) -> str:
        return month_label(self.month)

    def phase(self, at: datetime | None = None) -> str:
        """ "open" (nominations accepted), "review" (closed, winners not announced) or "announced"."""
        if self.status == CycleStatus.ANNOUNCED:
            return "announced"
        if self.status == CycleStatus.OPEN and (at or now()) < self.closes_at:
            return "open"
        return "review"


@dataclass(frozen=True, slots=True)
class Manager:
    """A manager to remind."""

    id: int
    name: str
    email: str


async def get_cycle(cycle_id: int) -> Cycle | None:
    if not valid_id(cycle_id):
        return None
    row = await AwardCycle.select().where(AwardCycle.id == cycle_id).first()
    return Cycle(**row) if row else None


async def list_cycles() -> list[Cycle]:
    """Every cycle, newest month first."""
    return [Cycle(**row) for row in await AwardCycle.select().order_by(AwardCycle.month, ascending=False)]


def taking_nominations(listed: Iterable[Cycle], at: datetime | None = None) -> Cycle | None:
    """The cycle of `listed` (newest month first) taking nominations at `at`, if any."""
    moment = at or now()
    return next((c for c in listed if c.status == CycleStatus.OPEN and c.opens_at <= moment < c.closes_at), None)


async def open_cycle(at: datetime | None = None) -> Cycle | None:
    """The cycle taking nominations at `at`, if any (there are a dozen cycles a year: all are read)."""
    return taking_nominations(await list_cycles(), at)


async def create_cycle(month: date, opens_at: datetime, closes_at: datetime, *, at: datetime) -> int | None:
    """Open the cycle for `month` with these times; None when it exists already (nothing changes)."""
    cycle = AwardCycle(
        month=month,
        opens_at=opens_at,
        closes_at=closes_at,
        remind_at=closes_at - REMIND_BEFORE,
        status=CycleStatus.OPEN,
        opened_at=at,
    )
    rows = (
        await AwardCycle.insert(cycle)
        .on_conflict(target=AwardCycle.month, action="DO NOTHING")
        .returning(AwardCycle.id)
    )
    return rows[0]["id"] if rows else None


async def open_due_cycle(*, at: datetime | None = None) -> int | None:
    """Open the cycle for the month that just ended once its window has begun (job `open_award_cycle`). Late is
    fine: the deadline stays the calendar's. Returns the new cycle's id, or None when nothing was due or it exists."""
    moment = at or now()
    calendar = await get_calendar()
    month = previous_month(month_of(moment))
    opens_at, closes_at = calendar.window(month)
    if moment < opens_at:
        return None
    return await create_cycle(month, opens_at, closes_at, at=moment)


async def close_due_cycles(*, at: datetime | None = None) -> list[int]:
    """Close nominations of open cycles whose deadline has passed (job `close_award_cycles`); each closed cycle
    publishes NominationsClosed (the admins are told to review). Returns the ids closed by this call (none when run
    again)."""
    moment = at or now()
    async with db.transaction():
        rows = (
            await AwardCycle.update({AwardCycle.status: CycleStatus.CLOSED, AwardCycle.closed_at: moment})
            .where((AwardCycle.status == CycleStatus.OPEN) & (AwardCycle.closes_at <= moment))
            .returning(AwardCycle.id, AwardCycle.month)
        )
        for row in rows:
            count = await Nomination.count().where(Nomination.cycle == row["id"])
            await publish(NominationsClosed(cycle_id=row["id"], month=row["month"], nominations=count, at=moment))
    return [row["id"] for row in rows]


# Active managers with no nomination in the cycle and no reminder sent for it yet.
_MANAGERS_TO_REMIND_SQL = """
    SELECT e.id, e.name, e.email FROM employee e
    WHERE e.active AND e.role = 'manager'
      AND NOT EXISTS (SELECT 1 FROM nomination n WHERE n.cycle = {} AND n.nominator = e.id)
      AND NOT EXISTS (SELECT 1 FROM award_reminder r WHERE r.cycle = {} AND r.manager = e.id)
    ORDER BY e.id
"""


async def managers_to_remind(cycle_id: int) -> list[Manager]:
    rows = await Employee.raw(_MANAGERS_TO_REMIND_SQL, cycle_id, cycle_id)
    return [Manager(**row) for row in rows]


async def _claim_reminder(cycle_id: int, manager_id: int, at: datetime) -> bool:
    """Record the reminder of `manager_id` for the cycle; False when it is recorded already."""
    rows = (
        await AwardReminder.insert(AwardReminder(cycle=cycle_id, manager=manager_id, sent_at=at))
        .on_conflict(target=(AwardReminder.cycle, AwardReminder.manager), action="DO NOTHING")
        .returning(AwardReminder.id)
    )
    return bool(rows)


async def send_due_reminders(*, at: datetime | None = None) -> int:
    """One reminder (an email here, a notification from NominationReminderDue) to each manager who has not
    nominated, from a day before the deadline until it (job `send_nomination_reminders`). Each reminder is recorded
    in the transaction that sends it: a manager already recorded is skipped, a concurrent run waits on the row and
    skips it, and a failed send rolls the record (and the event) back so the next run tries again. Returns how many
    were sent."""
    moment = at or now()
    settings = get_settings()
    due = [
        Cycle(**row)
        for row in await AwardCycle.select().where(
            (AwardCycle.status == CycleStatus.OPEN) & (AwardCycle.remind_at <= moment) & (AwardCycle.closes_at > moment)
        )
    ]
    sent = 0
    if not due:
        return sent
    env = mail_environment()
    async with get_backend(settings) as backend:
        for cycle in due:
            for manager in await managers_to_remind(cycle.id):
                async with db.transaction():
                    if not await _claim_reminder(cycle.id, manager.id, moment):
                        continue
                    await publish(
                        NominationReminderDue(
                            cycle_id=cycle.id,
                            month=cycle.month,
                            manager_id=manager.id,
                            closes_at=cycle.closes_at,
                            at=moment,
                        )
                    )
                    mail = render_mail(
                        env,
                        "nomination_reminder",
                        to=manager.email,
                        subject=f"Nominations for the {cycle.label} awards close tomorrow",
                        context={
                            "org_name": settings.org_name,
                            "name": manager.name,
                            "cycle": cycle,
                            "deadline": deadline_words(cycle.closes_at),
                            "categories": await categories(),
                        },
                    )
                    await backend.send(build_message(mail, sender=settings.mail_from))
                    sent += 1
    return sent


def next_window(calendar: Calendar, at: datetime | None = None) -> tuple[date, datetime, datetime]:
    """The next nomination window that has not closed: (month it is for, opens, closes)."""
    moment = at or now()
    month = previous_month(month_of(moment))
    opens_at, closes_at = calendar.window(month)
    if closes_at <= moment:
        month = next_month(month)
        opens_at, closes_at = calendar.window(month)
    return month, opens_at, closes_at
