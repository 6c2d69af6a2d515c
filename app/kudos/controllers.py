"""HTTP for giving kudos, add-ons, revokes, one kudos's page and the feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict, MultiDict
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.awards.services import recent_announcements
from app.kudos import allowance, services
from app.kudos.services import GiveForm
from app.paging import parse_id
from app.people.services import CurrentUser, search_directory
from app.rules import RuleViolation
from app.timeutil import month_of, now
from app.web.auth import admin_only
from app.web.templating import render, search_redirect, wants_fragment


def _ids(values: list[str]) -> list[int]:
    """Ids from form values; anything that is not an id becomes 0, which matches no one (and is refused)."""
    return [i for i in map(parse_id, values) if i is not None]


def give_form_from(data: MultiDict | FormMultiDict) -> GiveForm:
    """The give form's fields from a submitted form or a query string (the no-JS search keeps them in the URL)."""
    form = GiveForm(
        recipient_ids=_ids(data.getall("recipients", [])),
        message=str(data.get("message") or ""),
        value_ids=_ids(data.getall("values", [])),
        points=str(data.get("points") or ""),
        visibility=str(data.get("visibility") or "public"),
        request_id=parse_id(data.get("request")),
    )
    if key := str(data.get("idempotency_key") or "").strip():
        form.idempotency_key = key[:64]
    return form


async def give_context(
    user: CurrentUser,
    form: GiveForm,
    *,
    errors: Mapping[str, str] | None = None,
    query: str = "",
    box: bool = False,
    sent: dict | None = None,
) -> dict[str, Any]:
    """Everything the give form needs: the person's allowance, values, chosen people, search results, request."""
    remaining, budget = await allowance.remaining(user.id, month_of(now()))
    chosen = await services.people_by_id(form.recipient_ids)
    request = await services.request_for_thanks(form.request_id) if form.request_id else None
    return {
        "form": form,
        "errors": dict(errors or {}),
        "values": await services.company_values(),
        "policy": await allowance.get_policy(),
        "remaining": remaining,
        "budget": budget,
        "chosen": [chosen[i] for i in form.recipient_ids if i in chosen],
        "picker": await picker_context(user, query, form.recipient_ids),
        "linked_request": request,
        "box": box,
        "sent": sent,
    }


def thank_url(request_id: int) -> str:
    """Where "Thank now" leads: the give form with the request's resolvers chosen and the request linked."""
    return f"/kudos/new?request={request_id}"


async def feed_page(user: CurrentUser, show: str, cursor: str) -> services.FeedPage:
    """A page of the feed; the everyone feed also announces the award winners of its window (awards' part)."""
    page = await services.feed(user, scope=show, cursor=cursor or None)
    if page.scope != "all":
        return page
    since = page.since
    return services.merged(page, await recent_announcements(services.BADGES_PER_PAGE, page.before, since=since))


async def picker_context(user: CurrentUser, query: str, chosen_ids: list[int]) -> dict[str, Any]:
    query = query.strip()
    results = []
    if query:
        found = await search_directory(query, per_page=8)
        results = [p for p in found.people if p["id"] != user.id and p["id"] not in chosen_ids]
    return {"query": query, "results": results}


async def give_page(request: HTMXRequest) -> Template:
    """The full give page. Also the no-JS recipient search: the form's Find button GETs it with every field, and
    the page comes back with the input kept and the matches to tick. `?to=` and `?request=` prefill recipients."""
    user: CurrentUser = request.scope["user"]
    params = request.query_params
    form = give_form_from(params)
    if "to" in params:
        form.recipient_ids = list(dict.fromkeys([*form.recipient_ids, *_ids(params.getall("to"))]))
    if form.request_id and not form.recipient_ids:
        linked = await services.request_for_thanks(form.request_id)
        if linked is not None:
            form.recipient_ids = [r["id"] for r in linked["resolvers"] if r["id"] != user.id]
    context = await give_context(user, form, query=str(params.get("q") or ""))
    return await render(request, "pages/kudos/new.html", context)


