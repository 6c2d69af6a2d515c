"""What the JSON API does, on top of the app's own services (same rules, same messages). No HTTP here.

People are named by email in payloads: the requester and resolvers of a ticket, whoever completes it, the giver
and recipients of a kudos. A token is an integration's credential, not a person: it never acts as its creator.

Tracker import (`import_ticket`): one request per `(source, external_id)` (a unique constraint on `request`, and a
transaction-scoped advisory lock on the pair so two concurrent imports of a new ticket do not both file it). A new
ticket is filed by its requester through `workflow.file_request`; its first new resolver claims it (they must be a
member or lead of the department, as in the app) and adds the others. Importing the ticket again updates its title,
description, service and link, and adds resolvers that are new; the requester and department cannot change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import app.db as db
from app.kudos.forms import GiveForm, Given
from app.kudos.giving import company_values, give_kudos
from app.people.services import CurrentUser, load_current_user, normalise_email
from app.people.tables import Department, Employee, Role, Service
from app.requests import queries, workflow
from app.requests.tables import EventKind, Request, RequestEvent, RequestResolver, Status
from app.rules import RuleViolation
from app.timeutil import now

SOURCE_MAX = 60
EXTERNAL_ID_MAX = 200
URL_MAX = 1000
# One import of a ticket at a time: two concurrent imports of a new ticket must not both file it.
_TICKET_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext({}), hashtext({}))"
_TICKET_VIEW_SQL = """
SELECT r.id, r.source, r.external_id, r.external_url, r.title, r.description, r.status, r.created_at,
    r.completed_at, d.slug AS department, s.name AS service, e.email AS requester
FROM request r
JOIN department d ON d.id = r.department
JOIN employee e ON e.id = r.requester
LEFT JOIN service s ON s.id = r.service
WHERE r.id = {}
"""
# Boards read through the API are nobody's view: no "your rank" row.
NOBODY = CurrentUser(id=0, name="", email="", role=Role.EMPLOYEE, department_id=None)


@dataclass(frozen=True, slots=True)
class Ticket:
    """An external tracker's ticket, as the API receives it."""

    source: str
    external_id: str
    requester: str  # email
    department: str  # slug
    title: str
    description: str = ""
    service: str | None = None  # a service's name in the department's catalogue
    resolvers: tuple[str, ...] = ()  # emails; the first new one claims the request
    url: str | None = None  # the link back to the ticket


@dataclass(frozen=True, slots=True)
class Named:
    """An active person a payload names by email."""

    id: int
    name: str
    email: str


async def people_by_email(emails: Iterable[str]) -> dict[str, Named]:
    """Active people by normalised email (one query)."""
    wanted = sorted({normalise_email(e) for e in emails if e})
    if not wanted:
        return {}
    rows = await Employee.select(Employee.id, Employee.name, Employee.email).where(
        Employee.email.is_in(wanted) & Employee.active.eq(True)
    )
    return {row["email"]: Named(**row) for row in rows}


def _missing(field: str, emails: Iterable[str], found: Mapping[str, Named]) -> dict[str, str]:
    unknown = [e for e in emails if normalise_email(e) not in found]
    if not unknown:
        return {}
    return {field: f"No one working here has the email {', '.join(unknown)}."}


def _clean_link(url: str | None) -> tuple[str | None, str | None]:
    url = (url or "").strip() or None
    if url is None:
        return None, None
    if len(url) > URL_MAX:
        return url, f"Keep the link to {URL_MAX} characters."
    if not url.lower().startswith(("https://", "http://")) or any(ord(c) <= 32 for c in url):
        return url, "The link back must be a full http:// or https:// URL."
    return url, None


async def _service_id(department_slug: str, name: str | None) -> tuple[int | None, int | None]:
    """The department's id (None when unknown) and the id of its service called `name` (0 when not found)."""
    department = await Department.select(Department.id).where(Department.slug == department_slug).first()
    if department is None:
        return None, None
    if not name:
        return department["id"], None
    services = await Service.select(Service.id, Service.name).where(
        (Service.department == department["id"]) & Service.active.eq(True)
    )
    wanted = name.strip().casefold()
    return department["id"], next((row["id"] for row in services if row["name"].casefold() == wanted), 0)


