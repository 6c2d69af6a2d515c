"""Outgoing webhooks: events recorded in their action's transaction, signed deliveries to a real local receiver
through a real burst arq worker, retries with backoff, giving up, and the admin page's listing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from arq.connections import create_pool
from piccolo.engine import engine_finder

from app.api import webhooks
from app.api.tables import DeliveryStatus, WebhookDelivery
from app.jobs.outbox import drain
from app.jobs.tables import JobOutbox
from app.jobs.worker import redis_settings
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import make_employee

# The receiver is a local server on 127.0.0.1, which webhooks may reach only with KUDOS_WEBHOOK_ALLOW_PRIVATE=true.
pytestmark = pytest.mark.usefixtures("db", "allow_private_webhooks")


@pytest.fixture
async def arq_redis():
    pool = await create_pool(redis_settings())
    yield pool
    await pool.aclose()


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(webhooks, "RETRY_BASE_SECONDS", 0.05)


async def _register(org, url: str, events: list[str]) -> str:
    admin = await load_current_user(org["admin"].id)
    _, secret = await webhooks.register(admin, name="Receiver", url=url, events=events)
    return secret


async def _thank(org, *, visibility: str = "public", handled: bool = True) -> int:
    """Give a kudos; `handled`: then run its stored event handlers, as the worker does (webhooks are emitted there)."""
    giver = await load_current_user(org["ana"].id)
    form = GiveForm(
        recipient_ids=[org["ravi"].id], message="Thanks for the VPN fix!", points="5", visibility=visibility
    )
    kudos_id = (await give_kudos(giver, form)).kudos_id
    if handled:
        await run_stored_events()
    return kudos_id


async def make_due(delivery_id: int) -> None:
    """As if the delivery's backoff had passed."""
    await WebhookDelivery.update({WebhookDelivery.next_attempt_at: now()}).where(WebhookDelivery.id == delivery_id)


