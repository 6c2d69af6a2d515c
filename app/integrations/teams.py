"""Giving kudos from Microsoft Teams through an outgoing webhook: “@Kudos thank @Ana Silva +10 #teamwork for
fixing the VPN”. Teams signs each request: `Authorization: HMAC <base64 of HMAC-SHA256(raw body, key)>`, the key
being the base64-decoded security token Teams showed when the webhook was created; it is compared in constant time.

Teams sends names and Azure AD object ids, not emails, so people are matched so (README, “Microsoft Teams”):
- the giver by the sender's display name, when exactly one active person in Kudos has it;
- each recipient by the mention's display name, when exactly one active person has it, or by an email written
  in the text (`thank ana@example.com …`), which always matches one person.
A name nobody or several people have is answered with a message that says so and how to write it instead.
The idempotency key is the activity's id, so a request Teams sends again gives once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from typing import Any

from app.integrations import config
from app.integrations.commands import parse, part
from app.integrations.people import UNMATCHED, ids_by_email, ids_by_name, value_ids
from app.kudos.forms import GiveForm, Given
from app.kudos.giving import give_kudos
from app.kudos.tables import Visibility
from app.people.services import CurrentUser, load_current_user

AT = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
TAGS = re.compile(r"<[^>]*>")
THANK = re.compile(r"^(?:thanks?|kudos)\b[\s,:]*", re.IGNORECASE)
DEFAULT_POINTS = GiveForm().points
NOT_SET_UP = "Kudos is not connected to Teams yet: an admin pastes the webhook's security token at /admin/integrations."


class Unverified(Exception):
    """The request is not signed by Teams with the stored token, or Teams is not set up."""


class Unmatched(Exception):
    """Someone named in the message cannot be told apart (or found); the message says how to write it."""


def signature(token: str, body: bytes) -> str:
    """The `Authorization` value Teams sends for `body`."""
    key = base64.b64decode(token)
    return "HMAC " + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


async def verify(body: bytes, authorization: str) -> None:
    token = (await config.load()).teams_token
    if not token:
        raise Unverified(NOT_SET_UP)
    try:
        expected = signature(token, body)
    except (binascii.Error, ValueError) as exc:
        raise Unverified("The stored security token is not base64.") from exc
    if not hmac.compare_digest(expected.encode(), authorization.strip().encode()):
        raise Unverified("The request's HMAC does not match the outgoing webhook's security token.")


@dataclass(frozen=True, slots=True)
class Activity:
    """What Kudos reads from an outgoing webhook's message."""

    id: str
    sender: str  # display name
    mentioned: tuple[str, ...]  # display names of the people mentioned (the bot itself left out)
    text: str  # the text with the mentions taken out, tags removed, entities decoded


def read(payload: dict[str, Any]) -> Activity:
    bot = str(part(payload, "recipient").get("name", ""))
    raw = str(payload.get("text") or "")
    names = [html.unescape(TAGS.sub("", name)).strip() for name in AT.findall(raw)]
    if names and (not bot or names[0] == bot):
        names = names[1:]  # the message starts by mentioning the webhook
    text = html.unescape(TAGS.sub(" ", AT.sub(" ", raw)))
    return Activity(
        id=str(payload.get("id") or ""),
        sender=str(part(payload, "from").get("name") or ""),
        mentioned=tuple(dict.fromkeys(n for n in names if n and n != bot)),
        text=" ".join(text.split()),
    )


def _one(name: str, found: dict[str, list[int]], who: str) -> int:
    ids = found.get(" ".join(name.split()).lower(), [])
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise Unmatched(f"Kudos knows no one called {name}{who}.")
    raise Unmatched(
        f"{len(ids)} people in Kudos are called {name}: write their email instead, e.g. “thank name@example.com …”."
    )


async def giver(activity: Activity) -> CurrentUser:
    if not activity.sender:
        raise Unmatched("Teams did not say who sent the message.")
    found = await ids_by_name([activity.sender])
    person = await load_current_user(
        _one(activity.sender, found, " (the sender): ask an admin to check your name in Kudos")
    )
    if person is None:
        raise Unmatched(f"Kudos knows no one called {activity.sender}.")
    return person


async def give(activity: Activity) -> Given:
    """The kudos the message asks for, through the web form's service and rules (public, as on a channel)."""
    sender = await giver(activity)
    command = parse(THANK.sub("", activity.text))
    by_name = await ids_by_name(activity.mentioned)
    recipients = [_one(name, by_name, "") for name in activity.mentioned]
    by_email = await ids_by_email(command.emails)
    recipients += [by_email.get(email.lower(), UNMATCHED) for email in command.emails]
    form = GiveForm(
        recipient_ids=recipients,
        message=THANK.sub("", command.message),
        value_ids=await value_ids(command.tags),
        points=command.points if command.points is not None else DEFAULT_POINTS,
        visibility=Visibility.PUBLIC,
        idempotency_key="teams:" + activity.id,
    )
    return await give_kudos(sender, form)


def markdown_escape(text: str) -> str:
    """Text for a Teams reply, which renders markdown: what could make emphasis, code, a link or HTML is
    backslash-escaped (a reply is one line that starts with Kudos's own words, so no list or heading can begin)."""
    return re.sub(r"([\\`*_\[\]<>~])", r"\\\1", text)
