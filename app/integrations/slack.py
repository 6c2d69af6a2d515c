"""Giving kudos from Slack: the `/kudos` command (with text: give at once; bare: open the give modal) and the
modal's submission. Every request is verified first (slack_sdk's SignatureVerifier: the signing secret, and a
timestamp within five minutes). People are matched by email: Slack's users.info gives each one's profile email,
and Kudos looks it up case-insensitively. The gift goes through the web form's own service and rules
(app/kudos/giving.py), with an idempotency key from the Slack request, so a retried request gives once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from app.api.webhooks import slack_escape
from app.integrations import config, slack_api
from app.integrations.commands import parse, part
from app.integrations.people import UNMATCHED, giver_by_email, ids_by_email, value_ids
from app.kudos.forms import MESSAGE_MAX, GiveForm, Given
from app.kudos.giving import company_values, give_kudos
from app.kudos.tables import Visibility
from app.mail.links import absolute_url
from app.paging import parse_id
from app.people.services import CurrentUser
from app.rules import RuleViolation

MODAL_CALLBACK = "kudos_give"
FIELDS = ("recipients", "message", "points", "values", "visibility")  # the modal's blocks, named as the form's fields
DEFAULT_POINTS = GiveForm().points  # "10", as the web form starts
NOT_SET_UP = "Kudos is not connected to Slack yet: an admin pastes the app's signing secret at /admin/integrations."


class Unverified(Exception):
    """The request does not come from Slack (bad or missing signature, stale timestamp), or Slack is not set up."""


class NotAGiver(Exception):
    """The person using the command is not someone Kudos knows; the message says so, for them."""


@dataclass(frozen=True, slots=True)
class Request:
    """A verified request from Slack: its form fields, and the settings it was verified with."""

    fields: dict[str, str]
    config: config.ChatConfig


async def verify(body: bytes, headers: Mapping[str, str]) -> Request:
    settings = await config.load()
    if not settings.slack_signing_secret:
        raise Unverified(NOT_SET_UP)
    timestamp = headers.get("x-slack-request-timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Unverified("The request has no valid Slack timestamp.")
    if not SignatureVerifier(settings.slack_signing_secret).is_valid_request(body, dict(headers)):
        raise Unverified("The request's Slack signature does not match, or it is more than five minutes old.")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    return Request(fields=fields, config=settings)


async def _people(request: Request, giver: str, users: list[str], emails: list[str]) -> tuple[CurrentUser, list[int]]:
    """The giver (a Slack user id) and the recipients (Slack user ids, then emails written out) as Kudos people,
    matched by email; every users.info call at once (Slack's answer time counts against its 3 seconds). A
    recipient Kudos does not know is UNMATCHED, for the give rules to name; an unknown giver is NotAGiver."""
    token = request.config.slack_bot_token

    async def email(user: str) -> str:
        return (await slack_api.email_of(token, user) or "") if user else ""

    giver_email, *wanted = await asyncio.gather(email(giver), *(email(user) for user in users))
    wanted += emails
    person = await giver_by_email(giver_email)
    if person is None:
        raise NotAGiver(
            f"Kudos does not know your Slack email ({giver_email}): ask an admin to add you, with the same email."
            if giver_email
            else "Kudos cannot see your Slack email: ask an admin to check the app has the users:read.email scope."
        )
    known = await ids_by_email(e for e in wanted if e)
    return person, [known.get(email.strip().lower(), UNMATCHED) for email in wanted]


async def give_command(request: Request) -> Given:
    """`/kudos @ana @ravi +10 #teamwork Thanks for fixing the VPN`: a public kudos, given at once."""
    command = parse(request.fields.get("text", ""))
    giver, recipients = await _people(request, request.fields.get("user_id", ""), [*command.users], [*command.emails])
    form = GiveForm(
        recipient_ids=recipients,
        message=command.message,
        value_ids=await value_ids(command.tags),
        points=command.points if command.points is not None else DEFAULT_POINTS,
        visibility=Visibility.PUBLIC,
        idempotency_key="slack:" + request.fields.get("trigger_id", ""),
    )
    return await give_kudos(giver, form)


async def answer_command(request: Request) -> str:
    """Give what the command asks for, and the answer for the person who typed it (Slack mrkdwn)."""
    try:
        given = await give_command(request)
    except RuleViolation as exc:
        return "Kudos could not give that: " + slack_escape(" ".join(exc.errors.values()))
    except NotAGiver as exc:
        return str(exc)
    except slack_api.SlackError as exc:
        return f"Slack did not answer Kudos's question about those people ({exc.code}); try again in a moment."
    url = absolute_url("kudos", kudos_id=given.kudos_id)
    again = "" if given.created else " (given already: this request came twice)"
    return (
        f"You thanked {slack_escape(', '.join(given.names))}{again}. "
        f"You have {given.remaining} of {given.budget} points left this month. <{url}|View kudos>"
    )


def is_bare(request: Request) -> bool:
    return not request.fields.get("text", "").strip()


async def modal() -> dict[str, Any]:
    """The give modal (Block Kit), with the web form's fields; its blocks are named as the form's fields."""
    values = [
        {"text": {"type": "plain_text", "text": v.name[:75]}, "value": str(v.id)} for v in await company_values()
    ][:100]

    def block(name: str, label: str, element: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
        return {
            "type": "input",
            "block_id": name,
            "optional": optional,
            "label": {"type": "plain_text", "text": label},
            "element": {**element, "action_id": name},
        }

    visibility = [
        {"text": {"type": "plain_text", "text": "Public: on the feed"}, "value": Visibility.PUBLIC.value},
        {"text": {"type": "plain_text", "text": "Private: only them"}, "value": Visibility.PRIVATE.value},
    ]
    blocks = [
        block("recipients", "Who do you want to thank?", {"type": "multi_users_select"}),
        block(
            "message",
            "What did they do?",
            {"type": "plain_text_input", "multiline": True, "max_length": MESSAGE_MAX},
        ),
        block(
            "points",
            "Points for each person",
            {"type": "number_input", "is_decimal_allowed": False, "initial_value": DEFAULT_POINTS},
            optional=True,
        ),
    ]
    if values:
        blocks.append(
            block(
                "values",
                "Company values",
                {"type": "multi_static_select", "options": values},
                optional=True,  # when the admin requires one, the give rules say so
            )
        )
    blocks.append(
        block(
            "visibility",
            "Who can see it",
            {"type": "radio_buttons", "options": visibility, "initial_option": visibility[0]},
        )
    )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": {"type": "plain_text", "text": "Give kudos"},
        "submit": {"type": "plain_text", "text": "Give"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


async def open_modal(request: Request) -> None:
    """Open the give modal for the person who typed a bare `/kudos` (views.open needs the trigger within 3 s)."""
    await slack_api.call(
        request.config.slack_bot_token,
        "views.open",
        trigger_id=request.fields.get("trigger_id", ""),
        view=await modal(),
    )


def _state(view: dict[str, Any], name: str) -> dict[str, Any]:
    return part(view, "state", "values", name, name)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


async def submit_modal(request: Request, payload: dict[str, Any]) -> Given:
    """The modal's view_submission: a kudos, or RuleViolation with the form's messages (by field)."""
    view = part(payload, "view")
    users = [str(u) for u in _list(_state(view, "recipients").get("selected_users"))]
    giver, recipients = await _people(request, str(part(payload, "user").get("id", "")), users, [])
    chosen = _list(_state(view, "values").get("selected_options"))
    visibility = part(_state(view, "visibility"), "selected_option").get("value", Visibility.PUBLIC.value)
    points = _state(view, "points").get("value")
    form = GiveForm(
        recipient_ids=recipients,
        message=str(_state(view, "message").get("value") or ""),
        value_ids=[parse_id(o.get("value")) or UNMATCHED for o in chosen if isinstance(o, dict)],
        points=str(points) if points is not None else "",
        visibility=str(visibility),
        idempotency_key="slack:" + str(view.get("id", "")),
    )
    return await give_kudos(giver, form)


def field_errors(exc: RuleViolation) -> dict[str, str]:
    """The give form's messages on the modal's blocks (a whole-form message goes on the message block)."""
    errors: dict[str, str] = {}
    for field, message in exc.errors.items():
        block = field if field in FIELDS else "message"
        errors[block] = f"{errors[block]} {message}" if block in errors else message
    return errors


def payload_of(request: Request) -> dict[str, Any]:
    """The JSON `payload` of an interactivity request ({} when it has none)."""
    try:
        payload = json.loads(request.fields.get("payload", "") or "{}")
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}
