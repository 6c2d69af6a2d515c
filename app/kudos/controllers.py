"""HTTP for giving kudos, add-ons, revokes, one kudos's page and the feed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.awards.queries import recent_announcements
from app.kudos import allowance, changes, giving
from app.kudos.feed import BADGES_PER_PAGE, FeedPage, card, feed, get_kudos, merged
from app.kudos.forms import Choices, GiveForm
from app.paging import parse_id
from app.people.services import DirectoryPerson, search_directory
from app.rules import RuleViolation
from app.timeutil import month_of, now
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form, read_query
from app.web.header import PointsLeft
from app.web.templating import done, render, search_redirect, wants_fragment

NO_SUCH_KUDOS = "There is no kudos here you can see."


def _ids(values: list[str]) -> list[int]:
    """Ids from form values; anything that is not an id becomes 0, which matches no one (and is refused)."""
    return [i for i in map(parse_id, values) if i is not None]


class GiveFields(msgspec.Struct, frozen=True):
    """The give form's fields, posted or in a query string (the no-JS search keeps them in the URL); `to` prefills
    recipients from links, `box` says the form is the home page's box, `q` is the recipient search."""

    recipients: list[str] = []
    message: str = ""
    values: list[str] = []
    points: str = ""
    visibility: str = ""
    request: str = ""
    idempotency_key: str = ""
    box: str = ""
    q: str = ""
    to: list[str] = []

    @property
    def recipient_ids(self) -> list[int]:
        return _ids(self.recipients)

    @property
    def request_id(self) -> int | None:
        return parse_id(self.request)

    @property
    def in_box(self) -> bool:
        return self.box == "1"

    def give_form(self, recipient_ids: list[int] | None = None) -> GiveForm:
        """The form as the service takes it; `recipient_ids` replaces the ticked recipients."""
        form = GiveForm(
            recipient_ids=self.recipient_ids if recipient_ids is None else recipient_ids,
            message=self.message,
            value_ids=_ids(self.values),
            points=self.points,
            visibility=self.visibility or "public",
            request_id=self.request_id,
        )
        if key := self.idempotency_key.strip():
            form.idempotency_key = key[:64]
        return form


class AddOnFields(msgspec.Struct, frozen=True):
    comment: str = ""
    points: str = ""


class RevokeFields(msgspec.Struct, frozen=True):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Picker:
    """The recipient search: what was typed and the people found (not the giver, not those already chosen)."""

    query: str
    results: list[DirectoryPerson]


@dataclass(frozen=True, slots=True)
class Sent:
    """The kudos just given from the home box, for the notice with its link."""

    kudos_id: int
    names: str


async def give_context(
    user: CurrentUser,
    form: GiveForm,
    *,
    errors: Mapping[str, str] | None = None,
    query: str = "",
    box: bool = False,
    sent: Sent | None = None,
    left: tuple[int, int] | None = None,
    choices: Choices | None = None,
) -> dict[str, Any]:
    """Everything the give form needs: the person's allowance ((remaining, budget) when the caller knows it),
    values and policy (`choices`, when the caller has them), chosen people, search results, request."""
    remaining, budget = left or await allowance.remaining(user.id, month_of(now()))
    choices = choices or await giving.form_choices()
    chosen = await giving.people_by_id(form.recipient_ids)
    request = await giving.request_for_thanks(form.request_id) if form.request_id else None
    return {
        "form": form,
        "errors": dict(errors or {}),
        "values": choices.values,
        "policy": choices.policy,
        "remaining": remaining,
        "budget": budget,
        "chosen": [chosen[i] for i in form.recipient_ids if i in chosen],
        "picker": await picker_for(user, query, form.recipient_ids),
        "linked_request": request,
        "box": box,
        "sent": sent,
    }


async def feed_page(user: CurrentUser, show: str, cursor: str) -> FeedPage:
    """A page of the feed; the everyone feed also announces the award winners of its window (awards' part)."""
    page = await feed(user, scope=show, cursor=cursor or None)
    if page.scope != "all":
        return page
    since = page.since
    return merged(page, await recent_announcements(BADGES_PER_PAGE, page.before, since=since))


async def picker_for(user: CurrentUser, query: str, chosen_ids: list[int]) -> Picker:
    query = query.strip()
    results = []
    if query:
        found = await search_directory(query, per_page=8)
        results = [p for p in found.people if p.id != user.id and p.id not in chosen_ids]
    return Picker(query=query, results=results)


async def give_page(request: HTMXRequest, user: CurrentUser) -> Template:
    """The full give page. Also the no-JS recipient search: the form's Find button GETs it with every field, and
    the page comes back with the input kept and the matches to tick. `?to=` and `?request=` prefill recipients."""
    fields = read_query(request, GiveFields)
    recipient_ids = list(dict.fromkeys([*fields.recipient_ids, *_ids(fields.to)]))
    if fields.request_id and not recipient_ids:
        linked = await giving.request_for_thanks(fields.request_id)
        if linked is not None:
            recipient_ids = [r.id for r in linked.resolvers if r.id != user.id]
    context = await give_context(user, fields.give_form(recipient_ids), query=fields.q)
    return await render(request, "pages/kudos/new.html", context)


