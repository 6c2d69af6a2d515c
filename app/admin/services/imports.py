"""Admin: CSV import of people or departments — the uploaded file stored with its dry run (app/admin/services/
import_plan), then the import as a background job (arq) that applies rows in batches and records its progress and
report, in PostgreSQL: a sweeper gives an import whose job was lost a new one, and it resumes after its last batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

import app.db as db
from app.admin.services.departments import slugify
from app.admin.services.import_plan import (
    Preview,
    Problem,
    Row,
    decode_upload,
    department_changes,
    department_id_of,
    departments_by_reference,
    make_plan,
    person_changes,
)
from app.admin.services.rules import require_admin
from app.admin.tables import CsvImport, ImportKind, ImportStatus
from app.audit.services import record as audit
from app.db import UNAVAILABLE
from app.jobs.outbox import add_job
from app.paging import valid_id
from app.people.services import CurrentUser
from app.people.tables import Department, Employee
from app.rules import RuleViolation
from app.timeutil import now

log = logging.getLogger("kudos.imports")

BATCH = 200
JOB = "run_import"
JOB_TIMEOUT_SECONDS = 1800  # the arq job's own timeout: 10,000 rows in batches of BATCH
STALE = timedelta(seconds=30)  # a queued or running import whose job gave no sign of life for this long lost it

_LOCK_FOR_START_SQL = "SELECT id, kind, filename, status, problems, total FROM csv_import WHERE id = {} FOR UPDATE"
_LOCK_FOR_BATCH_SQL = "SELECT processed, status FROM csv_import WHERE id = {} FOR UPDATE"
_RECORD_BATCH_SQL = """
UPDATE csv_import SET processed = processed + {}, created = created + {}, updated = updated + {},
    unchanged = unchanged + {}, report = report || {}::jsonb, heartbeat_at = {}
WHERE id = {}
"""
_SWEEP_SQL = """
UPDATE csv_import SET heartbeat_at = {}
WHERE status = ANY({}) AND coalesce(heartbeat_at, started_at, created_at) < {}
RETURNING id
"""
_FINISH_SQL = """
UPDATE csv_import SET status = {}, finished_at = {} WHERE id = {}
RETURNING created_by, kind, filename, created, updated, unchanged
"""
OUTCOMES = ("created", "updated", "unchanged")


class ReportLine(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the job did with one row (`changed`: the fields an update changed)."""

    row: int
    key: str
    outcome: str
    changed: list[str] = []


@dataclass(frozen=True, slots=True)
class ImportRow:
    """An import as the list of recent ones shows it."""

    id: int
    kind: str
    filename: str
    status: str
    total: int
    created_at: datetime
    created_by_name: str | None


@dataclass(frozen=True, slots=True)
class ImportItem:
    """An import with its dry run, progress and report (not the file's content)."""

    id: int
    kind: str
    filename: str
    status: str
    total: int
    processed: int
    created: int
    updated: int
    unchanged: int
    problems: list[Problem]
    preview: Preview
    report: list[ReportLine]
    error: str
    created_at: datetime
    created_by_name: str | None

    @property
    def finished(self) -> bool:
        return self.status in {ImportStatus.DONE, ImportStatus.FAILED}

    @property
    def created_emails(self) -> list[str]:
        """The people this import created (their emails), once it has run."""
        return [line.key for line in self.report if line.outcome == "created"] if self.kind == ImportKind.PEOPLE else []

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100


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
        problems=msgspec.to_builtins(plan.problems),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        preview=msgspec.to_builtins(plan.preview()),
        created_by=admin.id,
        created_at=now(),
    )
    await row.save()
    return row.id


