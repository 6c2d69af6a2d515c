"""HTTP for peer feedback: /feedback, asking, answering or declining, giving, reading one item.

Forms are parsed once into the services' typed input (AskInput, GiveInput); a refusal re-renders the form with
the input kept and the message next to its field, with the rule's status (422, 403, 409, 429).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from app.feedback import services
from app.feedback.services import AskInput, GiveInput
from app.feedback.tables import AskStatus, SubjectKind
from app.paging import parse_id
from app.people.services import CurrentUser, search_directory
from app.rules import RuleViolation
from app.web.forms import field_date, field_text
from app.web.templating import render

MAX_FREE_QUESTIONS = services.MAX_QUESTIONS


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def _ids(values: list[Any]) -> tuple[int, ...]:
    return tuple(i for i in (parse_id(v) for v in values) if i is not None)


def parse_ask(form: Any) -> AskInput:
    kind = field_text(form, "subject_kind") or SubjectKind.NONE
    return AskInput(
        people=_ids(form.getall("people", [])),
        subject_kind=kind,
        subject_request=parse_id(form.get("subject_request")),
        subject_department=parse_id(form.get("subject_department")),
        subject_text=field_text(form, "subject_text"),
        template=field_text(form, "template"),
        questions=tuple(str(q) for q in form.getall("question", []))[: MAX_FREE_QUESTIONS + 1],
        due_on=field_date(form, "due_on"),
    )


def _raise_hidden(exc: RuleViolation) -> None:
    """404 and 403 refusals become error pages (nothing of the thing is shown)."""
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc
    if exc.status_code == 403:
        raise PermissionDeniedException(exc.message) from exc


def _done(request: HTMXRequest, message: str, location: str) -> Response:
    flash(request, message, category="success")
    if request.htmx:
        return ClientRedirect(location)
    return Redirect(location, status_code=303)


class FeedbackController(Controller):
    path = "/feedback"

    @get("/", name="feedback")
    async def index(self, request: HTMXRequest) -> Template:
        user = _user(request)
        context = {
            "overview": await services.overview(user),
            "counts": await services.organisation_counts(user) if user.is_admin else None,
            "team_days": services.TEAM_DAYS,
        }
        return await render(request, "pages/feedback/index.html", context)

    @get("/{feedback_id:int}", name="feedback-item")
    async def item(self, request: HTMXRequest, feedback_id: FromPath[int]) -> Template:
        item = await services.get_feedback(_user(request), feedback_id)
        if item is None:
            raise NotFoundException("There is no feedback with that number that you may read.")
        return await render(request, "pages/feedback/item.html", {"item": item})

    # --- asking ---------------------------------------------------------------------------------------------

    async def _ask_form(
        self, request: HTMXRequest, values: AskInput, *, q: str = "", errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:  # fmt: skip
        user = _user(request)
        chosen = await services.people_named(list(values.people))
        found = await search_directory(q, per_page=20) if q else None
        candidates = [p for p in (found.people if found else []) if p.id != user.id]
        return await render(
            request,
            "pages/feedback/ask.html",
            {
                "values": values,
                "q": q,
                "chosen": chosen,
                "chosen_ids": {p.id for p in chosen},
                "candidates": candidates,
                "choices": await services.subject_choices(user),
                "templates": services.TEMPLATES,
                "template_labels": services.TEMPLATE_LABELS,
                "free_questions": [*values.questions, *[""] * MAX_FREE_QUESTIONS][:MAX_FREE_QUESTIONS],
                "errors": errors or {},
                "rate_rule": services.RATE_RULE,
                "max_people": services.MAX_PEOPLE,
            },
            fragment="fragments/feedback/ask_form.html",
            status_code=status_code,
        )

    @get("/ask", name="feedback-ask")
    async def ask_page(self, request: HTMXRequest, q: FromQuery[str] = "") -> Template:
        """The ask form; `?q=` searches the directory for colleagues to ask (chosen ones are kept with `people`)."""
        values = parse_ask(request.query_params)
        if not request.query_params.get("due_on"):
            values = replace(values, due_on=services.today() + timedelta(days=services.DEFAULT_DUE_DAYS))
        return await self._ask_form(request, values, q=q[:100])

    @post("/ask", status_code=200)
    async def ask(self, request: HTMXRequest) -> Response:
        form = await request.form()
        values = parse_ask(form)
        try:
            await services.ask_for_feedback(_user(request), values)
        except RuleViolation as exc:
            return await self._ask_form(request, values, errors=exc.errors, status_code=exc.status_code)
        count = len(set(values.people))
        return _done(
            request,
            f"Asked {count} colleague{'s' if count != 1 else ''} for feedback. You will be told as they answer.",
            request.app.route_reverse("feedback"),
        )

    # --- answering ------------------------------------------------------------------------------------------

    async def _answer_page(
        self,
        request: HTMXRequest,
        ask_id: int,
        *,
        answers: tuple[str, ...] = (),
        share: bool = False,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        try:
            ask, status = await services.ask_for_answer(_user(request), ask_id)
        except RuleViolation as exc:
            _raise_hidden(exc)
            raise
        return await render(
            request,
            "pages/feedback/answer.html",
            {
                "ask": ask,
                "status": status,
                "waiting": status == AskStatus.WAITING and not ask.closed,
                "answers": [*answers, *[""] * len(ask.questions)][: len(ask.questions)],
                "share": share,
                "errors": errors or {},
                "max_text": services.MAX_TEXT,
            },
            fragment="fragments/feedback/answer_form.html",
            status_code=status_code,
        )

    @get("/asks/{ask_id:int}", name="feedback-answer")
    async def answer_page(self, request: HTMXRequest, ask_id: FromPath[int]) -> Template:
        return await self._answer_page(request, ask_id)

    @post("/asks/{ask_id:int}/answer", name="feedback-answer-send", status_code=200)
    async def answer(self, request: HTMXRequest, ask_id: FromPath[int]) -> Response:
        form = await request.form()
        answers = tuple(str(a) for a in form.getall("answer", []))[: services.MAX_QUESTIONS]
        share = form.get("share") == "on"
        try:
            feedback_id = await services.answer(_user(request), ask_id, answers, share_with_manager=share)
        except RuleViolation as exc:
            _raise_hidden(exc)
            return await self._answer_page(
                request, ask_id, answers=answers, share=share, errors=exc.errors, status_code=exc.status_code
            )
        location = request.app.route_reverse("feedback-item", feedback_id=feedback_id)
        return _done(request, "Thank you: your feedback was sent.", location)

    @post("/asks/{ask_id:int}/decline", name="feedback-decline", status_code=200)
    async def decline(self, request: HTMXRequest, ask_id: FromPath[int]) -> Response:
        try:
            await services.decline(_user(request), ask_id)
        except RuleViolation as exc:
            _raise_hidden(exc)
            return await self._answer_page(request, ask_id, errors=exc.errors, status_code=exc.status_code)
        message = "You declined. The person who asked has been told."
        return _done(request, message, request.app.route_reverse("feedback"))

    @post("/asks/{ask_id:int}/close", name="feedback-close", status_code=200)
    async def close(self, request: HTMXRequest, ask_id: FromPath[int]) -> Response:
        try:
            await services.close_ask(_user(request), ask_id)
        except RuleViolation as exc:
            _raise_hidden(exc)
            raise
        return _done(request, "Closed: no more answers will be taken.", request.app.route_reverse("feedback"))

    # --- giving ---------------------------------------------------------------------------------------------

    async def _give_form(
        self, request: HTMXRequest, values: GiveInput, *, q: str = "", errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:  # fmt: skip
        user = _user(request)
        chosen = await services.people_named([values.subject] if values.subject else [])
        found = await search_directory(q, per_page=20) if q else None
        return await render(
            request,
            "pages/feedback/give.html",
            {
                "values": values,
                "q": q,
                "chosen": chosen[0] if chosen else None,
                "candidates": [p for p in (found.people if found else []) if p.id != user.id],
                "errors": errors or {},
                "max_text": services.MAX_TEXT,
            },
            fragment="fragments/feedback/give_form.html",
            status_code=status_code,
        )

    @get("/give", name="feedback-give")
    async def give_page(self, request: HTMXRequest, q: FromQuery[str] = "", to: FromQuery[str] = "") -> Template:
        """The give form; `?to=` preselects the colleague, `?q=` searches the directory."""
        return await self._give_form(request, GiveInput(subject=parse_id(to), text=""), q=q[:100])

    @post("/give", status_code=200)
    async def give(self, request: HTMXRequest) -> Response:
        form = await request.form()
        values = GiveInput(
            subject=parse_id(form.get("subject")),
            text=field_text(form, "text"),
            share_with_manager=form.get("share") == "on",
        )
        try:
            feedback_id = await services.give(_user(request), values)
        except RuleViolation as exc:
            return await self._give_form(request, values, errors=exc.errors, status_code=exc.status_code)
        return _done(
            request,
            "Your feedback was sent. Only they and you can read it"
            + (", and their manager." if values.share_with_manager else "."),
            request.app.route_reverse("feedback-item", feedback_id=feedback_id),
        )
