"""Reading internal requests (SPEC F2, F11): the lists, one request with what its reader may do, resolver
candidates, requests waiting for thanks, departments to file to. No HTTP here.

Visibility: every signed-in employee may see every request and its history (internal transparency: what
departments are asked for and how fast they answer is not secret, and the history holds no private text).
A request's rating — its scores and private comment — is shown only to the request's resolvers, the leads of
its department and the requester who gave it; nobody else, admins included (SPEC F11: individual ratings are
never public). Others only learn that the request was rated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.paging import Cursor, valid_id
from app.people.services import CurrentUser, led_departments, search_directory
from app.people.tables import Department, Employee, Service
from app.requests.tables import Request, RequestEvent, RequestRating, RequestResolver, Status
from app.requests.workflow import is_lead
from app.timeutil import now
from app.words import duration

PAGE_SIZE = 25
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


# --- display helpers -------------------------------------------------------------------------------------------


def duration_label(start: datetime | None, end: datetime | None) -> str:
    """A short human duration such as "45 min", "3 h 20 min" or "2 d 4 h"; "" when either end is missing."""
    if start is None or end is None:
        return ""
    return duration(end - start)


def _timing(row: Mapping[str, Any], at: datetime) -> tuple[str, str]:
    """A listed or shown request's age while it is open and by how much it is past its service's target
    turnaround (while open, or when it was completed late; "" when within target or without one)."""
    status = Status(row["status"])
    end = row["completed_at"] if status == Status.COMPLETED else at
    age = duration(at - row["created_at"]) if status in ACTIVE else ""
    if row["target_hours"] and status in {*ACTIVE, Status.COMPLETED}:
        late = end - row["created_at"] - timedelta(hours=row["target_hours"])
        if late > timedelta(0):
            return age, duration(late)
    return age, ""


# --- queries ----------------------------------------------------------------------------------------------------

# A page of the list, one statement per box, newest first from a (created_at, id) keyset position (FIRST_PAGE
# before the first page): with the department, service, requester and resolver names (in the order they joined:
# one correlated sub-select per listed row, so a page of requests is one query).
_LIST_SELECT = """
    SELECT r.id, r.title, r.status, r.created_at, r.first_response_at, r.completed_at, r.cancelled_at,
           r.requester AS requester_id, e.name AS requester_name, d.name AS department_name,
           d.slug AS department_slug, s.name AS service_name, s.target_hours,
           ARRAY(SELECT re.name FROM request_resolver rr JOIN employee re ON re.id = rr.employee
                 WHERE rr.request = r.id ORDER BY rr.added_at, rr.id) AS resolver_names
    FROM request r JOIN department d ON d.id = r.department JOIN employee e ON e.id = r.requester
    LEFT JOIN service s ON s.id = r.service
    WHERE r.status = ANY({}) AND (r.created_at, r.id) < ({}, {})
