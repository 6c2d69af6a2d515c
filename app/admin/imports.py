"""Admin: CSV import of people or departments — a dry run that lists every row's problem and changes nothing,
then the import as a background job (arq) that applies rows in batches and records its progress and report.

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
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app import db
from app.admin.departments import SLUG_MAX, slugify
from app.admin.people import NAME_MAX, OWN_ADMIN_ROLE, email_problem, require_admin
from app.admin.tables import CsvImport, ImportKind, ImportStatus
from app.audit.services import record as audit
from app.db import UNAVAILABLE
from app.jobs.outbox import add_job
from app.paging import valid_id
from app.people.services import CurrentUser, normalise_email
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from app.timeutil import now
from app.words import plural_form

log = logging.getLogger("kudos.imports")

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
BATCH = 200
COLUMNS = {
    ImportKind.PEOPLE: {"required": ("name", "email"), "optional": ("department", "manager", "role", "title")},
    ImportKind.DEPARTMENTS: {"required": ("name",), "optional": ("slug", "parent", "description")},
}
JOB = "run_import"
JOB_TIMEOUT_SECONDS = 1800  # the arq job's own timeout: 10,000 rows in batches of BATCH
STALE = timedelta(seconds=30)  # a queued or running import whose job gave no sign of life for this long lost it


@dataclass(slots=True)
class Row:
    line: int
    key: str  # email for people, slug for departments
    cells: dict[str, str]
    depends_on: str = ""  # the manager's email / the parent's slug, when it is in the same file


@dataclass(slots=True)
class Plan:
    kind: ImportKind
    rows: list[Row] = field(default_factory=list)  # in apply order: managers and parents first
    problems: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)  # line → created | updated | unchanged
    changes: dict[int, list[str]] = field(default_factory=dict)  # line → the fields an update would change
    new_departments: list[str] = field(default_factory=list)  # named by a people file, created by the import

    def problem(self, line: int, column: str, message: str) -> None:
        self.problems.append({"row": line, "column": column, "message": message})

    def counts(self) -> dict[str, int]:
        values = list(self.outcomes.values())
        return {outcome: values.count(outcome) for outcome in ("created", "updated", "unchanged")}

    def preview(self) -> dict[str, Any]:
        """What the dry run tells the admin besides the counts: departments to create, and each update's fields."""
        keys = {row.line: row.key for row in self.rows}
        return {
            "new_departments": self.new_departments,
            "updates": [{"row": line, "key": keys[line], "changed": fields} for line, fields in self.changes.items()],
        }


def _not_csv(reader: csv.DictReader, exc: csv.Error) -> dict[str, Any]:
    return {"row": max(reader.line_num, 1), "column": "", "message": f"This is not valid CSV ({exc})."}


def read_csv(content: str, kind: ImportKind) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """The data rows (line number, cells by lowercase column) and the file's own problems (row 1: the header)."""
    reader = csv.DictReader(io.StringIO(content, newline=""))  # lines end in \n, \r\n or a lone \r (old Macs)
    try:
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [_not_csv(reader, exc)]
    spec = COLUMNS[kind]
    problems: list[dict[str, Any]] = []
    if missing := [c for c in spec["required"] if c not in header]:
        problems.append(
            {
                "row": 1,
                "column": "",
                "message": f"The header row lacks the {plural_form(len(missing), 'column')}: {', '.join(missing)}.",
            }
        )
    if unknown := [c for c in header if c not in spec["required"] + spec["optional"]]:
        allowed = ", ".join(spec["required"] + spec["optional"])
        problems.append(
            {
                "row": 1,
                "column": "",
                "message": f"Unknown {plural_form(len(unknown), 'column')}: {', '.join(unknown)}. "
                f"Columns are: {allowed}.",
            }
        )
    if problems:
        return [], problems
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if None in record:
                problems.append(
                    {"row": reader.line_num, "column": "", "message": "This row has more cells than the header."}
                )
            cells = {k: " ".join((v or "").split()) for k, v in record.items() if k is not None}
            if any(cells.values()):
                rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS:
                return [], [{"row": reader.line_num, "column": "", "message": f"At most {MAX_ROWS:,} rows per file."}]
    except csv.Error as exc:
        problems.append(_not_csv(reader, exc))
    if not rows and not problems:
        problems.append({"row": 2, "column": "", "message": "The file has a header but no rows."})
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


