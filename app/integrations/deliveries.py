"""Messages to Slack and Teams as deliveries: a row per message (app/integrations/tables.py `ChatDelivery`),
recorded in the transaction of the event handler that decided it, sent by the worker's `deliver_chat` job, retried
with backoff and swept when its job was lost — the rules, timings and backoff of the outgoing webhooks
(app/api/webhooks.py), which this module reuses. A `/kudos` command too slow for Slack's three seconds is one too
(`defer_command`): the worker gives it, with the command's own idempotency key, and answers at its response_url.

An attempt claims its row with one conditional UPDATE (due, waiting, and not held by another attempt: it moves
`next_attempt_at` a lease ahead), so two jobs for one row never both send it; `sweep()` hands rows overdue by
SWEEP_GRACE to new jobs. Only an attempt in flight at a crash can be sent twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

import app.db as db
from app.api import egress
from app.api.tables import DeliveryStatus
from app.api.webhooks import (
    LEASE,
    MAX_ATTEMPTS,
    SWEEP_GRACE,
    TIMEOUT_SECONDS,
    WAITING,
    Attempt,
    finish,
    sweep_table,
    unclaimed,
)
from app.integrations import config, slack, slack_api
from app.integrations.tables import ChatDelivery, ChatKind
from app.jobs.outbox import add_job
from app.sealed import unseal
from app.timeutil import now

JOB = "deliver_chat"
SHOWN = 50
RESPONSE_URL_HOST = "hooks.slack.com"  # where Slack's response_urls point; nowhere else gets a command's answer
COMMAND_FIELDS = ("text", "user_id", "trigger_id", "team_id")  # what giving a command needs (its response_url aside)
PERMANENT = {"users_not_found", "user_not_found", "channel_not_found", "is_archived", "account_inactive"}


async def record(
    kind: ChatKind,
    event: str,
    body: dict[str, Any],
    *,
    target: str = "",
    teams_channel: int | None = None,
    at: datetime | None = None,
) -> int:
    """Record one message to send (inside the deciding transaction) and enqueue its job through the outbox."""
    moment = at or now()
    rows = await ChatDelivery.insert(
        ChatDelivery(
            kind=kind,
            target=target,
            teams_channel=teams_channel,
            event=event,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            created_at=moment,
            next_attempt_at=moment,
        )
    ).returning(ChatDelivery.id)
    await add_job(JOB, delivery_id=rows[0]["id"])
    return int(rows[0]["id"])


_CLAIM_SQL = """
UPDATE chat_delivery d SET next_attempt_at = {}
WHERE d.id = {} AND d.status = ANY({}) AND coalesce(d.next_attempt_at, d.created_at) <= {}
RETURNING d.id, d.kind, d.target, d.body, d.attempts,
          (SELECT t.url FROM teams_channel t WHERE t.id = d.teams_channel AND t.removed_at IS NULL) AS teams_url
"""


class _Failed(Exception):
    """An attempt failed; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


async def _send_slack(row: dict[str, Any], body: dict[str, Any]) -> None:
    token = (await config.load()).slack_bot_token
    if not token:
        raise _Failed("Slack is no longer connected (no bot token).", permanent=True)
    try:
        channel = row["target"]
        if row["kind"] == ChatKind.SLACK_DM:
            found = await slack_api.user_by_email(token, row["target"])
            if found is None:
                raise _Failed("No one in the Slack workspace has this person's email.", permanent=True)
            channel = found
        await slack_api.call(token, "chat.postMessage", channel=channel, unfurl_links="false", **body)
    except slack_api.SlackError as exc:
        raise _Failed(f"Slack: {exc.code}", permanent=exc.code in PERMANENT) from exc


async def _run_command(row: dict[str, Any], fields: dict[str, str]) -> None:
    """A slow /kudos: give it (the same idempotency key as the web request that gave up) and answer the person."""
    if httpx.URL(row["target"]).host != RESPONSE_URL_HOST:
        raise _Failed(f"The command's response_url is not on {RESPONSE_URL_HOST}.", permanent=True)
    settings = await config.load()
    text = await slack.answer_command(slack.Request(fields=fields, config=settings))
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(row["target"], json={"response_type": "ephemeral", "text": text})
    except httpx.HTTPError as exc:
        raise _Failed(type(exc).__name__) from exc
    if not 200 <= response.status_code < 300:
        raise _Failed(f"HTTP {response.status_code}")


async def defer_command(fields: dict[str, str]) -> int:
    """Hand a /kudos that Slack's 3 seconds are too short for to the worker; the delivery's id."""
    kept = {name: fields.get(name, "") for name in COMMAND_FIELDS}
    async with db.transaction():
        return await record(ChatKind.SLACK_COMMAND, "slack.command", kept, target=fields.get("response_url", ""))


async def _send_teams(row: dict[str, Any], content: bytes) -> None:
    url = unseal(row["teams_url"] or "")
    if not url:
        raise _Failed("The Teams channel was removed, or its URL must be pasted again.", permanent=True)
    headers = {"Content-Type": "application/json", "User-Agent": "Kudos-Chat/1"}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await egress.post(client, url, content=content, headers=headers)
    except egress.Refused as exc:
        raise _Failed(f"Not sent: {exc.message}") from exc
    except httpx.HTTPError as exc:
        raise _Failed(type(exc).__name__) from exc
    if not 200 <= response.status_code < 300:
        code = response.status_code
        raise _Failed(f"HTTP {code} {httpx.codes.get_reason_phrase(code)}".strip())


async def deliver(delivery_id: int) -> Attempt:
    """One attempt at a chat delivery if it is due and no other attempt holds it; otherwise a no-op that reports
    its status."""
    moment = now()
    rows = await ChatDelivery.raw(_CLAIM_SQL, moment + LEASE, delivery_id, list(WAITING), moment)
    if not rows:
        return await unclaimed(ChatDelivery, delivery_id)
    row = rows[0]
    attempts = row["attempts"] + 1
    try:
        if row["kind"] == ChatKind.TEAMS_CARD:
            await _send_teams(row, row["body"].encode())
        elif row["kind"] == ChatKind.SLACK_COMMAND:
            await _run_command(row, json.loads(row["body"]))
        else:
            await _send_slack(row, json.loads(row["body"]))
    except _Failed as exc:
        give_up = exc.permanent or attempts >= MAX_ATTEMPTS
        status = DeliveryStatus.FAILED if give_up else DeliveryStatus.RETRYING
        return await finish(ChatDelivery, delivery_id, attempts, status, error=str(exc))
    return await finish(ChatDelivery, delivery_id, attempts, DeliveryStatus.DELIVERED)


async def sweep(*, grace: timedelta | None = None) -> int:
    """Give every waiting chat delivery overdue by `grace` a new job (its old one was lost); how many."""
    return await sweep_table(ChatDelivery, JOB, grace=grace or SWEEP_GRACE)


@dataclass(frozen=True, slots=True)
class Listed:
    """A chat delivery as the admin page lists it."""

    id: int
    kind: str
    event: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


async def recent(limit: int = SHOWN) -> list[Listed]:
    rows = (
        await ChatDelivery.select(
            ChatDelivery.id,
            ChatDelivery.kind,
            ChatDelivery.event,
            ChatDelivery.status,
            ChatDelivery.attempts,
            ChatDelivery.last_error,
            ChatDelivery.created_at,
            ChatDelivery.next_attempt_at,
            ChatDelivery.delivered_at,
        )
        .order_by(ChatDelivery.id, ascending=False)
        .limit(limit)
    )
    return [Listed(**row) for row in rows]
