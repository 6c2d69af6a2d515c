"""HTTP for monthly awards: nominating, review and announcement, the hall of fame, and the admin settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict, MultiDict
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.awards import services, shortlist
from app.awards.calendar import get_calendar, update_calendar
from app.awards.services import Cycle, NominationForm
from app.awards.tables import NomineeKind
from app.paging import parse_id
from app.people.services import CurrentUser, list_departments, search_directory
from app.people.tables import Role
from app.rules import RuleViolation
from app.timeutil import now, parse_year
from app.web.auth import admin_only
from app.web.errors import error_response
from app.web.templating import render, search_redirect, wants_fragment

NO_SUCH_CYCLE = "There is no award cycle with that number."


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def _done(request: HTMXRequest, message: str, location: str) -> Redirect:
    flash(request, message, category="success")
    return Redirect(location, status_code=303)


def _fragment(name: str, context: Mapping[str, Any], status_code: int = 200) -> Template:
    return Template(name, context=dict(context), status_code=status_code)


def nomination_form(data: MultiDict | FormMultiDict) -> NominationForm:
    return NominationForm(
        category_id=parse_id(data.get("category")),
        nominee=str(data.get("nominee") or "")[:12],
        reason=str(data.get("reason") or ""),
        evidence_ids=[i for i in map(parse_id, data.getall("evidence", [])) if i is not None],
    )


async def picker_context(user: CurrentUser, form: NominationForm, query: str, cycle: Cycle | None) -> dict[str, Any]:
    """The nominee picker: the chosen nominee, matches for the search, and kudos to attach as evidence."""
    category = await services.get_category(form.category_id)
    kind = category.nominee_kind if category else NomineeKind.PERSON
    chosen = await services.nominee_info(form.nominee)
    if chosen is not None and chosen["kind"] != kind:
        chosen = None
    query = " ".join(query.split())[:100]
    matches: list[dict] = []
    if kind == NomineeKind.PERSON and query:
        found = await search_directory(query, per_page=8)
        matches = [
            {"token": f"p{p.id}", "name": p.name, "detail": p.department_name or ""}
            for p in found.people
            if p.id != user.id
        ]
    elif kind == NomineeKind.DEPARTMENT:
        led = await services.leads(user.id)
        matches = [
            {"token": f"d{d.id}", "name": d.name, "detail": "you lead it" if d.id in led else ""}
            for d in await list_departments()
            if query.lower() in d.name.lower()
        ]
    chosen_matches = chosen is not None and any(m["token"] == chosen["token"] for m in matches)
    matches = [m for m in matches if chosen is None or m["token"] != chosen["token"]]
    return {
        "kind": kind,
        "chosen": chosen,
        "query": query,
        "matches": matches,
        "chosen_matches": chosen_matches,  # the search found the chosen nominee: no "nothing matches" under them
        "evidence": await services.evidence_options(chosen, cycle),
        "checked_evidence": set(form.evidence_ids),
    }


async def nominate_context(
    user: CurrentUser,
    cycle: Cycle,
    form: NominationForm,
    *,
    query: str = "",
    errors: Mapping[str, str] | None = None,
    sent: str | None = None,
) -> dict[str, Any]:
    if form.category_id is None:
        active = await services.categories()
        form.category_id = active[0].id if active else None
    return {
        "cycle": cycle,
        "form": form,
        "errors": dict(errors or {}),
        "sent": sent,
        "categories": await services.categories(),
        "picker": await picker_context(user, form, query, cycle),
        "mine": await services.my_nominations(user.id, cycle.id),
        "reason_max": services.REASON_MAX,
        "evidence_max": services.EVIDENCE_MAX,
        "lead_rule": services.LEAD_RULE,
    }


async def shortlists(user: CurrentUser, cycle: Cycle) -> list[dict[str, Any]]:
    led = await services.leads(user.id)
    lists = []
    for category in await services.categories():
        if category.for_people:
            suggestions = await shortlist.people(cycle.month, category.shortlist, viewer=user.id, label=cycle.label)
        else:
            suggestions = await shortlist.departments(cycle.month, category.shortlist, excluded=led, label=cycle.label)
        lists.append(
            {
                "category": category,
                "figures": shortlist.FIGURES[category.nominee_kind],
                "ranked_by": shortlist.FIGURES[category.nominee_kind].get(category.shortlist, ""),
                "suggestions": suggestions,
            }
        )
    return lists


async def awards_page(
    request: HTMXRequest,
    *,
    form: NominationForm | None = None,
    errors: Mapping[str, str] | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Template:
    user = _user(request)
    moment = now()
    params = request.query_params
    cycle = await services.open_cycle(moment) or await services.latest_cycle()
    calendar = await get_calendar()
    context: dict[str, Any] = {
        "cycle": cycle,
        "phase": cycle.phase(moment) if cycle else None,
        "calendar": calendar,
        "next_window": services.next_window(calendar, moment),
        "categories": await services.categories(),
        "cycles": await services.list_cycles(),
        "is_manager": user.role == Role.MANAGER,
        "lead_rule": services.LEAD_RULE,
        "refusal": refusal,
    }
    if cycle is not None and context["phase"] == "open" and context["is_manager"]:
        form = form or nomination_form(params)
        context["nominate"] = await nominate_context(user, cycle, form, query=str(params.get("q") or ""), errors=errors)
        context["shortlists"] = await shortlists(user, cycle)
    if cycle is not None and context["phase"] == "announced":
        context["winners"] = await services.winners_of([cycle.id])
    return await render(request, "pages/awards/index.html", context, status_code=status_code)


class AwardsController(Controller):
    path = "/awards"

    @get("/", name="awards")
    async def index(self, request: HTMXRequest) -> Template:
        return await awards_page(request)

    @get("/nominees", name="awards.nominees")
    async def nominees(self, request: HTMXRequest, q: FromQuery[str] = "") -> Template:
        """The nominee picker for the as-you-type search (and a chosen nominee's evidence); a plain visit gets
        the awards page with the same search, so the form's Find button works without JavaScript."""
        if not wants_fragment(request):
            return await awards_page(request)
        cycle = await services.open_cycle()
        form = nomination_form(request.query_params)
        context = {"picker": await picker_context(_user(request), form, q, cycle), "errors": {}}
        return _fragment("fragments/awards/nominee_picker.html", context)

    @post("/nominees", name="awards.nominees.find")
    async def find_nominees(self, request: HTMXRequest) -> Redirect:
        """The nomination form's Find button without JavaScript: the awards page with the search and input."""
        return await search_redirect(request, "/awards/nominees")

    @post("/nominations", name="awards.nominate")
    async def nominate(self, request: HTMXRequest) -> Response | Template | Redirect:
        user = _user(request)
        form = nomination_form(await request.form())
        try:
            await services.nominate(user, form)
        except RuleViolation as exc:
            cycle = await services.open_cycle()
            if cycle is None or exc.status_code == 403:
                return await _refused(request, exc)
            if not wants_fragment(request):
                return await awards_page(request, form=form, errors=exc.errors, status_code=exc.status_code)
            context = await nominate_context(user, cycle, form, errors=exc.errors)
            return _fragment("fragments/awards/nominate.html", {"n": context}, exc.status_code)
        nominee = await services.nominee_info(form.nominee)
        message = f"Your nomination of {nominee['name'] if nominee else 'them'} was recorded."
        if not wants_fragment(request):
            return _done(request, message, "/awards")
        cycle = await services.open_cycle()
        assert cycle is not None
        context = await nominate_context(user, cycle, NominationForm(category_id=form.category_id), sent=message)
        return _fragment("fragments/awards/nominate.html", {"n": context})

    @post("/nominations/{nomination_id:int}/withdraw", name="awards.withdraw")
    async def withdraw(self, request: HTMXRequest, nomination_id: FromPath[int]) -> Response | Template | Redirect:
        user = _user(request)
        try:
            await services.withdraw(user, nomination_id)
        except RuleViolation as exc:
            return await _refused(request, exc)
        message = "Your nomination was withdrawn."
        cycle = await services.open_cycle()
        if not wants_fragment(request) or cycle is None:
            return _done(request, message, "/awards")
        context = await nominate_context(user, cycle, NominationForm(), sent=message)
        return _fragment("fragments/awards/nominate.html", {"n": context})

    @get("/hall-of-fame", name="awards.hall")
    async def hall(self, request: HTMXRequest, category: FromQuery[str] = "", year: FromQuery[str] = "") -> Template:
        category_id = parse_id(category)
        year_number = parse_year(year)
        context = {
            "winners": await services.hall_of_fame(category_id=category_id, year=year_number),
            "categories": await services.categories(active_only=False),
            "years": await services.hall_of_fame_years(),
            "chosen": {"category": category_id, "year": year_number},
        }
        return await render(request, "pages/awards/hall_of_fame.html", context, fragment="fragments/awards/hall.html")

    @get("/{cycle_id:int}", name="awards.cycle")
    async def cycle(self, request: HTMXRequest, cycle_id: FromPath[int]) -> Template:
        return await cycle_page(request, cycle_id)

    @post("/{cycle_id:int}/winners", name="awards.pick", guards=[admin_only])
    async def pick(self, request: HTMXRequest, cycle_id: FromPath[int]) -> Template | Redirect:
        data = await request.form()
        category_id = parse_id(data.get("category"))
        tokens = [str(t)[:12] for t in data.getall("winner", [])]
        picks = [(token, str(data.get(f"citation-{token}") or "")) for token in tokens]
        try:
            await services.pick_winners(_user(request), cycle_id, category_id, picks)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await cycle_page(
                request, cycle_id, errors={category_id: exc.errors}, status_code=exc.status_code, entered=dict(picks)
            )
        message = "The winners were saved. Announce them when every category is ready."
        if not wants_fragment(request):
            return _done(request, message, f"/awards/{cycle_id}#category-{category_id}")
        return await cycle_page(request, cycle_id, saved={category_id: message})

    @post("/{cycle_id:int}/announce", name="awards.announce", guards=[admin_only])
    async def announce(self, request: HTMXRequest, cycle_id: FromPath[int]) -> Template | Redirect:
        try:
            announcement = await services.announce(_user(request), cycle_id)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await cycle_page(request, cycle_id, errors={"announce": exc.errors}, status_code=exc.status_code)
        return _done(
            request,
            f"The {announcement.cycle.label} awards are announced: winners notified and shown in the feed.",
            f"/awards/{cycle_id}",
        )


async def _refused(request: HTMXRequest, exc: RuleViolation) -> Response | Template:
    """A refused action with no form to re-render: the awards page with the rule's message (a toast with HTMX)."""
    if wants_fragment(request):
        return error_response(request, exc.status_code, exc.message)
    return await awards_page(request, refusal=exc.message, status_code=exc.status_code)


async def cycle_page(
    request: HTMXRequest,
    cycle_id: int,
    *,
    errors: dict[Any, Mapping[str, str]] | None = None,
    saved: dict[Any, str] | None = None,
    entered: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """One cycle: winners for everyone once announced; for admins the review of every nomination and the picks."""
    cycle = await services.get_cycle(cycle_id)
    if cycle is None:
        raise NotFoundException(NO_SUCH_CYCLE)
    user = _user(request)
    context: dict[str, Any] = {
        "cycle": cycle,
        "phase": cycle.phase(),
        "winners": await services.winners_of([cycle.id]) if cycle.phase() == "announced" else [],
        "review": await services.review(cycle) if user.is_admin else [],
        "errors": errors or {},
        "saved": saved or {},
        "entered": entered or {},
        "citation_max": services.CITATION_MAX,
    }
    return await render(request, "pages/awards/cycle.html", context, status_code=status_code)


class AwardsAdminController(Controller):
    path = "/admin/awards"
    guards = [admin_only]

    async def _page(
        self,
        request: HTMXRequest,
        *,
        errors: dict[str, Any] | None = None,
        entered: dict | None = None,
        status_code: int = 200,
    ) -> Template:
        calendar = await get_calendar()
        context = {
            "categories": await services.categories(active_only=False),
            "calendar": calendar,
            "figures": shortlist.FIGURES,
            "errors": errors or {},
            "entered": entered or {},
            "next_window": services.next_window(calendar),
        }
        return await render(request, "pages/admin/awards/index.html", context, status_code=status_code)

    @get("/", name="admin.awards")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/categories", name="admin.awards.create")
    async def create(self, request: HTMXRequest) -> Template | Redirect:
        data = dict((await request.form()).items())
        try:
            await services.save_category(_user(request), data)
        except RuleViolation as exc:
            return await self._page(
                request, errors={"new": exc.errors}, entered={"new": data}, status_code=exc.status_code
            )
        return _done(request, f"Category “{data.get('name', '').strip()}” created.", "/admin/awards")

    @post("/categories/{category_id:int}", name="admin.awards.update")
    async def update(self, request: HTMXRequest, category_id: FromPath[int]) -> Template | Redirect:
        data = dict((await request.form()).items())
        try:
            await services.save_category(_user(request), data, category_id)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._page(
                request, errors={category_id: exc.errors}, entered={category_id: data}, status_code=exc.status_code
            )
        return _done(request, f"Category “{data.get('name', '').strip()}” saved.", "/admin/awards")

    @post("/calendar", name="admin.awards.calendar")
    async def calendar(self, request: HTMXRequest) -> Template | Redirect:
        data = dict((await request.form()).items())
        try:
            await update_calendar(_user(request), data)
        except RuleViolation as exc:
            return await self._page(
                request, errors={"calendar": exc.errors}, entered={"calendar": data}, status_code=exc.status_code
            )
        return _done(request, "The award calendar was saved; it applies from the next cycle.", "/admin/awards")
