"""The `Mail` value object and its conversion to the bytes that go on the wire (`Outgoing`).

A message is written directly as RFC 5322 text rather than built as an `email.message.EmailMessage` and flattened:
the standard library parses every header it is given into an object and folds it again on output, which cost
several milliseconds of CPU per mail, more than rendering it. The result is the message the standard library
(`policy.default`) writes — the same headers in the same order, the same MIME structure, the same choice of
transfer encoding: a header value that is plain printable ASCII and short is written as it is (the standard library
writes it unchanged too), any other goes through the standard library's own folding. Two differences in the
bytes, none in what a mail client reads: quoted-printable bodies are encoded in C (`binascii`), which wraps lines at
76 columns, not 78; and a value of a header other than Subject that is one word longer than a line (the
List-Unsubscribe <URL> of a digest) is written as it is, where the standard library, unable to fold it, wrote RFC
2047 encoded words — which decode to the same text, but which readers of List-Unsubscribe (RFC 2369) need not
decode.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache

import css_inline

# Never fetch remote stylesheets while building a message: mail is built from our own templates.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)

# Marks a mail that shows private kudos messages (their count): the outbox viewer shows such a mail's body only to
# its recipient.
PRIVATE_HEADER = "X-Kudos-Private-Kudos"

MAX_LINE = 78  # policy.default.max_line_length: where the standard library folds, and what it writes as is
MAX_WORD_LINE = 998  # RFC 5322's limit for a line

# Header values written as they are (the standard library would write exactly these bytes): printable ASCII words
# with single spaces; mailboxes whose display name is letters and digits; a plain <id@domain> Message-ID.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
_SIMPLE = {
    "text": re.compile(r"(?!.*=\?)[!-~]+(?: [!-~]+)*"),  # no "=?": it could read as an encoded word
    "mailbox": re.compile(rf"(?:[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_DOT_ATOM}@{_DOT_ATOM}>|{_DOT_ATOM}@{_DOT_ATOM})"),
    "msgid": re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>"),
    "date": re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:[A-Z][a-z]{2}) \d{4} \d\d:\d\d:\d\d [+-]\d{4}"),
}
_KIND_OF = {"from": "mailbox", "to": "mailbox", "message-id": "msgid", "date": "date"}
_STRUCTURED = set(policy.default.header_factory.registry) - {"subject"}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Mail:
    """One email to one recipient, ready to be turned into a message."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready to send: its envelope (sender and recipient addresses), its Message-ID, and its bytes (LF
    line ends, as `EmailMessage.as_bytes` writes them; the SMTP client sends CRLF)."""

    sender: str
    recipients: tuple[str, ...]
    message_id: str
    data: bytes

    def parsed(self) -> EmailMessage:
        """The message as the standard library reads it (for tests and the outbox viewer)."""
        message: EmailMessage = message_from_bytes(self.data, policy=policy.default)
        return message


def _domain_of(sender: str) -> str:
    """The domain part of the sender's address, used for generated Message-IDs."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def header(name: str, value: str) -> str:
    """`name: value` folded as the standard library (`policy.default`) writes it, with its line end."""
    kind = _KIND_OF.get(name.lower(), "other" if name.lower() in _STRUCTURED else "text")
    pattern = _SIMPLE.get(kind)
    length = len(name) + 2 + len(value)
    # One word too long for a line in a header read by programs (a List-Unsubscribe <URL>) cannot be folded: it is
    # written as it is (RFC 5322 allows 998 characters), where the standard library would write encoded words.
    machine = kind == "text" and name.lower() != "subject"
    fits = length <= MAX_LINE or (machine and length <= MAX_WORD_LINE and " " not in value)
    if pattern is not None and fits and pattern.fullmatch(value):
        return f"{name}: {value}\n"
    return _folded(name, value)


@lru_cache(maxsize=1024)  # the sender, subjects and the constant headers repeat from mail to mail
def _folded(name: str, value: str) -> str:
    folded: str = policy.default.fold(name, policy.default.header_store_parse(name, value)[1])
    return folded


def _addresses(value: str) -> tuple[str, ...]:
    """The addresses of a To/From header value, as the standard library reads them."""
    if _SIMPLE["mailbox"].fullmatch(value):
        return (value.rpartition("<")[2].rstrip(">"),)
    return _parsed_addresses(value)


