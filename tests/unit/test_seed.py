"""The demo organisation loads completely, once."""

from __future__ import annotations

import pytest

from app.demo.seed import seed_demo
from app.kudos.tables import Kudos
from app.people.seed import DEMO_LOGINS, DEMO_PASSWORD, OrganisationNotEmpty, load_demo_fixture
from app.people.tables import Department, DepartmentLead, Employee, Role, Service
from app.requests.tables import Request
from app.signin.services import authenticate

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


async def test_demo_organisation_loads_with_working_logins() -> None:
    counts = await seed_demo(activity=False)  # the activity has tests of its own (test_demo_activity.py)
    fixture = load_demo_fixture()
    assert counts["people"] == len(fixture.people) == await Employee.count()
    assert counts["departments"] == len(fixture.departments) == await Department.count()
    assert await Department.count() >= 8 and 50 <= await Employee.count() <= 70
    assert await Service.count() >= 3 * await Department.count()
    # every department has a lead, and every lead belongs to the department they lead
    assert await DepartmentLead.count() >= await Department.count()
    for role, email in DEMO_LOGINS.items():
        user = await authenticate(email, DEMO_PASSWORD)
        assert user is not None and user.role == role
    employee = (
        await Employee.select(Employee.manager.email.as_alias("manager"))
        .where(Employee.email == DEMO_LOGINS[Role.EMPLOYEE])
        .first()
    )
    assert employee["manager"] == DEMO_LOGINS[Role.MANAGER]
    without_manager = await Employee.count().where(Employee.manager.is_null())
    assert without_manager == 1  # one person at the top


async def test_demo_refuses_to_load_twice() -> None:
    await seed_demo(activity=False)
    with pytest.raises(OrganisationNotEmpty):
        await seed_demo()
    assert await Employee.count() == len(load_demo_fixture().people)
    assert await Request.count() == 0 and await Kudos.count() == 0, "no activity without a fresh organisation"
