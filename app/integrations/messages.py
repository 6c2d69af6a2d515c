"""A notice (a headline, a quote, a link) as Slack and Teams show it, with user text kept as text: Slack's mrkdwn
escaped (`&`, `<`, `>`, so a name or message cannot make a link or an `<!channel>`), and in Teams' Adaptive Cards
carried in `TextRun`s, which render no markdown at all, so a message's `[link](…)` or `**` stays as typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.api.webhooks import slack_escape

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


@dataclass(frozen=True, slots=True)
class Notice:
    headline: str  # plain text
    quote: str  # plain text, may be empty
    link_label: str
    url: str


def slack_message(notice: Notice) -> dict[str, Any]:
    """`chat.postMessage` arguments: mrkdwn text (the notification's fallback) and the same as a section block."""
    lines = [slack_escape(notice.headline)]
    if notice.quote:
        lines.append("> " + slack_escape(" ".join(notice.quote.split())))
    lines.append(f"<{notice.url}|{slack_escape(notice.link_label)}>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def teams_message(notice: Notice) -> dict[str, Any]:
    """An incoming-webhook (Workflows) message holding one Adaptive Card."""
    runs: list[dict[str, Any]] = [{"type": "TextRun", "text": notice.headline, "weight": "Bolder"}]
    body: list[dict[str, Any]] = [{"type": "RichTextBlock", "inlines": runs}]
    if notice.quote:
        body.append({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": notice.quote, "italic": True}]})
    card = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": notice.link_label, "url": notice.url}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