async def _departments_by_reference() -> tuple[dict[str, int], set[str]]:
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


def _department_id(reference: str, departments: dict[str, int]) -> int | None:
    """The department a people file names: by name, by address, or by the address the name would get."""
    return departments.get(reference.lower()) or departments.get(slugify(reference))


async def _plan_people(records: list[tuple[int, dict[str, str]]], plan: Plan, admin_email: str) -> None:
    departments, archived = await _departments_by_reference()
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
        if department and _department_id(department, departments) is None:
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
        changed = _person_changes(row, current, departments)
        plan.outcomes[row.line] = "created" if current is None else ("updated" if changed else "unchanged")
        if current is not None and changed:
            plan.changes[row.line] = sorted(changed)


def _person_changes(row: Row, current: dict | None, departments: dict[str, int]) -> dict[str, Any]:
    """The fields the row sets (only non-empty cells; a new person's role defaults to employee)."""
    cells = row.cells
    wanted: dict[str, Any] = {"name": cells["name"]}
    if cells.get("title"):
        wanted["title"] = cells["title"]
    if cells.get("department"):
        wanted["department"] = _department_id(cells["department"], departments)
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
        changed = _department_changes(row, existing)
        plan.outcomes[row.line] = "created" if existing is None else ("updated" if changed else "unchanged")
        if existing is not None and changed:
            plan.changes[row.line] = sorted(changed)


def _department_changes(row: Row, current: dict | None) -> dict[str, Any]:
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
    plan.problems.sort(key=lambda p: p["row"])
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


async def check_upload(admin: CurrentUser, kind: str, filename: str, data: bytes) -> int:
    """Store an uploaded file with its dry run (nothing else changes); returns the import's id."""
    require_admin(admin)
    if kind not in set(ImportKind):
        raise RuleViolation({"kind": "Choose whether the file holds people or departments."})
    content = decode_upload(data)
    plan = await make_plan(ImportKind(kind), content, admin_email=admin.email)
    counts = plan.counts()
    row = CsvImport(
        kind=kind,
        filename=(filename or "upload.csv")[:255],
        content=content,
        status=ImportStatus.CHECKED,
        total=len(plan.rows),
        problems=plan.problems,
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        preview=plan.preview(),
        created_by=admin.id,
        created_at=now(),
    )
    await row.save()
    return row.id


async def get_import(import_id: int) -> dict | None:
    if not valid_id(import_id):
        return None
    row = (
        await CsvImport.select(
            *[c for c in CsvImport.all_columns() if c._meta.name != "content"],
            CsvImport.created_by.name.as_alias("created_by_name"),
        )
        .where(CsvImport.id == import_id)
        .output(load_json=True)
        .first()
    )
    if row is not None:
        row["finished"] = row["status"] in {ImportStatus.DONE, ImportStatus.FAILED}
        row["percent"] = round(100 * row["processed"] / row["total"]) if row["total"] else 100
    return row


async def recent_imports(limit: int = 10) -> list[dict]:
    return (
        await CsvImport.select(
            CsvImport.id,
            CsvImport.kind,
            CsvImport.filename,
            CsvImport.status,
            CsvImport.total,
            CsvImport.created_at,
            CsvImport.created_by.name.as_alias("created_by_name"),
        )
        .order_by(CsvImport.created_at, ascending=False)
        .order_by(CsvImport.id, ascending=False)
        .limit(limit)
    )


async def start(admin: CurrentUser, import_id: int) -> None:
    """Queue a checked import whose dry run found no problem (the job is enqueued when this commits)."""
    require_admin(admin)
    async with db.transaction():
        rows = await CsvImport.raw(
            "SELECT id, kind, filename, status, problems, total FROM csv_import WHERE id = {} FOR UPDATE",
            import_id if valid_id(import_id) else 0,
        )
        if not rows:
            raise RuleViolation("There is no such import.", status_code=404)
        item = rows[0]
        if item["status"] != ImportStatus.CHECKED:
            raise RuleViolation("This import has already been started.", status_code=409)
        if json.loads(item["problems"]) if isinstance(item["problems"], str) else item["problems"]:
            raise RuleViolation(
                "Fix the problems in the file and upload it again: nothing was imported.", status_code=409
            )
        # From here on the counts are what the job did, no longer what the dry run expected.
        await CsvImport.update(
            {
                CsvImport.status: ImportStatus.QUEUED,
                CsvImport.created: 0,
                CsvImport.updated: 0,
                CsvImport.unchanged: 0,
                CsvImport.heartbeat_at: now(),
            }
        ).where(CsvImport.id == import_id)
        await add_job(JOB, import_id=import_id)
        await audit(
            actor_id=admin.id,
            action="import.start",
            target_type="csv_import",
            target_id=import_id,
            summary=f"Started importing {item['total']} {item['kind']} from {item['filename']}",
            after={"kind": item["kind"], "filename": item["filename"], "rows": item["total"]},
        )


