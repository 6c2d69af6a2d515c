"""HTTP for the admin console: people, departments, CSV import, company values, allowances and the audit log;
plus the public page behind a one-time password link. Forms post normally: done → 303 with a flash message;
refused → the same page again with the messages next to the fields and the rule's 4xx status, nothing changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import State, UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.admin import audit, departments, imports, people, settings
from app.jobs.outbox import hand_over
from app.kudos import allowance
from app.paging import parse_id
from app.people.services import CurrentUser
from app.people.tables import Role
from app.rules import RuleViolation
from app.web.auth import admin_only, end_sessions
from app.web.security import NO_STORE
from app.web.templating import render


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def _done(request: HTMXRequest, message: str, location: str) -> Redirect:
    flash(request, message, category="success")
    return Redirect(location, status_code=303)


def _not_found(exc: RuleViolation) -> None:
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc


# ------------------------------------------------------------------------------------------------ people


class AdminPeopleController(Controller):
    path = "/admin/people"
    guards = [admin_only]

    @get("/", name="admin.people")
    async def index(
        self,
        request: HTMXRequest,
        q: FromQuery[str] = "",
        department: FromQuery[str] = "",
        role: FromQuery[str] = "",
        active: FromQuery[str] = "active",
        after: FromQuery[str] = "",
    ) -> Template:
        filters = people.clean_filters(q, department, role, active, after)
        return await render(
            request,
            "pages/admin/people/index.html",
            {
                "page": await people.list_people(filters),
                "departments": await people.department_choices(),
                "roles": list(Role),
            },
            fragment="fragments/admin/people_results.html",
        )

    async def _form(
        self,
        request: HTMXRequest,
        values: Mapping[str, Any],
        *,
        person: dict | None = None,
        errors: Mapping[str, str] | None = None,
        link: people.PasswordLink | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/people/form.html",
            {
                "person": person,
                "values": values,
                "errors": errors or {},
                "departments": await people.department_choices(),
                "roles": list(Role),
                "link": link,
            },
            status_code=status_code,
        )

    @get("/new", name="admin.people.new")
    async def new(self, request: HTMXRequest) -> Template:
        return await self._form(request, people.form_values({}))

    @post("/new")
    async def create(self, request: HTMXRequest) -> Response:
        values = people.form_values(await request.form())
        try:
            person_id = await people.create_person(_user(request), values)
        except RuleViolation as exc:
            return await self._form(request, values, errors=exc.errors, status_code=exc.status_code)
        return _done(
            request,
            f"{values['name']} was added. Make them a password link so they can sign in.",
            f"/admin/people/{person_id}",
        )

    async def _person(self, person_id: int) -> dict:
        person = await people.get_person(person_id)
        if person is None:
            raise NotFoundException("No one with that id works here.")
        return person

    @get("/{person_id:int}", name="admin.person")
    async def edit(self, request: HTMXRequest, person_id: FromPath[int]) -> Template:
        person = await self._person(person_id)
        return await self._form(request, person, person=person)

    @post("/{person_id:int}")
    async def update(self, request: HTMXRequest, person_id: FromPath[int]) -> Response:
        person = await self._person(person_id)
        values = people.form_values(await request.form())
        try:
            changed = await people.update_person(_user(request), person_id, values)
        except RuleViolation as exc:
            return await self._form(request, values, person=person, errors=exc.errors, status_code=exc.status_code)
        message = f"Saved the changes to {values['name']}." if changed else "Nothing to change."
        return _done(request, message, f"/admin/people/{person_id}")

    async def _set_active(self, request: HTMXRequest, person_id: int, active: bool) -> Response:
        person = await self._person(person_id)
        try:
            name = await people.set_active(_user(request), person_id, active)
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        if not active:
            await end_sessions(request.app, person_id)
            return _done(request, f"{name} is deactivated and signed out everywhere.", f"/admin/people/{person_id}")
        return _done(request, f"{name} is active again.", f"/admin/people/{person_id}")

    @post("/{person_id:int}/deactivate")
    async def deactivate(self, request: HTMXRequest, person_id: FromPath[int]) -> Response:
        return await self._set_active(request, person_id, False)

    @post("/{person_id:int}/reactivate")
    async def reactivate(self, request: HTMXRequest, person_id: FromPath[int]) -> Response:
        return await self._set_active(request, person_id, True)

    @post("/{person_id:int}/password-link", cache_control=NO_STORE)
    async def password_link(self, request: HTMXRequest, person_id: FromPath[int]) -> Template:
        """Shows the new link once (it is not stored, only its hash), on the person's page."""
        person = await self._person(person_id)
        try:
            link = await people.create_password_link(_user(request), person_id)
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        return await self._form(request, person, person=person, link=link)


