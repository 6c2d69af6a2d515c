"""HTTP for internal service surveys: my survey page, answering per department, a department's comments for its
leads, and the admins' schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.surveys import services
from app.surveys.services import AnswerInput, RoundInput
from app.surveys.tables import Audience
from app.web.auth import admin_only
from app.web.forms import field_date, field_text
from app.web.templating import render, wants_fragment


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def parse_answer(form: Mapping[str, Any]) -> AnswerInput:
    return AnswerInput(
        satisfaction=services.parse_score(field_text(form, "satisfaction"), 1, 5),
        ease=services.parse_score(field_text(form, "ease"), 1, 5),
        recommend=services.parse_score(field_text(form, "recommend"), 0, 10),
        comment=field_text(form, "comment"),
    )


def parse_round(form: Mapping[str, Any]) -> RoundInput:
    return RoundInput(
        title=field_text(form, "title"),
        audience=field_text(form, "audience"),
        period_start=field_date(form, "period_start"),
        period_end=field_date(form, "period_end"),
        opens_on=field_date(form, "opens_on"),
        closes_on=field_date(form, "closes_on"),
    )


class SurveyController(Controller):
    path = "/surveys"

    @get("/", name="surveys")
    async def index(self, request: HTMXRequest) -> Template:
        return await render(
            request,
            "pages/surveys/index.html",
            {"surveys": await services.my_surveys(_user(request)), "errors": {}, "values": {}},
        )

    @post("/{round_id:int}/departments/{department_id:int}", name="survey-answer", status_code=200)
    async def answer(self, request: HTMXRequest, round_id: FromPath[int], department_id: FromPath[int]) -> Response:
        form = await request.form()
        data = parse_answer(form)
        user = _user(request)
        try:
            await services.submit_answer(user, round_id, department_id, data)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._card(
                request, round_id, department_id, errors=exc.errors, values=form, status_code=exc.status_code
            )
        if wants_fragment(request):
            return await self._card(request, round_id, department_id, saved=True)
        flash(request, "Thank you: your answer is saved. You can change it until the round closes.", "success")
        return Redirect(request.app.route_reverse("surveys"), status_code=303)

    async def _card(
        self,
        request: HTMXRequest,
        round_id: int,
        department_id: int,
        *,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        """One department's form (the fragment), or the whole page with the errors next to that department's form."""
        surveys = await services.my_surveys(_user(request))
        found = next((s for s in surveys if s.round.id == round_id), None)
        department = next((d for d in found.departments if d.id == department_id), None) if found else None
        context = {
            "surveys": surveys,
            "survey": found,
            "department": department,
            "errors": {department_id: errors or {}},
            "values": {department_id: values or {}},
            "saved": department_id if saved else None,
        }
        if found is None or department is None:  # closed meanwhile: the page says so
            return await render(request, "pages/surveys/index.html", context, status_code=status_code)
        return await render(
            request,
            "pages/surveys/index.html",
            context,
            fragment="fragments/surveys/department_form.html",
            status_code=status_code,
        )

    @get("/departments/{slug:str}/comments", name="survey-comments")
    async def comments(self, request: HTMXRequest, slug: FromPath[str]) -> Template:
        department = await services.department_by_slug(slug)
        if department is None:
            raise NotFoundException("There is no department at that address.")
        try:
            rounds = await services.department_comments(_user(request), department[0])
        except RuleViolation as exc:
            raise NotFoundException(exc.message) from exc
        return await render(
            request,
            "pages/surveys/comments.html",
            {"department": {"id": department[0], "name": department[1], "slug": slug}, "rounds": rounds},
        )


class SurveyAdminController(Controller):
    path = "/admin/surveys"
    guards = [admin_only]

    async def _page(
        self, request: HTMXRequest, values: RoundInput | None = None, errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:  # fmt: skip
        return await render(
            request,
            "pages/surveys/admin.html",
            {
                "rounds": await services.list_rounds(_user(request)),
                "values": values,
                "errors": errors or {},
                "audiences": list(Audience),
                "min_answers": services.MIN_ANSWERS,
            },
            status_code=status_code,
        )

    @get("/", name="survey-admin")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/", status_code=200)
    async def schedule(self, request: HTMXRequest) -> Response:
        values = parse_round(await request.form())
        try:
            await services.schedule_round(_user(request), values)
        except RuleViolation as exc:
            return await self._page(request, values, exc.errors, exc.status_code)
        flash(request, "Survey round scheduled. It opens and closes on its own.", "success")
        return Redirect(request.app.route_reverse("survey-admin"), status_code=303)