@lru_cache(maxsize=64)
def _parsed_addresses(value: str) -> tuple[str, ...]:
    parsed = policy.default.header_factory("To", value)
    return tuple(address.addr_spec for address in parsed.addresses)


def _encode(text: str) -> tuple[str, bytes]:
    """The transfer encoding the standard library picks for a UTF-8 text part, and the encoded body: as is (7bit or
    8bit) when every line fits in 78 characters, otherwise quoted-printable or base64, whichever is shorter on the
    first ten lines."""
    lines = text.encode().splitlines()
    body = b"\n".join(lines) + b"\n"
    if max(map(len, lines), default=0) <= MAX_LINE:
        return ("7bit" if body.isascii() else "8bit"), body
    sniff = b"\n".join(lines[:10]) + b"\n"
    if len(binascii.b2a_qp(sniff, istext=True)) > len(binascii.b2a_base64(sniff)):
        return "base64", base64.encodebytes(body)
    return "quoted-printable", binascii.b2a_qp(body, istext=True)


def _part(subtype: str, text: str) -> tuple[bytes, bytes]:
    cte, body = _encode(text)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: {cte}\n'
    return head.encode(), body


def _boundary(bodies: list[bytes]) -> str:
    """A boundary in the standard library's form that occurs in no part."""
    while True:
        boundary = f"==============={random.randrange(10**18, 10**19)}=="  # not a secret: it only has to be new
        if not any(boundary.encode() in body for body in bodies):
            return boundary


def inline_css(html: str) -> str:
    """`html` with the rules of its <style> elements moved into style attributes (mail clients drop <style>)."""
    inlined: str = _INLINER.inline(html)
    return inlined


def build_message(mail: Mail, *, sender: str) -> Outgoing:
    """A text (+ CSS-inlined HTML alternative) message with Date, Message-ID and extra headers."""
    return _assemble(mail, sender=sender, html=inline_css(mail.html) if mail.html is not None else None)


def build_messages(mails: list[Mail], *, sender: str) -> list[Outgoing]:
    """`build_message` for many mails at once: their CSS is inlined in parallel threads (outside the GIL)."""
    with_html = [(mail, mail.html) for mail in mails if mail.html is not None]
    htmls = _INLINER.inline_many([html for _, html in with_html])
    inlined = dict(zip((id(mail) for mail, _ in with_html), htmls, strict=True))
    return [_assemble(mail, sender=sender, html=inlined.get(id(mail))) for mail in mails]


def _assemble(mail: Mail, *, sender: str, html: str | None) -> Outgoing:
    message_id = mail.message_id or make_msgid(domain=_domain_of(sender))
    fields = {
        "from": ("From", sender),
        "to": ("To", mail.to),
        "subject": ("Subject", mail.subject),
        "date": ("Date", format_datetime(datetime.now(UTC))),
        "message-id": ("Message-ID", message_id),
    }
    for name, value in mail.headers.items():  # an extra header replaces a standard one, and goes last
        fields.pop(name.lower(), None)
        fields[name.lower()] = (name, value)
    head = "".join(header(name, value) for name, value in fields.values()).encode()
    text_head, text_body = _part("plain", mail.text)
    if html is None:
        data = head + text_head + b"MIME-Version: 1.0\n\n" + text_body
    else:
        html_head, html_body = _part("html", html)
        boundary = _boundary([text_body, html_body])
        data = b"".join(
            (
                head,
                f'MIME-Version: 1.0\nContent-Type: multipart/alternative;\n boundary="{boundary}"\n\n'.encode(),
                f"--{boundary}\n".encode(),
                text_head,
                b"\n",
                text_body,
                f"\n--{boundary}\n".encode(),
                html_head,
                b"MIME-Version: 1.0\n\n",
                html_body,
                f"\n--{boundary}--\n".encode(),
            )
        )
    envelope_from = _addresses(fields["from"][1])[0] if "from" in fields else parseaddr(sender)[1]
    recipients = tuple(addr for name in ("to", "cc") if name in fields for addr in _addresses(fields[name][1]))
    return Outgoing(sender=envelope_from, recipients=recipients, message_id=message_id, data=data)
