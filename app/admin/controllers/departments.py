"""HTTP for the admin's department pages: the list and create, then on a department's page its details, leads,
service catalogue, merge and archive (each section shows its own refusals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.admin.controllers.responses import raise_not_found
from app.admin.services import catalogue, department_merge, departments
from app.rules import RuleViolation
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import done, render


class AdminDepartmentController(Controller):
    path = "/admin/departments"
    guards = [admin_only]

    async def _index(
        self,
        request: HTMXRequest,
        values: departments.DepartmentValues | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/departments/index.html",
            {
                "departments": await departments.list_all(),
                "values": values or departments.DepartmentValues(),
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/", name="admin.departments")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._index(request)

    @post("/", name="admin.departments.create")
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, departments.DepartmentForm)).values()
        try:
            department_id = await departments.create_department(user, values)
        except RuleViolation as exc:
            return await self._index(request, values, exc.errors, exc.status_code)
        location = request.app.route_reverse("admin.department", department_id=department_id)
        return done(request, f"{values.name} was created.", location)

    async def _detail(
        self,
        request: HTMXRequest,
        department_id: int,
        *,
        section: str = "",
        values: object = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        try:
            department = await departments.get_detail(department_id)
        except RuleViolation as exc:
            raise NotFoundException(exc.message) from exc
        return await render(
            request,
            "pages/admin/departments/detail.html",
            {
                "department": department,
                "section": section,
                "values": values if values is not None else {},
                "errors": errors or {},
            },
            status_code=status_code,
        )

    async def _act(
        self,
        request: HTMXRequest,
        department_id: int,
        section: str,
        values: object,
        operation: Callable[[], Awaitable[str]],
        go_to: int | None = None,
    ) -> Template | Redirect | ClientRedirect:
        """Run `operation`; done: 303 to the department's page (or `go_to`'s) with its message; refused: the page
        again with the messages in `section`."""
        try:
            message = await operation()
        except RuleViolation as exc:
            raise_not_found(exc)
            return await self._detail(
                request, department_id, section=section, values=values, errors=exc.errors, status_code=exc.status_code
            )
        location = request.app.route_reverse("admin.department", department_id=go_to or department_id)
        return done(request, message, location)

    @get("/{department_id:int}", name="admin.department")
    async def detail(self, request: HTMXRequest, department_id: FromPath[int]) -> Template:
        return await self._detail(request, department_id)

    @post("/{department_id:int}", name="admin.department.update")
    async def update(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, departments.DepartmentForm)).values()

        async def operation() -> str:
            changed = await departments.update_department(user, department_id, values)
            return f"Saved the changes to {values.name}." if changed else "Nothing to change."

        return await self._act(request, department_id, "details", values, operation)

    @post("/{department_id:int}/leads", name="admin.department.leads.add")
    async def add_lead(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, departments.LeadForm)

        async def operation() -> str:
            name = await departments.add_lead(user, department_id, form.email)
            return f"{name} now leads this department."

        return await self._act(request, department_id, "leads", {"lead": form.email}, operation)

    @post("/{department_id:int}/leads/remove", name="admin.department.leads.remove")
    async def remove_lead(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, departments.RemoveLeadForm)

        async def operation() -> str:
            name = await departments.remove_lead(user, department_id, form.employee_id)
            return f"{name} no longer leads this department."

        return await self._act(request, department_id, "leads", {}, operation)

    @post("/{department_id:int}/services", name="admin.department.services.add")
    async def add_service(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, catalogue.ServiceForm)).values()

        async def operation() -> str:
            name = await catalogue.save_service(user, department_id, values)
            return f"{name} is now in the catalogue."

        return await self._act(request, department_id, "service-new", values, operation)

    @post("/{department_id:int}/services/{service_id:int}", name="admin.department.service.update")
    async def update_service(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        department_id: FromPath[int],
        service_id: FromPath[int],
    ) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, catalogue.ServiceForm)).values()

        async def operation() -> str:
            name = await catalogue.save_service(user, department_id, values, service_id)
            return f"Saved {name}."

        return await self._act(request, department_id, f"service-{service_id}", values, operation)

    @post("/{department_id:int}/merge", name="admin.department.merge")
    async def merge(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        target = (await read_form(request, department_merge.MergeForm)).into_id

        async def operation() -> str:
            moved = await department_merge.merge(user, department_id, target)
            return (
                f"Merged: {moved.people} people, {moved.requests} requests, {moved.services} services and "
                f"{moved.ledger_entries} ledger entries moved; the boards were recomputed."
            )

        values: dict[str, Any] = {"into": target}
        return await self._act(request, department_id, "merge", values, operation, go_to=target)

    @post("/{department_id:int}/archive", name="admin.department.archive")
    async def archive(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        async def operation() -> str:
            return f"{await departments.set_archived(user, department_id, True)} is archived."

        return await self._act(request, department_id, "archive", {}, operation)

    @post("/{department_id:int}/restore", name="admin.department.restore")
    async def restore(
        self, request: HTMXRequest, user: CurrentUser, department_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        async def operation() -> str:
            return f"{await departments.set_archived(user, department_id, False)} is active again."

        return await self._act(request, department_id, "archive", {}, operation)
