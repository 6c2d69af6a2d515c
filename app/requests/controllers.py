"""HTTP for internal requests: the lists, the new-request form, a request's page and its actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.paging import parse_id
from app.requests import queries, workflow
from app.rules import RuleViolation
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import done, render, wants_fragment

NO_SUCH_REQUEST = "There is no request with that number."


class NewRequestFields(msgspec.Struct, frozen=True):
    """The new-request form, as sent (and shown again with the errors)."""

    department: str = ""
    service: str = ""
    title: str = ""
    description: str = ""

    @property
    def department_id(self) -> int | None:
        return parse_id(self.department)

    @property
    def service_id(self) -> int | None:
        return parse_id(self.service)


class ActionFields(msgspec.Struct, frozen=True):
    """Every field of the action forms on a request's panel; each form sends its own, the others stay empty."""

    employee: str = ""  # add a resolver
    reason: str = ""  # cancel
    timeliness: str = ""  # rate
    quality: str = ""
    communication: str = ""
    comment: str = ""

    @property
    def employee_id(self) -> int | None:
        return parse_id(self.employee)


class RequestController(Controller):
    path = "/requests"

    @get("/", name="requests")
    async def index(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        box: FromQuery[str] = queries.DEFAULT_BOX,
        status: FromQuery[str] = queries.DEFAULT_STATUS,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await queries.list_requests(user, box=box, status=status, cursor=cursor)
        return await render(
            request,
            "pages/requests/index.html",
            {"page": page, "boxes": queries.BOXES, "filters": queries.STATUS_FILTERS},
            fragment="fragments/requests/list.html",
        )

    # --- filing ---------------------------------------------------------------------------------------------

    async def _form(
        self,
        request: HTMXRequest,
        values: NewRequestFields,
        *,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        departments = await queries.departments_for_filing()
        selected = values.department_id
        # An HTMX refresh after the department changed narrows the services to that department's; the full
        # page lists every department's (grouped), so the form also works without JavaScript.
        groups = departments
        if selected and wants_fragment(request):
            groups = [d for d in departments if d.id == selected] or departments
        return await render(
            request,
            "pages/requests/new.html",
            {"departments": departments, "service_groups": groups, "values": values, "errors": errors or {}},
            fragment="fragments/requests/new_form.html",
            status_code=status_code,
        )

    @get("/new", name="request-new")
    async def new(self, request: HTMXRequest, department: FromQuery[str] = "") -> Template:
        """The form; `?department=` preselects a department by slug (links from department pages) or id."""
        selected = None
        if department:
            departments = await queries.departments_for_filing()
            by_slug = {d.slug: d.id for d in departments}
            selected = by_slug.get(department) or parse_id(department)
        return await self._form(request, NewRequestFields(department=str(selected) if selected else ""))

    # the HTMX client redirect is a 200; the other answers set their own status
    @post("/new", name="request-new.post", status_code=200)
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        values = await read_form(request, NewRequestFields)
        try:
            request_id = await workflow.file_request(
                user, values.department_id, values.service_id, values.title, values.description
            )
        except RuleViolation as exc:
            return await self._form(request, values, errors=exc.errors, status_code=exc.status_code)
        return done(
            request,
            "Your request has been filed. The department has it in its queue.",
            request.app.route_reverse("request", request_id=request_id),
        )

    # --- one request ----------------------------------------------------------------------------------------

    async def _detail(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        request_id: int,
        *,
        find: str = "",
        action: str = "",
        errors: Mapping[str, str] | None = None,
        values: ActionFields | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        item = await queries.get_request(user, request_id)
        if item is None:
            raise NotFoundException(NO_SUCH_REQUEST)
        candidates = await queries.resolver_candidates(item, find) if item.can_add_resolver else None
        return await render(
            request,
            "pages/requests/detail.html",
            {
                "item": item,
                "candidates": candidates,
                "action": action,
                "errors": errors or {},
                "values": values or ActionFields(),
                "notice": notice,
            },
            fragment="fragments/requests/detail.html",
            status_code=status_code,
        )

    @get("/{request_id:int}", name="request")
    async def detail(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int], find: FromQuery[str] = ""
    ) -> Template:
        """A request's page; `?find=` searches the directory for a colleague to add as a resolver."""
        return await self._detail(request, user, request_id, find=find)

    async def _act(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        request_id: int,
        action: str,
        operation: Callable[[], Awaitable[str]],
        values: ActionFields | None = None,
    ) -> Template | Redirect | ClientRedirect:
        """Run one action on a request. Done: 303 + flash without HTMX, the refreshed panel with HTMX.
        Refused: the page (or panel) again with the message next to the form and the rule's status code."""
        try:
            message = await operation()
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._detail(
                request, user, request_id, action=action, errors=exc.errors, values=values, status_code=exc.status_code
            )
        if wants_fragment(request):
            return await self._detail(request, user, request_id, notice=message)
        return done(request, message, request.app.route_reverse("request", request_id=request_id))

    @post("/{request_id:int}/claim", name="request.claim")
    async def claim(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        async def operation() -> str:
            await workflow.claim(user, request_id)
            return "You are working on this request."

        return await self._act(request, user, request_id, "claim", operation)

    @post("/{request_id:int}/resolvers", name="request.resolvers")
    async def add_resolver(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = await read_form(request, ActionFields)

        async def operation() -> str:
            name = await workflow.add_resolver(user, request_id, values.employee_id)
            return f"{name} now works on this request too."

        return await self._act(request, user, request_id, "resolvers", operation, values)

    @post("/{request_id:int}/complete", name="request.complete")
    async def complete(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        async def operation() -> str:
            await workflow.complete(user, request_id)
            return "Request completed. The requester has been told and asked for feedback."

        return await self._act(request, user, request_id, "complete", operation)

    @post("/{request_id:int}/cancel", name="request.cancel")
    async def cancel(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = await read_form(request, ActionFields)

        async def operation() -> str:
            await workflow.cancel(user, request_id, values.reason)
            return "Request cancelled."

        return await self._act(request, user, request_id, "cancel", operation, values)

    @post("/{request_id:int}/rating", name="request.rating")
    async def rate(
        self, request: HTMXRequest, user: CurrentUser, request_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = await read_form(request, ActionFields)

        async def operation() -> str:
            await workflow.rate(
                user, request_id, values.timeliness, values.quality, values.communication, values.comment
            )
            return "Thank you for your feedback. Only the resolvers and their department's leads will see it."

        return await self._act(request, user, request_id, "rating", operation, values)
