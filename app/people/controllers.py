"""HTTP for the people directory, profiles and department pages (signing in is app/signin)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.awards.queries import awards_for_department, awards_for_person
from app.boards import badges, levels
from app.boards.badge_rules import REVOKE_RULE
from app.boards.scorecards import department_scorecard
from app.insights.service_map import partners
from app.kudos.feed import recent_public
from app.paging import parse_page
from app.people import services
from app.surveys import queries as surveys
from app.web.deps import CurrentUser
from app.web.templating import render


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
    async def profile(self, request: HTMXRequest, user: CurrentUser, person_id: FromPath[int]) -> Template:
        person = await services.get_profile(person_id)
        if person is None:
            raise NotFoundException("No one with that id works here.")
        context = {
            "person": person,
            "is_me": user.id == person_id,
            "progress": await levels.progress(person_id),
            "badges": await badges.badge_board(person_id),
            "revoke_rule": REVOKE_RULE,
            "recent": await recent_public(person_id),
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
    async def detail(self, request: HTMXRequest, user: CurrentUser, slug: FromPath[str]) -> Template:
        department = await services.get_department(slug)
        if department is None:
            raise NotFoundException("There is no department at that address.")
        # the scorecard measures against the published catalogue this page already read
        scorecard = await department_scorecard(department.id, department.services)
        context = {
            "department": department,
            "scorecard": scorecard,
            "awards": await awards_for_department(department.id),
            "survey": await surveys.department_results(department.id),
            "may_read_comments": await surveys.may_read_comments(user, department.id),
            "partners": await partners(department.id),
        }
        return await render(request, "pages/people/department.html", context)

    @get("/{slug:str}/members", name="department-members")
    async def members(self, request: HTMXRequest, slug: FromPath[str], page: FromQuery[str] = "") -> Template:
        found = await services.department_members(slug, page=parse_page(page))
        if found is None:
            raise NotFoundException("There is no department at that address.")
        return await render(request, "pages/people/members.html", {"found": found})
