"""Internal requests (SPEC F2) and their ratings (F11): rules, transactions and queries. No HTTP here.

Visibility: every signed-in employee may see every request and its history (internal transparency: what
departments are asked for and how fast they answer is not secret, and the history holds no private text).
A request's rating — its scores and private comment — is shown only to the request's resolvers, the leads of
its department and the requester who gave it; nobody else, admins included (SPEC F11: individual ratings are
never public). Others only learn that the request was rated.

Every mutation takes the acting person (a `CurrentUser` or an employee id) and an optional `at` moment (the
demo-data seeder replays history with it; every timestamp written comes from it), runs in one transaction with
the request row locked, appends a `RequestEvent`, and raises `RuleViolation` — changing nothing — when refused:
422 bad input, 403 not allowed, 404 no such request, 409 wrong state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.boards.badges import award_after_completion
from app.kudos.services import thank_url
from app.notifications.services import notify, subject_of
from app.notifications.tables import Kind
from app.paging import Cursor, valid_id
from app.people.services import CurrentUser, search_directory
from app.people.tables import Department, DepartmentLead, Employee, Service
from app.requests.tables import EventKind, Request, RequestEvent, RequestRating, RequestResolver, Status
from app.rules import RuleViolation
from app.timeutil import now
from app.words import duration

Actor = CurrentUser | int

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
COMMENT_MAX = 2000
REASON_MAX = 500
PAGE_SIZE = 25
SCORES = ("timeliness", "quality", "communication")

ACTIVE = (Status.OPEN, Status.IN_PROGRESS)
STATUS_LABELS = {
    Status.OPEN: "Open",
    Status.IN_PROGRESS: "In progress",
    Status.COMPLETED: "Completed",
    Status.CANCELLED: "Cancelled",
}
# The list's status filter: its value in the URL → (label, statuses shown).
STATUS_FILTERS: dict[str, tuple[str, tuple[Status, ...]]] = {
    "active": ("Open and in progress", ACTIVE),
    "open": ("Open", (Status.OPEN,)),
    "in_progress": ("In progress", (Status.IN_PROGRESS,)),
    "completed": ("Completed", (Status.COMPLETED,)),
    "cancelled": ("Cancelled", (Status.CANCELLED,)),
    "all": ("All", tuple(Status)),
}
DEFAULT_STATUS = "active"
# The list's boxes: requests I filed, my department's queue (and those of departments I lead), and requests
# I work on as a resolver (possibly for another department).
BOXES = {"mine": "My requests", "queue": "My department's queue", "working": "Working on"}
DEFAULT_BOX = "mine"

_CLOSED = {Status.COMPLETED: "is already completed", Status.CANCELLED: "was cancelled"}


# --- display helpers -------------------------------------------------------------------------------------------


def duration_label(start: datetime | None, end: datetime | None) -> str:
    """A short human duration such as "45 min", "3 h 20 min" or "2 d 4 h"; "" when either end is missing."""
    if start is None or end is None:
        return ""
    return duration(end - start)


def add_timing(item: dict[str, Any], at: datetime) -> None:
    """A listed or shown request's age while it is open (`age`) and by how much it is past its service's target
    turnaround (`over_target`: while open, or when it was completed late; "" when within target or without one)."""
    status = Status(item["status"])
    end = item["completed_at"] if status == Status.COMPLETED else at
    item["age"] = duration(at - item["created_at"]) if status in ACTIVE else ""
    item["over_target"] = ""
    if item.get("target_hours") and status in {*ACTIVE, Status.COMPLETED}:
        late = end - item["created_at"] - timedelta(hours=item["target_hours"])
        if late > timedelta(0):
            item["over_target"] = duration(late)


# --- shared pieces of the mutations ---------------------------------------------------------------------------


def _actor_id(actor: Actor) -> int:
    return actor.id if isinstance(actor, CurrentUser) else int(actor)


async def _load_actor(actor: Actor) -> dict[str, Any]:
    actor_id = _actor_id(actor)
    row = (
        await Employee.select(Employee.id, Employee.name, Employee.department).where(Employee.id == actor_id).first()
        if valid_id(actor_id)
        else None
    )
    if row is None:
        raise RuleViolation("Your account could not be found.", status_code=403)
    return row


async def _lock_request(request_id: int) -> dict[str, Any]:
    """The request row, locked until the transaction ends (state changes on one request are serialised)."""
    if not valid_id(request_id):
        raise RuleViolation("There is no request with that number.", status_code=404)
    rows = await Request.raw(
        "SELECT r.id, r.requester, r.department, r.status, r.title, r.first_response_at, "
        "d.name AS department_name "
        "FROM request r JOIN department d ON d.id = r.department WHERE r.id = {} FOR UPDATE OF r",
        request_id,
    )
    if not rows:
        raise RuleViolation("There is no request with that number.", status_code=404)
    return rows[0]


async def _is_lead(employee_id: int, department_id: int) -> bool:
    return await DepartmentLead.exists().where(
        (DepartmentLead.department == department_id) & (DepartmentLead.employee == employee_id)
    )


async def _is_staff(employee_id: int, employee_department: int | None, department_id: int) -> bool:
    """A member of the department or one of its leads."""
    return employee_department == department_id or await _is_lead(employee_id, department_id)


async def _resolver_ids(request_id: int) -> set[int]:
    rows = await RequestResolver.select(RequestResolver.employee).where(RequestResolver.request == request_id)
    return {row["employee"] for row in rows}


async def _record(request_id: int, actor_id: int, kind: EventKind, moment: datetime, detail: str = "") -> None:
    await RequestEvent.insert(
        RequestEvent(request=request_id, actor=actor_id, kind=kind, detail=detail, created_at=moment)
    )


async def _add_resolver_row(request: dict[str, Any], employee_id: int, added_by: int, moment: datetime) -> None:
    """Make `employee_id` a resolver; the request becomes in progress and gets its first response time."""
    await RequestResolver.insert(
        RequestResolver(request=request["id"], employee=employee_id, added_by=added_by, added_at=moment)
    )
    values: dict[Any, Any] = {Request.status: Status.IN_PROGRESS}
    if request["first_response_at"] is None:
        values[Request.first_response_at] = moment
    await Request.update(values).where(Request.id == request["id"])


def _refuse_closed(request: dict[str, Any], consequence: str = "") -> None:
    """409 for a completed or cancelled request, e.g. "This request was cancelled and can no longer be claimed."."""
    if request["status"] in _CLOSED:
        raise RuleViolation(f"This request {_CLOSED[request['status']]}{consequence}.", status_code=409)


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
    async with Request._meta.db.transaction():
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
            requester=requester["id"],
            department=department["id"],
            service=service_id,
            title=title,
            description=description,
            status=Status.OPEN,
            created_at=moment,
        )
        await request.save()
        await _record(request.id, requester["id"], EventKind.FILED, moment)
        return request.id


async def claim(actor: Actor, request_id: int, *, at: datetime | None = None) -> None:
    """Pick up a request: the actor becomes a resolver (idempotent) and the request is in progress.

    Only members of the request's department and its leads may claim, and not the requester.
    """
    moment = at or now()
    async with Request._meta.db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        if not await _is_staff(person["id"], person["department"], request["department"]):
            raise RuleViolation(
                f"Only members of {request['department_name']} can claim its requests.", status_code=403
            )
        if person["id"] == request["requester"]:
            raise RuleViolation(
                "You filed this request, so a colleague has to pick it up.",
                status_code=403,
            )
        _refuse_closed(request, " and can no longer be claimed")
        if person["id"] in await _resolver_ids(request_id):
            return
        await _add_resolver_row(request, person["id"], person["id"], moment)
        await _record(request_id, person["id"], EventKind.CLAIMED, moment)


async def add_resolver(actor: Actor, request_id: int, employee_id: int | None, *, at: datetime | None = None) -> str:
    """Add a colleague (from any department) as a resolver; returns their name. They are notified.

    Current resolvers and the department's members and leads may add resolvers; not the requester as one.
    """
    moment = at or now()
    async with Request._meta.db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        resolvers = await _resolver_ids(request_id)
        if person["id"] not in resolvers and not await _is_staff(
            person["id"], person["department"], request["department"]
        ):
            raise RuleViolation(
                f"Only people working on this request or members of {request['department_name']} can add resolvers.",
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
        if employee["id"] == request["requester"]:
            raise RuleViolation({"employee": f"{employee['name']} filed this request and cannot also resolve it."})
        if employee["id"] in resolvers:
            raise RuleViolation({"employee": f"{employee['name']} already works on this request."})
        await _add_resolver_row(request, employee["id"], person["id"], moment)
        await _record(request_id, person["id"], EventKind.RESOLVER_ADDED, moment, detail=employee["name"])
        await notify(
            [employee["id"]],
            Kind.REQUEST_ASSIGNED,
            text=f"{person['name']} added you to the request “{request['title']}”",
            url=f"/requests/{request_id}",
            actor_id=person["id"],
            at=moment,
        )
        return employee["name"]


async def complete(actor: Actor, request_id: int, *, at: datetime | None = None) -> None:
    """Mark a request in progress as completed; only its resolvers may. The requester is asked to thank them."""
    moment = at or now()
    async with Request._meta.db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        if person["id"] not in await _resolver_ids(request_id):
            raise RuleViolation(
                "Only the people working on this request can complete it. Claim it first.", status_code=403
            )
        _refuse_closed(request)
        if request["status"] != Status.IN_PROGRESS:
            raise RuleViolation("Only a request in progress can be completed.", status_code=409)
        await Request.update({Request.status: Status.COMPLETED, Request.completed_at: moment}).where(
            Request.id == request_id
        )
        await _record(request_id, person["id"], EventKind.COMPLETED, moment)
        await notify(
            [request["requester"]],
            Kind.REQUEST_COMPLETED,
            text=f"{person['name']} completed your request “{request['title']}”",
            url=f"/requests/{request_id}",
            actor_id=person["id"],
            action_label="Thank now",
            action_url=thank_url(request_id),
            subject=subject_of("request", request_id),
            at=moment,
        )
        await award_after_completion(await _resolver_ids(request_id), at=moment)


async def cancel(actor: Actor, request_id: int, reason: str = "", *, at: datetime | None = None) -> None:
    """Cancel an open or in-progress request: the requester (reason optional) or a member or lead of its
    department (reason required, so the requester learns why)."""
    moment = at or now()
    reason = _clean_text(reason)
    async with Request._meta.db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        is_requester = person["id"] == request["requester"]
        if not is_requester and not await _is_staff(person["id"], person["department"], request["department"]):
            raise RuleViolation(
                f"Only the requester or members of {request['department_name']} can cancel this request.",
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
        await _record(request_id, person["id"], EventKind.CANCELLED, moment, detail=reason)


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
    async with Request._meta.db.transaction():
        person = await _load_actor(actor)
        request = await _lock_request(request_id)
        if person["id"] != request["requester"]:
            raise RuleViolation("Only the person who filed this request can rate it.", status_code=403)
        if await RequestRating.exists().where(RequestRating.request == request_id):
            raise RuleViolation("You have already rated this request.", status_code=409)
        if request["status"] != Status.COMPLETED:
            raise RuleViolation("You can rate this request once it is completed.", status_code=409)
        if errors:
            raise RuleViolation(errors)
        await RequestRating.insert(
            RequestRating(
                request=request_id,
                rater=person["id"],
                timeliness=scores["timeliness"],
                quality=scores["quality"],
                communication=scores["communication"],
                comment=comment,
                created_at=moment,
            )
        )
        await _record(request_id, person["id"], EventKind.RATED, moment)


# --- queries ----------------------------------------------------------------------------------------------------

# Resolver names of request `r`, in the order they joined: one correlated sub-select per listed row, so a page
# of requests is one query.
_RESOLVER_NAMES = (
    "ARRAY(SELECT re.name FROM request_resolver rr JOIN employee re ON re.id = rr.employee "
    "WHERE rr.request = r.id ORDER BY rr.added_at, rr.id) AS resolver_names"
)


@dataclass(frozen=True, slots=True)
class RequestPage:
    box: str
    status: str
    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None  # the cursor of the next (older) page; None on the last page
    cursor: str | None = None  # where this page starts; None on the first page
    has_queue: bool = False  # the person belongs to or leads a department (so "queue" means something)


async def _queue_departments(user: CurrentUser) -> list[int]:
    leads = await DepartmentLead.select(DepartmentLead.department).where(DepartmentLead.employee == user.id)
    ids = {row["department"] for row in leads}
    if user.department_id is not None:
        ids.add(user.department_id)
    return sorted(ids)


async def list_requests(
    user: CurrentUser,
    *,
    box: str = DEFAULT_BOX,
    status: str | None = None,
    cursor: str | None = None,
    per_page: int = PAGE_SIZE,
) -> RequestPage:
    """One page of requests, newest first (keyset paging on created_at, id): one query with the department,
    service, requester and resolver names (after one small query for the departments the person leads).

    `box`: "mine" (I filed them), "queue" (to my department or a department I lead) or "working" (I am a
    resolver). `status`: a key of STATUS_FILTERS (unknown values fall back to open and in progress).
    """
    box = box if box in BOXES else DEFAULT_BOX
    status = status if status in STATUS_FILTERS else DEFAULT_STATUS
    departments = await _queue_departments(user)
    conditions = ["r.status = ANY({})"]
    args: list[Any] = [[str(s) for s in STATUS_FILTERS[status][1]]]
    if box == "mine":
        conditions.append("r.requester = {}")
        args.append(user.id)
    elif box == "queue":
        if not departments:
            return RequestPage(box=box, status=status)
        conditions.append("r.department = ANY({})")
        args.append(departments)
    else:
        conditions.append("EXISTS (SELECT 1 FROM request_resolver w WHERE w.request = r.id AND w.employee = {})")
        args.append(user.id)
    after = Cursor.decode(cursor)
    if after:
        conditions.append("(r.created_at, r.id) < ({}, {})")
        args.extend((after.created_at, after.id))
    rows = await Request.raw(
        "SELECT r.id, r.title, r.status, r.created_at, r.first_response_at, r.completed_at, r.cancelled_at, "  # noqa: S608 — fixed fragments; values are bound
        "r.requester AS requester_id, e.name AS requester_name, "
        "d.name AS department_name, d.slug AS department_slug, s.name AS service_name, s.target_hours, "
        f"{_RESOLVER_NAMES} "
        "FROM request r JOIN department d ON d.id = r.department JOIN employee e ON e.id = r.requester "
        "LEFT JOIN service s ON s.id = r.service "
        f"WHERE {' AND '.join(conditions)} "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT {}",
        *args,
        per_page + 1,
    )
    items = rows[:per_page]
    moment = now()
    for item in items:
        item["status_label"] = STATUS_LABELS[Status(item["status"])]
        add_timing(item, moment)
    next_cursor = Cursor(items[-1]["created_at"], items[-1]["id"]).encode() if len(rows) > per_page else None
    return RequestPage(
        box=box,
        status=status,
        items=items,
        next_cursor=next_cursor,
        cursor=after.encode() if after else None,
        has_queue=bool(departments),
    )


_THANKED = "EXISTS (SELECT 1 FROM kudos k WHERE k.request = r.id AND k.giver = r.requester AND k.revoked_at IS NULL)"


async def get_request(user: CurrentUser, request_id: int) -> dict[str, Any] | None:
    """A request with its resolvers, history, what `user` may do with it and — for those allowed — its rating.

    Any signed-in person may see a request (see the module docstring); None when there is no such request.
    """
    if not valid_id(request_id):
        return None
    rows = await Request.raw(
        "SELECT r.id, r.title, r.description, r.status, r.created_at, r.first_response_at, r.completed_at, "  # noqa: S608 — fixed fragments; values are bound
        "r.cancelled_at, r.department AS department_id, d.name AS department_name, d.slug AS department_slug, "
        "r.service AS service_id, s.name AS service_name, s.target_hours, "
        "r.requester AS requester_id, e.name AS requester_name, "
        f"{_THANKED} AS thanked "
        "FROM request r JOIN department d ON d.id = r.department JOIN employee e ON e.id = r.requester "
        "LEFT JOIN service s ON s.id = r.service WHERE r.id = {}",
        request_id,
    )
    if not rows:
        return None
    request = rows[0]
    status = Status(request["status"])
    request["status_label"] = STATUS_LABELS[status]
    request["first_response_after"] = duration_label(request["created_at"], request["first_response_at"])
    request["turnaround"] = duration_label(request["created_at"], request["completed_at"])
    add_timing(request, now())
    request["resolvers"] = list(
        await RequestResolver.select(
            RequestResolver.employee.as_alias("id"),
            RequestResolver.employee.name.as_alias("name"),
            RequestResolver.employee.title.as_alias("title"),
            RequestResolver.added_at,
        )
        .where(RequestResolver.request == request_id)
        .order_by(RequestResolver.added_at)
        .order_by(RequestResolver.id)
    )
    request["events"] = list(
        await RequestEvent.select(
            RequestEvent.kind,
            RequestEvent.detail,
            RequestEvent.created_at,
            RequestEvent.actor.as_alias("actor_id"),
            RequestEvent.actor.name.as_alias("actor_name"),
        )
        .where(RequestEvent.request == request_id)
        .order_by(RequestEvent.created_at)
        .order_by(RequestEvent.id)
    )
    resolver_ids = {row["id"] for row in request["resolvers"]}
    is_requester = user.id == request["requester_id"]
    is_lead = await _is_lead(user.id, request["department_id"])
    is_staff = is_lead or user.department_id == request["department_id"]
    is_resolver = user.id in resolver_ids
    active = status in ACTIVE
    rating = (
        await RequestRating.select(
            RequestRating.timeliness,
            RequestRating.quality,
            RequestRating.communication,
            RequestRating.comment,
            RequestRating.created_at,
        )
        .where(RequestRating.request == request_id)
        .first()
    )
    request["rated"] = rating is not None
    request["rating"] = rating if rating and (is_requester or is_resolver or is_lead) else None
    request["is_requester"] = is_requester
    request["is_resolver"] = is_resolver
    request["can_claim"] = active and is_staff and not is_requester and not is_resolver
    request["can_add_resolver"] = active and (is_staff or is_resolver)
    request["can_complete"] = status == Status.IN_PROGRESS and is_resolver
    request["can_cancel"] = active and (is_requester or is_staff)
    request["cancel_needs_reason"] = not is_requester
    request["can_rate"] = status == Status.COMPLETED and is_requester and rating is None
    request["can_thank"] = status == Status.COMPLETED and is_requester and bool(resolver_ids)
    return request


async def resolver_candidates(request: dict[str, Any], query: str = "") -> dict[str, Any]:
    """People who could be added as resolvers to `request` (a `get_request` result): the active members of its
    department, and the active people matching `query` from the whole directory; neither the requester nor
    current resolvers."""
    excluded = {request["requester_id"], *(row["id"] for row in request["resolvers"])}
    members = (
        await Employee.select(Employee.id, Employee.name, Employee.title)
        .where((Employee.department == request["department_id"]) & Employee.active.eq(True))
        .order_by(Employee.name)
        .order_by(Employee.id)
    )
    query = " ".join(query.split())[:100]
    matches: list[dict[str, Any]] = []
    if query:
        results = await search_directory(query, per_page=20)
        matches = [
            {"id": p.id, "name": p.name, "title": p.title, "department_name": p.department_name}
            for p in results.people
            if p.id not in excluded
        ]
    return {
        "query": query,
        "members": [m for m in members if m["id"] not in excluded],
        "matches": matches,
    }


async def completed_not_thanked(user_id: int, limit: int = 5, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """My completed requests (newest first) I have not thanked for yet: no kudos of mine linked to them, or only
    revoked ones. Each with id, title, department_name, completed_at and resolver_names (a list).
    `since` leaves out requests completed before it."""
    conditions = ["r.requester = {}", "r.status = {}", f"NOT {_THANKED}"]
    args: list[Any] = [user_id, str(Status.COMPLETED)]
    if since is not None:
        conditions.append("r.completed_at >= {}")
        args.append(since)
    rows = await Request.raw(
        "SELECT r.id, r.title, d.name AS department_name, r.completed_at, "  # noqa: S608 — fixed fragments; values are bound
        f"{_RESOLVER_NAMES} "
        "FROM request r JOIN department d ON d.id = r.department "
        f"WHERE {' AND '.join(conditions)} "
        "ORDER BY r.completed_at DESC, r.id DESC LIMIT {}",
        *args,
        limit,
    )
    return rows


async def departments_for_filing() -> list[dict[str, Any]]:
    """Departments that take requests (not archived), by name, each with its active services in catalogue order."""
    departments = (
        await Department.select(Department.id, Department.name, Department.slug)
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )
    services = (
        await Service.select(Service.id, Service.name, Service.department, Service.target_hours)
        .where(Service.active.eq(True) & Service.department.is_in([d["id"] for d in departments] or [0]))
        .order_by(Service.position)
        .order_by(Service.name)
    )
    by_department: dict[int, list[dict[str, Any]]] = {}
    for service in services:
        by_department.setdefault(service["department"], []).append(service)
    for department in departments:
        department["services"] = by_department.get(department["id"], [])
    return departments
