"""HTTP for internal service surveys: my survey page, answering per department, a department's comments for its
leads, and the admins' schedule. Forms are parsed once (`read_form`) into the Structs below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.rules import RuleViolation
from app.surveys import queries, services
from app.surveys.models import MIN_ANSWERS, AnswerInput, RoundInput, parse_score
from app.surveys.tables import Audience
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import parse_date, read_form
from app.web.templating import render, wants_fragment


class AnswerForm(msgspec.Struct, frozen=True):
    """One department's answer as typed (shown again as typed when it is refused)."""

    satisfaction: str = ""
    ease: str = ""
    recommend: str = ""
    comment: str = ""

    def to_input(self) -> AnswerInput:
        return AnswerInput(
            satisfaction=parse_score(self.satisfaction, 1, 5),
            ease=parse_score(self.ease, 1, 5),
            recommend=parse_score(self.recommend, 0, 10),
            comment=self.comment,
        )


class RoundForm(msgspec.Struct, frozen=True):
    title: str = ""
    audience: str = ""
    period_start: str = ""
    period_end: str = ""
    opens_on: str = ""
    closes_on: str = ""

    def to_input(self) -> RoundInput:
        return RoundInput(
            title=self.title,
            audience=self.audience,
            period_start=parse_date(self.period_start),
            period_end=parse_date(self.period_end),
            opens_on=parse_date(self.opens_on),
            closes_on=parse_date(self.closes_on),
        )


class SurveyController(Controller):
    path = "/surveys"

    @get("/", name="surveys")
    async def index(self, request: HTMXRequest, user: CurrentUser) -> Template:
        return await render(
            request,
            "pages/surveys/index.html",
            {"surveys": await queries.my_surveys(user), "errors": {}, "values": {}},
        )

    @post("/{round_id:int}/departments/{department_id:int}", name="survey-answer", status_code=200)
    async def answer(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        round_id: FromPath[int],
        department_id: FromPath[int],
    ) -> Response[Any]:
        form = await read_form(request, AnswerForm)
        try:
            await services.submit_answer(user, round_id, department_id, form.to_input())
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._card(
                request, user, round_id, department_id, errors=exc.errors, typed=form, status_code=exc.status_code
            )
        if wants_fragment(request):
            return await self._card(request, user, round_id, department_id, saved=True)
        flash(request, "Thank you: your answer is saved. You can change it until the round closes.", "success")
        return Redirect(request.app.route_reverse("surveys"), status_code=303)

    async def _card(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        round_id: int,
        department_id: int,
        *,
        errors: Mapping[str, str] | None = None,
        typed: AnswerForm | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        """One department's form (the fragment), or the whole page with the errors next to that department's form."""
        surveys = await queries.my_surveys(user)
        found = next((s for s in surveys if s.round.id == round_id), None)
        department = next((d for d in found.departments if d.id == department_id), None) if found else None
        context = {
            "surveys": surveys,
            "survey": found,
            "department": department,
            "errors": {department_id: errors or {}},
            "values": {department_id: typed} if typed else {},
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
    async def comments(self, request: HTMXRequest, user: CurrentUser, slug: FromPath[str]) -> Template:
        department = await queries.department_by_slug(slug)
        if department is None:
            raise NotFoundException("There is no department at that address.")
        try:
            rounds = await queries.department_comments(user, department.id)
        except RuleViolation as exc:
            raise NotFoundException(exc.message) from exc
        return await render(request, "pages/surveys/comments.html", {"department": department, "rounds": rounds})


class SurveyAdminController(Controller):
    path = "/admin/surveys"
    guards = [admin_only]

    async def _page(
        self, request: HTMXRequest, user: CurrentUser, values: RoundInput | None = None,
        errors: Mapping[str, str] | None = None, status_code: int = 200,
    ) -> Template:  # fmt: skip
        return await render(
            request,
            "pages/surveys/admin.html",
            {
                "rounds": await queries.list_rounds(user),
                "values": values,
                "errors": errors or {},
                "audiences": list(Audience),
                "min_answers": MIN_ANSWERS,
            },
            status_code=status_code,
        )

    @get("/", name="survey-admin")
    async def index(self, request: HTMXRequest, user: CurrentUser) -> Template:
        return await self._page(request, user)

    @post("/", name="survey-admin-schedule", status_code=200)
    async def schedule(self, request: HTMXRequest, user: CurrentUser) -> Response[Any]:
        values = (await read_form(request, RoundForm)).to_input()
        try:
            await services.schedule_round(user, values)
        except RuleViolation as exc:
            return await self._page(request, user, values, exc.errors, exc.status_code)
        flash(request, "Survey round scheduled. It opens and closes on its own.", "success")
        return Redirect(request.app.route_reverse("survey-admin"), status_code=303)
