"""People and departments: the signed-in person, directory search, department pages, accounts. No HTTP here
(signing in is app/signin)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count

from app.likeness import like_contains
from app.paging import valid_id
from app.people.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.people.tables import Department, DepartmentLead, Employee, Role, Service


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in person, loaded once per request."""

    id: int
    name: str
    email: str
    role: Role
    department_id: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER


def normalise_email(email: str) -> str:
    return email.strip().lower()


# Every signed-in request runs it: one fixed statement, no query building.
_CURRENT_USER_SQL = "SELECT id, name, email, role, department FROM employee WHERE id = {} AND active LIMIT 1"


async def load_current_user(employee_id: int) -> CurrentUser | None:
    rows = await Employee.raw(_CURRENT_USER_SQL, employee_id)
    if not rows:
        return None
    row = rows[0]
    return CurrentUser(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        role=Role(row["role"]),
        department_id=row["department"],
    )


@dataclass(frozen=True, slots=True)
class Link:
    """Something a page links to by id or address, with its name."""

    name: str
    id: int | None = None
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """An active person as the directory and the people pickers list them."""

    id: int
    name: str
    title: str
    department_name: str | None
    department_slug: str | None


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    page: int
    people: list[DirectoryPerson] = field(default_factory=list)
    departments: list[Link] = field(default_factory=list)
    has_more: bool = False


async def search_directory(query: str, *, page: int = 1, per_page: int = 30) -> SearchResults:
    """Active people matching `query` by name, email or title (everyone when empty), and matching departments."""
    query = " ".join(query.split())[:100]
    page = max(page, 1)
    people_query = Employee.select(
        Employee.id,
        Employee.name,
        Employee.title,
        Employee.department.name.as_alias("department_name"),
        Employee.department.slug.as_alias("department_slug"),
    ).where(Employee.active.eq(True))
    departments: list[Link] = []
    if query:
        pattern = like_contains(query)
        people_query = people_query.where(
            Employee.name.ilike(pattern) | Employee.email.ilike(pattern) | Employee.title.ilike(pattern)
        )
        if page == 1:
            rows = (
                await Department.select(Department.id, Department.name, Department.slug)
                .where(Department.archived_at.is_null() & Department.name.ilike(pattern))
                .order_by(Department.name)
                .limit(per_page)
            )
            departments = [Link(**row) for row in rows]
    people = (
        await people_query.order_by(Employee.name)
        .order_by(Employee.id)
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    )
    return SearchResults(
        query=query,
        page=page,
        people=[DirectoryPerson(**row) for row in people[:per_page]],
        departments=departments,
        has_more=len(people) > per_page,
    )


@dataclass(frozen=True, slots=True)
class DepartmentSummary:
    """An active department as the departments page lists it."""

    id: int
    name: str
    slug: str
    description: str
    parent: int | None
    parent_name: str | None
    members: int
    services: int
    leads: list[Link]


async def list_departments() -> list[DepartmentSummary]:
    """Active departments with their member and service counts and leads, parents before children."""
    departments = (
        await Department.select(
            Department.id,
            Department.name,
            Department.slug,
            Department.description,
            Department.parent,
            Department.parent.name.as_alias("parent_name"),
        )
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )
    members = await (
        Employee.select(Employee.department, Count(Employee.id).as_alias("count"))
        .where(Employee.active.eq(True))
        .group_by(Employee.department)
    )
    services = await (
        Service.select(Service.department, Count(Service.id).as_alias("count"))
        .where(Service.active.eq(True))
        .group_by(Service.department)
    )
    leads = await DepartmentLead.select(
        DepartmentLead.department, DepartmentLead.employee, DepartmentLead.employee.name.as_alias("name")
    ).order_by(DepartmentLead.employee.name)
    member_counts = {row["department"]: row["count"] for row in members}
    service_counts = {row["department"]: row["count"] for row in services}
    leads_by_department: dict[int, list[Link]] = {}
    for lead in leads:
        leads_by_department.setdefault(lead["department"], []).append(Link(id=lead["employee"], name=lead["name"]))
    return [
        DepartmentSummary(
            **row,
            members=member_counts.get(row["id"], 0),
            services=service_counts.get(row["id"], 0),
            leads=leads_by_department.get(row["id"], []),
        )
        for row in departments
    ]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    name: str
    description: str
    hours: str
    target_hours: int


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    title: str
    is_lead: bool


