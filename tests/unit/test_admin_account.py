"""`kudos createadmin`'s service: create or promote, with password rules."""

from __future__ import annotations

import pytest

from app.people.services import AccountError, create_admin
from app.people.tables import Employee, Role
from app.signin.services import authenticate
from tests.factories import make_employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


async def test_creates_a_new_admin_who_can_sign_in() -> None:
    message = await create_admin(email=" New.Admin@Example.com", name="  Nia   Admin ", password="long enough pw")
    assert message == "Created admin Nia Admin <new.admin@example.com>."
    user = await authenticate("new.admin@example.com", "long enough pw")
    assert user is not None and user.role == Role.ADMIN


async def test_promotes_an_existing_person_and_reactivates_them() -> None:
    person = await make_employee(email="promote@example.com", active=False)
    assert await create_admin(email="promote@example.com", name="", password="another long pw") == (
        "promote@example.com is now an admin."
    )
    row = await Employee.select(Employee.role, Employee.active).where(Employee.id == person.id).first()
    assert row == {"role": "admin", "active": True}


@pytest.mark.parametrize(
    ("email", "name", "password", "message"),
    [
        ("not-an-email", "A", "long enough pw", "valid email"),
        ("a@example.com", "A", "short", "at least 10"),
        ("fresh@example.com", "   ", "long enough pw", "full name"),
    ],
)
async def test_refuses_bad_input_and_changes_nothing(email: str, name: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        await create_admin(email=email, name=name, password=password)
    assert await Employee.count() == 0
