"""What the admin set at /admin/integrations: Slack's signing secret, bot token and channel, the Teams outgoing
webhook's security token and the Teams channels' incoming webhooks. Secrets are kept in PostgreSQL, sealed with a
key derived from KUDOS_SECRET_KEY (app/sealed.py), are read only by the integrations, and are never shown back: the
admin page says whether each is set, and a blank field keeps the current value. Every change is audited, without
the values.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

import app.db as db
from app.api import egress
from app.audit.services import record as audit
from app.integrations.tables import ChatSettings, TeamsChannel
from app.paging import valid_id
from app.rules import Actor, RuleViolation
from app.sealed import seal, unseal
from app.settings import get_settings
from app.timeutil import now

SETTINGS_ID = 1
SECRET_MAX = 500
NAME_MAX = 80
URL_MAX = 2000
CHANNEL = re.compile(r"[A-Z0-9]{2,20}|#[a-z0-9][a-z0-9_\-]{0,79}")
TEAMS_FIELD = "token"  # the security token's field on the form
BOT_TOKEN_PREFIX = "xoxb-"  # noqa: S105 (the kind of token, not one)


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """The stored settings, secrets included: for the integrations' own use, never for a page."""

    slack_signing_secret: str = ""
    slack_bot_token: str = ""
    slack_channel: str = ""
    teams_token: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    """A Teams channel, as the admin page lists it (its URL is a secret and not shown)."""

    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Overview:
    """What the admin page shows: whether each secret is set, never its value."""

    slack_signing_secret_set: bool
    slack_bot_token_set: bool
    slack_channel: str
    teams_token_set: bool
    teams_channels: list[Channel]
    updated_at: datetime | None


async def load() -> ChatConfig:
    row = (
        await ChatSettings.select(
            ChatSettings.slack_signing_secret,
            ChatSettings.slack_bot_token,
            ChatSettings.slack_channel,
            ChatSettings.teams_token,
        )
        .where(ChatSettings.id == SETTINGS_ID)
        .first()
    )
    if row is None:
        return ChatConfig()
    return ChatConfig(
        slack_signing_secret=unseal(row["slack_signing_secret"]),
        slack_bot_token=unseal(row["slack_bot_token"]),
        slack_channel=row["slack_channel"],
        teams_token=unseal(row["teams_token"]),
    )


@dataclass(frozen=True, slots=True)
class Targets:
    """Where posts go: the Slack channel ("" for none), whether Slack DMs can be sent, the Teams channels' ids."""

    slack_channel: str
    slack_dms: bool
    teams_channels: list[int]

    @property
    def any(self) -> bool:
        return self.slack_dms or bool(self.teams_channels)


# Slack needs its bot token for anything; in one statement for the event handlers, which run for every event.
_TARGETS_SQL = """
    SELECT coalesce((SELECT slack_channel FROM chat_settings WHERE id = {} AND slack_bot_token <> ''), '')
               AS slack_channel,
           EXISTS (SELECT 1 FROM chat_settings WHERE id = {} AND slack_bot_token <> '') AS slack_dms,
           ARRAY(SELECT id FROM teams_channel WHERE removed_at IS NULL ORDER BY id) AS teams_channels
"""


async def targets() -> Targets:
    rows = await ChatSettings.raw(_TARGETS_SQL, SETTINGS_ID, SETTINGS_ID)
    return Targets(**rows[0])


async def overview() -> Overview:
    config = await load()
    row = await ChatSettings.select(ChatSettings.updated_at).where(ChatSettings.id == SETTINGS_ID).first()
    channels = (
        await TeamsChannel.select(TeamsChannel.id, TeamsChannel.name, TeamsChannel.created_at)
        .where(TeamsChannel.removed_at.is_null())
        .order_by(TeamsChannel.name)
    )
    return Overview(
        slack_signing_secret_set=bool(config.slack_signing_secret),
        slack_bot_token_set=bool(config.slack_bot_token),
        slack_channel=config.slack_channel,
        teams_token_set=bool(config.teams_token),
        teams_channels=[Channel(**c) for c in channels],
        updated_at=row["updated_at"] if row else None,
    )


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise RuleViolation("Only admins can change the chat integrations.", status_code=403)


def _secret(raw: str, field: str, errors: dict[str, str]) -> str:
    text = raw.strip()
    if len(text) > SECRET_MAX:
        errors[field] = f"That is longer than any {field.replace('_', ' ')} ({SECRET_MAX} characters at most)."
    elif any(ord(c) <= 32 for c in text):
        errors[field] = "Paste the value alone, without spaces or line breaks."
    return text