class KudosController(Controller):
    path = "/kudos"

    @get("/new", name="give")
    async def new(self, request: HTMXRequest) -> Template:
        return await give_page(request)

    @post("/new", name="give.find")
    async def find(self, request: HTMXRequest) -> Redirect:
        """The give form's Find button without JavaScript: back to the give page with the search and input."""
        return await search_redirect(request, "/kudos/new")

    @get("/recipients", name="give.recipients")
    async def recipients(self, request: HTMXRequest, q: FromQuery[str] = "") -> Template:
        """The recipient picker's lists (chosen people and matches) for the as-you-type search; a plain visit
        gets the give page with the same search."""
        if not wants_fragment(request):
            return await give_page(request)
        user: CurrentUser = request.scope["user"]
        chosen_ids = _ids(request.query_params.getall("recipients", []))
        chosen = await services.people_by_id(chosen_ids)
        context = {
            "chosen": [chosen[i] for i in chosen_ids if i in chosen],
            "picker": await picker_context(user, q, chosen_ids),
        }
        return Template("fragments/kudos/picker_results.html", context=context, headers={"Vary": "HX-Request"})

    @post("/", name="give.post")
    async def give(self, request: HTMXRequest) -> Template | Redirect | ClientRedirect:
        user: CurrentUser = request.scope["user"]
        data = await request.form()
        form = give_form_from(data)
        box = data.get("box") == "1"
        try:
            given = await services.give_kudos(user, form)
        except RuleViolation as exc:
            context = await give_context(user, form, errors=exc.errors, box=box)
            return await render(
                request,
                "pages/kudos/new.html",
                context,
                fragment="fragments/kudos/give_form.html",
                status_code=exc.status_code,
            )
        names = ", ".join(given.names)
        if not wants_fragment(request):
            flash(request, f"Your kudos to {names} is on its way.", category="success")
            return Redirect("/" if box else f"/kudos/{given.kudos_id}", status_code=303)
        if not box:
            return ClientRedirect(f"/kudos/{given.kudos_id}")
        # The box on the home page: a fresh form, the new card on top of the feed, the header's allowance.
        context = await give_context(user, GiveForm(), box=True, sent={"id": given.kudos_id, "names": names})
        context["new_card"] = await services.get_kudos(user, given.kudos_id)
        context["header"] = {"remaining": context["remaining"], "budget": context["budget"]}
        return Template("fragments/kudos/given.html", context=context, headers={"Vary": "HX-Request"})

    @get("/{kudos_id:int}", name="kudos")
    async def detail(self, request: HTMXRequest, kudos_id: FromPath[int]) -> Template:
        user: CurrentUser = request.scope["user"]
        kudos = await services.get_kudos(user, kudos_id)
        if kudos is None:
            raise NotFoundException("There is no kudos here you can see.")
        context = {"kudos": kudos, "errors": {}, "addon": {"comment": "", "points": ""}}
        return await render(request, "pages/kudos/detail.html", context)

    @post("/{kudos_id:int}/addons", name="kudos.addon")
    async def add_on(self, request: HTMXRequest, kudos_id: FromPath[int]) -> Template | Redirect:
        user: CurrentUser = request.scope["user"]
        data = await request.form()
        entered = {"comment": str(data.get("comment") or ""), "points": str(data.get("points") or "")}
        try:
            await services.add_on(user, kudos_id, comment=entered["comment"], points=entered["points"])
        except RuleViolation as exc:
            kudos = await services.get_kudos(user, kudos_id)
            if kudos is None:
                raise NotFoundException("There is no kudos here you can see.") from exc
            return await render(
                request,
                "pages/kudos/detail.html",
                {"kudos": kudos, "errors": exc.errors, "addon": entered},
                fragment="fragments/kudos/addons.html",
                status_code=exc.status_code,
            )
        if not wants_fragment(request):
            flash(request, "Your +1 was added.", category="success")
            return Redirect(f"/kudos/{kudos_id}", status_code=303)
        kudos = await services.get_kudos(user, kudos_id)
        remaining, budget = await allowance.remaining(user.id, month_of(now()))
        return Template(
            "fragments/kudos/addons.html",
            context={
                "kudos": kudos,
                "errors": {},
                "addon": {"comment": "", "points": ""},
                "header": {"remaining": remaining, "budget": budget},
                "oob_allowance": True,
            },
            headers={"Vary": "HX-Request"},
        )

    @post("/{kudos_id:int}/revoke", name="kudos.revoke", guards=[admin_only])
    async def revoke(self, request: HTMXRequest, kudos_id: FromPath[int]) -> Template | Redirect:
        user: CurrentUser = request.scope["user"]
        data = await request.form()
        reason = str(data.get("reason") or "")
        try:
            await services.revoke(user, kudos_id, reason=reason)
        except RuleViolation as exc:
            kudos = await services.get_kudos(user, kudos_id)
            if kudos is None:
                raise NotFoundException(exc.message) from exc
            return await render(
                request,
                "pages/kudos/detail.html",
                {"kudos": kudos, "errors": exc.errors, "addon": {"comment": "", "points": ""}, "reason": reason},
                status_code=exc.status_code,
            )
        flash(request, "The kudos was revoked and its points reversed.", category="success")
        return Redirect(f"/kudos/{kudos_id}", status_code=303)


class FeedController(Controller):
    path = "/feed"

    @get("/", name="feed")
    async def feed(
        self,
        request: HTMXRequest,
        show: FromQuery[str] = "all",
        cursor: FromQuery[str] = "",
        home: FromQuery[bool] = False,
    ) -> Template:
        """The feed page; its fragment serves the tabs and "load more" (`home` keeps the tabs' links on `/`)."""
        user: CurrentUser = request.scope["user"]
        context = {"feed": await feed_page(user, show, cursor), "on_home": home}
        return await render(request, "pages/kudos/feed.html", context, fragment="fragments/kudos/feed.html")
