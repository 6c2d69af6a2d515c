"""Internal requests' workflow (SPEC F2, F11): filing, claiming, resolvers, completing, cancelling and rating.

Every mutation takes the acting person (a `CurrentUser` or an employee id) and an optional `at` moment (the
demo-data seeder replays history with it; every timestamp written comes from it), runs in one transaction with
the request row locked, appends a `RequestEvent`, publishes what happened (app/events.py: notifications and badges
follow from the job outbox), and raises `RuleViolation` — changing nothing — when refused: 422 bad input, 403 not
allowed, 404 no such request, 409 wrong state. No HTTP here, and no other domain's services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import app.db as db
from app.events import (
    RequestCancelled,
    RequestClaimed,
    RequestCompleted,
    RequestFiled,
    RequestRated,
    ResolverAdded,
    publish,
)
from app.paging import valid_id
from app.people.services import CurrentUser
from app.people.tables import Department, DepartmentLead, Employee, Service
from app.requests.tables import EventKind, Request, RequestEvent, RequestRating, RequestResolver, Status
from app.rules import RuleViolation
from app.timeutil import now

Actor = CurrentUser | int

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
COMMENT_MAX = 2000
REASON_MAX = 500
SCORES = ("timeliness", "quality", "communication")

_CLOSED = {Status.COMPLETED: "is already completed", Status.CANCELLED: "was cancelled"}

_LOCK_SQL = """
    SELECT r.id, r.requester, r.department, r.status, r.title, r.first_response_at, d.name AS department_name
    FROM request r JOIN department d ON d.id = r.department WHERE r.id = {} FOR UPDATE OF r
