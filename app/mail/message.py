"""The `Mail` value object and its conversion to a MIME message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import css_inline

# Never fetch remote stylesheets while building a message: mail is built from our own templates.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)

# Marks a mail that shows private kudos messages (their count): the outbox viewer shows such a mail's body only to
# its recipient.
PRIVATE_HEADER = "X-Kudos-Private-Kudos"


@dataclass(frozen=True, slots=True)
class Mail:
    """One email to one recipient, ready to be turned into a MIME message."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None


def _domain_of(sender: str) -> str:
    """The domain part of the sender's address, used for generated Message-IDs."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def build_message(mail: Mail, *, sender: str) -> EmailMessage:
    """Build a text (+ CSS-inlined HTML alternative) message with Date, Message-ID and extra headers."""
    return _assemble(mail, sender=sender, html=_INLINER.inline(mail.html) if mail.html is not None else None)


def build_messages(mails: list[Mail], *, sender: str) -> list[EmailMessage]:
    """`build_message` for many mails at once: their CSS is inlined in parallel threads (outside the GIL)."""
    with_html = [(mail, mail.html) for mail in mails if mail.html is not None]
    htmls = _INLINER.inline_many([html for _, html in with_html])
    inlined = dict(zip((id(mail) for mail, _ in with_html), htmls, strict=True))
    return [_assemble(mail, sender=sender, html=inlined.get(id(mail))) for mail in mails]


def _assemble(mail: Mail, *, sender: str, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = mail.message_id or make_msgid(domain=_domain_of(sender))
    for name, value in mail.headers.items():
        del message[name]
        message[name] = value
    message.set_content(mail.text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
