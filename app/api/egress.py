"""Where Kudos may send a request of its own (webhooks): only to the public internet, unless the operator says so.

A URL an admin registers could point inside the network Kudos runs in (a cloud metadata service at 169.254.169.254,
the database on 127.0.0.1:5432, Redis, an intranet host), and Kudos would carry its requests there. So a host is
resolved and every address it has must be public: not loopback, private, link-local, multicast, reserved or
unspecified (IPv4 forms like `0x7f000001`, `2130706433` or `127.1` count as the address they spell). The check runs
when the webhook is registered and again at every delivery, after resolving, and the request then goes to the very
address that was checked (with the URL's name in `Host` and for TLS), so a DNS answer that changes in between
("rebinding") cannot send it elsewhere. Redirects are never followed.

`KUDOS_WEBHOOK_ALLOW_PRIVATE=true` lifts the address rule, for a chat server on the LAN.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import httpx

from app.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PRIVATE_REFUSED = (
    "That address is inside a private network (loopback, private, link-local, multicast or reserved), where "
    "Kudos does not send webhooks. An operator can allow it with KUDOS_WEBHOOK_ALLOW_PRIVATE=true."
)
UNRESOLVED = "Kudos could not find that host name in DNS."


class Refused(Exception):
    """The destination may not be reached; the message says why, for people."""

    @property
    def message(self) -> str:
        return str(self.args[0])


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP spells (also the old IPv4 forms `inet_aton` and browsers accept)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve(host: str, port: int) -> list[str]:
    """The addresses DNS (or /etc/hosts) gives for `host`; tests replace this function, so no query leaves loopback."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: `url` names the checked address; `host` and `extensions` keep the original name."""

    url: httpx.URL
    host: str
    extensions: dict[str, Any]


async def check(url: str) -> Destination:
    """The address to send to for `url`, checked as the module says; Refused otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused(f"That URL cannot be used ({exc}).") from exc
    host = parsed.raw_host.decode("ascii")  # an international name in its DNS (punycode) form
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = await resolve(host, port)
        except OSError as exc:
            raise Refused(UNRESOLVED) from exc
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]  # an IPv6 scope id dropped
        if not addresses:
            raise Refused(UNRESOLVED)
    if not get_settings().webhook_allow_private and not all(is_public(address) for address in addresses):
        raise Refused(PRIVATE_REFUSED)
    extensions = {"sni_hostname": host} if parsed.scheme == "https" and literal is None else {}
    host_header = parsed.netloc.decode("ascii").rpartition("@")[2]
    return Destination(url=parsed.copy_with(host=str(addresses[0])), host=host_header, extensions=extensions)


async def post(client: httpx.AsyncClient, url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to `url` at the address `check` approved, never following a redirect."""
    destination = await check(url)
    return await client.post(
        destination.url,
        content=content,
        headers={**headers, "Host": destination.host},
        extensions=destination.extensions,
        follow_redirects=False,
    )