"""


# --- shared pieces of the mutations ---------------------------------------------------------------------------


def _actor_id(actor: Actor) -> int:
    return actor.id if isinstance(actor, CurrentUser) else int(actor)


@dataclass(frozen=True, slots=True)
class _Person:
    """Whoever acts on a request."""

    id: int
    name: str
    department: int | None


@dataclass(frozen=True, slots=True)
class _Locked:
    """A request as a change to it checks it, locked until the transaction ends."""

    id: int
    requester: int
    department: int
    status: Status
    title: str
    first_response_at: datetime | None
    department_name: str


async def _load_actor(actor: Actor) -> _Person:
    actor_id = _actor_id(actor)
    row = (
        await Employee.select(Employee.id, Employee.name, Employee.department).where(Employee.id == actor_id).first()
        if valid_id(actor_id)
        else None
    )
    if row is None:
        raise RuleViolation("Your account could not be found.", status_code=403)
    return _Person(**row)


async def _lock_request(request_id: int) -> _Locked:
    """The request row, locked until the transaction ends (state changes on one request are serialised)."""
    if not valid_id(request_id):
        raise RuleViolation("There is no request with that number.", status_code=404)
    rows = await Request.raw(_LOCK_SQL, request_id)
    if not rows:
        raise RuleViolation("There is no request with that number.", status_code=404)
    row = rows[0]
    return _Locked(**{**row, "status": Status(row["status"])})


async def is_lead(employee_id: int, department_id: int) -> bool:
    return await DepartmentLead.exists().where(
        (DepartmentLead.department == department_id) & (DepartmentLead.employee == employee_id)
    )


async def _is_staff(employee_id: int, employee_department: int | None, department_id: int) -> bool:
    """A member of the department or one of its leads."""
    return employee_department == department_id or await is_lead(employee_id, department_id)


async def _resolver_ids(request_id: int) -> set[int]:
    rows = await RequestResolver.select(RequestResolver.employee).where(RequestResolver.request == request_id)
    return {row["employee"] for row in rows}


async def _record(request_id: int, actor_id: int, kind: EventKind, moment: datetime, detail: str = "") -> None:
    await RequestEvent.insert(
        RequestEvent(request=request_id, actor=actor_id, kind=kind, detail=detail, created_at=moment)
    )


async def _add_resolver_row(request: _Locked, employee_id: int, added_by: int, moment: datetime) -> None:
    """Make `employee_id` a resolver; the request becomes in progress and gets its first response time."""
    await RequestResolver.insert(
        RequestResolver(request=request.id, employee=employee_id, added_by=added_by, added_at=moment)
    )
    values: dict[Any, Any] = {Request.status: Status.IN_PROGRESS}
    if request.first_response_at is None:
        values[Request.first_response_at] = moment
    await Request.update(values).where(Request.id == request.id)


def _refuse_closed(request: _Locked, consequence: str = "") -> None:
    """409 for a completed or cancelled request, e.g. "This request was cancelled and can no longer be claimed."."""
    if request.status in _CLOSED:
        raise RuleViolation(f"This request {_CLOSED[request.status]}{consequence}.", status_code=409)


def _clean_text(value: str | None) -> str:
    return (value or "").strip()


def _too_long(what: str, limit: int, text: str) -> str:
    return f"Keep the {what} to {limit} characters or fewer (it has {len(text)})."


# --- mutations --------------------------------------------------------------------------------------------------


async def file_request(
    actor: Actor,
    department_id: int | None,
    service_id: int | None,
    title: str,
    description: str = "",
    *,
    at: datetime | None = None,
) -> int:
    """File a request to a department (optionally for one of its services); returns its id. Status open.

    Filing to your own department is allowed (someone else there has to pick it up: a requester cannot be a
    resolver of their own request).
    """
    moment = at or now()
    title = _clean_text(title)
    description = _clean_text(description)
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give your request a short title."
    elif len(title) > TITLE_MAX:
        errors["title"] = _too_long("title", TITLE_MAX, title)
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = _too_long("description", DESCRIPTION_MAX, description)
    async with db.transaction():
        requester = await _load_actor(actor)
        department = None
        if department_id is None:
            errors["department"] = "Choose the department you are asking."
        else:
            department = (
                await Department.select(Department.id, Department.name, Department.archived_at)
                .where(Department.id == department_id)
                .first()
                if valid_id(department_id)
                else None
            )
            if department is None:
                errors["department"] = "Choose a department from the list."
            elif department["archived_at"] is not None:
                errors["department"] = f"{department['name']} no longer takes requests."
        if service_id is not None and department is not None and "department" not in errors:
            service = (
                await Service.select(Service.department, Service.active, Service.department.name.as_alias("dept"))
                .where(Service.id == service_id)
                .first()
                if valid_id(service_id)
                else None
            )
            if service is None or not service["active"]:
                errors["service"] = f"Choose a service from {department['name']}'s catalogue, or none."
            elif service["department"] != department["id"]:
                errors["service"] = f"That service is offered by {service['dept']}, not {department['name']}."
        if errors:
            raise RuleViolation(errors)
        assert department is not None  # for the type checker: no errors means a department was found
        request = Request(
            requester=requester.id,
            department=department["id"],
            service=service_id,
            title=title,
            description=description,
            status=Status.OPEN,
            created_at=moment,
        )
        await request.save()
        await _record(request.id, requester.id, EventKind.FILED, moment)
        await publish(
            RequestFiled(request_id=request.id, requester_id=requester.id, department_id=department["id"], at=moment)
        )
        return int(request.id)


async def claim(actor: Actor, request_id: int, *, at: datetime | None = None) -> None:
    """Pick up a request: the actor becomes a resolver (idempotent) and the request is in progress.

    Only members of the request's department and its leads may claim, and not the requester.
    """
    moment = at or now()
    async with db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        if not await _is_staff(person.id, person.department, request.department):
            raise RuleViolation(f"Only members of {request.department_name} can claim its requests.", status_code=403)
        if person.id == request.requester:
            raise RuleViolation(
                "You filed this request, so a colleague has to pick it up.",
                status_code=403,
            )
        _refuse_closed(request, " and can no longer be claimed")
        if person.id in await _resolver_ids(request_id):
            return
        await _add_resolver_row(request, person.id, person.id, moment)
        await _record(request_id, person.id, EventKind.CLAIMED, moment)
        await publish(RequestClaimed(request_id=request_id, resolver_id=person.id, at=moment))


async def add_resolver(actor: Actor, request_id: int, employee_id: int | None, *, at: datetime | None = None) -> str:
    """Add a colleague (from any department) as a resolver; returns their name. They are notified.

    Current resolvers and the department's members and leads may add resolvers; not the requester as one.
    """
    moment = at or now()
    async with db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        resolvers = await _resolver_ids(request_id)
        if person.id not in resolvers and not await _is_staff(person.id, person.department, request.department):
            raise RuleViolation(
                f"Only people working on this request or members of {request.department_name} can add resolvers.",
                status_code=403,
            )
        _refuse_closed(request, " and can no longer get new resolvers")
        if employee_id is None:
            raise RuleViolation({"employee": "Choose the colleague to add."})
        employee = (
            await Employee.select(Employee.id, Employee.name, Employee.active).where(Employee.id == employee_id).first()
            if valid_id(employee_id)
            else None
        )
        if employee is None or not employee["active"]:
            raise RuleViolation({"employee": "Choose an active colleague."})
        if employee["id"] == request.requester:
            raise RuleViolation({"employee": f"{employee['name']} filed this request and cannot also resolve it."})
        if employee["id"] in resolvers:
            raise RuleViolation({"employee": f"{employee['name']} already works on this request."})
        await _add_resolver_row(request, employee["id"], person.id, moment)
        await _record(request_id, person.id, EventKind.RESOLVER_ADDED, moment, detail=employee["name"])
        await publish(ResolverAdded(request_id=request_id, resolver_id=employee["id"], added_by=person.id, at=moment))
        return str(employee["name"])


async def complete(actor: Actor, request_id: int, *, at: datetime | None = None) -> None:
    """Mark a request in progress as completed; only its resolvers may. The requester is asked to thank them."""
    moment = at or now()
    async with db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        resolvers = await _resolver_ids(request_id)
        if person.id not in resolvers:
            raise RuleViolation(
                "Only the people working on this request can complete it. Claim it first.", status_code=403
            )
        _refuse_closed(request)
        if request.status != Status.IN_PROGRESS:
            raise RuleViolation("Only a request in progress can be completed.", status_code=409)
        await Request.update({Request.status: Status.COMPLETED, Request.completed_at: moment}).where(
            Request.id == request_id
        )
        await _record(request_id, person.id, EventKind.COMPLETED, moment)
        await publish(
            RequestCompleted(
                request_id=request_id,
                completed_by=person.id,
                requester_id=request.requester,
                resolver_ids=tuple(sorted(resolvers)),
                at=moment,
            )
        )


async def cancel(actor: Actor, request_id: int, reason: str = "", *, at: datetime | None = None) -> None:
    """Cancel an open or in-progress request: the requester (reason optional) or a member or lead of its
    department (reason required, so the requester learns why)."""
    moment = at or now()
    reason = _clean_text(reason)
    async with db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        is_requester = person.id == request.requester
        if not is_requester and not await _is_staff(person.id, person.department, request.department):
            raise RuleViolation(
                f"Only the requester or members of {request.department_name} can cancel this request.",
                status_code=403,
            )
        _refuse_closed(request)
        if not reason and not is_requester:
            raise RuleViolation({"reason": "Tell the requester why you are cancelling their request."})
        if len(reason) > REASON_MAX:
            raise RuleViolation({"reason": _too_long("reason", REASON_MAX, reason)})
        await Request.update({Request.status: Status.CANCELLED, Request.cancelled_at: moment}).where(
            Request.id == request_id
        )
        await _record(request_id, person.id, EventKind.CANCELLED, moment, detail=reason)
        await publish(RequestCancelled(request_id=request_id, cancelled_by=person.id, at=moment))


def _score(value: object, label: str) -> tuple[int | None, str | None]:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str):
        value = value.strip()
        value = int(value) if value.isdigit() and len(value) < 3 else None
    if isinstance(value, int) and 1 <= value <= 5:
        return value, None
    return None, f"Rate {label} from 1 to 5."


async def rate(
    actor: Actor,
    request_id: int,
    timeliness: int | str | None,
    quality: int | str | None,
    communication: int | str | None,
    comment: str = "",
    *,
    at: datetime | None = None,
) -> None:
    """The requester rates their completed request once, 1 to 5 on each score, with an optional private comment."""
    moment = at or now()
    comment = _clean_text(comment)
    scores: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name, value in zip(SCORES, (timeliness, quality, communication), strict=True):
        scores[name], error = _score(value, name)
        if error:
            errors[name] = error
    if len(comment) > COMMENT_MAX:
        errors["comment"] = _too_long("comment", COMMENT_MAX, comment)
    async with db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        if person.id != request.requester:
            raise RuleViolation("Only the person who filed this request can rate it.", status_code=403)
        if await RequestRating.exists().where(RequestRating.request == request_id):
            raise RuleViolation("You have already rated this request.", status_code=409)
        if request.status != Status.COMPLETED:
            raise RuleViolation("You can rate this request once it is completed.", status_code=409)
        if errors:
            raise RuleViolation(errors)
        await RequestRating.insert(
            RequestRating(
                request=request_id,
                rater=person.id,
                timeliness=scores["timeliness"],
                quality=scores["quality"],
                communication=scores["communication"],
                comment=comment,
                created_at=moment,
            )
        )
        await _record(request_id, person.id, EventKind.RATED, moment)
        await publish(RequestRated(request_id=request_id, rater_id=person.id, at=moment))
