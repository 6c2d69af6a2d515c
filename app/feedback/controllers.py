"""HTTP for peer feedback: /feedback, asking, answering or declining, giving, reading one item.

Forms are parsed once (`read_form`) into the Structs below, which turn them into the services' typed input
(AskInput, GiveInput); a refusal re-renders the form with the input kept and the message next to its field, with
the rule's status (422, 403, 409, 429).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Response, Template

from app.feedback import models, queries, services
from app.feedback.models import AskInput, GiveInput
from app.feedback.tables import AskStatus, SubjectKind
from app.paging import parse_id
from app.people.services import DirectoryPerson, search_directory
from app.rules import RuleViolation
from app.web.deps import CurrentUser
from app.web.forms import parse_date, read_form, read_query
from app.web.templating import done, render

MAX_FREE_QUESTIONS = models.MAX_QUESTIONS


class AskForm(msgspec.Struct, frozen=True):
    """The ask form (POSTed, or sent with GET by its colleague search, which keeps the other fields)."""

    people: list[str] = []
    subject_kind: str = ""
    subject_request: str = ""
    subject_department: str = ""
    subject_text: str = ""
    template: str = ""
    question: list[str] = []
    due_on: str = ""
    q: str = ""

    def to_input(self) -> AskInput:
        return AskInput(
            people=tuple(i for i in (parse_id(v) for v in self.people) if i is not None),
            subject_kind=self.subject_kind or SubjectKind.NONE,
            subject_request=parse_id(self.subject_request),
            subject_department=parse_id(self.subject_department),
            subject_text=self.subject_text,
            template=self.template,
            questions=tuple(self.question)[: MAX_FREE_QUESTIONS + 1],
            due_on=parse_date(self.due_on),
        )


class AnswerForm(msgspec.Struct, frozen=True):
    answer: list[str] = []
    share: str = ""

    @property
    def answers(self) -> tuple[str, ...]:
        return tuple(self.answer)[: models.MAX_QUESTIONS]

    @property
    def shared(self) -> bool:
        return self.share == "on"


class GiveForm(msgspec.Struct, frozen=True):
    subject: str = ""
    text: str = ""
    share: str = ""

    def to_input(self) -> GiveInput:
        return GiveInput(subject=parse_id(self.subject), text=self.text, share_with_manager=self.share == "on")


def _raise_hidden(exc: RuleViolation) -> None:
    """404 and 403 refusals become error pages (nothing of the thing is shown)."""
    if exc.status_code == 404:
        raise NotFoundException(exc.message) from exc
    if exc.status_code == 403:
        raise PermissionDeniedException(exc.message) from exc


async def _candidates(q: str, user: CurrentUser) -> list[DirectoryPerson]:
    """The colleague search's matches (never the searcher)."""
    found = await search_directory(q, per_page=20) if q else None
    return [p for p in (found.people if found else []) if p.id != user.id]


