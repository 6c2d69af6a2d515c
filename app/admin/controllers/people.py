"""HTTP for the admin's people pages: the list, add, edit, deactivate or reactivate, password links and
invitations by email."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.admin.controllers.responses import invited_message
from app.admin.services import people
from app.paging import parse_id
from app.people.tables import Role
from app.rules import RuleViolation
from app.signin import invitations
from app.signin.password_links import PasswordLink, create_password_link
from app.signin.sessions import end_sessions
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.security import NO_STORE
from app.web.templating import done, render


class InviteForm(msgspec.Struct, frozen=True):
    person: list[str] = msgspec.field(default_factory=list)  # the people list's ticked boxes

    @property
    def person_ids(self) -> list[int]:
        return [i for i in (parse_id(value) for value in self.person) if i]


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
        return await self._index(request, people.clean_filters(q, department, role, active, after))

    async def _index(
        self, request: HTMXRequest, filters: people.PeopleFilters, *, error: str = "", status_code: int = 200
    ) -> Template:
        return await render(
            request,
            "pages/admin/people/index.html",
            {
                "page": await people.list_people(filters),
                "departments": await people.department_choices(),
                "roles": list(Role),
                "error": error,
            },
            fragment="fragments/admin/people_results.html",
            status_code=status_code,
        )

    @post("/invite", name="admin.people.invite")
    async def invite_many(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        """The list's "Invite by email" for the ticked people."""
        form = await read_form(request, InviteForm)
        try:
            outcome = await invitations.invite(user, form.person_ids)
        except RuleViolation as exc:
            filters = people.clean_filters("", "", "", "all", "")
            return await self._index(request, filters, error=exc.message, status_code=exc.status_code)
        return done(request, invited_message(outcome), request.app.route_reverse("admin.people") + "?active=invited")

    async def _form(
        self,
        request: HTMXRequest,
        values: people.Person | people.PersonValues,
        *,
        person: people.Person | None = None,
        errors: Mapping[str, str] | None = None,
        link: PasswordLink | None = None,
        status_code: int = 200,
    ) -> Template:
        link_url = None
        if link is not None:  # absolute, with the address the admin is using
            path = request.app.route_reverse("password-link", token=link.token)
            link_url = str(request.base_url).rstrip("/") + path
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
                "link_url": link_url,
                "invitation": await invitations.state_of(person.id) if person else None,
            },
            status_code=status_code,
        )

    def _location(self, request: HTMXRequest, person_id: int) -> str:
        return request.app.route_reverse("admin.person", person_id=person_id)

    @get("/new", name="admin.people.new")
    async def new(self, request: HTMXRequest) -> Template:
        return await self._form(request, people.PersonValues())

    @post("/new", name="admin.people.create")
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        values = (await read_form(request, people.PersonForm)).values()
        try:
            person_id = await people.create_person(user, values)
        except RuleViolation as exc:
            return await self._form(request, values, errors=exc.errors, status_code=exc.status_code)
        message = f"{values.name} was added. Make them a password link so they can sign in."
        return done(request, message, self._location(request, person_id))

    async def _person(self, person_id: int) -> people.Person:
        person = await people.get_person(person_id)
        if person is None:
            raise NotFoundException(people.NOT_FOUND)
        return person

    @get("/{person_id:int}", name="admin.person")
    async def edit(self, request: HTMXRequest, person_id: FromPath[int]) -> Template:
        person = await self._person(person_id)
        return await self._form(request, person, person=person)

    @post("/{person_id:int}", name="admin.person.update")
    async def update(
        self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        person = await self._person(person_id)
        values = (await read_form(request, people.PersonForm)).values()
        try:
            changed = await people.update_person(user, person_id, values)
        except RuleViolation as exc:
            return await self._form(request, values, person=person, errors=exc.errors, status_code=exc.status_code)
        message = f"Saved the changes to {values.name}." if changed else "Nothing to change."
        return done(request, message, self._location(request, person_id))

    async def _set_active(
        self, request: HTMXRequest, user: CurrentUser, person_id: int, active: bool
    ) -> Template | Redirect | ClientRedirect:
        person = await self._person(person_id)
        try:
            name = await people.set_active(user, person_id, active)
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        if active:
            return done(request, f"{name} is active again.", self._location(request, person_id))
        await end_sessions(request.app, person_id)
        return done(request, f"{name} is deactivated and signed out everywhere.", self._location(request, person_id))

    @post("/{person_id:int}/deactivate", name="admin.person.deactivate")
    async def deactivate(
        self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        return await self._set_active(request, user, person_id, False)

    @post("/{person_id:int}/reactivate", name="admin.person.reactivate")
    async def reactivate(
        self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        return await self._set_active(request, user, person_id, True)

    @post("/{person_id:int}/password-link", name="admin.person.password-link", cache_control=NO_STORE)
    async def password_link(self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]) -> Template:
        """Shows the new link once (it is not stored, only its hash), on the person's page."""
        person = await self._person(person_id)
        try:
            link = await create_password_link(user, person_id)
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        return await self._form(request, person, person=person, link=link)

    @post("/{person_id:int}/invite", name="admin.person.invite")
    async def invite(
        self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        """Invite the person by email, or mail the invitation again with a new link."""
        person = await self._person(person_id)
        try:
            outcome = await invitations.invite(user, [person_id])
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        return done(request, invited_message(outcome), self._location(request, person_id))

    @post("/{person_id:int}/invitation/revoke", name="admin.person.invitation.revoke")
    async def revoke_invitation(
        self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        person = await self._person(person_id)
        try:
            name = await invitations.revoke(user, person_id)
        except RuleViolation as exc:
            return await self._form(request, person, person=person, errors=exc.errors, status_code=exc.status_code)
        return done(
            request,
            f"The invitation of {name} is revoked: its link no longer works.",
            self._location(request, person_id),
        )
