"""HTTP for the admin pages of the integrations: API tokens (`/admin/tokens`) and webhooks (`/admin/webhooks`).

Plain forms, one full page each: a token or a webhook secret is shown once, on the page that answers its creation
(201); other changes answer 303 with a flash message, refusals the page with the message (4xx), nothing changed.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from app.api import tokens, webhooks
from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.web.auth import admin_only
from app.web.security import NO_STORE
from app.web.templating import render


class TokenAdminController(Controller):
    path = "/admin/tokens"
    guards = [admin_only]

    async def _page(self, request: HTMXRequest, status_code: int = 200, **context: Any) -> Template:
        base = {
            "tokens": await tokens.list_tokens(),
            "scopes": tokens.SCOPES,
            "errors": {},
            "form": {"name": "", "scopes": [], "rate_limit": tokens.DEFAULT_RATE_LIMIT},
        }
        return await render(request, "pages/admin/tokens/index.html", base | context, status_code=status_code)

    @get("/", name="admin.tokens")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/", name="admin.tokens.create", status_code=HTTP_201_CREATED, cache_control=NO_STORE)
    async def create(self, request: HTMXRequest) -> Template:
        user: CurrentUser = request.scope["user"]
        data = await request.form()
        form = {"name": data.get("name", ""), "scopes": data.getall("scopes", []), "rate_limit": data.get("rate_limit")}
        try:
            token_id, token = await tokens.create_token(user, **form)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors=exc.errors, form=form)
        return await self._page(request, HTTP_201_CREATED, created={"id": token_id, "token": token})

    @post("/{token_id:int}/revoke", name="admin.tokens.revoke")
    async def revoke(self, request: HTMXRequest, token_id: FromPath[int]) -> Template | Redirect:
        try:
            name = await tokens.revoke_token(request.scope["user"], token_id)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, refused=exc.message)
        flash(request, f"The token “{name}” was revoked; it no longer works.", category="success")
        return Redirect("/admin/tokens", status_code=303)


class WebhookAdminController(Controller):
    path = "/admin/webhooks"
    guards = [admin_only]

    async def _page(self, request: HTMXRequest, status_code: int = 200, **context: Any) -> Template:
        base = {
            "webhooks": await webhooks.list_webhooks(),
            "deliveries": await webhooks.recent_deliveries(),
            "events": webhooks.EVENTS,
            "max_attempts": webhooks.MAX_ATTEMPTS,
            "errors": {},
            "form": {"name": "", "url": "", "events": []},
        }
        return await render(request, "pages/admin/webhooks/index.html", base | context, status_code=status_code)

    @get("/", name="admin.webhooks")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/", name="admin.webhooks.create", status_code=HTTP_201_CREATED, cache_control=NO_STORE)
    async def create(self, request: HTMXRequest) -> Template:
        user: CurrentUser = request.scope["user"]
        data = await request.form()
        form = {"name": data.get("name", ""), "url": data.get("url", ""), "events": data.getall("events", [])}
        try:
            webhook_id, secret = await webhooks.register(user, **form)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors=exc.errors, form=form)
        return await self._page(request, HTTP_201_CREATED, created={"id": webhook_id, "secret": secret})

    @post("/{webhook_id:int}/remove", name="admin.webhooks.remove")
    async def remove(self, request: HTMXRequest, webhook_id: FromPath[int]) -> Template | Redirect:
        try:
            name = await webhooks.remove(request.scope["user"], webhook_id)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, refused=exc.message)
        flash(request, f"The webhook “{name}” was removed; nothing more is sent to it.", category="success")
        return Redirect("/admin/webhooks", status_code=303)
