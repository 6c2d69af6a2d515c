"""Posts to Slack and Teams follow the domain events (a kudos given, a request completed, a badge earned, awards
announced) as deliveries: a row each, sent by the worker, escaped as each chat requires, sent once even when Redis
lost their jobs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import date, timedelta

import pytest
from arq.connections import create_pool

from app.api.tables import DeliveryStatus
from app.events import AwardAnnounced, AwardWon, BadgeEarned, RequestCompleted
from app.integrations import config, deliveries, handlers
from app.integrations.tables import ChatDelivery, ChatSettings, TeamsChannel
from app.jobs import worker as jobs
from app.jobs.outbox import drain
from app.jobs.tables import JobOutbox
from app.jobs.worker import redis_settings
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.timeutil import now
from tests.events import run_stored_events
from tests.factories import make_request

pytestmark = pytest.mark.usefixtures("db", "allow_private_webhooks")
NASTY = "Fixed <!channel> & <https://evil.example|re-enter your password> **bold** [x](https://evil.example)"


@pytest.fixture
async def teams_channel(org, receiver) -> int:
    rows = await TeamsChannel.insert(TeamsChannel(name="General", url=receiver.url, created_at=now())).returning(
        TeamsChannel.id
    )
    return rows[0]["id"]


async def give(org, *, visibility: str = "public", message: str = NASTY) -> None:
    giver = await load_current_user(org["gina"].id)
    form = GiveForm(recipient_ids=[org["ana"].id, org["ravi"].id], message=message, points="2", visibility=visibility)
    await give_kudos(giver, form)
    await run_stored_events()


async def kinds(event: str = "kudos.given") -> Counter[str]:
    """The deliveries recorded for `event` (a first kudos also earns badges, posted as well), by kind."""
    rows = await ChatDelivery.select(ChatDelivery.kind).where(ChatDelivery.event == event)
    return Counter(row["kind"] for row in rows)


async def statuses() -> Counter[str]:
    return Counter(row["status"] for row in await ChatDelivery.select(ChatDelivery.status))


async def test_a_public_kudos_is_posted_to_slack_and_teams_and_its_recipients_get_a_dm(
    org, slack_on, teams_channel, receiver, run_worker
) -> None:
    await give(org)
    assert await kinds() == {"slack.channel": 1, "slack.dm": 2, "teams.card": 1}
    assert await kinds("badge.earned") == {"slack.channel": 3, "slack.dm": 3, "teams.card": 3}
    await run_worker()
    assert await statuses() == {"delivered": 13}

    posts = [p for p in slack_on.called("chat.postMessage") if "thanked" in p["text"]]
    [channel] = [p for p in posts if p["channel"] == "C0KUDOS"]
    text = channel["text"]
    assert text.startswith("Gina Giver thanked Ana Silva, Ravi Patel (+2 points each)\n> Fixed &lt;!channel&gt; &amp; ")
    assert "&lt;https://evil.example|re-enter your password&gt;" in text
    assert "<!channel>" not in text and "<https://evil" not in text
    assert text.endswith("<http://testserver/kudos/1|View kudos>")
    assert json.loads(channel["blocks"])[0]["text"] == {"type": "mrkdwn", "text": text}
    # DMs: each recipient found in Slack by email, then messaged
    assert {f["email"] for f in slack_on.called("users.lookupByEmail")} == {
        "ana@example.com",
        "ravi@example.com",
        "gina@example.com",  # her badge's DM
    }
    dms = sorted(p["channel"] for p in posts if p["channel"] != "C0KUDOS")
    assert dms == ["UANA", "URAVI"]
    assert all(
        p["text"].startswith("Gina Giver thanked you (+2 points each)") for p in posts if p["channel"] != "C0KUDOS"
    )

    [(headers, body)] = [(h, b) for h, b in receiver.received if b"thanked" in b]
    assert headers["content-type"] == "application/json"
    message = json.loads(body)
    card = message["attachments"][0]["content"]
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    runs = [inline for block in card["body"] for inline in block["inlines"]]
    assert all(run["type"] == "TextRun" for run in runs)  # TextRuns render no markdown: the text stays as typed
    assert runs[1]["text"] == NASTY
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "View kudos", "url": "http://testserver/kudos/1"}]


async def test_gifts_handled_together_are_each_posted_with_their_own_text(org, slack_on, teams_channel) -> None:
    """Two gifts whose handlers run in one batch (their cards read together): each is posted once, with its own
    message and recipients."""
    giver = await load_current_user(org["gina"].id)
    for person, message in ((org["ana"], "Thanks for the laptop"), (org["ravi"], "Thanks for the VPN fix")):
        await give_kudos(giver, GiveForm(recipient_ids=[person.id], message=message, points="1"))
    await run_stored_events()
    rows = (
        await ChatDelivery.select(ChatDelivery.kind, ChatDelivery.target, ChatDelivery.body)
        .where(ChatDelivery.event == "kudos.given")
        .order_by(ChatDelivery.id)
    )
    channel = [json.loads(r["body"])["text"] for r in rows if r["kind"] == "slack.channel"]
    assert [text.split("\n")[0] for text in channel] == [
        "Gina Giver thanked Ana Silva (+1 point each)",
        "Gina Giver thanked Ravi Patel (+1 point each)",
    ]
    assert "Thanks for the laptop" in channel[0] and "Thanks for the VPN fix" in channel[1]
    dms = [(r["target"], json.loads(r["body"])["text"]) for r in rows if r["kind"] == "slack.dm"]
    assert [target for target, _ in dms] == ["ana@example.com", "ravi@example.com"]
    assert "Thanks for the laptop" in dms[0][1] and "Thanks for the VPN fix" in dms[1][1]
    assert sum(r["kind"] == "teams.card" for r in rows) == 2


async def test_a_private_kudos_is_only_sent_to_its_recipients(org, slack_on, teams_channel) -> None:
    await give(org, visibility="private")
    assert await kinds() == {"slack.dm": 2}


async def test_nothing_is_recorded_for_chats_not_set_up(org) -> None:
    await give(org)
    assert await kinds() == {}
    await ChatSettings.insert(ChatSettings(id=1, slack_bot_token="xoxb-1"))  # no channel: DMs only
    await give(org, message="Again")
    assert await kinds() == {"slack.dm": 2}


async def test_badges_awards_and_completed_requests(org, slack_on, teams_channel, receiver, run_worker) -> None:
    await handlers.badge_earned(
        BadgeEarned(award_id=1, employee_id=org["ana"].id, badge="first-kudos-received", level=1)
    )
    await handlers.badge_earned(BadgeEarned(award_id=2, employee_id=org["ana"].id, badge="no-such-badge", level=1))
    winners = (
        AwardWon(category="Star <b>", name="Ana Silva", citation="For the VPN & more", person_id=org["ana"].id),
        AwardWon(category="Team", name="IT", citation="All of it", department_id=1),
    )
    await handlers.award_announced(AwardAnnounced(cycle_id=1, month=date(2026, 11, 1), announced_by=1, winners=winners))
    request_id = await make_request(org["gina"], org["it"], "VPN <broken>", resolvers=(org["ravi"],))
    await handlers.request_completed(
        RequestCompleted(
            request_id=request_id,
            completed_by=org["ravi"].id,
            requester_id=org["gina"].id,
            resolver_ids=(org["ravi"].id,),
        )
    )
    assert await kinds("badge.earned") == {"slack.channel": 1, "teams.card": 1, "slack.dm": 1}
    assert await kinds("awards.announced") == {"slack.channel": 1, "teams.card": 1, "slack.dm": 1}
    assert await kinds("request.completed") == {"slack.dm": 1}
    await run_worker()
    texts = [p["text"] for p in slack_on.called("chat.postMessage")]
    assert any(t.startswith("Ana Silva earned the badge") for t in texts)
    assert any(
        t.startswith("The November 2026 awards are announced\n> Star &lt;b&gt;: Ana Silva; Team: IT") for t in texts
    )
    assert any(
        t.startswith("You won “Star &lt;b&gt;” in the November 2026 awards\n> For the VPN &amp; more") for t in texts
    )
    assert any(t.startswith("Your request “VPN &lt;broken&gt;” was completed by Ravi Patel.") for t in texts)
    assert len(receiver.received) == 2


async def test_a_delivery_whose_job_redis_lost_is_swept_and_sent_once(org, slack_on, run_worker, redis) -> None:
    await give(org, message="Thanks")
    await redis.flushdb()  # Redis lost: whatever the outbox handed over is gone
    await JobOutbox.update({JobOutbox.enqueued_at: now()}).where(JobOutbox.enqueued_at.is_null())
    assert await deliveries.sweep() == 0  # not overdue yet: their jobs may still come
    await ChatDelivery.update({ChatDelivery.next_attempt_at: now() - timedelta(minutes=2)}).where(ChatDelivery.id > 0)
    await run_worker()  # the worker's sweep at start-up hands them to new jobs
    rows = await statuses()
    assert rows == {"delivered": rows.total()} and await kinds() == {"slack.channel": 1, "slack.dm": 2}
    thanks = [p["channel"] for p in slack_on.called("chat.postMessage") if "thanked" in p["text"]]
    assert Counter(thanks) == {"C0KUDOS": 1, "UANA": 1, "URAVI": 1}  # each once
    assert len(slack_on.called("chat.postMessage")) == rows.total()
    assert await deliveries.sweep(grace=timedelta(0)) == 0


async def test_concurrent_attempts_send_once_and_failures_retry_then_stop(org, slack_on) -> None:
    await give(org, message="Thanks")
    thanks = ChatDelivery.event == "kudos.given"
    channel = (
        await ChatDelivery.select(ChatDelivery.id).where(thanks & (ChatDelivery.kind == "slack.channel")).first()
    )["id"]
    await asyncio.gather(*[deliveries.deliver(channel) for _ in range(3)])
    assert len([p for p in slack_on.called("chat.postMessage") if p["channel"] == "C0KUDOS"]) == 1

    slack_on.users.pop("UANA")  # Ana is not in the Slack workspace: that DM cannot be sent, now or later
    dm = (
        await ChatDelivery.select(ChatDelivery.id).where(thanks & (ChatDelivery.target == "ana@example.com")).first()
    )["id"]
    attempt = await deliveries.deliver(dm)
    assert (attempt.status, attempt.retry_in) == (DeliveryStatus.FAILED, None)
    row = await ChatDelivery.select(ChatDelivery.last_error).where(ChatDelivery.id == dm).first()
    assert row["last_error"] == "No one in the Slack workspace has this person's email."

    await ChatSettings.update({ChatSettings.slack_bot_token: "xoxb-revoked"}).where(ChatSettings.id == 1)
    slack_on.answer = lambda method, fields: {"ok": False, "error": "invalid_auth"}  # type: ignore[method-assign]
    other = (
        await ChatDelivery.select(ChatDelivery.id).where(thanks & (ChatDelivery.target == "ravi@example.com")).first()
    )["id"]
    attempt = await deliveries.deliver(other)
    assert attempt.status == DeliveryStatus.RETRYING and attempt.retry_in == 30.0


async def test_a_worker_killed_mid_attempt_leaves_the_post_to_the_sweeper_and_it_goes_out_once(
    org, slack_on, run_worker, redis, monkeypatch
) -> None:
    """The worker dies after claiming a delivery and before Slack answered: the claim's lease keeps other jobs off
    it; once the lease is over the sweeper hands it to a new job, and the post goes out once."""
    await ChatSettings.update({ChatSettings.slack_channel: "C0KUDOS"}).where(ChatSettings.id == 1)
    giver = await load_current_user(org["gina"].id)
    await give_kudos(giver, GiveForm(recipient_ids=[org["ana"].id], message="Thanks", points="1", visibility="private"))
    await run_stored_events()  # one DM to Ana (badges aside)
    [dm] = await ChatDelivery.select(ChatDelivery.id).where(ChatDelivery.event == "kudos.given")
    await ChatDelivery.update({ChatDelivery.status: DeliveryStatus.DELIVERED}).where(ChatDelivery.id != dm["id"])

    claimed, real_load = asyncio.Event(), config.load

    async def hang_after_claim():  # the attempt has claimed its row; the worker dies before it sends
        claimed.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(config, "load", hang_after_claim)
    worker = jobs.build_worker(handle_signals=False, poll_delay=0.05)
    task = asyncio.create_task(worker.async_run())
    pool = await create_pool(redis_settings())
    await drain(pool)
    await pool.aclose()
    await asyncio.wait_for(claimed.wait(), 10)
    await worker.close()  # killed: its job is cancelled mid-attempt
    task.cancel()
    monkeypatch.setattr(config, "load", real_load)
    await redis.flushdb()  # and whatever Redis held for it is gone
    row = await ChatDelivery.select().where(ChatDelivery.id == dm["id"]).first()
    assert row["status"] == "pending" and row["next_attempt_at"] > now()  # leased: no other job may take it yet
    assert await deliveries.sweep() == 0
    assert slack_on.called("chat.postMessage") == []

    await ChatDelivery.update({ChatDelivery.next_attempt_at: now() - timedelta(minutes=2)}).where(
        ChatDelivery.id == dm["id"]
    )  # the lease and the sweeper's grace have passed
    await run_worker()
    assert (await ChatDelivery.select(ChatDelivery.status).where(ChatDelivery.id == dm["id"]).first())[
        "status"
    ] == "delivered"
    assert [p["channel"] for p in slack_on.called("chat.postMessage")] == ["UANA"]