class KudosController(Controller):
    path = "/kudos"

    @get("/new", name="give")
    async def new(self, request: HTMXRequest, user: CurrentUser) -> Template:
        return await give_page(request, user)

    @post("/new", name="give.find")
    async def find(self, request: HTMXRequest) -> Redirect:
        """The give form's Find button without JavaScript: back to the give page with the search and input."""
        return await search_redirect(request, request.app.route_reverse("give"))

    @get("/recipients", name="give.recipients")
    async def recipients(self, request: HTMXRequest, user: CurrentUser) -> Template:
        """The recipient picker's lists (chosen people and matches) for the as-you-type search; a plain visit
        gets the give page with the same search."""
        if not wants_fragment(request):
            return await give_page(request, user)
        fields = read_query(request, GiveFields)
        chosen_ids = fields.recipient_ids
        chosen = await giving.people_by_id(chosen_ids)
        context = {
            "chosen": [chosen[i] for i in chosen_ids if i in chosen],
            "picker": await picker_for(user, fields.q, chosen_ids),
        }
        return Template("fragments/kudos/picker_results.html", context=context)

    @post("/", name="give.post")
    async def give(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        fields = await read_form(request, GiveFields)
        form = fields.give_form()
        try:
            given = await giving.give_kudos(user, form)
        except RuleViolation as exc:
            context = await give_context(user, form, errors=exc.errors, box=fields.in_box)
            return await render(
                request,
                "pages/kudos/new.html",
                context,
                fragment="fragments/kudos/give_form.html",
                status_code=exc.status_code,
            )
        names = ", ".join(given.names)
        kudos_url = request.app.route_reverse("kudos", kudos_id=given.kudos_id)
        if not wants_fragment(request):
            home_url = request.app.route_reverse("home")
            return done(request, f"Your kudos to {names} is on its way.", home_url if fields.in_box else kudos_url)
        if not fields.in_box:
            return ClientRedirect(kudos_url)
        # The box on the home page: a fresh form, the new card on top of the feed, the header's allowance.
        sent = Sent(kudos_id=given.kudos_id, names=names)
        left = (given.remaining, given.budget)
        context = await give_context(user, GiveForm(), box=True, sent=sent, left=left, choices=given.choices)
        context["new_card"] = await card(given.kudos_id)
        context["header"] = PointsLeft(remaining=context["remaining"], budget=context["budget"])
        return Template("fragments/kudos/given.html", context=context)

    @get("/{kudos_id:int}", name="kudos")
    async def detail(self, request: HTMXRequest, user: CurrentUser, kudos_id: FromPath[int]) -> Template:
        kudos = await get_kudos(user, kudos_id)
        if kudos is None:
            raise NotFoundException(NO_SUCH_KUDOS)
        context = {"kudos": kudos, "errors": {}, "addon": AddOnFields()}
        return await render(request, "pages/kudos/detail.html", context)

    @post("/{kudos_id:int}/addons", name="kudos.addon")
    async def add_on(
        self, request: HTMXRequest, user: CurrentUser, kudos_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        entered = await read_form(request, AddOnFields)
        try:
            await changes.add_on(user, kudos_id, comment=entered.comment, points=entered.points)
        except RuleViolation as exc:
            kudos = await get_kudos(user, kudos_id)
            if kudos is None:
                raise NotFoundException(NO_SUCH_KUDOS) from exc
            return await render(
                request,
                "pages/kudos/detail.html",
                {"kudos": kudos, "errors": exc.errors, "addon": entered},
                fragment="fragments/kudos/addons.html",
                status_code=exc.status_code,
            )
        if not wants_fragment(request):
            return done(request, "Your +1 was added.", request.app.route_reverse("kudos", kudos_id=kudos_id))
        context: dict[str, Any] = {
            "kudos": await get_kudos(user, kudos_id),
            "errors": {},
            "addon": AddOnFields(),
            "header": PointsLeft(*await allowance.remaining(user.id, month_of(now()))),
            "oob_allowance": True,
        }
        return Template("fragments/kudos/addons.html", context=context)

    @post("/{kudos_id:int}/revoke", name="kudos.revoke", guards=[admin_only])
    async def revoke(
        self, request: HTMXRequest, user: CurrentUser, kudos_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        entered = await read_form(request, RevokeFields)
        try:
            await changes.revoke(user, kudos_id, reason=entered.reason)
        except RuleViolation as exc:
            kudos = await get_kudos(user, kudos_id)
            if kudos is None:
                raise NotFoundException(exc.message) from exc
            context = {"kudos": kudos, "errors": exc.errors, "addon": AddOnFields(), "reason": entered.reason}
            return await render(request, "pages/kudos/detail.html", context, status_code=exc.status_code)
        message = "The kudos was revoked and its points reversed."
        return done(request, message, request.app.route_reverse("kudos", kudos_id=kudos_id))


class FeedController(Controller):
    path = "/feed"

    @get("/", name="feed")
    async def feed(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        show: FromQuery[str] = "all",
        cursor: FromQuery[str] = "",
        home: FromQuery[bool] = False,
    ) -> Template:
        """The feed page; its fragment serves the tabs and "load more" (`home` keeps the tabs' links on `/`)."""
        context = {"feed": await feed_page(user, show, cursor), "on_home": home}
        return await render(request, "pages/kudos/feed.html", context, fragment="fragments/kudos/feed.html")
