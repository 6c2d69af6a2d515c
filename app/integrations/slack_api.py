"""Slack's Web API, the few methods Kudos calls (users.info, users.lookupByEmail, views.open, chat.postMessage).

Requests go to `API_URL` (tests point it at a loopback recorder) with the bot token, form-encoded as Slack's
`slack_sdk` sends them; an answer that is not `ok` raises `SlackError` with Slack's error code. httpx, the app's
HTTP client, carries them (slack_sdk's AsyncWebClient would bring aiohttp as a second one).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

API_URL = "https://slack.com/api/"
TIMEOUT_SECONDS = 5.0


class SlackError(Exception):
    """Slack refused a call; `code` is its error (`users_not_found`, `invalid_auth`, `ratelimited`, …)."""

    @property
    def code(self) -> str:
        return str(self.args[0])


async def call(token: str, method: str, **arguments: Any) -> dict[str, Any]:
    """Call a Web API method; lists and dicts (blocks, views) are sent as JSON text, as Slack reads them."""
    data = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in arguments.items()}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(API_URL + method, data=data, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise SlackError(type(exc).__name__) from exc
    if response.status_code == 429:
        raise SlackError("ratelimited")
    try:
        answer: dict[str, Any] = response.json()
    except ValueError as exc:
        raise SlackError(f"HTTP {response.status_code}") from exc
    if not answer.get("ok"):
        raise SlackError(str(answer.get("error") or f"HTTP {response.status_code}"))
    return answer


async def email_of(token: str, user_id: str) -> str | None:
    """The email on a Slack user's profile (None when Slack shows none: a bot, or no `users:read.email` scope)."""
    answer = await call(token, "users.info", user=user_id)
    email = answer.get("user", {}).get("profile", {}).get("email")
    return str(email) if email else None


async def user_by_email(token: str, email: str) -> str | None:
    """The Slack user id for an email (None when no one in the workspace has it)."""
    try:
        answer = await call(token, "users.lookupByEmail", email=email)
    except SlackError as exc:
        if exc.code == "users_not_found":
            return None
        raise
    return str(answer["user"]["id"])
