"""The admin pages for API tokens and webhooks: shown once, bad input, revoke/remove, audit, listing."""

from __future__ import annotations

import re

from app.api import tokens, webhooks
from app.api.tables import ApiToken, DeliveryStatus, Webhook, WebhookDelivery
from app.audit.tables import AuditEntry
from tests.api.conftest import bearer
from tests.helpers import post_form, signed_in


async def test_a_token_is_shown_once_and_listed_without_it(client, org) -> None:
    await signed_in(client, org["admin"].email)
    page = await client.get("/admin/tokens")
    assert page.status_code == 200
    assert "No tokens yet." in page.text
    assert '<a href="/schema">Kudos API</a>' in page.text  # the schema's path, from the OpenAPI config
    assert '<a href="/admin/insights">Insights</a>' in page.text  # the admin sections, by route name
    response = await post_form(
        client, "/admin/tokens", {"name": "Helpdesk sync", "scopes": ["requests:write", "read"], "rate_limit": "60"}
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"  # the secret stays out of every cache
    token = re.search(r'value="(kudos_[0-9a-f]{8}_[^"]+)"', response.text).group(1)
    assert "will not show it again" in response.text
    row = await ApiToken.select().first()
    assert (row["name"], row["scopes"], row["rate_limit"]) == ("Helpdesk sync", ["requests:write", "read"], 60)
    assert row["token_hash"] == tokens.hash_token(token)
    listing = await client.get("/admin/tokens")
    assert token not in listing.text
    assert f"kudos_{row['prefix']}_…" in listing.text
    assert "never" in listing.text  # not used yet
    assert (await client.get("/api/v1/leaderboards", headers=bearer(token))).status_code == 200
    entry = await AuditEntry.select(AuditEntry.action, AuditEntry.actor).first()
    assert entry == {"action": "api_token.create", "actor": org["admin"].id}


async def test_bad_token_forms_are_refused_by_field(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(client, "/admin/tokens", {"name": " ", "scopes": "admin", "rate_limit": "0"})
    assert response.status_code == 422
    assert "Name the token after what uses it" in response.text
    assert "Unknown scope: admin." in response.text
    assert "Allow from 1 to 10,000 requests per minute." in response.text
    assert 'aria-invalid="true"' in response.text
    response = await post_form(client, "/admin/tokens", {"name": "No scopes"})
    assert "Choose at least one scope." in response.text
    assert await ApiToken.count() == 0
    assert await AuditEntry.count() == 0


async def test_revoking_a_token_stops_it_and_is_audited(client, org, make_token) -> None:
    token = await make_token("read")
    token_id = (await ApiToken.select(ApiToken.id).first())["id"]
    await signed_in(client, org["admin"].email)
    response = await post_form(client, f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "The token “Test” was revoked; it no longer works." in page.text
    assert "Revoked" in page.text
    assert (await client.get("/api/v1/leaderboards", headers=bearer(token))).status_code == 401
    assert await AuditEntry.count().where(AuditEntry.action == "api_token.revoke") == 1
    again = await post_form(client, f"/admin/tokens/{token_id}/revoke")
    assert again.status_code == 409
    assert "was already revoked" in again.text
    missing = await post_form(client, "/admin/tokens/999999/revoke")
    assert missing.status_code == 404


async def test_a_webhook_secret_is_shown_once_and_deliveries_are_listed(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(
        client,
        "/admin/webhooks",
        {"name": "#kudos", "url": "https://hooks.example.com/T1/B2", "events": ["kudos.given", "badge.earned"]},
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    secret = re.search(r'value="(whsec_[^"]+)"', response.text).group(1)
    hook = await Webhook.select().first()
    assert hook["secret"] == secret
    assert hook["events"] == ["kudos.given", "badge.earned"]
    await WebhookDelivery.insert(
        WebhookDelivery(
            webhook=hook["id"],
            event="kudos.given",
            body="{}",
            status=DeliveryStatus.RETRYING,
            attempts=2,
            last_error="HTTP 500: boom",
            created_at=hook["created_at"],
        )
    )
    page = await client.get("/admin/webhooks")
    assert secret not in page.text
    assert "https://hooks.example.com/T1/B2" in page.text
    assert "retrying" in page.text and "HTTP 500: boom" in page.text
    assert await AuditEntry.count().where(AuditEntry.action == "webhook.create") == 1


async def test_bad_webhook_forms_are_refused_by_field(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(
        client, "/admin/webhooks", {"name": "x", "url": "javascript:alert(1)", "events": "kudos.deleted"}
    )
    assert response.status_code == 422
    assert "Enter a full http:// or https:// URL." in response.text
    assert "Unknown event: kudos.deleted." in response.text
    response = await post_form(client, "/admin/webhooks", {"url": "https://example.com"})
    assert "Name the webhook" in response.text and "Choose at least one event." in response.text
    assert await Webhook.count() == 0


async def test_removing_a_webhook_stops_its_deliveries(client, org) -> None:
    await signed_in(client, org["admin"].email)
    await post_form(
        client, "/admin/webhooks", {"name": "Gone", "url": "https://example.com/h", "events": "kudos.given"}
    )
    hook_id = (await Webhook.select(Webhook.id).first())["id"]
    response = await post_form(client, f"/admin/webhooks/{hook_id}/remove")
    assert response.status_code == 303
    assert "was removed" in (await client.get("/admin/webhooks")).text
    assert await webhooks.emit("kudos.given", {"text": "hi"}) == 0
    again = await post_form(client, f"/admin/webhooks/{hook_id}/remove")
    assert again.status_code == 409
    assert await AuditEntry.count().where(AuditEntry.action == "webhook.remove") == 1
