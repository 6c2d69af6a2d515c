"""Chat integrations (Slack, Microsoft Teams): their settings, the Teams channels posted to, and one row per message
sent to a chat (a delivery with its state, as webhooks' are: app/api/tables.py)."""

from enum import StrEnum

from piccolo.columns import BigSerial, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Check
from piccolo.table import Table

from app.api.tables import DeliveryStatus
from app.people.tables import Employee


class ChatSettings(Table):
    """The one row (id 1) of what the admin pasted at /admin/integrations. Secrets are never shown back."""

    id = Integer(primary_key=True)
    slack_signing_secret = Text(default="", secret=True)
    slack_bot_token = Text(default="", secret=True)
    slack_channel = Varchar(length=80, default="")  # a channel id (C…) or name (#kudos) public posts go to
    teams_token = Text(default="", secret=True)  # the Teams outgoing webhook's security token (base64)
    updated_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(null=True, default=None)

    single_row = Check(id == 1)


class TeamsChannel(Table):
    """A Teams channel's incoming webhook (a Workflows URL): public kudos, badges and awards are posted there."""

    id = Serial(primary_key=True)
    name = Varchar(length=80)
    url = Text(secret=True)  # the URL carries its own signature: whoever has it can post to the channel
    created_at = Timestamptz()
    removed_at = Timestamptz(null=True, default=None)


class ChatKind(StrEnum):
    SLACK_CHANNEL = "slack.channel"  # a post to the admin's Slack channel
    SLACK_DM = "slack.dm"  # a direct message to a person, found in Slack by their email
    TEAMS_CARD = "teams.card"  # an Adaptive Card posted to a Teams channel's incoming webhook
    SLACK_COMMAND = "slack.command"  # a /kudos too slow for Slack's 3 s: given by the worker, answered at response_url


class ChatDelivery(Table):
    """One message to a chat; its body is fixed when the event happens, its target resolved when it is sent."""

    id = BigSerial(primary_key=True)
    kind = Varchar(length=20, choices=ChatKind)
    # slack.channel: the channel; slack.dm: the person's email; slack.command: its response_url
    target = Varchar(length=1000, default="")
    teams_channel = ForeignKey(TeamsChannel, null=True, on_delete=OnDelete.cascade)
    event = Varchar(length=40)
    body = Text()  # JSON: Slack's {text, blocks} or Teams' message with its card
    status = Varchar(length=20, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = Integer(default=0)
    last_error = Text(default="")
    created_at = Timestamptz()
    next_attempt_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