MEMBERS_SHOWN = 30  # members listed on a department's page (leads first); the rest are on its members pages


@dataclass(frozen=True, slots=True)
class DepartmentPage:
    """A department with its catalogue, its first MEMBERS_SHOWN members (leads first), how many it has in all, and
    its sub-departments."""

    id: int
    name: str
    slug: str
    description: str
    parent_name: str | None
    parent_slug: str | None
    services: list[CatalogueEntry]
    members: list[Member]
    member_count: int
    children: list[Link]


# A department's page in one round trip: the department and its parent, its active catalogue, its first members
# (leads first, then by name; active people only), how many active members it has, and its sub-departments.
_DEPARTMENT_SQL = """
    SELECT d.id, d.name, d.slug, d.description, p.name AS parent_name, p.slug AS parent_slug,
           ARRAY(SELECT ROW(s.name, s.description, s.hours, s.target_hours) FROM service s
                 WHERE s.department = d.id AND s.active ORDER BY s.position, s.name) AS services,
           ARRAY(SELECT ROW(m.id, m.name, m.title, m.is_lead) FROM (
                     (SELECT e.id, e.name, e.title, true AS is_lead FROM department_lead l
                      JOIN employee e ON e.id = l.employee AND e.department = d.id AND e.active
                      WHERE l.department = d.id)
                     UNION ALL
                     (SELECT e.id, e.name, e.title, false FROM employee e
                      WHERE e.department = d.id AND e.active
                        AND NOT EXISTS (SELECT 1 FROM department_lead l WHERE l.department = d.id AND l.employee = e.id)
                      ORDER BY e.name, e.id LIMIT {})
                 ) AS m ORDER BY NOT m.is_lead, m.name, m.id LIMIT {}) AS members,
           (SELECT count(*) FROM employee e WHERE e.department = d.id AND e.active) AS member_count,
           ARRAY(SELECT ROW(c.name, c.slug) FROM department c
                 WHERE c.parent = d.id AND c.archived_at IS NULL ORDER BY c.name) AS children
    FROM department d LEFT JOIN department p ON p.id = d.parent
    WHERE d.slug = {} AND d.archived_at IS NULL
"""


async def get_department(slug: str) -> DepartmentPage | None:
    """A department with its catalogue, first members, member count and sub-departments, or None."""
    rows = await Department.raw(_DEPARTMENT_SQL, MEMBERS_SHOWN, MEMBERS_SHOWN, slug)
    if not rows:
        return None
    department = rows[0]
    services = [CatalogueEntry(*service) for service in department.pop("services")]
    members = [Member(*member) for member in department.pop("members")]
    children = [Link(name=name, slug=child) for name, child in department.pop("children")]
    return DepartmentPage(**department, services=services, members=members, children=children)


@dataclass(frozen=True, slots=True)
class MembersPage:
    """A page of a department's active members by name (its leads marked)."""

    department: Link
    members: list[Member]
    page: int
    has_more: bool


_MEMBERS_SQL = """
    SELECT e.id, e.name, e.title, EXISTS (
               SELECT 1 FROM department_lead l WHERE l.department = e.department AND l.employee = e.id) AS is_lead
    FROM employee e WHERE e.department = {} AND e.active
    ORDER BY e.name, e.id LIMIT {} OFFSET {}
"""


