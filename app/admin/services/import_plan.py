"""Admin: CSV import of people or departments, the dry run — every row's problem, and what the import would
create and change, with nothing changed (the import itself, a background job, is app/admin/services/imports).

People files: `name`, `email` (required), `department` (name or address), `manager` (email), `role`, `title`.
Department files: `name` (required), `slug`, `parent` (name or address), `description`.
A row matches an existing person by email (a department by address, else by name) and updates it; an empty cell
or a missing column leaves that field as it is (so a file changes only what it fills in). Re-importing the same
file changes nothing: every row is reported unchanged. Rows are applied managers (or parents) first, so a row may
name one that comes later. A people file may name a department that does not exist yet: the dry run lists it and
the import creates it (name only; a departments file fills in the rest, before or after), so the two files can be
imported in either order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.admin.services.departments import SLUG_MAX, slugify
from app.admin.services.people import NAME_MAX, email_problem
from app.admin.services.rules import OWN_ADMIN_ROLE
from app.admin.tables import ImportKind
from app.people.services import normalise_email
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from app.words import plural_form

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
COLUMNS = {
    ImportKind.PEOPLE: {"required": ("name", "email"), "optional": ("department", "manager", "role", "title")},
    ImportKind.DEPARTMENTS: {"required": ("name",), "optional": ("slug", "parent", "description")},
}


@dataclass(slots=True)
class Row:
    line: int
    key: str  # email for people, slug for departments
    cells: dict[str, str]
    depends_on: str = ""  # the manager's email / the parent's slug, when it is in the same file


@dataclass(frozen=True, slots=True)
class Counts:
    """What a dry run expects the import to do, row by row."""

    created: int
    updated: int
    unchanged: int


@dataclass(slots=True)
class Plan:
    kind: ImportKind
    rows: list[Row] = field(default_factory=list)  # in apply order: managers and parents first
    problems: list[Problem] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)  # line → created | updated | unchanged
    changes: dict[int, list[str]] = field(default_factory=dict)  # line → the fields an update would change
    new_departments: list[str] = field(default_factory=list)  # named by a people file, created by the import

    def problem(self, line: int, column: str, message: str) -> None:
        self.problems.append(Problem(row=line, column=column, message=message))

    def counts(self) -> Counts:
        values = list(self.outcomes.values())
        return Counts(values.count("created"), values.count("updated"), values.count("unchanged"))

    def preview(self) -> Preview:
        keys = {row.line: row.key for row in self.rows}
        return Preview(
            new_departments=self.new_departments,
            updates=[PreviewUpdate(row=line, key=keys[line], changed=fields) for line, fields in self.changes.items()],
        )


class Problem(msgspec.Struct, frozen=True):
    """One problem the dry run found: the file's row (1 is the header), the column ("" for the whole row)."""

    row: int
    column: str
    message: str


class PreviewUpdate(msgspec.Struct, frozen=True):
    row: int
    key: str
    changed: list[str]


class Preview(msgspec.Struct, frozen=True):
    """What the dry run tells the admin besides the counts: departments to create, and each update's fields."""

    new_departments: list[str] = []
    updates: list[PreviewUpdate] = []


def _not_csv(reader: csv.DictReader[str], exc: csv.Error) -> Problem:
    return Problem(row=max(reader.line_num, 1), column="", message=f"This is not valid CSV ({exc}).")


def read_csv(content: str, kind: ImportKind) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """The data rows (line number, cells by lowercase column) and the file's own problems (row 1: the header)."""
    reader = csv.DictReader(io.StringIO(content, newline=""))  # lines end in \n, \r\n or a lone \r (old Macs)
    try:
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [_not_csv(reader, exc)]
    spec = COLUMNS[kind]
    problems: list[Problem] = []
    if missing := [c for c in spec["required"] if c not in header]:
        message = f"The header row lacks the {plural_form(len(missing), 'column')}: {', '.join(missing)}."
        problems.append(Problem(row=1, column="", message=message))
    if unknown := [c for c in header if c not in spec["required"] + spec["optional"]]:
        allowed = ", ".join(spec["required"] + spec["optional"])
        message = f"Unknown {plural_form(len(unknown), 'column')}: {', '.join(unknown)}. Columns are: {allowed}."
        problems.append(Problem(row=1, column="", message=message))
    if problems:
        return [], problems
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if None in record:
                problems.append(
                    Problem(row=reader.line_num, column="", message="This row has more cells than the header.")
                )
            cells = {k: " ".join((v or "").split()) for k, v in record.items() if k is not None}
            if any(cells.values()):
                rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS:
                return [], [Problem(row=reader.line_num, column="", message=f"At most {MAX_ROWS:,} rows per file.")]
    except csv.Error as exc:
        problems.append(_not_csv(reader, exc))
    if not rows and not problems:
        problems.append(Problem(row=2, column="", message="The file has a header but no rows."))
    return rows, problems