"""
_LIST_ORDER = " ORDER BY r.created_at DESC, r.id DESC LIMIT {}"
_MINE_SQL = _LIST_SELECT + " AND r.requester = {}" + _LIST_ORDER
_QUEUE_SQL = _LIST_SELECT + " AND r.department = ANY({})" + _LIST_ORDER
# The working box: requests the person (the last but one value) is a resolver of.
_A_RESOLVER = "EXISTS (SELECT 1 FROM request_resolver w WHERE w.request = r.id AND w.employee = {})"
_WORKING_SQL = _LIST_SELECT + " AND " + _A_RESOLVER + _LIST_ORDER
FIRST_PAGE = Cursor(datetime(9999, 12, 31, tzinfo=UTC), 0)


@dataclass(frozen=True, slots=True)
class ListedRequest:
    """A request in a page of the list, with its names and timing."""

    id: int
    title: str
    status: str
    created_at: datetime
    first_response_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    requester_id: int
    requester_name: str
    department_name: str
    department_slug: str
    service_name: str | None
    target_hours: int | None
    resolver_names: list[str]
    status_label: str
    age: str  # while open
    over_target: str  # how late against the service's target turnaround; "" when on time or without one


@dataclass(frozen=True, slots=True)
class RequestPage:
    box: str
    status: str
    items: list[ListedRequest] = field(default_factory=list)
    next_cursor: str | None = None  # the cursor of the next (older) page; None on the last page
    cursor: str | None = None  # where this page starts; None on the first page
    has_queue: bool = False  # the person belongs to or leads a department (so "queue" means something)


async def _queue_departments(user: CurrentUser) -> list[int]:
    ids = await led_departments(user.id)
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
    statuses = [str(s) for s in STATUS_FILTERS[status][1]]
    after = Cursor.decode(cursor)
    start = after or FIRST_PAGE
    if box == "mine":
        rows = await Request.raw(_MINE_SQL, statuses, start.created_at, start.id, user.id, per_page + 1)
    elif box == "queue":
        if not departments:
            return RequestPage(box=box, status=status)
        rows = await Request.raw(_QUEUE_SQL, statuses, start.created_at, start.id, departments, per_page + 1)
    else:
        rows = await Request.raw(_WORKING_SQL, statuses, start.created_at, start.id, user.id, per_page + 1)
    moment = now()
    items = [
        ListedRequest(**row, status_label=STATUS_LABELS[Status(row["status"])], age=age, over_target=over_target)
        for row in rows[:per_page]
        for age, over_target in [_timing(row, moment)]
    ]
    next_cursor = Cursor(items[-1].created_at, items[-1].id).encode() if len(rows) > per_page else None
    return RequestPage(
        box=box,
        status=status,
        items=items,
        next_cursor=next_cursor,
        cursor=after.encode() if after else None,
        has_queue=bool(departments),
    )


# One request to show, and whether its requester thanked for it (a kudos of theirs linked to it that stands).
_REQUEST_SQL = """
    SELECT r.id, r.title, r.description, r.status, r.created_at, r.first_response_at, r.completed_at,
           r.cancelled_at, r.department AS department_id, d.name AS department_name, d.slug AS department_slug,
           r.service AS service_id, s.name AS service_name, s.target_hours,
           r.requester AS requester_id, e.name AS requester_name,
           EXISTS (SELECT 1 FROM kudos k WHERE k.request = r.id AND k.giver = r.requester AND k.revoked_at IS NULL)
               AS thanked
    FROM request r JOIN department d ON d.id = r.department JOIN employee e ON e.id = r.requester
    LEFT JOIN service s ON s.id = r.service WHERE r.id = {}
"""
# A requester's completed requests since a moment that they have not thanked for, newest first.
_NOT_THANKED_SQL = """
    SELECT r.id, r.title, d.name AS department_name, r.completed_at,
           ARRAY(SELECT re.name FROM request_resolver rr JOIN employee re ON re.id = rr.employee
                 WHERE rr.request = r.id ORDER BY rr.added_at, rr.id) AS resolver_names
    FROM request r JOIN department d ON d.id = r.department
    WHERE r.requester = {} AND r.status = 'completed' AND r.completed_at >= {}
      AND NOT EXISTS (SELECT 1 FROM kudos k WHERE k.request = r.id AND k.giver = r.requester AND k.revoked_at IS NULL)
    ORDER BY r.completed_at DESC, r.id DESC LIMIT {}