# ------------------------------------------------------------------------------------------------ the job


async def run(import_id: int) -> str:
    """Apply a queued import in batches, each batch in its own transaction together with the progress and report
    it adds, so a retried job resumes after the last committed batch. Returns the final status.

    Each batch also records a heartbeat; `sweep()` gives an import whose heartbeat stopped a new job. Two runs of one
    import take turns on its row lock and each applies only the batch after the last committed one, so a job
    believed lost that was merely slow does no harm. A database outage ends the job for arq to retry (the import
    stays running); any other error fails the import with a message."""
    item = (
        await CsvImport.select(
            CsvImport.kind, CsvImport.content, CsvImport.status, CsvImport.created_by.email.as_alias("admin_email")
        )
        .where(CsvImport.id == import_id)
        .first()
    )
    if item is None or item["status"] not in {ImportStatus.QUEUED, ImportStatus.RUNNING}:
        return item["status"] if item else "missing"
    await CsvImport.update(
        {CsvImport.status: ImportStatus.RUNNING, CsvImport.started_at: now(), CsvImport.heartbeat_at: now()}
    ).where((CsvImport.id == import_id) & (CsvImport.status == ImportStatus.QUEUED))
    try:
        plan = await make_plan(ImportKind(item["kind"]), item["content"], admin_email=item["admin_email"])
        if plan.problems:
            first = plan.problems[0]
            raise RuleViolation(
                f"The organisation changed since the dry run: row {first['row']}: {first['message']} "
                "Upload the file again to check it."
            )
        while True:
            async with db.transaction():
                locked = await CsvImport.raw(
                    "SELECT processed, status FROM csv_import WHERE id = {} FOR UPDATE", import_id
                )
                if locked[0]["status"] != ImportStatus.RUNNING:  # another run of this import finished it
                    return locked[0]["status"]
                done = locked[0]["processed"]
                batch = plan.rows[done : done + BATCH]
                if not batch:
                    await _finish(import_id)
                    return ImportStatus.DONE
                if plan.kind == ImportKind.PEOPLE:
                    report = await _apply_people(batch)
                else:
                    report = await _apply_departments(batch)
                await CsvImport.raw(
                    "UPDATE csv_import SET processed = processed + {}, created = created + {}, updated = updated + {}, "
                    "unchanged = unchanged + {}, report = report || {}::jsonb, heartbeat_at = {} WHERE id = {}",
                    len(batch),
                    *[sum(1 for r in report if r["outcome"] == o) for o in ("created", "updated", "unchanged")],
                    json.dumps(report),
                    now(),
                    import_id,
                )
    except UNAVAILABLE:
        raise
    except Exception as exc:
        message = exc.message if isinstance(exc, RuleViolation) else "The import stopped on an unexpected error."
        if not isinstance(exc, RuleViolation):
            log.exception("import %s failed", import_id)
        await CsvImport.update(
            {CsvImport.status: ImportStatus.FAILED, CsvImport.error: message, CsvImport.finished_at: now()}
        ).where(CsvImport.id == import_id)
        return ImportStatus.FAILED


async def sweep(*, stale: timedelta | None = None) -> int:
    """Give every queued or running import whose job stopped beating (its worker was killed, its job was lost with
    Redis) a new job, through the job outbox; how many. It resumes after its last committed batch."""
    moment = now()
    async with db.transaction():
        rows = await CsvImport.raw(
            "UPDATE csv_import SET heartbeat_at = {} WHERE status = ANY({}) "
            "AND coalesce(heartbeat_at, started_at, created_at) < {} RETURNING id",
            moment,
            [ImportStatus.QUEUED.value, ImportStatus.RUNNING.value],
            moment - (stale or STALE),
        )
        for row in rows:
            log.warning("import %s lost its job: starting it again", row["id"])
            await add_job(JOB, import_id=row["id"])
    return len(rows)


