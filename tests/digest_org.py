"""A small organisation with a month of recognition behind it, for the digest tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.digests.services import last_month
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.notices.preferences import set_choices
from app.notices.tables import Choice, NoticeKind
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.requests import workflow
from app.timeutil import month_bounds
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_lead


@dataclass
class SmallOrg:
    month: date  # last month: the digests are about it
    mia: Employee  # IT lead and manager of Ann and Ben
    ann: Employee  # IT, thanked publicly by Carl and privately by Ben; completed Carl's request
    ben: Employee  # IT, thanked by Ann; opted out of leaderboards
    gus: Employee  # IT, reports to Mia, never recognised
    carl: Employee  # HR
    dan: Employee  # left (inactive)
    eve: Employee  # joined after last month ended

    @property
    def eligible_employees(self) -> set[int]:
        return {self.mia.id, self.ann.id, self.ben.id, self.gus.id, self.carl.id}

    @property
    def eligible_managers(self) -> set[int]:
        return {self.mia.id}


async def thank(giver: Employee, recipient: Employee, message: str, *, at, points: int = 5, private: bool = False):
    form = GiveForm(
        recipient_ids=[recipient.id],
        message=message,
        points=str(points),
        visibility="private" if private else "public",
    )
    return await give_kudos(await load_current_user(giver.id), form, at=at)


async def small_org() -> SmallOrg:
    month = last_month()
    start, end = month_bounds(month)
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    mia = await make_employee("Mia Manager", email="mia@example.com", role=Role.MANAGER, department=it)
    await make_lead(it, mia)
    ann = await make_employee("Ann Analyst", email="ann@example.com", department=it, manager=mia)
    ben = await make_employee("Ben Builder", email="ben@example.com", department=it, manager=mia)
    gus = await make_employee("Gus Quiet", email="gus@example.com", department=it, manager=mia)
    carl = await make_employee("Carl Clerk", email="carl@example.com", department=hr)
    dan = await make_employee("Dan Departed", email="dan@example.com", department=hr)
    eve = await make_employee("Eve Newcomer", email="eve@example.com", department=hr)
    joined = start - timedelta(days=90)
    await Employee.update({Employee.created_at: joined}).where(
        Employee.id.is_in([mia.id, ann.id, ben.id, gus.id, carl.id, dan.id])
    )
    await Employee.update({Employee.board_opt_out: True}).where(Employee.id == ben.id)
    for person in (mia, ann, ben, gus, carl, dan, eve):  # digests only: no email notices of the month's events
        await set_choices(person.id, dict.fromkeys(NoticeKind, Choice.NEVER))

    day = start + timedelta(days=3)
    await thank(carl, ann, "Thanks for rescuing my <b>laptop</b> & data!", at=day, points=10)
    await thank(ben, ann, "Private thanks for covering my shift.", at=day + timedelta(hours=1), private=True)
    await thank(ann, ben, "Great pairing session.", at=day + timedelta(hours=2))
    await thank(dan, carl, "Thanks for the payslip fix.", at=day + timedelta(hours=3))
    request_id = await workflow.file_request(carl.id, it.id, None, "Laptop won't boot", "", at=day)
    await workflow.claim(ann.id, request_id, at=day + timedelta(hours=1))
    await workflow.complete(ann.id, request_id, at=day + timedelta(hours=4))
    await Employee.update({Employee.active: False}).where(Employee.id == dan.id)
    assert end > day
    await run_stored_events()  # the kudos' reactions (notifications, badges), as the worker would have run them
    return SmallOrg(month=month, mia=mia, ann=ann, ben=ben, gus=gus, carl=carl, dan=dan, eve=eve)
