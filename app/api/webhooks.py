"""Outgoing webhooks: admins register URLs for events; `emit()` records one delivery per subscribed webhook inside
the event's own transaction and enqueues its job (through the outbox), and `deliver()` — run by the arq job
`deliver_webhook` — POSTs it, signed, retrying with exponential backoff. No HTTP server code here.

The delivery row, not the arq job, is the record of what must be sent (ENGINEERING rule 15). An attempt first
claims its row with one conditional UPDATE: only a `pending`/`retrying` row that is due, and it moves the row's
`next_attempt_at` a lease ahead, so two jobs for one delivery (a job lost with Redis and re-enqueued by the sweeper,
then found again) never both send it. `sweep()`, run by the worker every half minute, hands rows overdue by
SWEEP_GRACE to new jobs whatever happened to their old ones (Redis lost, a worker killed mid-attempt, a retry given
up by arq): each delivery ends delivered or failed, and only an attempt in flight at a crash can be sent twice.

Events (`EVENTS`): `kudos.given` (a public kudos; private ones are never sent), `badge.earned`, `award.announced`.
Every body is JSON with `event`, `created_at`, a Slack-compatible `text` (Slack and Teams incoming webhooks show it
as it is) and the event's own fields.

Signature: `X-Kudos-Signature: sha256=<hex>` where hex = HMAC-SHA256(secret, f"{timestamp}.".encode() + body) and
`timestamp` (Unix seconds) is sent in `X-Kudos-Timestamp`; receivers recompute it over the raw body and refuse old
timestamps (see the README's recipe).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.table import Table

import app.db as db
from app.api import egress
from app.api.tables import DeliveryStatus, Webhook, WebhookDelivery
from app.audit.services import record as audit
from app.jobs.outbox import add_job
from app.paging import valid_id
from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import now

EVENTS: dict[str, str] = {
    "kudos.given": "A kudos is given publicly",
    "award.announced": "An award is announced",
    "badge.earned": "Someone earns a badge",
}
NAME_MAX = 80
URL_MAX = 1000
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 30.0  # waits 30 s, 1 min, 2 min, 4 min, 8 min between the six attempts
TIMEOUT_SECONDS = 10.0
JOB_TIMEOUT_SECONDS = 30  # the arq job's own timeout: one HTTP attempt plus its two statements
LEASE = timedelta(seconds=JOB_TIMEOUT_SECONDS * 2)  # a claimed attempt no job finished within this is sent again
SWEEP_GRACE = timedelta(seconds=60)  # a due delivery still waiting this much later has lost its job
ERROR_MAX = 500
DELIVERIES_SHOWN = 50
SIGNATURE_HEADER = "X-Kudos-Signature"
TIMESTAMP_HEADER = "X-Kudos-Timestamp"


def slack_escape(text: str) -> str:
    """User text inside a webhook's `text`: Slack (and Teams) read `<…>` as links and mentions (`<!channel>`,
    `<https://evil.example|re-enter your password>`), so `&`, `<` and `>` are escaped as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Kudos-Signature` value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent (for Python receivers and tests)."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now().timestamp() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


# ------------------------------------------------------------------------------------------------------- emitting


# One delivery for every webhook subscribed to the event, in one statement.
_EMIT_SQL = """
    INSERT INTO webhook_delivery (webhook, event, body, created_at, next_attempt_at)
    SELECT w.id, {}::text, {}::text, {}::timestamptz, {}::timestamptz FROM webhook w
    WHERE w.removed_at IS NULL AND {}::text = ANY(w.events)
    ORDER BY w.id
    RETURNING id
"""


async def emit(event: str, payload: dict[str, Any], *, at: datetime | None = None) -> int:
    """Record `event` for every webhook subscribed to it and enqueue their deliveries; returns how many.

    Call it inside the transaction of the action the event reports: the deliveries exist if and only if the action
    commits. `payload` holds JSON types and must have `text`, the human sentence (Slack mrkdwn links allowed, every
    user-provided part passed through `slack_escape`); the body sent is `{"event": …, "created_at": …, **payload}`.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if not isinstance(payload.get("text"), str):
        raise ValueError("a webhook payload needs its `text`")
    moment = at or now()
    body = json.dumps(
        {"event": event, "created_at": moment.isoformat(), **payload},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    rows = await WebhookDelivery.raw(_EMIT_SQL, event, body, moment, moment, event)
    for row in rows:
        await add_job("deliver_webhook", delivery_id=row["id"])
    return len(rows)


# ------------------------------------------------------------------------------------------------------- delivering


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt did; `retry_in` (seconds) is set when another attempt should follow."""

    status: DeliveryStatus
    retry_in: float | None = None


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return float(RETRY_BASE_SECONDS * 2 ** (attempts - 1))


WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
_CLAIM_SQL = """
UPDATE webhook_delivery d SET next_attempt_at = {}
FROM webhook w
WHERE d.id = {} AND w.id = d.webhook AND d.status = ANY({}) AND coalesce(d.next_attempt_at, d.created_at) <= {}
RETURNING d.id, d.event, d.body, d.attempts, w.url, w.secret, w.removed_at
"""


async def deliver(delivery_id: int, client: httpx.AsyncClient | None = None) -> Attempt:
    """Make one attempt at delivery `delivery_id` if it is due and no other attempt holds it; otherwise a no-op that
    reports its status (another job, or the sweeper's, makes the next attempt)."""
    moment = now()
    rows = await WebhookDelivery.raw(_CLAIM_SQL, moment + LEASE, delivery_id, list(WAITING), moment)
    if not rows:
        return await unclaimed(WebhookDelivery, delivery_id)
    delivery = rows[0]
    attempts = delivery["attempts"] + 1
    if delivery["removed_at"] is not None:
        return await _finish(delivery_id, attempts, DeliveryStatus.FAILED, error="The webhook was removed.")
    body = delivery["body"].encode()
    timestamp = int(now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Kudos-Webhooks/1",
        "X-Kudos-Event": delivery["event"],
        "X-Kudos-Delivery": str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(delivery["secret"], timestamp, body),
    }
    error, code = "", None
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as own:
                response = await egress.post(own, delivery["url"], content=body, headers=headers)
        else:
            response = await egress.post(client, delivery["url"], content=body, headers=headers)
        code = response.status_code
        if not 200 <= code < 300:  # the status and its standard reason only: the answer is not Kudos's to show
            error = f"HTTP {code} {httpx.codes.get_reason_phrase(code)}".strip()
    except egress.Refused as exc:
        error = f"Not sent: {exc.message}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    if not error:
        return await _finish(delivery_id, attempts, DeliveryStatus.DELIVERED, code=code)
    if attempts >= MAX_ATTEMPTS:
        return await _finish(delivery_id, attempts, DeliveryStatus.FAILED, error=error, code=code)
    return await _finish(delivery_id, attempts, DeliveryStatus.RETRYING, error=error, code=code)


async def unclaimed(table: type[Table], delivery_id: int) -> Attempt:
    """What an attempt that could not claim its row reports: the row's status (failed when it is gone)."""
    status = table._meta.get_column_by_name("status")
    found = await table.select(status).where(table._meta.primary_key == delivery_id).first()
    return Attempt(DeliveryStatus(found["status"]) if found else DeliveryStatus.FAILED)


async def finish(
    table: type[Table], delivery_id: int, attempts: int, status: DeliveryStatus, *, error: str = "", **columns: Any
) -> Attempt:
    """Record how attempt number `attempts` at a delivery row of `table` ended (webhook deliveries, and chat
    deliveries: app/integrations/deliveries.py); a retry is due after the backoff. `columns`: the table's own."""
    moment = now()
    retry_in = backoff(attempts) if status == DeliveryStatus.RETRYING else None
    values: dict[Column | str, Any] = {
        "status": status,
        "attempts": attempts,
        "last_error": error[:ERROR_MAX],
        "next_attempt_at": moment + timedelta(seconds=retry_in) if retry_in is not None else None,
        "delivered_at": moment if status == DeliveryStatus.DELIVERED else None,
    }
    values.update(columns)
    await table.update(values).where(table._meta.primary_key == delivery_id)
    return Attempt(status, retry_in)


async def _finish(
    delivery_id: int, attempts: int, status: DeliveryStatus, *, error: str = "", code: int | None = None
) -> Attempt:
    return await finish(WebhookDelivery, delivery_id, attempts, status, error=error, last_status_code=code)


# A waiting row is overdue when it was due (its next attempt, or its creation) before the grace began.
_OVERDUE = "coalesce(next_attempt_at, created_at) <= {}"


async def sweep_table(table: type[Table], job: str, *, grace: timedelta) -> int:
    """Give every delivery of `table` that is waiting, and overdue by `grace`, a new `job` (through the job outbox);
    how many. Its old job was lost with Redis, died with its worker, or ran out of tries on a database error. The
    row's due time is reset to now, so a row whose new job is also slow is handed over again only after another
    `grace`."""
    moment = now()
    async with db.transaction():
        rows = (
            await table.update({"next_attempt_at": moment})
            .where(table._meta.get_column_by_name("status").is_in(list(WAITING)), WhereRaw(_OVERDUE, moment - grace))
            .returning(table._meta.primary_key)
        )
        for row in rows:
            await add_job(job, delivery_id=row["id"])
    return len(rows)


async def sweep(*, grace: timedelta | None = None) -> int:
    """Sweep the webhook deliveries (`sweep_table`); how many were handed to new jobs."""
    return await sweep_table(WebhookDelivery, "deliver_webhook", grace=grace or SWEEP_GRACE)


# ------------------------------------------------------------------------------------------------------- managing


@dataclass(frozen=True, slots=True)
class _Fields:
    """A webhook's form, cleaned."""

    name: str
    url: str
    events: list[str]


def _clean(name: str, url: str, events: list[str]) -> tuple[_Fields, dict[str, str]]:
    errors: dict[str, str] = {}
    name = " ".join(str(name or "").split())
    if not name:
        errors["name"] = "Name the webhook, e.g. “#kudos channel”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters (it has {len(name)})."
    url = str(url or "").strip()
    parts = urlsplit(url) if len(url) <= URL_MAX else None
    if not url:
        errors["url"] = "Enter the URL that receives the events."
    elif parts is None:
        errors["url"] = f"Keep the URL to {URL_MAX} characters."
    elif parts.scheme not in {"http", "https"} or not parts.hostname or any(ord(c) <= 32 for c in url):
        errors["url"] = "Enter a full http:// or https:// URL."
    elif get_settings().production and parts.scheme != "https":
        errors["url"] = "Use an https:// URL: deliveries carry your organisation's data."
    chosen = list(dict.fromkeys(events))
    if not chosen:
        errors["events"] = "Choose at least one event."
    elif unknown := [e for e in chosen if e not in EVENTS]:
        errors["events"] = f"Unknown event: {', '.join(unknown)}."
    return _Fields(name, url, chosen), errors


async def register(
    admin: CurrentUser, *, name: str, url: str, events: list[str], at: datetime | None = None
) -> tuple[int, str]:
    """Register a webhook (admins only); returns its id and its signing secret."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can register webhooks.", status_code=403)
    cleaned, errors = _clean(name, url, events)
    if "url" not in errors:
        try:
            await egress.check(cleaned.url)
        except egress.Refused as exc:
            errors["url"] = exc.message
    if errors:
        raise RuleViolation(errors)
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with db.transaction():
        rows = await Webhook.insert(
            Webhook(**asdict(cleaned), secret=secret, created_by=admin.id, created_at=moment)
        ).returning(Webhook.id)
        await audit(
            actor_id=admin.id,
            action="webhook.create",
            target_type="webhook",
            target_id=rows[0]["id"],
            summary=f"Registered webhook “{cleaned.name}” for {', '.join(cleaned.events)}",
            after=asdict(cleaned),
            at=moment,
        )
    return rows[0]["id"], secret


async def remove(admin: CurrentUser, webhook_id: int, *, at: datetime | None = None) -> str:
    """Stop sending to a webhook (admins only); its deliveries stay listed. Returns its name."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can remove webhooks.", status_code=403)
    if not valid_id(webhook_id):
        raise RuleViolation("There is no such webhook.", status_code=404)
    async with db.transaction():
        rows = (
            await Webhook.select(Webhook.id, Webhook.name, Webhook.url, Webhook.events, Webhook.removed_at)
            .where(Webhook.id == webhook_id)
            .lock_rows("UPDATE")
        )
        if not rows:
            raise RuleViolation("There is no such webhook.", status_code=404)
        hook = rows[0]
        if hook["removed_at"] is not None:
            raise RuleViolation(f"The webhook “{hook['name']}” was already removed.", status_code=409)
        await Webhook.update({Webhook.removed_at: moment}).where(Webhook.id == webhook_id)
        await audit(
            actor_id=admin.id,
            action="webhook.remove",
            target_type="webhook",
            target_id=webhook_id,
            summary=f"Removed webhook “{hook['name']}”",
            before={"url": hook["url"], "events": hook["events"], "removed": False},
            after={"removed": True},
            at=moment,
        )
    return str(hook["name"])


_WEBHOOKS_SQL = """
    SELECT w.id, w.name, w.url, w.events, w.created_at, w.removed_at,
           count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
           count(d.id) FILTER (WHERE d.status IN ('pending', 'retrying')) AS waiting,
           count(d.id) FILTER (WHERE d.status = 'failed') AS failed
    FROM webhook w LEFT JOIN webhook_delivery d ON d.webhook = w.id
    GROUP BY w.id ORDER BY w.removed_at IS NOT NULL, w.created_at DESC, w.id DESC
"""


@dataclass(frozen=True, slots=True)
class Listed:
    """A registered webhook, without its secret, with its deliveries counted by status."""

    id: int
    name: str
    url: str
    events: list[str]
    created_at: datetime
    removed_at: datetime | None
    delivered: int
    waiting: int  # pending or retrying
    failed: int


async def list_webhooks() -> list[Listed]:
    """Registered webhooks (active first, newest first) with delivery counts by status; never their secrets."""
    return [Listed(**row) for row in await Webhook.raw(_WEBHOOKS_SQL)]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery of an event to a webhook, as the admin page lists it."""

    id: int
    event: str
    status: str
    attempts: int
    last_error: str
    last_status_code: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    webhook_name: str


async def recent_deliveries(limit: int = DELIVERIES_SHOWN) -> list[Delivery]:
    """The newest deliveries of every webhook, with status, attempts and last error."""
    rows = (
        await WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.event,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.last_error,
            WebhookDelivery.last_status_code,
            WebhookDelivery.created_at,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.delivered_at,
            WebhookDelivery.webhook.name.as_alias("webhook_name"),
        )
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id, ascending=False)
        .limit(limit)
    )
    return [Delivery(**row) for row in rows]