def _ordered(rows: list[Row]) -> list[Row]:
    """Rows whose dependency is in the file come after it (cycles were reported; their rows keep file order)."""
    by_key = {row.key: row for row in rows}
    done: set[str] = set()
    ordered: list[Row] = []

    def visit(row: Row, seen: set[str]) -> None:
        if row.key in done or row.key in seen:
            return
        seen.add(row.key)
        if row.depends_on in by_key:
            visit(by_key[row.depends_on], seen)
        done.add(row.key)
        ordered.append(row)

    for row in rows:
        visit(row, set())
    return ordered


def _cycle(start: str, links: dict[str, str]) -> bool:
    """Whether following `links` from `start` comes back to it."""
    seen = {start}
    current = links.get(start, "")
    while current:
        if current == start:
            return True
        if current in seen:
            return False  # a loop further up, not through `start`
        seen.add(current)
        current = links.get(current, "")
    return False


# ------------------------------------------------------------------------------------------------ people


async def departments_by_reference() -> tuple[dict[str, int], set[str]]:
    """Active departments by lowercase name and by address; and the names and addresses of archived ones."""
    rows = await Department.select(Department.id, Department.name, Department.slug, Department.archived_at)
    found: dict[str, int] = {}
    archived: set[str] = set()
    for row in rows:
        if row["archived_at"] is None:
            found[row["name"].lower()] = row["id"]
            found[row["slug"]] = row["id"]
        else:
            archived |= {row["name"].lower(), row["slug"]}
    return found, archived


def department_id_of(reference: str, departments: dict[str, int]) -> int | None:
    """The department a people file names: by name, by address, or by the address the name would get."""
    return departments.get(reference.lower()) or departments.get(slugify(reference))


async def _plan_people(records: list[tuple[int, dict[str, str]]], plan: Plan, admin_email: str) -> None:
    departments, archived = await departments_by_reference()
    new_departments: dict[str, str] = {}  # address → the name as first written
    people = await Employee.select(
        Employee.id,
        Employee.email,
        Employee.name,
        Employee.title,
        Employee.department,
        Employee.role,
        Employee.active,
        Employee.manager.email.as_alias("manager"),
    )
    existing = {row["email"]: row for row in people}
    managers = {email: row["manager"] or "" for email, row in existing.items()}
    in_file = {normalise_email(cells.get("email", "")) for _, cells in records}
    first_line: dict[str, int] = {}
    rows: list[Row] = []
    for line, cells in records:
        email = normalise_email(cells.get("email", ""))
        problems_before = len(plan.problems)
        if not cells.get("name"):
            plan.problem(line, "name", "The name is empty.")
        elif len(cells["name"]) > NAME_MAX:
            plan.problem(line, "name", f"The name is longer than {NAME_MAX} characters.")
        if problem := email_problem(email):
            plan.problem(line, "email", problem)
        elif email in first_line:
            plan.problem(line, "email", f"Duplicate email {email}: also on row {first_line[email]}.")
        else:
            first_line[email] = line
        department = cells.get("department", "")
        if department and department_id_of(department, departments) is None:
            if department.lower() in archived or slugify(department) in archived:
                plan.problem(line, "department", f"The department “{department}” is archived.")
            elif not slugify(department) or len(department) > 120:
                plan.problem(line, "department", f"“{department}” cannot be a department's name.")
            else:
                new_departments.setdefault(slugify(department), department)
        role = cells.get("role", "").lower()
        if role and role not in set(Role):
            plan.problem(line, "role", f"Unknown role “{role}”: use employee, manager or admin.")
        elif role and role != Role.ADMIN and email == admin_email:
            plan.problem(line, "role", OWN_ADMIN_ROLE)
        if len(cells.get("title", "")) > NAME_MAX:
            plan.problem(line, "title", f"The title is longer than {NAME_MAX} characters.")
        manager = normalise_email(cells.get("manager", ""))
        cells["manager"], cells["role"] = manager, role
        row = Row(line=line, key=email, cells=cells, depends_on=manager)
        if manager and manager not in in_file:
            if manager not in existing:
                plan.problem(line, "manager", f"Unknown manager {manager}: not in the file nor among the people.")
            elif not existing[manager]["active"]:
                plan.problem(line, "manager", f"The manager {manager} is deactivated.")
        if email and len(plan.problems) == problems_before and manager:
            managers[email] = manager
        rows.append(row)
    for row in rows:
        if row.key and first_line.get(row.key) == row.line and row.cells["manager"] and _cycle(row.key, managers):
            plan.problem(row.line, "manager", f"Manager cycle: {row.key} ends up managing themselves.")
    plan.rows = _ordered(rows)
    plan.new_departments = sorted(new_departments.values(), key=str.lower)
    if plan.problems:
        return
    departments |= {slug: -1 for slug in new_departments}  # a person joining a new department is a change
    for row in plan.rows:
        current = existing.get(row.key)
        changed = person_changes(row, current, departments)
        plan.outcomes[row.line] = "created" if current is None else ("updated" if changed else "unchanged")
        if current is not None and changed:
            plan.changes[row.line] = sorted(changed)


