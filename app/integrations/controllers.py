"""HTTP for the chat integrations: Slack's slash command and interactivity endpoints, the Teams outgoing webhook
(all public and exempt from CSRF: each request is verified by its signature instead, app/main.py), and the admin
page `/admin/integrations`.

Slack wants an answer within three seconds: a give that takes longer is answered “working on it” at
SLACK_BUDGET and handed to the worker (a delivery row: app/integrations/deliveries.py), which gives it and answers
at the command's `response_url`; posts to channels and direct messages always go through the worker
(app/integrations/handlers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from app.integrations import config, deliveries, slack, slack_api, teams
from app.integrations.commands import part
from app.mail.links import absolute_url
from app.rules import RuleViolation
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.edge import NUL, NUL_MESSAGE
from app.web.forms import read_form
from app.web.templating import done, render

SLACK_BUDGET = 2.5  # seconds: Slack gives up on an answer after 3


def _has_nul(value: object) -> bool:
    """Whether decoded JSON holds a NUL in any text (JSON writes it `\\u0000`, which the form check cannot see):
    PostgreSQL text cannot hold one. A loop, not recursion: JSON may nest as deep as its parser allowed."""
    waiting = [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str) and NUL in item:
            return True
        if isinstance(item, dict):
            waiting += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            waiting += item
    return False


def _ephemeral(text: str) -> Response[dict[str, str]]:
    return Response({"response_type": "ephemeral", "text": text}, status_code=HTTP_200_OK)


class SlackController(Controller):
    path = "/integrations/slack"
    opt = {"public": True}

    async def _verified(self, request: Request[Any, Any, Any]) -> slack.Request | Response[dict[str, str]]:
        try:
            return await slack.verify(await request.body(), request.headers)
        except slack.Unverified as exc:
            return Response({"error": str(exc)}, status_code=401)

    @post("/commands", name="slack.commands", status_code=HTTP_200_OK)
    async def command(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        verified = await self._verified(request)
        if isinstance(verified, Response):
            return verified
        if slack.is_bare(verified):
            try:
                await slack.open_modal(verified)
            except slack_api.SlackError as exc:
                return _ephemeral(f"Slack would not open the give form ({exc.code}); try again in a moment.")
            return Response({}, status_code=HTTP_200_OK)
        task = asyncio.create_task(slack.answer_command(verified))
        done_in_time, _ = await asyncio.wait({task}, timeout=SLACK_BUDGET)
        if done_in_time:
            return _ephemeral(task.result())
        task.cancel()  # its transaction rolls back; the worker gives it (the same idempotency key) and answers
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not task.cancelled():  # it finished just as time ran out
            return _ephemeral(task.result())
        await deliveries.defer_command(verified.fields)
        return _ephemeral("Kudos is working on it; the answer follows in a moment.")

    @post("/interactivity", name="slack.interactivity", status_code=HTTP_200_OK)
    async def interactivity(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        verified = await self._verified(request)
        if isinstance(verified, Response):
            return verified
        payload = slack.payload_of(verified)
        if payload.get("type") != "view_submission" or part(payload, "view").get("callback_id") != slack.MODAL_CALLBACK:
            return Response({}, status_code=HTTP_200_OK)  # other interactions: nothing to do
        if _has_nul(payload):
            return Response({"response_action": "errors", "errors": {"message": NUL_MESSAGE}}, status_code=HTTP_200_OK)
        try:
            await slack.submit_modal(verified, payload)
        except RuleViolation as exc:
            return Response({"response_action": "errors", "errors": slack.field_errors(exc)}, status_code=HTTP_200_OK)
        except (slack.NotAGiver, slack_api.SlackError) as exc:
            message = str(exc) if isinstance(exc, slack.NotAGiver) else f"Slack did not answer ({exc.code})."
            return Response({"response_action": "errors", "errors": {"recipients": message}}, status_code=HTTP_200_OK)
        return Response({"response_action": "clear"}, status_code=HTTP_200_OK)


class TeamsController(Controller):
    path = "/integrations/teams"
    opt = {"public": True}

    @post("/outgoing", name="teams.outgoing", status_code=HTTP_200_OK)
    async def outgoing(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        body = await request.body()
        try:
            await teams.verify(body, request.headers.get("authorization", ""))
        except teams.Unverified as exc:
            return Response({"error": str(exc)}, status_code=401)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
            payload = None
        if not isinstance(payload, dict):
            return Response({"type": "message", "text": "Kudos could not read that message."}, status_code=400)
        if _has_nul(payload):
            return Response({"type": "message", "text": NUL_MESSAGE}, status_code=400)
        try:
            given = await teams.give(teams.read(payload))
        except RuleViolation as exc:
            text = teams.markdown_escape("Kudos could not give that: " + " ".join(exc.errors.values()))
        except teams.Unmatched as exc:
            text = teams.markdown_escape(str(exc))
        else:
            url = absolute_url("kudos", kudos_id=given.kudos_id)
            text = f"Thanked {teams.markdown_escape(', '.join(given.names))}. [View kudos]({url})"
        return Response({"type": "message", "text": text})


class SlackForm(msgspec.Struct, frozen=True):
    signing_secret: str = ""
    bot_token: str = ""
    channel: str = ""


class TeamsTokenForm(msgspec.Struct, frozen=True):
    token: str = ""


class TeamsChannelForm(msgspec.Struct, frozen=True):
    name: str = ""
    url: str = ""


class IntegrationsAdminController(Controller):
    """`/admin/integrations`: Slack's and Teams' settings (secrets shown as set or not set, never their values) and
    the recent chat deliveries (also as an HTMX fragment, for a refresh)."""

    path = "/admin/integrations"
    guards = [admin_only]

    async def _page(self, request: HTMXRequest, status_code: int = 200, **context: Any) -> Template:
        base = {
            "settings": await config.overview(),
            "deliveries": await deliveries.recent(),
            "endpoints": {
                "commands": absolute_url("slack.commands"),
                "interactivity": absolute_url("slack.interactivity"),
                "teams": absolute_url("teams.outgoing"),
            },
            "errors": {},
            "form": {},
        }
        return await render(
            request,
            "pages/admin/integrations/index.html",
            base | context,
            fragment="fragments/integrations/deliveries.html",
            status_code=status_code,
        )

    @get("/", name="admin.integrations")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._page(request)

    async def _saved(self, request: HTMXRequest, message: str) -> Redirect | ClientRedirect:
        return done(request, message, request.app.route_reverse("admin.integrations"))

    @post("/slack", name="admin.integrations.slack")
    async def slack(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, SlackForm)
        try:
            await config.save_slack(
                user, signing_secret=form.signing_secret, bot_token=form.bot_token, channel=form.channel
            )
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors={"slack": exc.errors}, form={"slack": form})
        return await self._saved(request, "The Slack settings were saved.")

    @post("/teams/token", name="admin.integrations.teams_token")
    async def teams_token(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, TeamsTokenForm)
        try:
            await config.save_teams_token(user, token=form.token)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, errors={"teams_token": exc.errors})
        return await self._saved(request, "The Teams security token was saved.")

    @post("/teams/channels", name="admin.integrations.teams_channels")
    async def add_channel(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, TeamsChannelForm)
        try:
            await config.add_teams_channel(user, name=form.name, url=form.url)
        except RuleViolation as exc:
            return await self._page(
                request, exc.status_code, errors={"teams_channel": exc.errors}, form={"teams_channel": form}
            )
        return await self._saved(request, f"Kudos now posts to the Teams channel “{' '.join(form.name.split())}”.")

    @post("/teams/channels/{channel_id:int}/remove", name="admin.integrations.teams_channels.remove")
    async def remove_channel(
        self, request: HTMXRequest, user: CurrentUser, channel_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        try:
            name = await config.remove_teams_channel(user, channel_id)
        except RuleViolation as exc:
            return await self._page(request, exc.status_code, refused=exc.message)
        return await self._saved(request, f"Kudos no longer posts to the Teams channel “{name}”.")
