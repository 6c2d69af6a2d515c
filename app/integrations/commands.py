"""Reading what chats send. The text of a chat command, `@ana @ravi +10 #teamwork Thanks for fixing the VPN`,
parsed: who, how many points, which values, and the message. Leading words that are people, points or values are
taken; the rest is the message. Slack writes people as `<@U123>` (or `<@U123|ana>`), channels as `<#C123|name>`,
and escapes `&`, `<`, `>`. `part` reads a nested object out of a JSON payload whatever shape a sender gave it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
POINTS = re.compile(r"\+(\d{1,6})")
TAG = re.compile(r"#([\w\-]{1,60})")
EMAIL = re.compile(r"<?(?:mailto:[^|>]+\|)?([^\s@<>|]+@[^\s@<>|]+\.[^\s@<>|]+)>?")


@dataclass(frozen=True, slots=True)
class Command:
    users: tuple[str, ...]  # Slack user ids
    emails: tuple[str, ...]  # people written as emails
    points: str | None  # as written; None when not given (the form's default then applies)
    tags: tuple[str, ...]
    message: str


def slack_unescape(text: str) -> str:
    """Slack's escaping of `&`, `<` and `>` in message text undone (after the `<…>` markup was read)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str) -> Command:
    users: list[str] = []
    emails: list[str] = []
    tags: list[str] = []
    points: str | None = None
    words = text.strip().split()
    taken = 0
    for word in words:
        if found := SLACK_USER.fullmatch(word):
            users.append(found.group(1))
        elif found := EMAIL.fullmatch(word):
            emails.append(found.group(1))
        elif (found := POINTS.fullmatch(word)) and points is None:
            points = found.group(1)
        elif found := SLACK_CHANNEL.fullmatch(word) or TAG.fullmatch(word):
            tags.append(found.group(1))
        else:
            break
        taken += 1
    message = slack_unescape(" ".join(words[taken:]))
    return Command(tuple(dict.fromkeys(users)), tuple(dict.fromkeys(emails)), points, tuple(tags), message)


def part(value: object, *keys: str) -> dict[str, Any]:
    """`value[keys[0]][keys[1]]…` where each step is an object; {} where the JSON has something else."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}