async def _save(actor: Actor, changes: dict[str, str], summary: str, at: datetime | None) -> None:
    moment = at or now()
    async with db.transaction():
        await ChatSettings.insert(ChatSettings(id=SETTINGS_ID)).on_conflict(action="DO NOTHING")
        await ChatSettings.update(
            {
                **{getattr(ChatSettings, k): v for k, v in changes.items()},
                ChatSettings.updated_by: actor.id,
                ChatSettings.updated_at: moment,
            }
        ).where(ChatSettings.id == SETTINGS_ID)
        await audit(
            actor_id=actor.id,
            action="integrations.update",
            target_type="integrations",
            target_id=SETTINGS_ID,
            summary=summary,
            after={k: (v if k == "slack_channel" else "replaced" if v else "cleared") for k, v in changes.items()},
            at=moment,
        )


async def save_slack(
    actor: Actor, *, signing_secret: str, bot_token: str, channel: str, at: datetime | None = None
) -> None:
    """Store what was typed: a blank secret keeps the current one; the channel is replaced (blank: no posts)."""
    _admin(actor)
    errors: dict[str, str] = {}
    secret = _secret(signing_secret, "signing_secret", errors)
    token = _secret(bot_token, "bot_token", errors)
    if token and "bot_token" not in errors and not token.startswith(BOT_TOKEN_PREFIX):
        errors["bot_token"] = f"Paste the Bot User OAuth Token: it starts with “{BOT_TOKEN_PREFIX}”."
    channel = channel.strip()
    if channel and not CHANNEL.fullmatch(channel):
        errors["channel"] = "Enter a channel ID such as C0123ABCD, or a name such as #kudos."
    if errors:
        raise RuleViolation(errors)
    changes = {"slack_channel": channel}
    if secret:
        changes["slack_signing_secret"] = seal(secret)
    if token:
        changes["slack_bot_token"] = seal(token)
    await _save(actor, changes, "Changed the Slack settings", at)


async def save_teams_token(actor: Actor, *, token: str, at: datetime | None = None) -> None:
    """Store the Teams outgoing webhook's security token (base64, as Teams shows it)."""
    _admin(actor)
    errors: dict[str, str] = {}
    text = _secret(token, TEAMS_FIELD, errors)
    if not text and not errors:
        errors[TEAMS_FIELD] = "Paste the security token Teams showed when you created the outgoing webhook."
    if not errors:
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            errors[TEAMS_FIELD] = "That is not the security token: Teams shows it as base64 text."
    if errors:
        raise RuleViolation(errors)
    await _save(actor, {"teams_token": seal(text)}, "Changed the Teams outgoing webhook's security token", at)


async def add_teams_channel(actor: Actor, *, name: str, url: str, at: datetime | None = None) -> int:
    """Post public kudos, badges and awards to another Teams channel; returns its id."""
    _admin(actor)
    moment = at or now()
    errors: dict[str, str] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = "Name the channel, e.g. “General”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters (it has {len(name)})."
    url = url.strip()
    if not url:
        errors["url"] = "Paste the channel's incoming webhook URL."
    elif len(url) > URL_MAX or any(ord(c) <= 32 for c in url):
        errors["url"] = f"Paste the URL alone (at most {URL_MAX} characters)."
    elif not url.startswith("https://") and (get_settings().production or not url.startswith("http://")):
        errors["url"] = "Enter the https:// URL Teams gave you."
    else:
        try:
            await egress.check(url)
        except egress.Refused as exc:
            errors["url"] = exc.message
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        rows = await TeamsChannel.insert(TeamsChannel(name=name, url=seal(url), created_at=moment)).returning(
            TeamsChannel.id
        )
        await audit(
            actor_id=actor.id,
            action="integrations.teams_channel.add",
            target_type="teams_channel",
            target_id=rows[0]["id"],
            summary=f"Added the Teams channel “{name}”",
            at=moment,
        )
    return int(rows[0]["id"])


async def remove_teams_channel(actor: Actor, channel_id: int, *, at: datetime | None = None) -> str:
    """Stop posting to a Teams channel; returns its name."""
    _admin(actor)
    moment = at or now()
    if not valid_id(channel_id):
        raise RuleViolation("There is no such Teams channel.", status_code=404)
    async with db.transaction():
        rows = (
            await TeamsChannel.update({TeamsChannel.removed_at: moment})
            .where((TeamsChannel.id == channel_id) & TeamsChannel.removed_at.is_null())
            .returning(TeamsChannel.name)
        )
        if not rows:
            raise RuleViolation("There is no such Teams channel.", status_code=404)
        await audit(
            actor_id=actor.id,
            action="integrations.teams_channel.remove",
            target_type="teams_channel",
            target_id=channel_id,
            summary=f"Removed the Teams channel “{rows[0]['name']}”",
            at=moment,
        )
    return str(rows[0]["name"])
