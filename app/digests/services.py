"""Digest runs, the schedule, progress, retries, preferences, unsubscribe and previews. No HTTP here.

A run is started for a month that has ended: one transaction records the run, plans one delivery row per
eligible (person, kind) — `INSERT … SELECT … ON CONFLICT DO NOTHING`, so starting a month again plans only
people who were missing and never sends anyone the same digest twice — and adds the delivery jobs to the job
outbox, which hands them to arq after the commit.

The schedule: on the 1st of each month at `KUDOS_DIGEST_TIME` (organisation time zone) the cron job starts the
run for the month just ended; the same job runs whenever a worker starts, so a run missed while no worker was up
starts then. The state is in PostgreSQL (the run rows and `DigestSchedule.since`), never in the cron.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import app.db as db
from app.audit.services import record as audit
from app.digests.delivery import eligible, render_for
from app.digests.period import DigestPeriod
from app.digests.tables import DeliveryStatus, DigestDelivery, DigestKind, DigestOptOut, DigestRun, DigestSchedule
from app.digests.tokens import Unsubscribe, read_token
from app.jobs.outbox import add_job
from app.mail.message import Mail
from app.paging import parse_id
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import month_of, next_month, now, org_tz, previous_month
from app.timeutil import parse_month as parse_bounded_month

DELIVERY_JOBS = 2  # delivery jobs queued per run: workers (and a worker's job slots) share the run's rows
RUN_LIST = 12
FAILED_SHOWN = 50
KIND_LABELS = {DigestKind.EMPLOYEE: "Monthly recognition digest", DigestKind.MANAGER: "Manager digest"}


class Trigger:
    SCHEDULE = "schedule"
    CATCH_UP = "catch-up"
    ADMIN = "admin"
    CLI = "cli"


def parse_month(text: str) -> date:
    """A month written YYYY-MM as its first day; RuleViolation otherwise."""
    month = parse_bounded_month(text)
    if month is None:
        raise RuleViolation({"month": "Choose a month, written like 2026-10."})
    return month


def last_month(at: datetime | None = None) -> date:
    return previous_month(month_of(at or now()))


def scheduled_moment(month: date) -> datetime:
    """When the digests about `month` are due: the 1st of the next month at KUDOS_DIGEST_TIME, organisation time."""
    first = next_month(month)
    return datetime.combine(first, get_settings().digest_time, tzinfo=org_tz())


# ---------------------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True, slots=True)
class Started:
    month: date
    planned: dict[str, int]  # newly planned deliveries per kind
    new_run: bool


_RUN_SQL = """
INSERT INTO digest_run (period, trigger, started_by, created_at, planned_at) VALUES ({}, {}, {}, {}, {})
ON CONFLICT (period) DO UPDATE SET planned_at = EXCLUDED.planned_at
RETURNING (xmax = 0) AS new_run
"""
# One delivery per person (who was not planned yet). Placeholders: month, kind, due, created, the people.
_PLAN_SQL = """
INSERT INTO digest_delivery (employee, period, kind, status, attempts, next_attempt_at, created_at)
SELECT employee, {}, {}, 'pending', 0, {}, {} FROM unnest({}::int[]) AS employee
ON CONFLICT (employee, period, kind) DO NOTHING
RETURNING id
"""
_SCHEDULE_SQL = "INSERT INTO digest_schedule (id, since) VALUES (1, {}) ON CONFLICT (id) DO NOTHING"
_PROGRESS_SQL = "SELECT status, count(*) AS n FROM digest_delivery WHERE period = {} GROUP BY status"
_RUNS_PROGRESS_SQL = (
    "SELECT period, status, count(*) AS n FROM digest_delivery WHERE period = ANY({}) GROUP BY period, status"
)
_RETRY_SQL = """
UPDATE digest_delivery SET status = 'pending', attempts = 0, next_attempt_at = {}
WHERE period = {} AND status = 'failed' RETURNING id
"""
# Has active reports or a (not archived) department to lead: would get a manager digest, opt-outs aside.
_MANAGES_SQL = """
SELECT EXISTS (SELECT 1 FROM employee r WHERE r.manager = {} AND r.active)
    OR EXISTS (SELECT 1 FROM department_lead l JOIN department d ON d.id = l.department
               WHERE l.employee = {} AND d.archived_at IS NULL) AS manages