class FeedbackController(Controller):
    path = "/feedback"

    @get("/", name="feedback")
    async def index(self, request: HTMXRequest, user: CurrentUser) -> Template:
        context = {
            "overview": await queries.overview(user),
            "counts": await queries.organisation_counts(user) if user.is_admin else None,
            "team_days": models.TEAM_DAYS,
        }
        return await render(request, "pages/feedback/index.html", context)

    @get("/{feedback_id:int}", name="feedback-item")
    async def item(self, request: HTMXRequest, user: CurrentUser, feedback_id: FromPath[int]) -> Template:
        item = await queries.get_feedback(user, feedback_id)
        if item is None:
            raise NotFoundException("There is no feedback with that number that you may read.")
        return await render(request, "pages/feedback/item.html", {"item": item})

    # --- asking ---------------------------------------------------------------------------------------------

    async def _ask_form(
        self, request: HTMXRequest, user: CurrentUser, values: AskInput, *, q: str = "",
        errors: Mapping[str, str] | None = None, status_code: int = 200,
    ) -> Template:  # fmt: skip
        chosen = await queries.people_named(list(values.people))
        return await render(
            request,
            "pages/feedback/ask.html",
            {
                "values": values,
                "q": q,
                "chosen": chosen,
                "chosen_ids": {p.id for p in chosen},
                "candidates": await _candidates(q, user),
                "choices": await queries.subject_choices(user),
                "templates": models.TEMPLATES,
                "template_labels": models.TEMPLATE_LABELS,
                "free_questions": [*values.questions, *[""] * MAX_FREE_QUESTIONS][:MAX_FREE_QUESTIONS],
                "errors": errors or {},
                "rate_rule": models.RATE_RULE,
                "max_people": models.MAX_PEOPLE,
            },
            fragment="fragments/feedback/ask_form.html",
            status_code=status_code,
        )

    @get("/ask", name="feedback-ask")
    async def ask_page(self, request: HTMXRequest, user: CurrentUser) -> Template:
        """The ask form; `?q=` searches the directory for colleagues to ask (chosen ones are kept with `people`)."""
        form = read_query(request, AskForm)
        values = form.to_input()
        if not form.due_on:
            values = replace(values, due_on=models.today() + timedelta(days=models.DEFAULT_DUE_DAYS))
        return await self._ask_form(request, user, values, q=form.q[:100])

    @post("/ask", name="feedback-ask-send", status_code=200)
    async def ask(self, request: HTMXRequest, user: CurrentUser) -> Response[Any]:
        values = (await read_form(request, AskForm)).to_input()
        try:
            await services.ask_for_feedback(user, values)
        except RuleViolation as exc:
            return await self._ask_form(request, user, values, errors=exc.errors, status_code=exc.status_code)
        count = len(set(values.people))
        return done(
            request,
            f"Asked {count} colleague{'s' if count != 1 else ''} for feedback. You will be told as they answer.",
            request.app.route_reverse("feedback"),
        )

    # --- answering ------------------------------------------------------------------------------------------

    async def _answer_page(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        ask_id: int,
        *,
        answers: tuple[str, ...] = (),
        share: bool = False,
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        try:
            ask, status = await queries.ask_for_answer(user, ask_id)
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
                "max_text": models.MAX_TEXT,
            },
            fragment="fragments/feedback/answer_form.html",
            status_code=status_code,
        )

    @get("/asks/{ask_id:int}", name="feedback-answer")
    async def answer_page(self, request: HTMXRequest, user: CurrentUser, ask_id: FromPath[int]) -> Template:
        return await self._answer_page(request, user, ask_id)

    @post("/asks/{ask_id:int}/answer", name="feedback-answer-send", status_code=200)
    async def answer(self, request: HTMXRequest, user: CurrentUser, ask_id: FromPath[int]) -> Response[Any]:
        form = await read_form(request, AnswerForm)
        try:
            feedback_id = await services.answer(user, ask_id, form.answers, share_with_manager=form.shared)
        except RuleViolation as exc:
            _raise_hidden(exc)
            return await self._answer_page(
                request, user, ask_id, answers=form.answers, share=form.shared, errors=exc.errors,
                status_code=exc.status_code,
            )  # fmt: skip
        location = request.app.route_reverse("feedback-item", feedback_id=feedback_id)
        return done(request, "Thank you: your feedback was sent.", location)

    @post("/asks/{ask_id:int}/decline", name="feedback-decline", status_code=200)
    async def decline(self, request: HTMXRequest, user: CurrentUser, ask_id: FromPath[int]) -> Response[Any]:
        try:
            await services.decline(user, ask_id)
        except RuleViolation as exc:
            _raise_hidden(exc)
            return await self._answer_page(request, user, ask_id, errors=exc.errors, status_code=exc.status_code)
        message = "You declined. The person who asked has been told."
        return done(request, message, request.app.route_reverse("feedback"))

    @post("/asks/{ask_id:int}/close", name="feedback-close", status_code=200)
    async def close(self, request: HTMXRequest, user: CurrentUser, ask_id: FromPath[int]) -> Response[Any]:
        try:
            await services.close_ask(user, ask_id)
        except RuleViolation as exc:
            _raise_hidden(exc)
            raise
        return done(request, "Closed: no more answers will be taken.", request.app.route_reverse("feedback"))

    # --- giving ---------------------------------------------------------------------------------------------

    async def _give_form(
        self, request: HTMXRequest, user: CurrentUser, values: GiveInput, *, q: str = "",
        errors: Mapping[str, str] | None = None, status_code: int = 200,
    ) -> Template:  # fmt: skip
        chosen = await queries.people_named([values.subject] if values.subject else [])
        return await render(
            request,
            "pages/feedback/give.html",
            {
                "values": values,
                "q": q,
                "chosen": chosen[0] if chosen else None,
                "candidates": await _candidates(q, user),
                "errors": errors or {},
                "max_text": models.MAX_TEXT,
            },
            fragment="fragments/feedback/give_form.html",
            status_code=status_code,
        )

    @get("/give", name="feedback-give")
    async def give_page(
        self, request: HTMXRequest, user: CurrentUser, q: FromQuery[str] = "", to: FromQuery[str] = ""
    ) -> Template:
        """The give form; `?to=` preselects the colleague, `?q=` searches the directory."""
        return await self._give_form(request, user, GiveInput(subject=parse_id(to), text=""), q=q[:100])

    @post("/give", name="feedback-give-send", status_code=200)
    async def give(self, request: HTMXRequest, user: CurrentUser) -> Response[Any]:
        values = (await read_form(request, GiveForm)).to_input()
        try:
            feedback_id = await services.give(user, values)
        except RuleViolation as exc:
            return await self._give_form(request, user, values, errors=exc.errors, status_code=exc.status_code)
        return done(
            request,
            "Your feedback was sent. Only they and you can read it"
            + (", and their manager." if values.share_with_manager else "."),
            request.app.route_reverse("feedback-item", feedback_id=feedback_id),
        )
