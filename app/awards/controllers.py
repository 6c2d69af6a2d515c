"""HTTP for monthly awards: nominating, review and announcement, the hall of fame, and the admin settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from app.awards import categories, cycles, nominations, queries, shortlist, stored, winners
from app.awards.calendar import CalendarForm, get_calendar, update_calendar
from app.awards.categories import Category, CategoryForm
from app.awards.cycles import Cycle
from app.awards.nominations import NominationForm, Nominee
from app.awards.tables import NomineeKind
from app.paging import parse_id
from app.people.services import led_departments, list_departments, search_directory
from app.people.tables import Role
from app.rules import RuleViolation
from app.timeutil import now, parse_year
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.errors import error_response
from app.web.forms import read_form
from app.web.templating import done, render, search_redirect, wants_fragment

NO_SUCH_CYCLE = "There is no award cycle with that number."
QUERY_MAX = 100


class PickForm(msgspec.Struct, frozen=True):
    """The winners of one category: the nominees shown (each with its citation box, in order) and those ticked."""

    category: str = ""
    winner: list[str] = []
    nominee: list[str] = []
    citation: list[str] = []

    @property
    def category_id(self) -> int | None:
        return parse_id(self.category)

    @property
    def picks(self) -> list[tuple[str, str]]:
        """(nominee token, citation) of each nominee ticked as a winner."""
        citations = dict(zip(self.nominee, self.citation, strict=False))
        return [(token[: nominations.TOKEN_MAX], citations.get(token, "")) for token in self.winner]


@dataclass(frozen=True, slots=True)
class Match:
    """A nominee the picker's search found."""

    token: str
    name: str
    detail: str


def _fragment(name: str, context: Mapping[str, Any], status_code: int = 200) -> Template:
    return Template(name, context=dict(context), status_code=status_code)


def _query_form(request: HTMXRequest) -> NominationForm:
    """The nomination form from the query string: the picker's searches and the shortlist's Nominate links."""
    params = request.query_params
    return NominationForm(
        category=params.get("category", ""),
        nominee=params.get("nominee", ""),
        reason=params.get("reason", ""),
        evidence=params.getall("evidence", []),
    )


async def picker_context(
    user: CurrentUser,
    form: NominationForm,
    query: str,
    cycle: Cycle | None,
    *,
    active: Sequence[Category] = (),
) -> dict[str, Any]:
    """The nominee picker: the chosen nominee, matches for the search, and kudos to attach as evidence (`active`:
    the active categories, when the caller has read them already)."""
    category = next((c for c in active if c.id == form.category_id), None) or await categories.get_category(
        form.category_id
    )
    kind = category.nominee_kind if category else NomineeKind.PERSON
    chosen: Nominee | None = await nominations.nominee_info(form.nominee_token)
    if chosen is not None and chosen.kind != kind:
        chosen = None
    query = " ".join(query.split())[:QUERY_MAX]
    matches: list[Match] = []
    if kind == NomineeKind.PERSON and query:
        found = await search_directory(query, per_page=8)
        matches = [
            Match(token=f"p{p.id}", name=p.name, detail=p.department_name or "")
            for p in found.people
            if p.id != user.id
        ]
    elif kind == NomineeKind.DEPARTMENT:
        led = await led_departments(user.id)
        matches = [
            Match(token=f"d{d.id}", name=d.name, detail="you lead it" if d.id in led else "")
            for d in await list_departments()
            if query.lower() in d.name.lower()
        ]
    chosen_matches = chosen is not None and any(m.token == chosen.token for m in matches)
    matches = [m for m in matches if chosen is None or m.token != chosen.token]
    return {
        "kind": kind,
        "chosen": chosen,
        "query": query,
        "matches": matches,
        "chosen_matches": chosen_matches,  # the search found the chosen nominee: no "nothing matches" under them
        "evidence": await nominations.evidence_options(chosen, cycle),
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
    active: list[Category] | None = None,
) -> dict[str, Any]:
    active = active if active is not None else await categories.categories()
    if form.category_id is None and active:
        form = msgspec.structs.replace(form, category=str(active[0].id))
    return {
        "cycle": cycle,
        "form": form,
        "errors": dict(errors or {}),
        "sent": sent,
        "categories": active,
        "picker": await picker_context(user, form, query, cycle, active=active),
        "mine": await nominations.my_nominations(user.id, cycle.id),
        "reason_max": nominations.REASON_MAX,
        "evidence_max": nominations.EVIDENCE_MAX,
        "lead_rule": nominations.LEAD_RULE,
    }


