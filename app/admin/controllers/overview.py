"""The admin landing page: the organisation's figures, the health of its services and the set-up."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.health import check_health
from app.people.services import organisation_counts
from app.settings import get_settings
from app.web.auth import admin_only
from app.web.templating import render


class AdminController(Controller):
    path = "/admin"
    guards = [admin_only]

    @get("/", name="admin")
    async def index(self, request: HTMXRequest, state: State) -> Template:
        settings = get_settings()
        return await render(
            request,
            "pages/admin/index.html",
            {
                "counts": await organisation_counts(),
                "health": await check_health(state.redis),
                "mail_backend": settings.mail_backend,
                "timezone": settings.timezone,
            },
        )