async def import_ticket(ticket: Ticket, *, at: datetime | None = None) -> tuple[int, bool]:
    """File or update the request for `ticket`; returns (request id, created). One transaction."""
    moment = at or now()
    source, external_id = ticket.source.strip(), ticket.external_id.strip()
    errors: dict[str, str] = {}
    if not source or len(source) > SOURCE_MAX:
        errors["source"] = f"Name the tracker in 1 to {SOURCE_MAX} characters, e.g. “jira”."
    if not external_id or len(external_id) > EXTERNAL_ID_MAX:
        errors["external_id"] = f"Give the ticket's id in the tracker, 1 to {EXTERNAL_ID_MAX} characters."
    link, problem = _clean_link(ticket.url)
    if problem:
        errors["url"] = problem
    people = await people_by_email([ticket.requester, *ticket.resolvers])
    errors |= _missing("requester", [ticket.requester], people)
    errors |= _missing("resolvers", ticket.resolvers, people)
    department_id, service_id = await _service_id(ticket.department.strip(), ticket.service)
    if department_id is None:
        errors["department"] = f"There is no department with the slug “{ticket.department}”."
    elif service_id == 0:
        errors["service"] = f"“{ticket.service}” is not in that department's catalogue; leave it out or fix the name."
    if errors:
        raise RuleViolation(errors)
    requester = people[normalise_email(ticket.requester)]
    async with db.transaction():
        await Request.raw(_TICKET_LOCK_SQL, source, external_id)
        existing = (
            await Request.select(
                Request.id,
                Request.requester,
                Request.department,
                Request.service,
                Request.title,
                Request.description,
                Request.external_url,
            )
            .where((Request.source == source) & (Request.external_id == external_id))
            .first()
        )
        if existing is None:
            request_id = await workflow.file_request(
                requester.id, department_id, service_id, ticket.title, ticket.description, at=moment
            )
            await Request.update(
                {Request.source: source, Request.external_id: external_id, Request.external_url: link}
            ).where(Request.id == request_id)
        else:
            request_id = existing["id"]
            await _update(existing, requester.id, department_id, service_id, ticket, link, moment)
        await _add_resolvers(request_id, [people[normalise_email(e)].id for e in ticket.resolvers], moment)
    return request_id, existing is None


async def _update(
    existing: dict[str, Any],
    requester_id: int,
    department_id: int | None,
    service_id: int | None,
    ticket: Ticket,
    link: str | None,
    moment: datetime,
) -> None:
    if existing["requester"] != requester_id:
        raise RuleViolation(
            {"requester": "This ticket was imported with another requester, who cannot change."}, status_code=409
        )
    if existing["department"] != department_id:
        raise RuleViolation(
            {"department": "This ticket was imported to another department, which cannot change."}, status_code=409
        )
    title, description = ticket.title.strip(), ticket.description.strip()
    if not title:
        raise RuleViolation({"title": "Give your request a short title."})
    if len(title) > workflow.TITLE_MAX:
        raise RuleViolation({"title": f"Keep the title to {workflow.TITLE_MAX} characters or fewer."})
    if len(description) > workflow.DESCRIPTION_MAX:
        raise RuleViolation({"description": f"Keep the description to {workflow.DESCRIPTION_MAX} characters."})
    values = {"title": title, "description": description, "service": service_id, "external_url": link}
    changed = {key: value for key, value in values.items() if existing[key] != value}
    if changed:
        await Request.update({getattr(Request, key): value for key, value in changed.items()}).where(
            Request.id == existing["id"]
        )
        await RequestEvent.insert(
            RequestEvent(
                request=existing["id"],
                actor=None,
                kind=EventKind.UPDATED,
                detail=f"{', '.join(sorted(changed))} updated from the tracker",
                created_at=moment,
            )
        )


