"""HTTP for the rules of giving: company values (`/admin/values`) and the allowance policy (`/admin/allowances`)."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.admin.controllers.responses import raise_not_found
from app.admin.services import giving
from app.kudos import allowance
from app.rules import RuleViolation
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import done, render


class AdminGivingController(Controller):
    path = "/admin"
    guards = [admin_only]

    async def _values(
        self,
        request: HTMXRequest,
        *,
        editing: int | None = None,
        values: giving.ValueInput | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/values.html",
            {
                "company_values": await giving.all_values(),
                "editing": editing,
                "values": values or giving.ValueInput(),
                "errors": errors or {},
                "policy": await allowance.get_policy(),
            },
            status_code=status_code,
        )

    @get("/values", name="admin.values")
    async def values(self, request: HTMXRequest) -> Template:
        return await self._values(request)

    @post("/values", name="admin.values.create")
    async def create_value(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, giving.ValueForm)).values()
        try:
            name = await giving.save_value(user, values)
        except RuleViolation as exc:
            return await self._values(request, values=values, errors=exc.errors, status_code=exc.status_code)
        return done(request, f"{name} can now be tagged on kudos.", request.app.route_reverse("admin.values"))

    @post("/values/{value_id:int}", name="admin.value.update")
    async def update_value(
        self, request: HTMXRequest, user: CurrentUser, value_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, giving.ValueForm)).values()
        try:
            name = await giving.save_value(user, values, value_id)
        except RuleViolation as exc:
            raise_not_found(exc)
            return await self._values(
                request, editing=value_id, values=values, errors=exc.errors, status_code=exc.status_code
            )
        return done(request, f"Saved {name}.", request.app.route_reverse("admin.values"))

    async def _allowances(
        self,
        request: HTMXRequest,
        values: giving.PolicyForm | allowance.Policy | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/allowances.html",
            {
                "values": values or await allowance.get_policy(),
                "labels": giving.POLICY_LABELS,
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/allowances", name="admin.allowances")
    async def allowances(self, request: HTMXRequest) -> Template:
        return await self._allowances(request)

    @post("/allowances", name="admin.allowances.save")
    async def save_allowances(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, giving.PolicyForm)
        try:
            changed = await giving.save_policy(user, form)
        except RuleViolation as exc:
            return await self._allowances(request, form, exc.errors, exc.status_code)
        message = "Saved the allowance policy." if changed else "Nothing to change."
        return done(request, message, request.app.route_reverse("admin.allowances"))
