"""Site-wide pages that belong to no single domain: home and the health check."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.health import check_health
from app.kudos.controllers import feed_page, give_context
from app.kudos.forms import GiveForm
from app.requests.queries import completed_not_thanked
from app.web.deps import CurrentUser
from app.web.header import header_for
from app.web.templating import render


@get("/", name="home")
async def home(
    request: HTMXRequest, user: CurrentUser, show: FromQuery[str] = "all", cursor: FromQuery[str] = ""
) -> Template:
    """The give box with the allowance, "thank now" prompts for my completed requests, and the feed."""
    header = await header_for(user)  # the give box shows the same points left as the header
    context = await give_context(user, GiveForm(), box=True, left=(header.remaining, header.budget))
    context.update(
        header=header,
        user=user,
        feed=await feed_page(user, show, cursor),
        thank_now=await completed_not_thanked(user.id),
        on_home=True,
    )
    return await render(request, "pages/home.html", context)


@get("/healthz", name="healthz", opt={"public": True})
async def healthz(state: State) -> Response[Any]:
    report = await check_health(state.redis)
    return Response(report, status_code=200 if report.ok else 503, headers={"Cache-Control": "no-store"})