"""
_OPT_OUT_SQL = """
INSERT INTO digest_opt_out (employee, kind, created_at) VALUES ({}, {}, {}) ON CONFLICT (employee, kind) DO NOTHING
"""


def check_ended(month: date, *, at: datetime | None = None) -> None:
    """Digests are about a month that is over: refuse any other."""
    if month >= month_of(at or now()):
        raise RuleViolation({"month": f"{month:%B %Y} has not ended yet: digests are about a month that is over."})


async def start_run(month: date, *, trigger: str, by: CurrentUser | None = None, at: datetime | None = None) -> Started:
    """Start (or top up) the digests about `month`, which must have ended; returns how many were planned."""
    moment = at or now()
    check_ended(month, at=moment)
    period = DigestPeriod.of(month)
    async with db.transaction():
        created = await DigestRun.raw(_RUN_SQL, month, trigger, by.id if by else None, moment, moment)
        planned = {}
        for kind in DigestKind:
            people = sorted(await eligible(kind, period.end))
            rows = await DigestDelivery.raw(_PLAN_SQL, month, str(kind), moment, moment, people)
            planned[str(kind)] = len(rows)
        if any(planned.values()):
            for _ in range(DELIVERY_JOBS):
                await add_job("deliver_digests")
        if by is not None:
            await audit(
                actor_id=by.id,
                action="digests.start",
                target_type="digest_run",
                target_id=None,
                summary=f"Started the digests for {period.label}: {sum(planned.values())} planned",
                after={"month": f"{month:%Y-%m}", **planned},
                at=moment,
            )
    return Started(month=month, planned=planned, new_run=bool(created[0]["new_run"]))


async def run_due(at: datetime | None = None) -> Started | None:
    """The schedule's job (cron on the 1st, and at every worker start): start last month's run once it is due,
    unless it exists. Only last month is caught up, and only if it fell due after scheduling began here."""
    moment = at or now()
    await DigestSchedule.raw(_SCHEDULE_SQL, moment)
    schedule = await DigestSchedule.select(DigestSchedule.since).where(DigestSchedule.id == 1).first()
    since: datetime = schedule["since"] if schedule else moment
    month = last_month(moment)
    due = scheduled_moment(month)
    if due > moment or due < since or await DigestRun.exists().where(DigestRun.period == month):
        return None
    trigger = Trigger.SCHEDULE if moment - due < timedelta(hours=1) else Trigger.CATCH_UP
    return await start_run(month, trigger=trigger, at=moment)


@dataclass(frozen=True, slots=True)
class Progress:
    month: date
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, status: DeliveryStatus) -> int:
        return self.counts.get(str(status), 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        return self.count(DeliveryStatus.SENT)

    @property
    def failed(self) -> int:
        return self.count(DeliveryStatus.FAILED)

    @property
    def skipped(self) -> int:
        return self.count(DeliveryStatus.SKIPPED)

    @property
    def waiting(self) -> int:
        """Not settled yet: pending (incl. waiting to retry) or being sent."""
        return self.count(DeliveryStatus.PENDING) + self.count(DeliveryStatus.SENDING)

    @property
    def done(self) -> bool:
        return self.waiting == 0

    @property
    def settled(self) -> int:
        return self.total - self.waiting

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"


async def progress(month: date) -> Progress:
    rows = await DigestDelivery.raw(_PROGRESS_SQL, month)
    return Progress(month=month, counts={row["status"]: row["n"] for row in rows})


@dataclass(frozen=True, slots=True)
class RunSummary:
    period: date
    trigger: str
    created_at: datetime
    planned_at: datetime | None
    started_by_name: str | None  # None: the schedule (or the CLI) started it
    progress: Progress


async def runs(limit: int = RUN_LIST, *, month: date | None = None) -> list[RunSummary]:
    """The newest runs (or the run of `month`) with who started them and their progress, in two queries."""
    query = DigestRun.select(
        DigestRun.period,
        DigestRun.trigger,
        DigestRun.created_at,
        DigestRun.planned_at,
        DigestRun.started_by.name.as_alias("started_by_name"),
    )
    if month is not None:
        query = query.where(DigestRun.period == month)
    rows = await query.order_by(DigestRun.period, ascending=False).limit(limit)
    months = [row["period"] for row in rows]
    by_month: dict[date, dict[str, int]] = {month: {} for month in months}
    for row in await DigestDelivery.raw(_RUNS_PROGRESS_SQL, months):
        by_month[row["period"]][row["status"]] = row["n"]
    return [
        RunSummary(
            period=row["period"],
            trigger=row["trigger"],
            created_at=row["created_at"],
            planned_at=row["planned_at"],
            started_by_name=row["started_by_name"],
            progress=Progress(month=row["period"], counts=by_month[row["period"]]),
        )
        for row in rows
    ]


async def get_run(month: date) -> RunSummary | None:
    found = await runs(limit=1, month=month)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    id: int
    kind: str
    attempts: int
    last_error: str | None
    employee_id: int
    name: str
    email: str


async def failed_deliveries(month: date, limit: int = FAILED_SHOWN) -> list[FailedDelivery]:
    rows = (
        await DigestDelivery.select(
            DigestDelivery.id,
            DigestDelivery.kind,
            DigestDelivery.attempts,
            DigestDelivery.last_error,
            DigestDelivery.employee.as_alias("employee_id"),
            DigestDelivery.employee.name.as_alias("name"),
            DigestDelivery.employee.email.as_alias("email"),
        )
        .where((DigestDelivery.period == month) & (DigestDelivery.status == DeliveryStatus.FAILED))
        .order_by(DigestDelivery.id)
        .limit(limit)
    )
    return [FailedDelivery(**row) for row in rows]


async def retry_failed(month: date, *, by: CurrentUser, at: datetime | None = None) -> int:
    """Send the month's failed digests again (fresh attempts); how many were queued."""
    moment = at or now()
    async with db.transaction():
        rows = await DigestDelivery.raw(_RETRY_SQL, moment, month)
        if not rows:
            raise RuleViolation("No failed digests to retry for this month.", status_code=409)
        await add_job("deliver_digests")
        await audit(
            actor_id=by.id,
            action="digests.retry",
            target_type="digest_run",
            target_id=None,
            summary=f"Retried {len(rows)} failed digests for {month:%B %Y}",
            after={"month": f"{month:%Y-%m}", "retried": len(rows)},
            at=moment,
        )
    return len(rows)


