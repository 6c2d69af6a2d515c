"""HTTP for sign-in, the people directory, profiles and departments."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.awards.services import awards_for_department, awards_for_person
from app.boards import badges, levels
from app.boards.scorecards import department_scorecard
from app.insights.service_map import partners
from app.kudos.services import recent_public
from app.paging import parse_page
from app.people import services
from app.surveys import queries as surveys
from app.web.auth import LoginThrottle, minutes, safe_next, start_session
from app.web.templating import render
from app.words import plural

GENERIC_LOGIN_ERROR = "That email and password do not match an active account."


def provide_throttle(state: State) -> LoginThrottle:
    return LoginThrottle(state.redis)


class AuthController(Controller):
    dependencies = {"throttle": Provide(provide_throttle, sync_to_thread=False)}
    opt = {"public": True}

    @get("/login", name="login")
    async def login_page(self, request: HTMXRequest, next: FromQuery[str | None] = None) -> Template | Redirect:
        if request.scope.get("user") is not None:
            return Redirect(safe_next(next), status_code=303)
        return await render(request, "pages/people/login.html", {"email": "", "next": safe_next(next), "error": None})

    @post("/login")
    async def login(self, request: HTMXRequest, throttle: NamedDependency[LoginThrottle]) -> Template | Redirect:
        form = await request.form()
        email = services.normalise_email(str(form.get("email", "")))[:254]
        password = str(form.get("password", ""))[:1024]
        next_url = safe_next(str(form.get("next", "")))
        address = request.client.host if request.client else "unknown"
        context = {"email": email, "next": next_url, "error": GENERIC_LOGIN_ERROR}
        if wait := await throttle.retry_after(email, address):
            context["error"] = f"Too many failed sign-in attempts. Try again in {plural(minutes(wait), 'minute')}."
            return await render(
                request,
                "pages/people/login.html",
                context,
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if not email or not password:
            context["error"] = "Enter your email and password."
            return await render(request, "pages/people/login.html", context, status_code=400)
        user = await services.authenticate(email, password)
        if user is None:
            await throttle.record_failure(email, address)
            return await render(request, "pages/people/login.html", context, status_code=400)
        await throttle.reset(email, address)
        await start_session(request, user)
        return Redirect(next_url, status_code=303)

    @post("/logout", name="logout", opt={"public": False})
    async def logout(self, request: HTMXRequest) -> Redirect:
        request.clear_session()
        return Redirect("/login?signed_out=1", status_code=303)


class PeopleController(Controller):
    path = "/people"

    @get("/", name="people")
    async def directory(self, request: HTMXRequest, q: FromQuery[str] = "", page: FromQuery[str] = "") -> Template:
        results = await services.search_directory(q, page=parse_page(page))
        return await render(
            request,
            "pages/people/directory.html",
            {"results": results},
            fragment="fragments/people/results.html",
        )

    @get("/{person_id:int}", name="person")
    async def profile(self, request: HTMXRequest, person_id: FromPath[int]) -> Template:
        person = await services.get_profile(person_id)
        if person is None:
            raise NotFoundException("No one with that id works here.")
        user = request.scope.get("user")
        context = {
            "person": person,
            "is_me": user is not None and user.id == person_id,
            "progress": await levels.progress(person_id),
            "badges": await badges.badge_board(person_id),
            "revoke_rule": badges.REVOKE_RULE,
            "received": await recent_public(person_id, received=True),
            "given": await recent_public(person_id, received=False),
            "awards": await awards_for_person(person_id),
        }
        return await render(request, "pages/people/profile.html", context)


class DepartmentController(Controller):
    path = "/departments"

    @get("/", name="departments")
    async def index(self, request: HTMXRequest) -> Template:
        return await render(
            request, "pages/people/departments.html", {"departments": await services.list_departments()}
        )

    @get("/{slug:str}", name="department")
    async def detail(self, request: HTMXRequest, slug: FromPath[str]) -> Template:
        department = await services.get_department(slug)
        if department is None:
            raise NotFoundException("There is no department at that address.")
        scorecard = await department_scorecard(department["id"], department["services"])
        context = {
            "department": department,
            "scorecard": scorecard,
            "awards": await awards_for_department(department["id"]),
            "survey": await surveys.department_results(department["id"]),
            "may_read_comments": await surveys.may_read_comments(request.scope["user"], department["id"]),
            "partners": await partners(department["id"]),
        }
        return await render(request, "pages/people/department.html", context)