class PasswordLinkController(Controller):
    """The page behind a one-time password link: anyone holding the link may use it, once, signed in or not."""

    path = "/password"
    opt = {"public": True}
    cache_control = NO_STORE  # the address itself is the secret

    async def _page(
        self, request: HTMXRequest, token: str, *, errors: Mapping[str, str] | None = None, status_code: int = 200
    ) -> Template:
        holder = await people.link_holder(token)
        if holder is None:
            errors, status_code = {"form": people.INVALID_LINK}, 400
        return await render(
            request,
            "pages/admin/password_link.html",
            {"holder": holder, "token": token, "errors": errors or {}},
            status_code=status_code,
        )

    @get("/{token:str}", name="password-link")
    async def show(self, request: HTMXRequest, token: FromPath[str]) -> Template:
        return await self._page(request, token)

    @post("/{token:str}")
    async def use(self, request: HTMXRequest, token: FromPath[str]) -> Response:
        form = await request.form()
        try:
            employee_id = await people.use_password_link(
                token, str(form.get("password") or ""), str(form.get("confirm") or "")
            )
        except RuleViolation as exc:
            return await self._page(request, token, errors=exc.errors, status_code=exc.status_code)
        await end_sessions(request.app, employee_id)
        request.set_session({})  # signed out here too, whoever was signed in; the flash message still shows
        return _done(request, "Your password is set. Sign in with it.", "/login")


# ------------------------------------------------------------------------------------------------ departments