async def get_import(import_id: int) -> ImportItem | None:
    if not valid_id(import_id):
        return None
    row = (
        await CsvImport.select(
            CsvImport.id,
            CsvImport.kind,
            CsvImport.filename,
            CsvImport.status,
            CsvImport.total,
            CsvImport.processed,
            CsvImport.created,
            CsvImport.updated,
            CsvImport.unchanged,
            CsvImport.problems,
            CsvImport.preview,
            CsvImport.report,
            CsvImport.error,
            CsvImport.created_at,
            CsvImport.created_by.name.as_alias("created_by_name"),
        )
        .where(CsvImport.id == import_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return ImportItem(
        **row
        | {
            "problems": msgspec.convert(row["problems"], list[Problem]),
            "preview": msgspec.convert(row["preview"], Preview),
            "report": msgspec.convert(row["report"], list[ReportLine]),
        }
    )


async def recent_imports(limit: int = 10) -> list[ImportRow]:
    rows = (
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
    return [ImportRow(**row) for row in rows]


async def start(admin: CurrentUser, import_id: int) -> None:
    """Queue a checked import whose dry run found no problem (the job is enqueued when this commits)."""
    require_admin(admin)
    async with db.transaction():
        rows = await CsvImport.raw(_LOCK_FOR_START_SQL, import_id if valid_id(import_id) else 0)
        if not rows:
            raise RuleViolation("There is no such import.", status_code=404)
        item = rows[0]
        if item["status"] != ImportStatus.CHECKED:
            raise RuleViolation("This import has already been started.", status_code=409)
        if msgspec.json.decode(item["problems"]) if isinstance(item["problems"], str) else item["problems"]:
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
                f"The organisation changed since the dry run: row {first.row}: {first.message} "
                "Upload the file again to check it."
            )
        while True:
            async with db.transaction():
                locked = await CsvImport.raw(_LOCK_FOR_BATCH_SQL, import_id)
                status: str = locked[0]["status"]
                if status != ImportStatus.RUNNING:  # another run of this import finished it
                    return status
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
                    _RECORD_BATCH_SQL,
                    len(batch),
                    *[sum(1 for line in report if line.outcome == outcome) for outcome in OUTCOMES],
                    msgspec.json.encode(report).decode(),
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
            _SWEEP_SQL,
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
    rows = await CsvImport.raw(_FINISH_SQL, ImportStatus.DONE.value, now(), import_id)
    item = rows[0]
    counts = {k: item[k] for k in OUTCOMES}
    await audit(
        actor_id=item["created_by"],
        action="import.finish",
        target_type="csv_import",
        target_id=import_id,
        summary=f"Imported {item['kind']} from {item['filename']}: " + ", ".join(f"{n} {k}" for k, n in counts.items()),
        after=counts,
    )


def _report(row: Row, outcome: str, changed: dict[str, Any] | None = None) -> ReportLine:
    return ReportLine(row=row.line, key=row.key, outcome=outcome, changed=sorted(changed or ()))


async def _create_departments(names: list[str], at: datetime) -> None:
    """Departments a people file names that do not exist yet: name and address only (idempotent on the address)."""
    for name in names:
        await Department.insert(Department(name=name, slug=slugify(name), created_at=at)).on_conflict(
            target=Department.slug, action="DO NOTHING"
        )


async def _apply_people(batch: list[Row]) -> list[ReportLine]:
    departments, _ = await departments_by_reference()
    missing = {row.cells["department"] for row in batch if row.cells.get("department")}
    missing = {name for name in missing if department_id_of(name, departments) is None}
    if missing:
        await _create_departments(sorted(missing), now())
        departments, _ = await departments_by_reference()
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
    report: list[ReportLine] = []
    moment = now()
    for row in batch:  # managers come first, so each row's manager exists by the time it is applied
        existing = current.get(row.key)
        changed = person_changes(row, existing, departments)
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


async def _apply_departments(batch: list[Row]) -> list[ReportLine]:
    everything = await Department.select(
        Department.id,
        Department.name,
        Department.slug,
        Department.description,
        Department.parent.slug.as_alias("parent"),
    )  # one small table, read once per batch
    current = {row["slug"]: row for row in everything}
    by_name = {row["name"].lower(): row for row in everything}
    report: list[ReportLine] = []
    moment = now()
    for row in batch:
        existing = current.get(row.key) or by_name.get(row.cells["name"].lower())
        changed = department_changes(row, existing)
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


async def created_people(import_id: int) -> list[int]:
    """The ids of the people a people import created (to invite them all at once)."""
    item = await get_import(import_id)
    emails = item.created_emails if item is not None else []
    if not emails:
        return []
    return [row["id"] for row in await Employee.select(Employee.id).where(Employee.email.is_in(emails))]