def receiver_checks(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's verification recipe, written out independently of app.api.webhooks.sign."""
    timestamp = headers["x-kudos-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["x-kudos-signature"])


async def test_a_public_kudos_emits_one_delivery_per_subscribed_webhook_with_its_job(org) -> None:
    await _register(org, "http://127.0.0.1:9/a", ["kudos.given"])
    await _register(org, "http://127.0.0.1:9/b", ["award.announced"])
    kudos_id = await _thank(org)
    deliveries = await WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.event, WebhookDelivery.body)
    assert [d["event"] for d in deliveries] == ["kudos.given"]
    body = json.loads(deliveries[0]["body"])
    assert body["event"] == "kudos.given"
    assert body["text"] == (
        "Ana Silva thanked Ravi Patel (+5 points): “Thanks for the VPN fix!” "
        f"<http://testserver/kudos/{kudos_id}|View kudos>"
    )
    assert body["kudos"]["recipients"] == [{"id": org["ravi"].id, "name": "Ravi Patel"}]
    jobs = await JobOutbox.select(JobOutbox.function, JobOutbox.kwargs).where(JobOutbox.function == "deliver_webhook")
    assert [json.loads(j["kwargs"]) for j in jobs] == [{"delivery_id": deliveries[0]["id"]}]


async def test_user_text_cannot_become_slack_markup(org) -> None:
    """A message or a name cannot notify the whole channel or dress up a phishing link: `&`, `<`, `>` are escaped."""
    await _register(org, "http://127.0.0.1:9/a", ["kudos.given", "badge.earned"])
    shouty = await make_employee("<!channel> & co", email="shouty@example.com", department=org["it"])
    giver = await load_current_user(org["ana"].id)
    message = "<!channel> <https://evil.example|re-enter your password>"
    await give_kudos(giver, GiveForm(recipient_ids=[shouty.id], message=message, points="5", visibility="public"))
    await run_stored_events()
    texts = [json.loads(d["body"])["text"] for d in await WebhookDelivery.select(WebhookDelivery.body)]
    kudos_text = next(t for t in texts if "thanked" in t)
    assert "“&lt;!channel&gt; &lt;https://evil.example|re-enter your password&gt;”" in kudos_text
    assert "thanked &lt;!channel&gt; &amp; co" in kudos_text
    assert any(t.startswith("&lt;!channel&gt; &amp; co earned the badge") for t in texts)
    for text in texts:  # the only markup left is the app's own link
        assert "<!" not in text and text.count("<") == 1 and "<https://evil" not in text
    assert webhooks.slack_escape("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"


async def test_private_kudos_are_never_sent_and_badges_are(org) -> None:
    await _register(org, "http://127.0.0.1:9/a", ["kudos.given", "badge.earned"])
    await _thank(org, visibility="private")
    events = [d["event"] for d in await WebhookDelivery.select(WebhookDelivery.event).order_by(WebhookDelivery.id)]
    assert events == ["badge.earned", "badge.earned"]  # Ana's first thanks, Ravi's first kudos
    texts = [json.loads(d["body"])["text"] for d in await WebhookDelivery.select(WebhookDelivery.body)]
    assert any(t.startswith("Ravi Patel earned the badge First kudos") for t in texts)
    people = [json.loads(d["body"])["person"] for d in await WebhookDelivery.select(WebhookDelivery.body)]
    assert {p["url"] for p in people} == {f"http://testserver/people/{org[n].id}#badges" for n in ("ana", "ravi")}
    assert all("Thanks for the VPN fix" not in t for t in texts)


async def test_no_delivery_survives_a_rolled_back_action(org) -> None:
    await _register(org, "http://127.0.0.1:9/a", ["kudos.given"])

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with engine_finder().transaction():
            await _thank(org, handled=False)
            raise Boom
    assert await WebhookDelivery.count() == 0
    assert await JobOutbox.count() == 0


async def test_emit_refuses_unknown_events_and_payloads_without_text() -> None:
    with pytest.raises(ValueError, match="unknown webhook event"):
        await webhooks.emit("kudos.deleted", {"text": "x"})
    with pytest.raises(ValueError, match="text"):
        await webhooks.emit("award.announced", {"award": {}})


async def test_a_delivery_is_signed_retried_after_a_500_and_delivered_by_the_worker(
    org, receiver, arq_redis, run_worker, quick_retries
) -> None:
    secret = await _register(org, receiver.url, ["kudos.given"])
    receiver.statuses = [500]
    await _thank(org)
    assert await drain(arq_redis) == 1

    worker = await run_worker()

    assert worker.jobs_failed == 0
    assert len(receiver.received) == 2
    for headers, body in receiver.received:
        assert headers["content-type"] == "application/json"
        assert headers["x-kudos-event"] == "kudos.given"
        assert receiver_checks(secret, headers, body)
        assert not receiver_checks("another secret", headers, body)
        assert json.loads(body)["text"].startswith("Ana Silva thanked Ravi Patel")
    assert receiver.received[0][1] == receiver.received[1][1]  # the same body on every attempt
    delivery = await WebhookDelivery.select().first()
    assert delivery["status"] == DeliveryStatus.DELIVERED
    assert delivery["attempts"] == 2
    assert delivery["last_status_code"] == 200
    assert delivery["delivered_at"] is not None


async def test_a_delivery_gives_up_after_the_last_attempt(org, receiver, monkeypatch) -> None:
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 3)
    await _register(org, receiver.url, ["kudos.given"])
    receiver.statuses = [500, 502, 503]
    await _thank(org)
    delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]
    first = await webhooks.deliver(delivery_id)
    assert (first.status, first.retry_in) == (DeliveryStatus.RETRYING, webhooks.RETRY_BASE_SECONDS)
    assert (await webhooks.deliver(delivery_id)).retry_in is None  # not due yet: no attempt
    await make_due(delivery_id)
    second = await webhooks.deliver(delivery_id)
    assert second.retry_in == webhooks.RETRY_BASE_SECONDS * 2  # exponential backoff
    await make_due(delivery_id)
    last = await webhooks.deliver(delivery_id)
    assert (last.status, last.retry_in) == (DeliveryStatus.FAILED, None)
    row = await WebhookDelivery.select().first()
    assert (row["status"], row["attempts"], row["last_status_code"]) == (DeliveryStatus.FAILED, 3, 503)
    assert row["last_error"] == "HTTP 503 Service Unavailable"  # not the answer's body
    assert (await webhooks.deliver(delivery_id)).status == DeliveryStatus.FAILED  # no fourth attempt
    assert len(receiver.received) == 3


async def test_an_unreachable_url_is_an_error_to_retry(org, receiver) -> None:
    await _register(org, "http://127.0.0.1:9/closed", ["kudos.given"])
    await _thank(org)
    delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]
    attempt = await webhooks.deliver(delivery_id)
    assert attempt.status == DeliveryStatus.RETRYING
    row = await WebhookDelivery.select(WebhookDelivery.last_error, WebhookDelivery.next_attempt_at).first()
    assert row["last_error"] == "ConnectError"
    assert row["next_attempt_at"] is not None