class AdminDepartmentController(Controller):
    path = "/admin/departments"
    guards = [admin_only]

    async def _index(
        self,
        request: HTMXRequest,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/departments/index.html",
            {
                "departments": await departments.list_all(),
                "values": values or departments.form_values({}),
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/", name="admin.departments")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._index(request)

    @post("/")
    async def create(self, request: HTMXRequest) -> Response:
        values = departments.form_values(await request.form())
        try:
            department_id = await departments.create_department(_user(request), values)
        except RuleViolation as exc:
            return await self._index(request, values, exc.errors, exc.status_code)
        return _done(request, f"{values['name']} was created.", f"/admin/departments/{department_id}")

    async def _detail(
        self,
        request: HTMXRequest,
        department_id: int,
        *,
        section: str = "",
        values: Mapping[str, Any] | None = None,
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
                "values": values or {},
                "errors": errors or {},
            },
            status_code=status_code,
        )

    async def _act(
        self,
        request: HTMXRequest,
        department_id: int,
        section: str,
        values: Mapping[str, Any],
        operation: Any,
        location: str | None = None,
    ) -> Response:
        try:
            message = await operation()
        except RuleViolation as exc:
            _not_found(exc)
            return await self._detail(
                request, department_id, section=section, values=values, errors=exc.errors, status_code=exc.status_code
            )
        return _done(request, message, location or f"/admin/departments/{department_id}")

    @get("/{department_id:int}", name="admin.department")
    async def detail(self, request: HTMXRequest, department_id: FromPath[int]) -> Template:
        return await self._detail(request, department_id)

    @post("/{department_id:int}")
    async def update(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        values = departments.form_values(await request.form())

        async def operation() -> str:
            changed = await departments.update_department(_user(request), department_id, values)
            return f"Saved the changes to {values['name']}." if changed else "Nothing to change."

        return await self._act(request, department_id, "details", values, operation)

    @post("/{department_id:int}/leads")
    async def add_lead(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        email = str((await request.form()).get("email") or "")

        async def operation() -> str:
            name = await departments.add_lead(_user(request), department_id, email)
            return f"{name} now leads this department."

        return await self._act(request, department_id, "leads", {"lead": email}, operation)

    @post("/{department_id:int}/leads/remove")
    async def remove_lead(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        employee = parse_id((await request.form()).get("employee"))

        async def operation() -> str:
            name = await departments.remove_lead(_user(request), department_id, employee)
            return f"{name} no longer leads this department."

        return await self._act(request, department_id, "leads", {}, operation)

    @post("/{department_id:int}/services")
    async def add_service(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        values = departments.service_values(await request.form())

        async def operation() -> str:
            name = await departments.save_service(_user(request), department_id, values)
            return f"{name} is now in the catalogue."

        return await self._act(request, department_id, "service-new", values, operation)

    @post("/{department_id:int}/services/{service_id:int}")
    async def update_service(
        self, request: HTMXRequest, department_id: FromPath[int], service_id: FromPath[int]
    ) -> Response:
        values = departments.service_values(await request.form())

        async def operation() -> str:
            name = await departments.save_service(_user(request), department_id, values, service_id)
            return f"Saved {name}."

        return await self._act(request, department_id, f"service-{service_id}", values, operation)

    @post("/{department_id:int}/merge")
    async def merge(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        target = parse_id((await request.form()).get("into"))

        async def operation() -> str:
            moved = await departments.merge(_user(request), department_id, target)
            return (
                f"Merged: {moved['people']} people, {moved['requests']} requests, {moved['services']} services and "
                f"{moved['ledger_entries']} ledger entries moved; the boards were recomputed."
            )

        return await self._act(
            request, department_id, "merge", {"into": target}, operation, f"/admin/departments/{target}"
        )

    @post("/{department_id:int}/archive")
    async def archive(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        async def operation() -> str:
            return f"{await departments.set_archived(_user(request), department_id, True)} is archived."

        return await self._act(request, department_id, "archive", {}, operation)

    @post("/{department_id:int}/restore")
    async def restore(self, request: HTMXRequest, department_id: FromPath[int]) -> Response:
        async def operation() -> str:
            return f"{await departments.set_archived(_user(request), department_id, False)} is active again."

        return await self._act(request, department_id, "archive", {}, operation)


# ------------------------------------------------------------------------------------------------ import


class AdminImportController(Controller):
    path = "/admin/import"
    guards = [admin_only]

    async def _index(
        self, request: HTMXRequest, *, kind: str = "people", errors: Mapping[str, str] | None = None, status_code=200
    ) -> Template:
        return await render(
            request,
            "pages/admin/import/index.html",
            {
                "recent": await imports.recent_imports(),
                "kind": kind,
                "errors": errors or {},
                "columns": imports.COLUMNS,
            },
            status_code=status_code,
        )

    @get("/", name="admin.import")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._index(request)

    @post("/")
    async def upload(self, request: HTMXRequest) -> Response:
        form = await request.form()
        kind = str(form.get("kind") or "")
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile):
                raise RuleViolation({"file": "Choose a CSV file to upload."})
            data = await upload.read(imports.MAX_BYTES + 1)
            import_id = await imports.check_upload(_user(request), kind, upload.filename, data)
        except RuleViolation as exc:
            return await self._index(request, kind=kind, errors=exc.errors, status_code=exc.status_code)
        return Redirect(f"/admin/import/{import_id}", status_code=303)

    async def _item(self, import_id: int) -> dict:
        item = await imports.get_import(import_id)
        if item is None:
            raise NotFoundException("There is no such import.")
        return item

    @get("/{import_id:int}", name="admin.import.detail")
    async def detail(self, request: HTMXRequest, import_id: FromPath[int]) -> Template:
        return await render(request, "pages/admin/import/detail.html", {"item": await self._item(import_id)})

    @get("/{import_id:int}/progress", name="admin.import.progress")
    async def progress(self, request: HTMXRequest, import_id: FromPath[int]) -> Template:
        """Polled by the progress bar while the job runs; stops polling once the import has finished."""
        return await render(
            request,
            "pages/admin/import/detail.html",
            {"item": await self._item(import_id)},
            fragment="fragments/admin/import_progress.html",
        )

    @post("/{import_id:int}/run")
    async def run(self, request: HTMXRequest, state: State, import_id: FromPath[int]) -> Response:
        item = await self._item(import_id)
        try:
            await imports.start(_user(request), import_id)
        except RuleViolation as exc:
            _not_found(exc)
            return await render(
                request,
                "pages/admin/import/detail.html",
                {"item": item, "errors": exc.errors},
                status_code=exc.status_code,
            )
        await hand_over(state.redis)
        # No flash: the page's progress section says whether it is waiting, running or finished, and stays true.
        return Redirect(f"/admin/import/{import_id}", status_code=303)


# ------------------------------------------------------------------------------------------------ values, allowances


class AdminSettingsController(Controller):
    path = "/admin"
    guards = [admin_only]

    async def _values(
        self,
        request: HTMXRequest,
        *,
        editing: int | None = None,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/values.html",
            {
                "company_values": await settings.all_values(),
                "editing": editing,
                "values": values or {},
                "errors": errors or {},
                "policy": await allowance.get_policy(),
            },
            status_code=status_code,
        )

    @get("/values", name="admin.values")
    async def values(self, request: HTMXRequest) -> Template:
        return await self._values(request)

    @post("/values")
    async def create_value(self, request: HTMXRequest) -> Response:
        values = settings.value_form(await request.form())
        try:
            name = await settings.save_value(_user(request), values)
        except RuleViolation as exc:
            return await self._values(request, values=values, errors=exc.errors, status_code=exc.status_code)
        return _done(request, f"{name} can now be tagged on kudos.", "/admin/values")

    @post("/values/{value_id:int}")
    async def update_value(self, request: HTMXRequest, value_id: FromPath[int]) -> Response:
        values = settings.value_form(await request.form())
        try:
            name = await settings.save_value(_user(request), values, value_id)
        except RuleViolation as exc:
            _not_found(exc)
            return await self._values(
                request, editing=value_id, values=values, errors=exc.errors, status_code=exc.status_code
            )
        return _done(request, f"Saved {name}.", "/admin/values")

    async def _allowances(
        self,
        request: HTMXRequest,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        policy = await allowance.get_policy()
        return await render(
            request,
            "pages/admin/allowances.html",
            {
                "values": values
                or {name: getattr(policy, name) for name in (*settings.POLICY_LABELS, "value_required")},
                "labels": settings.POLICY_LABELS,
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/allowances", name="admin.allowances")
    async def allowances(self, request: HTMXRequest) -> Template:
        return await self._allowances(request)

    @post("/allowances")
    async def save_allowances(self, request: HTMXRequest) -> Response:
        values = settings.policy_form(await request.form())
        try:
            changed = await settings.save_policy(_user(request), values)
        except RuleViolation as exc:
            return await self._allowances(request, values, exc.errors, exc.status_code)
        return _done(request, "Saved the allowance policy." if changed else "Nothing to change.", "/admin/allowances")

    @get("/audit", name="admin.audit")
    async def audit_log(
        self,
        request: HTMXRequest,
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
    ) -> Template:
        filters = audit.clean_filters(actor, action, since, until, cursor)
        return await render(
            request,
            "pages/admin/audit.html",
            {"page": await audit.list_entries(filters), "actors": await audit.actors()},
            fragment="fragments/admin/audit_entries.html",
        )