"""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Resolver:
    id: int
    name: str
    title: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    kind: str
    detail: str
    created_at: datetime
    actor_id: int | None
    actor_name: str | None


@dataclass(frozen=True, slots=True)
class Rating:
    timeliness: int
    quality: int
    communication: int
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """One request as a reader sees it: with its resolvers and history, what the reader may do with it and, for
    those allowed, its rating."""

    id: int
    title: str
    description: str
    status: str
    created_at: datetime
    first_response_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    department_id: int
    department_name: str
    department_slug: str
    service_id: int | None
    service_name: str | None
    target_hours: int | None
    requester_id: int
    requester_name: str
    thanked: bool  # a kudos of the requester's linked to it stands
    status_label: str
    first_response_after: str
    turnaround: str
    age: str
    over_target: str
    resolvers: list[Resolver]
    events: list[HistoryEvent]
    rated: bool
    rating: Rating | None  # None also when the reader may not see it
    is_requester: bool
    is_resolver: bool
    can_claim: bool
    can_add_resolver: bool
    can_complete: bool
    can_cancel: bool
    cancel_needs_reason: bool
    can_rate: bool
    can_thank: bool


async def get_request(user: CurrentUser, request_id: int) -> RequestDetail | None:
    """A request with its resolvers, history, what `user` may do with it and — for those allowed — its rating.

    Any signed-in person may see a request (see the module docstring); None when there is no such request.
    """
    if not valid_id(request_id):
        return None
    rows = await Request.raw(_REQUEST_SQL, request_id)
    if not rows:
        return None
    row = rows[0]
    status = Status(row["status"])
    resolvers = [
        Resolver(**r)
        for r in await RequestResolver.select(
            RequestResolver.employee.as_alias("id"),
            RequestResolver.employee.name.as_alias("name"),
            RequestResolver.employee.title.as_alias("title"),
            RequestResolver.added_at,
        )
        .where(RequestResolver.request == request_id)
        .order_by(RequestResolver.added_at)
        .order_by(RequestResolver.id)
    ]
    events = [
        HistoryEvent(**e)
        for e in await RequestEvent.select(
            RequestEvent.kind,
            RequestEvent.detail,
            RequestEvent.created_at,
            RequestEvent.actor.as_alias("actor_id"),
            RequestEvent.actor.name.as_alias("actor_name"),
        )
        .where(RequestEvent.request == request_id)
        .order_by(RequestEvent.created_at)
        .order_by(RequestEvent.id)
    ]
    resolver_ids = {r.id for r in resolvers}
    is_requester = user.id == row["requester_id"]
    leads = await is_lead(user.id, row["department_id"])
    is_staff = leads or user.department_id == row["department_id"]
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
    age, over_target = _timing(row, now())
    return RequestDetail(
        **row,
        status_label=STATUS_LABELS[status],
        first_response_after=duration_label(row["created_at"], row["first_response_at"]),
        turnaround=duration_label(row["created_at"], row["completed_at"]),
        age=age,
        over_target=over_target,
        resolvers=resolvers,
        events=events,
        rated=rating is not None,
        rating=Rating(**rating) if rating and (is_requester or is_resolver or leads) else None,
        is_requester=is_requester,
        is_resolver=is_resolver,
        can_claim=active and is_staff and not is_requester and not is_resolver,
        can_add_resolver=active and (is_staff or is_resolver),
        can_complete=status == Status.IN_PROGRESS and is_resolver,
        can_cancel=active and (is_requester or is_staff),
        cancel_needs_reason=not is_requester,
        can_rate=status == Status.COMPLETED and is_requester and rating is None,
        can_thank=status == Status.COMPLETED and is_requester and bool(resolver_ids),
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    name: str
    title: str
    department_name: str | None = None  # for matches from the whole directory


@dataclass(frozen=True, slots=True)
class Candidates:
    query: str  # as searched: trimmed
    members: list[Candidate]  # of the request's department
    matches: list[Candidate]  # of the search


async def resolver_candidates(request: RequestDetail, query: str = "") -> Candidates:
    """People who could be added as resolvers to `request`: the active members of its department, and the active
    people matching `query` from the whole directory; neither the requester nor current resolvers."""
    excluded = {request.requester_id, *(r.id for r in request.resolvers)}
    members = (
        await Employee.select(Employee.id, Employee.name, Employee.title)
        .where((Employee.department == request.department_id) & Employee.active.eq(True))
        .order_by(Employee.name)
        .order_by(Employee.id)
    )
    query = " ".join(query.split())[:100]
    matches: list[Candidate] = []
    if query:
        results = await search_directory(query, per_page=20)
        matches = [Candidate(p.id, p.name, p.title, p.department_name) for p in results.people if p.id not in excluded]
    return Candidates(
        query=query, members=[Candidate(**m) for m in members if m["id"] not in excluded], matches=matches
    )


@dataclass(frozen=True, slots=True)
class Unthanked:
    """A completed request its requester has not thanked for."""

    id: int
    title: str
    department_name: str
    completed_at: datetime
    resolver_names: list[str]


async def completed_not_thanked(user_id: int, limit: int = 5, *, since: datetime | None = None) -> list[Unthanked]:
    """My completed requests (newest first) I have not thanked for yet: no kudos of mine linked to them, or only
    revoked ones. `since` leaves out requests completed before it."""
    return [Unthanked(**row) for row in await Request.raw(_NOT_THANKED_SQL, user_id, since or _EARLIEST, limit)]


@dataclass(frozen=True, slots=True)
class FilingService:
    id: int
    name: str
    department: int
    target_hours: int


@dataclass(frozen=True, slots=True)
class FilingDepartment:
    """A department that takes requests, with its active services in catalogue order."""

    id: int
    name: str
    slug: str
    services: list[FilingService]


async def departments_for_filing() -> list[FilingDepartment]:
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
    by_department: dict[int, list[FilingService]] = {}
    for service in services:
        by_department.setdefault(service["department"], []).append(FilingService(**service))
    return [FilingDepartment(**d, services=by_department.get(d["id"], [])) for d in departments]
