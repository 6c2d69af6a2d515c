"""Load the demo organisation from fixtures/ (departments, catalogues, people, managers, leads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

import app.db as db
from app.people.passwords import hash_password
from app.people.tables import Department, DepartmentLead, Employee, Role, Service

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"
DEMO_PASSWORD = "demo-password"  # noqa: S105 — documented demo credential, demo data only
DEMO_LOGINS = {
    Role.ADMIN: "admin@example.com",
    Role.MANAGER: "manager@example.com",
    Role.EMPLOYEE: "employee@example.com",
}


class OrganisationNotEmpty(RuntimeError):
    pass


async def demo_loaded() -> bool:
    """Whether the demo's admin account exists (so `serve` names the demo logins only when they work)."""
    return await Employee.exists().where(Employee.email == DEMO_LOGINS[Role.ADMIN])


class FixtureService(msgspec.Struct, frozen=True):
    name: str
    description: str
    hours: str
    target_hours: int


class FixtureDepartment(msgspec.Struct, frozen=True):
    slug: str
    name: str
    parent: str | None
    description: str
    services: list[FixtureService]


class FixturePerson(msgspec.Struct, frozen=True):
    name: str
    email: str
    title: str
    department: str  # slug
    manager: str | None  # email; managers come before their reports
    role: str
    leads: list[str] = []  # slugs of the departments they lead


class Fixture(msgspec.Struct, frozen=True):
    """The demo organisation as fixtures/demo/org.json describes it."""

    departments: list[FixtureDepartment]  # parents before their children
    people: list[FixturePerson]


def load_demo_fixture() -> Fixture:
    return msgspec.json.decode((FIXTURES_DIR / "demo" / "org.json").read_bytes(), type=Fixture)


@dataclass(frozen=True, slots=True)
class Seeded:
    departments: int
    people: int
    leads: int


async def seed_organisation(data: Fixture | None = None) -> Seeded:
    """Insert the demo organisation in one transaction (refuses when people already exist): departments, their
    catalogues, people, managers and leads. Returns their counts. Its activity is app.demo.seed's."""
    data = data or load_demo_fixture()
    # The organisation predates the three months of demo activity.
    founded = datetime.now(UTC) - timedelta(days=365)
    # One hash for every demo account: argon2 is deliberately slow, and these accounts share a password anyway.
    password_hash = hash_password(DEMO_PASSWORD)
    async with db.transaction():
        if await Employee.exists().where(Employee.id.is_not_null()):
            raise OrganisationNotEmpty("the organisation already has people; the demo loads only into an empty one")
        department_ids: dict[str, int] = {}
        for dept in data.departments:
            row = Department(
                name=dept.name,
                slug=dept.slug,
                parent=department_ids.get(dept.parent) if dept.parent else None,
                description=dept.description,
                created_at=founded,
            )
            await row.save()
            department_ids[dept.slug] = row.id
        await Service.insert(
            *[
                Service(
                    department=department_ids[dept.slug],
                    name=service.name,
                    description=service.description,
                    hours=service.hours,
                    target_hours=service.target_hours,
                    position=position,
                )
                for dept in data.departments
                for position, service in enumerate(dept.services)
            ]
        )
        people_ids: dict[str, int] = {}
        for person in data.people:  # managers come before their reports in the fixture
            employee = Employee(
                name=person.name,
                email=person.email.lower(),
                title=person.title,
                department=department_ids[person.department],
                manager=people_ids[person.manager] if person.manager else None,
                role=Role(person.role),
                password_hash=password_hash,
                created_at=founded,
            )
            await employee.save()
            people_ids[person.email] = employee.id
        leads = [
            DepartmentLead(department=department_ids[slug], employee=people_ids[person.email])
            for person in data.people
            for slug in person.leads
        ]
        if leads:
            await DepartmentLead.insert(*leads)
    return Seeded(departments=len(department_ids), people=len(people_ids), leads=len(leads))