def person_changes(row: Row, current: dict[str, Any] | None, departments: dict[str, int]) -> dict[str, Any]:
    """The fields the row sets (only non-empty cells; a new person's role defaults to employee)."""
    cells = row.cells
    wanted: dict[str, Any] = {"name": cells["name"]}
    if cells.get("title"):
        wanted["title"] = cells["title"]
    if cells.get("department"):
        wanted["department"] = department_id_of(cells["department"], departments)
    if cells.get("role"):
        wanted["role"] = cells["role"]
    elif current is None:
        wanted["role"] = Role.EMPLOYEE.value
    if cells.get("manager"):
        wanted["manager"] = cells["manager"]  # an email; resolved to an id when applied
    if current is None:
        return wanted
    return {k: v for k, v in wanted.items() if current.get(k) != v}


# ------------------------------------------------------------------------------------------------ departments


async def _plan_departments(records: list[tuple[int, dict[str, str]]], plan: Plan) -> None:
    current = await Department.select(
        Department.id,
        Department.name,
        Department.slug,
        Department.description,
        Department.parent.slug.as_alias("parent"),
    )
    by_slug = {row["slug"]: row for row in current}
    by_name = {row["name"].lower(): row for row in current}
    file_refs: dict[str, str] = {}  # name (lowercase) or slug in the file → slug
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    for line, cells in records:
        name = cells.get("name", "")
        existing = by_slug.get(cells.get("slug", "").lower()) or by_name.get(name.lower())
        slug = cells.get("slug", "").lower() or (existing["slug"] if existing else slugify(name))
        cells["slug"] = slug
        if not name:
            plan.problem(line, "name", "The name is empty.")
        elif len(name) > 120:
            plan.problem(line, "name", "The name is longer than 120 characters.")
        if not slug or len(slug) > SLUG_MAX or slugify(slug) != slug:
            plan.problem(line, "slug", f"“{slug}” is not a usable address: lowercase letters, digits and hyphens.")
        elif slug in first_line:
            plan.problem(line, "slug", f"Duplicate department {slug}: also on row {first_line[slug]}.")
        else:
            first_line[slug] = line
            file_refs[slug] = slug
            file_refs[name.lower()] = slug
        rows.append(Row(line=line, key=slug, cells=cells))
    parents = {slug: row["parent"] or "" for slug, row in by_slug.items()}
    for row in rows:
        reference = row.cells.get("parent", "")
        if not reference:
            continue
        parent = file_refs.get(reference.lower()) or (
            by_slug.get(reference.lower()) or by_name.get(reference.lower()) or {}
        ).get("slug")
        if parent is None:
            plan.problem(row.line, "parent", f"Unknown parent department “{reference}”.")
            continue
        row.cells["parent"] = parent
        row.depends_on = parent
        parents[row.key] = parent
    for row in rows:
        if row.cells.get("parent") and _cycle(row.key, parents):
            plan.problem(row.line, "parent", f"Parent cycle: {row.key} ends up inside itself.")
    plan.rows = _ordered(rows)
    if plan.problems:
        return
    for row in plan.rows:
        existing = by_slug.get(row.key)
        changed = department_changes(row, existing)
        plan.outcomes[row.line] = "created" if existing is None else ("updated" if changed else "unchanged")
        if existing is not None and changed:
            plan.changes[row.line] = sorted(changed)


def department_changes(row: Row, current: dict[str, Any] | None) -> dict[str, Any]:
    wanted = {"name": row.cells["name"], "slug": row.key}
    if row.cells.get("description"):
        wanted["description"] = row.cells["description"]
    if row.cells.get("parent"):
        wanted["parent"] = row.cells["parent"]  # a slug; resolved to an id when applied
    if current is None:
        return wanted
    return {k: v for k, v in wanted.items() if current.get(k) != v}


# ------------------------------------------------------------------------------------------------ dry run


async def make_plan(kind: ImportKind, content: str, *, admin_email: str) -> Plan:
    """The dry run of a file imported by the admin with `admin_email` (who may not demote themselves)."""
    plan = Plan(kind=kind)
    records, plan.problems = read_csv(content, kind)
    if plan.problems:
        return plan
    if kind == ImportKind.PEOPLE:
        await _plan_people(records, plan, admin_email)
    else:
        await _plan_departments(records, plan)
    plan.problems.sort(key=lambda p: p.row)
    return plan


def decode_upload(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RuleViolation({"file": f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."}, status_code=413)
    if not data.strip():
        raise RuleViolation({"file": "Choose a CSV file to upload (this one is empty)."})
    if b"\x00" in data:  # binary, or UTF-16: nothing a spreadsheet saves as CSV, and PostgreSQL text can't hold it
        raise RuleViolation(
            {"file": "Save the file as CSV in UTF-8 (this one holds NUL characters, so it is not text)."}
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleViolation({"file": "Save the file as CSV in UTF-8 (this one is not UTF-8 text)."}) from exc
