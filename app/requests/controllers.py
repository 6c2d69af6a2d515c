"""HTTP for internal requests: the lists, the new-request form, a request's page and its actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from app.paging import parse_id
from app.people.services import CurrentUser
from app.requests import services
from app.rules import RuleViolation
from app.web.templating import render, wants_fragment

NO_SUCH_REQUEST = "There is no request with that number."


def form_text(form: Mapping[str, Any], name: str) -> str:
    return str(form.get(name) or "")


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def _done(request: HTMXRequest, message: str, location: str) -> Redirect:
    """Success without HTMX: 303 to `location` with a flash message."""
    flash(request, message, category="success")
    return Redirect(location, status_code=303)


class RequestController(Controller):
    path = "/requests"

    @get("/", name="requests")
    async def index(
        self,
        request: HTMXRequest,
        box: FromQuery[str] = services.DEFAULT_BOX,
        status: FromQuery[str] = services.DEFAULT_STATUS,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await services.list_requests(_user(request), box=box, status=status, cursor=cursor)
        return await render(
            request,
            "pages/requests/index.html",
            {"page": page, "boxes": services.BOXES, "filters": services.STATUS_FILTERS},
            fragment="fragments/requests/list.html",
        )

    # --- filing ---------------------------------------------------------------------------------------------

    async def _form(
        self,
        request: HTMXRequest,
        values: Mapping[str, Any],
        *,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        departments = await services.departments_for_filing()
        selected = values.get("department")
        # An HTMX refresh after the department changed narrows the services to that department's; the full
        # page lists every department's (grouped), so the form also works without JavaScript.
        groups = departments
        if selected and wants_fragment(request):
            groups = [d for d in departments if d["id"] == selected] or departments
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
            departments = await services.departments_for_filing()
            by_slug = {d["slug"]: d["id"] for d in departments}
            selected = by_slug.get(department) or parse_id(department)
        return await self._form(request, {"department": selected, "service": None, "title": "", "description": ""})

    @post("/new", status_code=200)  # the HTMX client redirect is a 200; the other answers set their own status
    async def create(self, request: HTMXRequest) -> Response:
        form = await request.form()
        values = {
            "department": parse_id(form.get("department")),
            "service": parse_id(form.get("service")),
            "title": form_text(form, "title"),
            "description": form_text(form, "description"),
        }
        try:
            request_id = await services.file_request(
                _user(request), values["department"], values["service"], values["title"], values["description"]
            )
        except RuleViolation as exc:
            return await self._form(request, values, errors=exc.errors, status_code=exc.status_code)
        flash(request, "Your request has been filed. The department has it in its queue.", category="success")
        if request.htmx:
            return ClientRedirect(f"/requests/{request_id}")
        return Redirect(f"/requests/{request_id}", status_code=303)

    # --- one request ----------------------------------------------------------------------------------------

    async def _detail(
        self,
        request: HTMXRequest,
        request_id: int,
        *,
        find: str = "",
        action: str = "",
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        item = await services.get_request(_user(request), request_id)
        if item is None:
            raise NotFoundException(NO_SUCH_REQUEST)
        candidates = await services.resolver_candidates(item, find) if item["can_add_resolver"] else None
        return await render(
            request,
            "pages/requests/detail.html",
            {
                "item": item,
                "candidates": candidates,
                "action": action,
                "errors": errors or {},
                "values": values or {},
                "notice": notice,
            },
            fragment="fragments/requests/detail.html",
            status_code=status_code,
        )

    @get("/{request_id:int}", name="request")
    async def detail(self, request: HTMXRequest, request_id: FromPath[int], find: FromQuery[str] = "") -> Template:
        """A request's page; `?find=` searches the directory for a colleague to add as a resolver."""
        return await self._detail(request, request_id, find=find)

    async def _act(
        self,
        request: HTMXRequest,
        request_id: int,
        action: str,
        operation: Callable[[], Awaitable[str]],
        values: Mapping[str, Any] | None = None,
    ) -> Response:
        """Run one action on a request. Done: 303 + flash without HTMX, the refreshed panel with HTMX.
        Refused: the page (or panel) again with the message next to the form and the rule's status code."""
        try:
            message = await operation()
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._detail(
                request, request_id, action=action, errors=exc.errors, values=values, status_code=exc.status_code
            )
        if wants_fragment(request):
            return await self._detail(request, request_id, notice=message)
        return _done(request, message, f"/requests/{request_id}")

    @post("/{request_id:int}/claim")
    async def claim(self, request: HTMXRequest, request_id: FromPath[int]) -> Response:
        async def operation() -> str:
            await services.claim(_user(request), request_id)
            return "You are working on this request."

        return await self._act(request, request_id, "claim", operation)

    @post("/{request_id:int}/resolvers")
    async def add_resolver(self, request: HTMXRequest, request_id: FromPath[int]) -> Response:
        form = await request.form()
        employee_id = parse_id(form.get("employee"))

        async def operation() -> str:
            name = await services.add_resolver(_user(request), request_id, employee_id)
            return f"{name} now works on this request too."

        return await self._act(request, request_id, "resolvers", operation, {"employee": employee_id})

    @post("/{request_id:int}/complete")
    async def complete(self, request: HTMXRequest, request_id: FromPath[int]) -> Response:
        async def operation() -> str:
            await services.complete(_user(request), request_id)
            return "Request completed. The requester has been told and asked for feedback."

        return await self._act(request, request_id, "complete", operation)

    @post("/{request_id:int}/cancel")
    async def cancel(self, request: HTMXRequest, request_id: FromPath[int]) -> Response:
        form = await request.form()
        reason = form_text(form, "reason")

        async def operation() -> str:
            await services.cancel(_user(request), request_id, reason)
            return "Request cancelled."

        return await self._act(request, request_id, "cancel", operation, {"reason": reason})

    @post("/{request_id:int}/rating")
    async def rate(self, request: HTMXRequest, request_id: FromPath[int]) -> Response:
        form = await request.form()
        values = {name: form_text(form, name) for name in (*services.SCORES, "comment")}

        async def operation() -> str:
            await services.rate(
                _user(request),
                request_id,
                values["timeliness"],
                values["quality"],
                values["communication"],
                values["comment"],
            )
            return "Thank you for your feedback. Only the resolvers and their department's leads will see it."

        return await self._act(request, request_id, "rating", operation, values)