async def awards_page(
    request: HTMXRequest,
    user: CurrentUser,
    *,
    form: NominationForm | None = None,
    errors: Mapping[str, str] | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Template:
    moment = now()
    listed = await cycles.list_cycles()
    cycle = cycles.taking_nominations(listed, moment) or (listed[0] if listed else None)
    active = await categories.categories()
    context: dict[str, Any] = {
        "cycle": cycle,
        "phase": cycle.phase(moment) if cycle else None,
        "categories": active,
        "cycles": listed,
        "is_manager": user.role == Role.MANAGER,
        "is_admin": user.is_admin,
        "lead_rule": nominations.LEAD_RULE,
        "refusal": refusal,
    }
    if cycle is None or context["phase"] != "open":  # when the next nominations open
        context["calendar"] = calendar = await get_calendar()
        context["next_window"] = cycles.next_window(calendar, moment)
    if cycle is not None and context["phase"] == "open" and context["is_manager"]:
        query = str(request.query_params.get("q") or "")
        form = form or _query_form(request)
        context["nominate"] = await nominate_context(user, cycle, form, query=query, errors=errors, active=active)
        context["shortlists"] = await stored.shortlists(cycle, active, viewer=user.id, at=moment)
    if cycle is not None and context["phase"] == "announced":
        context["winners"] = await queries.winners_of([cycle.id])
    return await render(request, "pages/awards/index.html", context, status_code=status_code)


class AwardsController(Controller):
    path = "/awards"

    @get("/", name="awards")
    async def index(self, request: HTMXRequest, user: CurrentUser) -> Template:
        return await awards_page(request, user)

    @get("/nominees", name="awards.nominees")
    async def nominees(self, request: HTMXRequest, user: CurrentUser, q: FromQuery[str] = "") -> Template:
        """The nominee picker for the as-you-type search (and a chosen nominee's evidence); a plain visit gets
        the awards page with the same search, so the form's Find button works without JavaScript."""
        if not wants_fragment(request):
            return await awards_page(request, user)
        cycle = await cycles.open_cycle()
        context = {"picker": await picker_context(user, _query_form(request), q, cycle), "errors": {}}
        return _fragment("fragments/awards/nominee_picker.html", context)

    @post("/nominees", name="awards.nominees.find")
    async def find_nominees(self, request: HTMXRequest) -> Redirect:
        """The nomination form's Find button without JavaScript: the awards page with the search and input."""
        return await search_redirect(request, request.app.route_reverse("awards.nominees"))

    @post("/nominations", name="awards.nominate")
    async def nominate(self, request: HTMXRequest, user: CurrentUser) -> Response[Any] | Template | Redirect:
        form = await read_form(request, NominationForm)
        try:
            await nominations.nominate(user, form)
        except RuleViolation as exc:
            cycle = await cycles.open_cycle()
            if cycle is None or exc.status_code == 403:
                return await _refused(request, user, exc)
            if not wants_fragment(request):
                return await awards_page(request, user, form=form, errors=exc.errors, status_code=exc.status_code)
            context = await nominate_context(user, cycle, form, errors=exc.errors)
            return _fragment("fragments/awards/nominate.html", {"n": context}, exc.status_code)
        nominee = await nominations.nominee_info(form.nominee_token)
        message = f"Your nomination of {nominee.name if nominee else 'them'} was recorded."
        if not wants_fragment(request):
            return done(request, message, request.app.route_reverse("awards"))
        cycle = await cycles.open_cycle()
        assert cycle is not None
        context = await nominate_context(user, cycle, NominationForm(category=form.category), sent=message)
        return _fragment("fragments/awards/nominate.html", {"n": context})

    @post("/nominations/{nomination_id:int}/withdraw", name="awards.withdraw")
    async def withdraw(
        self, request: HTMXRequest, user: CurrentUser, nomination_id: FromPath[int]
    ) -> Response[Any] | Template | Redirect:
        try:
            await nominations.withdraw(user, nomination_id)
        except RuleViolation as exc:
            return await _refused(request, user, exc)
        message = "Your nomination was withdrawn."
        cycle = await cycles.open_cycle()
        if not wants_fragment(request) or cycle is None:
            return done(request, message, request.app.route_reverse("awards"))
        context = await nominate_context(user, cycle, NominationForm(), sent=message)
        return _fragment("fragments/awards/nominate.html", {"n": context})

    @get("/hall-of-fame", name="awards.hall")
    async def hall(self, request: HTMXRequest, category: FromQuery[str] = "", year: FromQuery[str] = "") -> Template:
        category_id = parse_id(category)
        year_number = parse_year(year)
        context = {
            "winners": await queries.hall_of_fame(category_id=category_id, year=year_number),
            "categories": await categories.categories(active_only=False),
            "years": await queries.hall_of_fame_years(),
            "chosen": {"category": category_id, "year": year_number},
        }
        return await render(request, "pages/awards/hall_of_fame.html", context, fragment="fragments/awards/hall.html")

    @get("/{cycle_id:int}", name="awards.cycle")
    async def cycle(self, request: HTMXRequest, user: CurrentUser, cycle_id: FromPath[int]) -> Template:
        return await cycle_page(request, user, cycle_id)

    @post("/{cycle_id:int}/winners", name="awards.pick", guards=[admin_only])
    async def pick(
        self, request: HTMXRequest, user: CurrentUser, cycle_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, PickForm)
        category_id = form.category_id
        try:
            await winners.pick_winners(user, cycle_id, category_id, form.picks)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await cycle_page(
                request,
                user,
                cycle_id,
                errors={category_id: exc.errors},
                status_code=exc.status_code,
                entered=dict(form.picks),
            )
        message = "The winners were saved. Announce them when every category is ready."
        if not wants_fragment(request):
            location = request.app.route_reverse("awards.cycle", cycle_id=cycle_id)
            return done(request, message, f"{location}#category-{category_id}")
        return await cycle_page(request, user, cycle_id, saved={category_id: message})

    @post("/{cycle_id:int}/announce", name="awards.announce", guards=[admin_only])
    async def announce(
        self, request: HTMXRequest, user: CurrentUser, cycle_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        try:
            announcement = await winners.announce(user, cycle_id)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await cycle_page(
                request, user, cycle_id, errors={"announce": exc.errors}, status_code=exc.status_code
            )
        return done(
            request,
            f"The {announcement.cycle.label} awards are announced: winners notified and shown in the feed.",
            request.app.route_reverse("awards.cycle", cycle_id=cycle_id),
        )


async def _refused(request: HTMXRequest, user: CurrentUser, exc: RuleViolation) -> Response[Any] | Template:
    """A refused action with no form to re-render: the awards page with the rule's message (a toast with HTMX)."""
    if wants_fragment(request):
        return error_response(request, exc.status_code, exc.message)
    return await awards_page(request, user, refusal=exc.message, status_code=exc.status_code)


async def cycle_page(
    request: HTMXRequest,
    user: CurrentUser,
    cycle_id: int,
    *,
    errors: Mapping[int | str | None, Mapping[str, str]] | None = None,
    saved: Mapping[int | None, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """One cycle: winners for everyone once announced; for admins the review of every nomination and the picks."""
    cycle = await cycles.get_cycle(cycle_id)
    if cycle is None:
        raise NotFoundException(NO_SUCH_CYCLE)
    context: dict[str, Any] = {
        "cycle": cycle,
        "phase": cycle.phase(),
        "is_admin": user.is_admin,
        "winners": await queries.winners_of([cycle.id]) if cycle.phase() == "announced" else [],
        "review": await winners.review(cycle) if user.is_admin else [],
        "errors": errors or {},
        "saved": saved or {},
        "entered": entered or {},
        "citation_max": winners.CITATION_MAX,
    }
    return await render(request, "pages/awards/cycle.html", context, status_code=status_code)


class AwardsAdminController(Controller):
    path = "/admin/awards"
    guards = [admin_only]

    async def _page(
        self,
        request: HTMXRequest,
        *,
        errors: Mapping[int | str, Mapping[str, str]] | None = None,
        entered: Mapping[int | str, CategoryForm | CalendarForm] | None = None,
        status_code: int = 200,
    ) -> Template:
        calendar = await get_calendar()
        context = {
            "categories": await categories.categories(active_only=False),
            "calendar": calendar,
            "figures": shortlist.FIGURES,
            "errors": errors or {},
            "entered": entered or {},
            "next_window": cycles.next_window(calendar),
        }
        return await render(request, "pages/admin/awards/index.html", context, status_code=status_code)

    @get("/", name="admin.awards")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/categories", name="admin.awards.create")
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, CategoryForm)
        try:
            await categories.save_category(user, form)
        except RuleViolation as exc:
            return await self._page(
                request, errors={"new": exc.errors}, entered={"new": form}, status_code=exc.status_code
            )
        return done(request, f"Category “{form.name.strip()}” created.", request.app.route_reverse("admin.awards"))

    @post("/categories/{category_id:int}", name="admin.awards.update")
    async def update(
        self, request: HTMXRequest, user: CurrentUser, category_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, CategoryForm)
        try:
            await categories.save_category(user, form, category_id)
        except RuleViolation as exc:
            if exc.status_code == 404:
                raise NotFoundException(exc.message) from exc
            return await self._page(
                request, errors={category_id: exc.errors}, entered={category_id: form}, status_code=exc.status_code
            )
        return done(request, f"Category “{form.name.strip()}” saved.", request.app.route_reverse("admin.awards"))

    @post("/calendar", name="admin.awards.calendar")
    async def calendar(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, CalendarForm)
        try:
            await update_calendar(user, form)
        except RuleViolation as exc:
            return await self._page(
                request, errors={"calendar": exc.errors}, entered={"calendar": form}, status_code=exc.status_code
            )
        return done(
            request,
            "The award calendar was saved; it applies from the next cycle.",
            request.app.route_reverse("admin.awards"),
        )
