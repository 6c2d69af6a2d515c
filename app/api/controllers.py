"""HTTP for the admin pages of the integrations: API tokens (`/admin/tokens`) and webhooks (`/admin/webhooks`).

Plain forms, one full page each: a token or a webhook secret is shown once, on the page that answers its creation
(201); other changes answer 303 with a flash message, refusals the page with the message (4xx), nothing changed.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from app.api import tokens, webhooks
from app.rules import RuleViolation
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.security import NO_STORE
from app.web.templating import done, render


class TokenForm(msgspec.Struct, frozen=True):
    name: str = ""
    scopes: list[str] = []
    rate_limit: str = ""


class WebhookForm(msgspec.Struct, frozen=True):
    name: str = ""
    url: str = ""
    events: list[str] = []


class TokenAdminController(Controller):
    path = "/admin/tokens"
    guards = [admin_only]

    async def _page(self, request: HTMXRequest, status_code: int = 200, **context: Any) -> Template:
        base = {
            "tokens": await tokens.list_tokens(),
            "scopes": tokens.SCOPES,
            "errors": {},
            "form": TokenForm(rate_limit=str(tokens.DEFAULT_RATE_LIMIT)),
        }
        return await render(request, "pages/admin/tokens/index.html", base | context, status_code=status_code)

    @get("/", name="admin.tokens")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/", name="admin.tokens.create", status_code=HTTP_201_CREATED, cache_control=NO_STORE)
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template:
        form = await read_form(request, TokenForm)
        try:
            token_id, token = await tokens.create_token(
                user, name=form.name, scopes=form.scopes, rate_limit=form.rate_limit
            )
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors=exc.errors, form=form)
        return await self._page(request, HTTP_201_CREATED, created={"id": token_id, "token": token})

    @post("/{token_id:int}/revoke", name="admin.tokens.revoke")
    async def revoke(
        self, request: HTMXRequest, user: CurrentUser, token_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        try:
            name = await tokens.revoke_token(user, token_id)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, refused=exc.message)
        message = f"The token “{name}” was revoked; it no longer works."
        return done(request, message, request.app.route_reverse("admin.tokens"))


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
            "form": WebhookForm(),
        }
        return await render(request, "pages/admin/webhooks/index.html", base | context, status_code=status_code)

    @get("/", name="admin.webhooks")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    @post("/", name="admin.webhooks.create", status_code=HTTP_201_CREATED, cache_control=NO_STORE)
    async def create(self, request: HTMXRequest, user: CurrentUser) -> Template:
        form = await read_form(request, WebhookForm)
        try:
            webhook_id, secret = await webhooks.register(user, name=form.name, url=form.url, events=form.events)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors=exc.errors, form=form)
        return await self._page(request, HTTP_201_CREATED, created={"id": webhook_id, "secret": secret})

    @post("/{webhook_id:int}/remove", name="admin.webhooks.remove")
    async def remove(
        self, request: HTMXRequest, user: CurrentUser, webhook_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        try:
            name = await webhooks.remove(user, webhook_id)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, refused=exc.message)
        message = f"The webhook “{name}” was removed; nothing more is sent to it."
        return done(request, message, request.app.route_reverse("admin.webhooks"))