async def _add_resolvers(request_id: int, resolver_ids: list[int], moment: datetime) -> None:
    """Make the ticket's resolvers resolvers: the first new one claims (rules of `workflow.claim`) when nobody works
    on it yet, then an existing resolver adds the rest (rules of `workflow.add_resolver`)."""
    current = [
        row["employee"]
        for row in await RequestResolver.select(RequestResolver.employee)
        .where(RequestResolver.request == request_id)
        .order_by(RequestResolver.added_at)
        .order_by(RequestResolver.id)
    ]
    new = [i for i in dict.fromkeys(resolver_ids) if i not in current]
    if not new:
        return
    row = await Request.select(Request.status).where(Request.id == request_id).first()
    if row is None or row["status"] not in queries.ACTIVE:
        raise RuleViolation(
            {"resolvers": "This request is closed; its resolvers can no longer change."}, status_code=409
        )
    try:
        if not current:
            await workflow.claim(new[0], request_id, at=moment)
            current, new = [new[0]], new[1:]
        for employee_id in new:
            await workflow.add_resolver(current[0], request_id, employee_id, at=moment)
    except RuleViolation as exc:
        # the token may import; the ticket's data broke a rule: 422, or 409 for a closed request
        raise RuleViolation({"resolvers": exc.message}, status_code=409 if exc.status_code == 409 else 422) from exc


async def find_ticket(source: str, external_id: str) -> int | None:
    row = (
        await Request.select(Request.id)
        .where((Request.source == source.strip()) & (Request.external_id == external_id.strip()))
        .first()
    )
    return row["id"] if row else None


async def complete_ticket(
    source: str, external_id: str, completed_by: str | None, *, at: datetime | None = None
) -> int:
    """Complete the imported request through `workflow.complete` (so its requester is asked to thank now), as
    `completed_by` (an email; default: its first resolver). Returns the request's id."""
    request_id = await find_ticket(source, external_id)
    if request_id is None:
        raise RuleViolation({"external_id": "No request was imported from that ticket."}, status_code=404)
    if completed_by:
        people = await people_by_email([completed_by])
        if errors := _missing("completed_by", [completed_by], people):
            raise RuleViolation(errors)
        actor = people[normalise_email(completed_by)].id
    else:
        first = (
            await RequestResolver.select(RequestResolver.employee)
            .where(RequestResolver.request == request_id)
            .order_by(RequestResolver.added_at)
            .order_by(RequestResolver.id)
            .first()
        )
        if first is None:
            raise RuleViolation(
                {"completed_by": "Nobody works on this request yet: import it with resolvers."}, status_code=409
            )
        actor = first["employee"]
    await workflow.complete(actor, request_id, at=at)
    return request_id


@dataclass(frozen=True, slots=True)
class TicketView:
    """An imported request as the API returns it: people by email, the department by slug, the service by name."""

    id: int
    source: str | None
    external_id: str | None
    external_url: str | None
    title: str
    description: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    department: str
    service: str | None
    requester: str
    resolvers: list[str]

    @property
    def completed(self) -> bool:
        return self.status == Status.COMPLETED


async def ticket_view(request_id: int) -> TicketView:
    """The request as the API returns it (two queries)."""
    row = await Request.raw(_TICKET_VIEW_SQL, request_id)
    resolvers = (
        await RequestResolver.select(RequestResolver.employee.email.as_alias("email"))
        .where(RequestResolver.request == request_id)
        .order_by(RequestResolver.added_at)
        .order_by(RequestResolver.id)
    )
    return TicketView(**row[0], resolvers=[r["email"] for r in resolvers])


async def give_by_email(
    *,
    giver: str,
    recipients: list[str],
    message: str,
    points: int,
    values: list[str],
    visibility: str,
    request: int | None,
    idempotency_key: str | None,
    at: datetime | None = None,
) -> Given:
    """`kudos.give_kudos` with people named by email and values by name; its rules and messages otherwise."""
    people = await people_by_email([giver, *recipients])
    errors = _missing("giver", [giver], people) | _missing("recipients", recipients, people)
    known = {value.name.casefold(): value.id for value in await company_values()}
    if unknown := [v for v in values if v.strip().casefold() not in known]:
        errors["values"] = f"Unknown company value: {', '.join(unknown)}. Use the names listed in Kudos."
    if errors:
        raise RuleViolation(errors)
    acting = await load_current_user(people[normalise_email(giver)].id)
    if acting is None:  # deactivated between the two reads
        raise RuleViolation({"giver": "No one working here has that email."})
    form = GiveForm(
        recipient_ids=[people[normalise_email(r)].id for r in recipients],
        message=message,
        value_ids=[known[v.strip().casefold()] for v in values],
        points=str(points),
        visibility=visibility,
        request_id=request,
    )
    if idempotency_key:
        form.idempotency_key = idempotency_key
    return await give_kudos(acting, form, at=at)