# --------------------------------------------------------------------------------------------------- preview


@dataclass(frozen=True, slots=True)
class PersonRef:
    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Preview:
    person: PersonRef
    kind: DigestKind
    month: date
    mail: Mail
    eligible: bool


async def find_person(text: str) -> PersonRef:
    """A person by email (or id): for the admin's preview form."""
    text = (text or "").strip()
    query = Employee.select(Employee.id, Employee.name, Employee.email)
    if text.isdigit():
        row = await query.where(Employee.id == (parse_id(text) or 0)).first()
    else:
        row = await query.where(Employee.email == text.lower()).first()
    if row is None:
        raise RuleViolation({"person": "No one with that email. Type a colleague's work email."})
    return PersonRef(row["id"], row["name"], row["email"])


def parse_kind(text: str) -> DigestKind:
    try:
        return DigestKind(text)
    except ValueError as exc:
        raise RuleViolation({"kind": "Choose the monthly digest or the manager digest."}) from exc


async def preview(person_text: str, month_text: str, kind_text: str, *, reader: CurrentUser) -> Preview:
    """Any person's digest for a month, rendered as it would be sent (nothing is recorded or sent) — but as `reader`
    may see it: another person's private kudos show who sent them, not their messages (SPEC F3)."""
    errors: dict[str, str] = {}
    person: PersonRef | None = None
    month: date | None = None
    kind: DigestKind | None = None
    try:
        person = await find_person(person_text)
    except RuleViolation as exc:
        errors.update(exc.errors)
    try:
        month = parse_month(month_text)
    except RuleViolation as exc:
        errors.update(exc.errors)
    try:
        kind = parse_kind(kind_text)
    except RuleViolation as exc:
        errors.update(exc.errors)
    if errors or person is None or month is None or kind is None:
        raise RuleViolation(errors)
    mail = (await render_for(kind, month, [person.id], reader_id=reader.id))[person.id]
    receives = person.id in await eligible(kind, DigestPeriod.of(month).end, [person.id])
    return Preview(person=person, kind=kind, month=month, mail=mail, eligible=receives)


# ------------------------------------------------------------------------------------------------ preferences


async def is_manager(employee_id: int) -> bool:
    """Whether this person would get a manager digest (reports or a department to lead), opt-outs aside."""
    rows = await Employee.raw(_MANAGES_SQL, employee_id, employee_id)
    return bool(rows[0]["manages"])


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Which digests a person receives, and whether they would get a manager digest at all."""

    employee: bool
    manager: bool
    is_manager: bool


async def subscriptions(employee_id: int) -> Subscriptions:
    off = {
        row["kind"] for row in await DigestOptOut.select(DigestOptOut.kind).where(DigestOptOut.employee == employee_id)
    }
    return Subscriptions(
        employee=str(DigestKind.EMPLOYEE) not in off,
        manager=str(DigestKind.MANAGER) not in off,
        is_manager=await is_manager(employee_id),
    )


async def set_subscribed(employee_id: int, kind: DigestKind, subscribed: bool, *, at: datetime | None = None) -> None:
    """Turn one kind of digest on or off for one person (idempotent)."""
    if subscribed:
        await DigestOptOut.delete().where((DigestOptOut.employee == employee_id) & (DigestOptOut.kind == kind))
        return
    await DigestOptOut.raw(_OPT_OUT_SQL, employee_id, str(kind), at or now())


@dataclass(frozen=True, slots=True)
class UnsubscribeTarget:
    token: Unsubscribe
    name: str
    kind_label: str
    subscribed: bool


async def unsubscribe_target(token: str) -> UnsubscribeTarget:
    """Whom a link's token names, for the confirm page; 404 for a token that is not genuine."""
    found = read_token(token)
    person = None
    if found is not None:
        person = await Employee.select(Employee.name).where(Employee.id == found.employee_id).first()
    if found is None or person is None:
        raise RuleViolation(
            "This unsubscribe link is not valid. Change your email settings after signing in.", status_code=404
        )
    subscribed = not await DigestOptOut.exists().where(
        (DigestOptOut.employee == found.employee_id) & (DigestOptOut.kind == found.kind)
    )
    return UnsubscribeTarget(
        token=found, name=person["name"], kind_label=KIND_LABELS[found.kind], subscribed=subscribed
    )


async def unsubscribe(token: str) -> UnsubscribeTarget:
    """Turn off the digest a genuine token names (only that person's, only that kind)."""
    target = await unsubscribe_target(token)
    await set_subscribed(target.token.employee_id, target.token.kind, False)
    return UnsubscribeTarget(token=target.token, name=target.name, kind_label=target.kind_label, subscribed=False)
