"""Build rows for tests with sensible defaults; every person can sign in with PASSWORD."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from functools import lru_cache

from app.people.passwords import hash_password
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Department, DepartmentLead, Employee, Role, Service

PASSWORD = "correct horse battery"
_sequence = itertools.count(1)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)


async def make_department(
    name: str | None = None, *, slug: str | None = None, parent: int | None = None, description: str = ""
) -> Department:
    n = next(_sequence)
    department = Department(
        name=name or f"Department {n}",
        slug=slug or f"department-{n}",
        parent=parent,
        description=description or "Helps colleagues with things.",
        created_at=datetime.now(UTC),
    )
    await department.save()
    return department


async def make_service(department: Department, name: str = "Help", *, target_hours: int = 24) -> Service:
    service = Service(
        department=department.id,
        name=name,
        description=f"{name} for colleagues",
        hours="Mon-Fri 9-17",
        target_hours=target_hours,
    )
    await service.save()
    return service


async def make_employee(
    name: str | None = None,
    *,
    email: str | None = None,
    role: Role = Role.EMPLOYEE,
    department: Department | None = None,
    manager: Employee | None = None,
    active: bool = True,
    title: str = "Specialist",
    password: bool = True,
) -> Employee:
    n = next(_sequence)
    employee = Employee(
        name=name or f"Person {n}",
        email=(email or f"person{n}@example.test").lower(),
        title=title,
        department=department.id if department else None,
        manager=manager.id if manager else None,
        role=role,
        active=active,
        password_hash=_password_hash() if password else None,
        created_at=datetime.now(UTC),
    )
    await employee.save()
    return employee


async def make_lead(department: Department, employee: Employee) -> None:
    await DepartmentLead.insert(DepartmentLead(department=department.id, employee=employee.id))


async def make_request(
    requester: Employee,
    department: Department,
    title: str = "Laptop won't boot",
    *,
    service: Service | None = None,
    description: str = "",
    resolvers: tuple[Employee, ...] = (),
    status: str | None = None,
    created_at: datetime | None = None,
) -> int:
    """A request filed through the service (so it has its history); `resolvers` claim it in order, and `status`
    "completed" or "cancelled" then finishes it (the first resolver completes; the requester cancels)."""
    from app.requests import workflow

    request_id = await workflow.file_request(
        requester.id, department.id, service.id if service else None, title, description, at=created_at
    )
    for resolver in resolvers:
        if resolver is resolvers[0]:
            await workflow.claim(resolver.id, request_id)
        else:
            await workflow.add_resolver(resolvers[0].id, request_id, resolver.id)
    if status == "completed":
        await workflow.complete(resolvers[0].id, request_id)
    elif status == "cancelled":
        await workflow.cancel(requester.id, request_id)
    return request_id


async def as_user(employee: Employee) -> CurrentUser:
    """The person as the services see them when they act (signed in, active)."""
    found = await load_current_user(employee.id)
    assert found is not None
    return found