async def _finish(import_id: int) -> None:
    """Mark the import done and record its outcome in the audit log, on behalf of the admin who started it."""
    rows = await CsvImport.raw(
        "UPDATE csv_import SET status = {}, finished_at = {} WHERE id = {} "
        "RETURNING created_by, kind, filename, created, updated, unchanged",
        ImportStatus.DONE.value,
        now(),
        import_id,
    )
    item = rows[0]
    counts = {k: item[k] for k in ("created", "updated", "unchanged")}
    await audit(
        actor_id=item["created_by"],
        action="import.finish",
        target_type="csv_import",
        target_id=import_id,
        summary=f"Imported {item['kind']} from {item['filename']}: " + ", ".join(f"{n} {k}" for k, n in counts.items()),
        after=counts,
    )


def _report(row: Row, outcome: str, changed: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"row": row.line, "key": row.key, "outcome": outcome}
    if changed:
        entry["changed"] = sorted(changed)
    return entry


async def _create_departments(names: list[str], at: datetime) -> None:
    """Departments a people file names that do not exist yet: name and address only (idempotent on the address)."""
    for name in names:
        await Department.insert(Department(name=name, slug=slugify(name), created_at=at)).on_conflict(
            target=Department.slug, action="DO NOTHING"
        )


async def _apply_people(batch: list[Row]) -> list[dict[str, Any]]:
    departments, _ = await _departments_by_reference()
    missing = {row.cells["department"] for row in batch if row.cells.get("department")}
    missing = {name for name in missing if _department_id(name, departments) is None}
    if missing:
        await _create_departments(sorted(missing), now())
        departments, _ = await _departments_by_reference()
    emails = {row.key for row in batch} | {row.cells["manager"] for row in batch if row.cells["manager"]}
    current = {
        row["email"]: row
        for row in await Employee.select(
            Employee.id,
            Employee.email,
            Employee.name,
            Employee.title,
            Employee.department,
            Employee.role,
            Employee.manager.email.as_alias("manager"),
        ).where(Employee.email.is_in(list(emails)))
    }
    report = []
    moment = now()
    for row in batch:  # managers come first, so each row's manager exists by the time it is applied
        existing = current.get(row.key)
        changed = _person_changes(row, existing, departments)
        if not changed:
            report.append(_report(row, "unchanged"))
            continue
        values = dict(changed)
        if "manager" in values:
            values["manager"] = current[values["manager"]]["id"]
        if existing is None:
            inserted = await Employee.insert(Employee(email=row.key, created_at=moment, **values)).returning(
                Employee.id
            )
            current[row.key] = {"id": inserted[0]["id"], "email": row.key, **changed}
            report.append(_report(row, "created"))
        else:
            await Employee.update({getattr(Employee, k): v for k, v in values.items()}).where(
                Employee.id == existing["id"]
            )
            existing.update(changed)
            report.append(_report(row, "updated", changed))
    return report


async def _apply_departments(batch: list[Row]) -> list[dict[str, Any]]:
    everything = await Department.select(
        Department.id,
        Department.name,
        Department.slug,
        Department.description,
        Department.parent.slug.as_alias("parent"),
    )  # one small table, read once per batch
    current = {row["slug"]: row for row in everything}
    by_name = {row["name"].lower(): row for row in everything}
    report = []
    moment = now()
    for row in batch:
        existing = current.get(row.key) or by_name.get(row.cells["name"].lower())
        changed = _department_changes(row, existing)
        if not changed:
            report.append(_report(row, "unchanged"))
            continue
        values = dict(changed)
        if "parent" in values:
            values["parent"] = current[values["parent"]]["id"]
        if existing is None:
            inserted = await Department.insert(Department(created_at=moment, **values)).returning(Department.id)
            current[row.key] = {"id": inserted[0]["id"], **changed}
            report.append(_report(row, "created"))
        else:
            await Department.update({getattr(Department, k): v for k, v in values.items()}).where(
                Department.id == existing["id"]
            )
            existing.update(changed)
            current[row.key] = existing
            report.append(_report(row, "updated", changed))
    return report
