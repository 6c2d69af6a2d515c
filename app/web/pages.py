"""Site-wide pages that belong to no single domain: home and the health check."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.people import services
from app.web.health import check_health
from app.web.templating import render


@get("/", name="home")
async def home(request: HTMXRequest) -> Template:
    user = request.scope["user"]
    profile = await services.get_profile(user.id)
    return await render(request, "pages/home.html", {"profile": profile})


@get("/healthz", name="healthz", opt={"public": True})
async def healthz(state: State) -> Response:
    report = await check_health(state.redis)
    return Response(report, status_code=200 if report["ok"] else 503, headers={"Cache-Control": "no-store"})
