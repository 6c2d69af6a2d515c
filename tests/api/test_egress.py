"""Webhooks never reach inside the network: private destinations are refused at registration and at every delivery
(after resolving, against DNS rebinding), the request goes to the checked address, redirects are not followed, and
the admin sees a status and a short reason, never the answer's body. DNS is a stub: nothing leaves loopback."""

from __future__ import annotations

from ipaddress import IPv4Address

import httpx
import pytest

from app.api import egress, webhooks
from app.api.tables import DeliveryStatus, Webhook, WebhookDelivery
from app.people.services import load_current_user
from tests.conftest import STUB_PUBLIC_ADDRESS
from tests.helpers import post_form, signed_in

PRIVATE_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://127.0.0.1:5432/",
    "http://localhost:6379/",
    "http://[fd00::1]/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://127.1/hook",
    "http://0177.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://192.168.1.20/hook",
    "http://100.64.0.1/hook",
    "https://intranet.localhost/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_destinations_are_refused_by_the_validator(url: str) -> None:
    with pytest.raises(egress.Refused, match=r"inside a private network|Invalid IPv4 address"):
        await egress.check(url)


async def test_public_destinations_go_to_the_checked_address_with_their_name() -> None:
    found = await egress.check("https://hooks.example.com:8443/T1?x=1")
    assert str(found.url) == f"https://{STUB_PUBLIC_ADDRESS}:8443/T1?x=1"
    assert found.host == "hooks.example.com:8443"
    assert found.extensions == {"sni_hostname": "hooks.example.com"}  # TLS still checks the name's certificate
    assert str((await egress.check("http://8.8.8.8/h")).url) == "http://8.8.8.8/h"


async def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch) -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return [STUB_PUBLIC_ADDRESS, "10.1.2.3"]

    monkeypatch.setattr(egress, "resolve", mixed)
    with pytest.raises(egress.Refused):
        await egress.check("https://hooks.example.com/h")


async def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(egress.Refused, match="could not find"):
        await egress.check("https://nowhere.invalid/h")


async def test_the_real_resolver_reads_localhost_without_the_network(monkeypatch) -> None:
    monkeypatch.undo()  # the real resolver instead of the tests' stub; localhost comes from /etc/hosts
    assert set(await egress.resolve("localhost", 80)) <= {"127.0.0.1", "::1"}
    with pytest.raises(egress.Refused, match="inside a private network"):
        await egress.check("http://localhost:6379/")


async def test_the_operator_can_allow_private_addresses(allow_private_webhooks) -> None:
    found = await egress.check("http://10.0.0.1:8080/hook")
    assert str(found.url) == "http://10.0.0.1:8080/hook"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/", "http://[fd00::1]/", "http://0x7f000001/"])
async def test_the_admin_page_refuses_a_private_url(client, org, url: str) -> None:
    await signed_in(client, org["admin"].email)
    response = await post_form(client, "/admin/webhooks", {"name": "Meta", "url": url, "events": "kudos.given"})
    assert response.status_code == 422
    assert "inside a private network" in response.text
    assert await Webhook.count() == 0


async def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(db, org, monkeypatch) -> None:
    admin = await load_current_user(org["admin"].id)
    await webhooks.register(admin, name="Chat", url="https://chat.example.com/hook", events=["kudos.given"])
    await webhooks.emit("kudos.given", {"text": "hi"})
    delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]

    async def rebound(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(egress, "resolve", rebound)
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        attempt = await webhooks.deliver(delivery_id, client)
    assert attempt.status == DeliveryStatus.RETRYING
    assert sent == []  # nothing was sent anywhere
    row = await WebhookDelivery.select(WebhookDelivery.last_error).first()
    assert row["last_error"].startswith("Not sent: That address is inside a private network")


async def test_a_delivery_goes_to_the_checked_address_follows_no_redirect_and_keeps_the_body_private(
    client, org
) -> None:
    admin = await load_current_user(org["admin"].id)
    await webhooks.register(admin, name="Chat", url="https://chat.example.com/hook", events=["kudos.given"])
    await webhooks.emit("kudos.given", {"text": "hi"})
    delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]
    sent: list[httpx.Request] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:6379/"}, text="secret internal page")

    async with httpx.AsyncClient(transport=httpx.MockTransport(redirect), follow_redirects=True) as mock:
        attempt = await webhooks.deliver(delivery_id, mock)
    assert attempt.status == DeliveryStatus.RETRYING
    assert [str(r.url) for r in sent] == [f"https://{STUB_PUBLIC_ADDRESS}/hook"]  # one request, no redirect
    assert sent[0].headers["host"] == "chat.example.com"
    assert sent[0].extensions["sni_hostname"] == "chat.example.com"
    row = await WebhookDelivery.select(WebhookDelivery.last_error, WebhookDelivery.last_status_code).first()
    assert row == {"last_error": "HTTP 302 Found", "last_status_code": 302}
    await signed_in(client, org["admin"].email)
    page = (await client.get("/admin/webhooks")).text
    assert "HTTP 302 Found" in page and "secret internal page" not in page


def test_old_ipv4_spellings_are_the_address_they_spell() -> None:
    assert egress.literal_address("0x7f000001") == egress.literal_address("2130706433") == IPv4Address("127.0.0.1")
    assert egress.literal_address("127.1") == IPv4Address("127.0.0.1")
    assert egress.literal_address("hooks.example.com") is None