async def department_members(slug: str, *, page: int = 1, per_page: int = 50) -> MembersPage | None:
    """Page `page` of the active members of the department at `slug`, or None when there is no such department."""
    department = (
        await Department.select(Department.id, Department.name, Department.slug)
        .where((Department.slug == slug) & Department.archived_at.is_null())
        .first()
    )
    if department is None:
        return None
    page = max(page, 1)
    rows = await Employee.raw(_MEMBERS_SQL, department["id"], per_page + 1, (page - 1) * per_page)
    return MembersPage(
        department=Link(**department),
        members=[Member(**row) for row in rows[:per_page]],
        page=page,
        has_more=len(rows) > per_page,
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """A person's public profile: who they are, where they sit, whom they report to and who reports to them."""

    id: int
    name: str
    title: str
    email: str
    role: str
    active: bool
    created_at: datetime
    department_name: str | None
    department_slug: str | None
    manager_id: int | None
    manager_name: str | None
    reports: list[Member]
    leads: list[Link]


# A profile in one round trip: the person with their department and manager, their active direct reports (by name)
# and the departments they lead, the last two as arrays of (id, name, title) and (name, slug).
_PROFILE_SQL = """
    SELECT e.id, e.name, e.title, e.email, e.role, e.active, e.created_at,
           d.name AS department_name, d.slug AS department_slug, e.manager AS manager_id, m.name AS manager_name,
           ARRAY(SELECT ROW(r.id, r.name, r.title) FROM employee r WHERE r.manager = e.id AND r.active
                 ORDER BY r.name, r.id) AS reports,
           ARRAY(SELECT ROW(ld.name, ld.slug) FROM department_lead l JOIN department ld ON ld.id = l.department
                 WHERE l.employee = e.id ORDER BY ld.name) AS leads
    FROM employee e LEFT JOIN department d ON d.id = e.department LEFT JOIN employee m ON m.id = e.manager
    WHERE e.id = {}
"""


async def get_profile(employee_id: int) -> Profile | None:
    if not valid_id(employee_id):
        return None
    rows = await Employee.raw(_PROFILE_SQL, employee_id)
    if not rows:
        return None
    person = rows[0]
    reports = [Member(id=i, name=name, title=title, is_lead=False) for i, name, title in person.pop("reports")]
    leads = [Link(name=name, slug=slug) for name, slug in person.pop("leads")]
    return Profile(**person, reports=reports, leads=leads)


_LED_SQL = "SELECT department FROM department_lead WHERE employee = {}"


async def led_departments(employee_id: int) -> set[int]:
    """The departments `employee_id` leads."""
    return {row["department"] for row in await DepartmentLead.raw(_LED_SQL, employee_id)}


@dataclass(frozen=True, slots=True)
class OrganisationCounts:
    people: int
    inactive: int
    departments: int
    admins: int


_COUNTS_SQL = """
    SELECT count(*) FILTER (WHERE active) AS people, count(*) FILTER (WHERE NOT active) AS inactive,
           (SELECT count(*) FROM department WHERE archived_at IS NULL) AS departments,
           count(*) FILTER (WHERE active AND role = 'admin') AS admins
    FROM employee
"""


async def organisation_counts() -> OrganisationCounts:
    return OrganisationCounts(**(await Employee.raw(_COUNTS_SQL))[0])


async def organisation_is_empty() -> bool:
    return not await Employee.exists().where(Employee.id.is_not_null())


class AccountError(ValueError):
    pass


async def create_admin(*, email: str, name: str, password: str) -> str:
    """Make the person with `email` an active admin with this password, creating them when new."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("Enter a valid email address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    existing = await Employee.select(Employee.id).where(Employee.email == email).first()
    values: dict[Column | str, Any] = {
        Employee.role: Role.ADMIN,
        Employee.active: True,
        Employee.password_hash: hash_password(password),
    }
    if existing is not None:
        await Employee.update(values).where(Employee.id == existing["id"])
        return f"{email} is now an admin."
    name = " ".join(name.split())
    if not name:
        raise AccountError("Give the new admin's full name with --name.")
    await Employee.insert(
        Employee(
            name=name,
            email=email,
            role=Role.ADMIN,
            password_hash=values[Employee.password_hash],
            created_at=datetime.now(UTC),
        )
    )
    return f"Created admin {name} <{email}>."
