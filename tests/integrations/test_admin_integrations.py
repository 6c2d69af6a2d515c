"""/admin/integrations: secrets stored and never shown back, bad input refused by field with nothing changed, CSRF
on every form, Teams channels added (SSRF-checked) and removed, the deliveries fragment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.audit.tables import AuditEntry
from app.integrations import config
from app.integrations.tables import ChatDelivery, ChatSettings, TeamsChannel
from app.sealed import PREFIX, unseal
from app.timeutil import now
from tests.helpers import HTMX, post_form, signed_in
from tests.integrations.conftest import TEAMS_TOKEN

PAGE = "/admin/integrations"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-1234-5678-abcdefghijklmnop"
pytestmark = pytest.mark.usefixtures("db")


async def stored() -> dict | None:
    return await ChatSettings.select().first()


def sealed(value: str, plain: str) -> bool:
    """Stored sealed (app/sealed.py): the database holds no clear text, and the integrations read `plain`."""
    return value.startswith(PREFIX) and plain not in value and unseal(value) == plain


async def test_the_page_and_its_deliveries_fragment(client, org) -> None:
    await signed_in(client, org["admin"].email)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert "<h1>Chat integrations</h1>" in page.text
    assert '<a href="/admin/integrations" aria-current="page">Chat</a>' in page.text
    assert "http://testserver/integrations/slack/commands" in page.text
    assert "http://testserver/integrations/teams/outgoing" in page.text
    assert page.text.count("(not set)") == 3
    fragment = await client.get(PAGE, headers=HTMX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="chat-deliveries">')
    assert "<html" not in fragment.text and "Nothing sent to a chat yet." in fragment.text


async def test_slack_settings_are_stored_never_shown_and_kept_when_left_blank(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(
        client, f"{PAGE}/slack", {"signing_secret": f" {SECRET} ", "bot_token": TOKEN, "channel": "#kudos"}
    )
    assert response.status_code == 303
    row = await stored()
    assert sealed(row["slack_signing_secret"], SECRET) and sealed(row["slack_bot_token"], TOKEN)
    assert row["slack_channel"] == "#kudos"
    assert (await config.load()).slack_bot_token == TOKEN
    assert row["updated_by"] == org["admin"].id
    page = await client.get(response.headers["location"])
    assert "The Slack settings were saved." in page.text
    assert SECRET not in page.text and TOKEN not in page.text
    assert page.text.count("(set)") == 2 and 'value="#kudos"' in page.text
    again = await post_form(client, f"{PAGE}/slack", {"signing_secret": "", "bot_token": "", "channel": "C0123ABCD"})
    assert again.status_code == 303
    row = await stored()
    assert unseal(row["slack_signing_secret"]) == SECRET and unseal(row["slack_bot_token"]) == TOKEN
    assert row["slack_channel"] == "C0123ABCD"
    entries = await AuditEntry.select(AuditEntry.action, AuditEntry.after)
    assert [e["action"] for e in entries] == ["integrations.update", "integrations.update"]
    assert SECRET not in str(entries) and TOKEN not in str(entries)


async def test_bad_settings_are_refused_by_field_and_change_nothing(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(
        client, f"{PAGE}/slack", {"signing_secret": "a b", "bot_token": "xoxp-user-token", "channel": "kudos channel"}
    )
    assert response.status_code == 422
    assert "Paste the value alone, without spaces or line breaks." in response.text
    assert "Paste the Bot User OAuth Token: it starts with “xoxb-”." in response.text
    assert "Enter a channel ID such as C0123ABCD, or a name such as #kudos." in response.text
    assert 'value="kudos channel"' in response.text and "xoxp-user-token" not in response.text
    response = await post_form(client, f"{PAGE}/teams/token", {"token": "not-base64!"})
    assert response.status_code == 422
    assert "That is not the security token: Teams shows it as base64 text." in response.text
    response = await post_form(client, f"{PAGE}/teams/channels", {"name": " ", "url": "http://127.0.0.1:5432/"})
    assert response.status_code == 422
    assert "Name the channel, e.g. “General”." in response.text
    assert "inside a private network" in response.text  # the SSRF rule of outgoing webhooks
    assert await stored() is None and await TeamsChannel.count() == 0 and await AuditEntry.count() == 0


async def test_every_form_needs_its_csrf_token(client, org) -> None:
    await signed_in(client, org["admin"].email)
    for path, data in (
        ("slack", {"signing_secret": SECRET, "bot_token": TOKEN, "channel": "#kudos"}),
        ("teams/token", {"token": TEAMS_TOKEN}),
        ("teams/channels", {"name": "General", "url": "https://hooks.example.com/workflows/1"}),
    ):
        response = await client.post(f"{PAGE}/{path}", data=data)
        assert response.status_code == 403
    assert await stored() is None and await TeamsChannel.count() == 0


async def test_teams_token_and_channels(client, org) -> None:
    await signed_in(client, org["admin"].email)
    assert (await post_form(client, f"{PAGE}/teams/token", {"token": TEAMS_TOKEN})).status_code == 303
    assert sealed((await stored())["teams_token"], TEAMS_TOKEN)
    url = "https://hooks.example.com/workflows/abc?sig=very-secret"
    response = await post_form(client, f"{PAGE}/teams/channels", {"name": " General  <b>", "url": url})
    assert response.status_code == 303
    assert sealed((await TeamsChannel.select(TeamsChannel.url).first())["url"], url)
    page = await client.get(PAGE)
    assert "General &lt;b&gt;" in page.text and "very-secret" not in page.text and TEAMS_TOKEN not in page.text
    channel_id = (await TeamsChannel.select(TeamsChannel.id).first())["id"]
    removed = await post_form(client, f"{PAGE}/teams/channels/{channel_id}/remove")
    assert removed.status_code == 303
    assert (await TeamsChannel.select(TeamsChannel.removed_at).first())["removed_at"] is not None
    again = await post_form(client, f"{PAGE}/teams/channels/{channel_id}/remove")
    assert again.status_code == 404
    assert "There is no such Teams channel." in again.text


async def test_the_fragment_lists_deliveries_with_status_and_last_error(client, org) -> None:
    moment = now()
    later = moment + timedelta(minutes=1)
    await ChatDelivery.insert(
        ChatDelivery(kind="slack.dm", event="kudos.given", body="{}", created_at=moment, status="delivered",
                     attempts=1, delivered_at=moment),
        ChatDelivery(kind="teams.card", event="badge.earned", body="{}", created_at=moment, status="retrying",
                     attempts=2, last_error="HTTP 503 Service Unavailable", next_attempt_at=later),
    )  # fmt: skip
    await signed_in(client, org["admin"].email)
    fragment = await client.get(PAGE, headers=HTMX)
    assert "Slack direct message" in fragment.text and "Teams channel" in fragment.text
    assert "<td>delivered " in fragment.text
    assert "retrying, next try" in fragment.text and "HTTP 503 Service Unavailable" in fragment.text
