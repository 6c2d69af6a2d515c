"""Mail: message building, SMTP delivery over one connection, the outbox, template rendering."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import jinja2
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.mail.backends import OutboxBackend, SmtpBackend, get_backend, list_outbox, read_outbox
from app.mail.links import absolute_url
from app.mail.message import PRIVATE_HEADER, Mail, build_message, header, inline_css
from app.mail.render import render_mail
from app.settings import Settings, get_settings, load_settings
from tests.plugins.smtp import SmtpServer

SENDER = "Kudos <kudos@example.org>"
HTML = """<!doctype html><html><head><style>p { color: #123456; }</style></head>
<body><p>Hello NAME</p></body></html>"""


def make_settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "KUDOS_DATA_DIR": str(tmp_path),
            "KUDOS_SECRET_KEY": "x" * 40,
            "KUDOS_MAIL_FROM": SENDER,
            **extra,
        }
    )


def mail(n: int) -> Mail:
    return Mail(
        to=f"person{n}@example.org",
        subject=f"Subject {n}",
        text=f"Hello {n}",
        html=HTML.replace("NAME", str(n)),
        headers={"List-Unsubscribe": "<https://kudos.example.org/me/settings>"},
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


@pytest.fixture
def env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader("templates"), autoescape=jinja2.select_autoescape(["html"]))
    env.globals["url_for"] = absolute_url  # links in mail, as mail_environment has them
    return env


def test_build_message_headers_and_parts() -> None:
    message = build_message(
        Mail(to="a@example.org", subject="S", text="T", html="<p>H</p>", message_id="<id-1@example.org>"),
        sender=SENDER,
    ).parsed()
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == "<id-1@example.org>"
    assert message["Date"] is not None
    generated = build_message(Mail(to="a@example.org", subject="S", text="T", html=None), sender=SENDER).parsed()
    assert generated.get_content_type() == "text/plain"
    assert str(generated["Message-ID"]).endswith("@example.org>")


async def test_smtp_backend_sends_over_one_connection(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = make_settings(
        tmp_path,
        KUDOS_MAIL_BACKEND="smtp",
        KUDOS_SMTP_HOST=smtp_server.host,
        KUDOS_SMTP_PORT=str(smtp_server.port),
    )
    backend = get_backend(settings)
    assert isinstance(backend, SmtpBackend)
    async with backend:
        for n in range(3):
            await backend.send(build_message(mail(n), sender=settings.mail_from))

    assert smtp_server.connections == 1
    assert len(smtp_server.messages) == 3
    for n, received in enumerate(smtp_server.messages):
        assert received["Subject"] == f"Subject {n}"
        assert received["To"] == f"person{n}@example.org"
        assert received["From"] == SENDER
        assert received["List-Unsubscribe"] == "<https://kudos.example.org/me/settings>"
        text, html = parts(received)
        assert text.strip() == f"Hello {n}"
        assert "<style" not in html
        assert 'style="color: #123456;"' in html
        assert f"Hello {n}" in html


async def test_smtp_backend_sends_8bit_text(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """Short non-ASCII lines go as 8bit (as the standard library chose): the first message before the server's
    EHLO answer is known, the next ones with BODY=8BITMIME."""
    settings = make_settings(tmp_path, KUDOS_SMTP_HOST=smtp_server.host, KUDOS_SMTP_PORT=str(smtp_server.port))
    texts = [f"Grüße {n} · Zoë" for n in range(3)]
    async with SmtpBackend(settings) as backend:
        for n, text in enumerate(texts):
            sent = build_message(Mail(to=f"p{n}@example.org", subject="Grüße", text=text), sender=SENDER)
            assert b"Content-Transfer-Encoding: 8bit" in sent.data
            await backend.send(sent)
    assert [m.get_content().strip() for m in smtp_server.messages] == texts
    assert [str(m["Subject"]) for m in smtp_server.messages] == ["Grüße"] * 3
    assert [m["To"] for m in smtp_server.messages] == [f"p{n}@example.org" for n in range(3)]


async def test_smtp_backend_reconnects_when_server_dropped_connection(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = make_settings(tmp_path, KUDOS_SMTP_HOST=smtp_server.host, KUDOS_SMTP_PORT=str(smtp_server.port))
    async with SmtpBackend(settings) as backend:
        await backend.send(build_message(mail(1), sender=SENDER))
        smtp_server.drop_connections()
        await backend.send(build_message(mail(2), sender=SENDER))

    assert [m["Subject"] for m in smtp_server.messages] == ["Subject 1", "Subject 2"]
    assert smtp_server.connections == 2


async def test_outbox_backend_writes_lists_and_reads(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    backend = get_backend(settings)
    assert isinstance(backend, OutboxBackend)
    async with backend:
        for n in range(3):
            await backend.send(build_message(mail(n), sender=SENDER))

    files = sorted(p.name for p in settings.outbox_dir.iterdir())
    assert len(files) == 3 and all(name.endswith(".eml") for name in files)

    entries = list_outbox(settings.outbox_dir)
    assert [e.subject for e in entries] == ["Subject 2", "Subject 1", "Subject 0"]
    assert [e.to for e in entries] == ["person2@example.org", "person1@example.org", "person0@example.org"]
    assert all(e.date is not None and e.size > 0 for e in entries)
    assert [e.subject for e in list_outbox(settings.outbox_dir, limit=1)] == ["Subject 2"]

    message = read_outbox(settings.outbox_dir, entries[-1].name)
    assert message["Subject"] == "Subject 0"
    assert message["From"] == SENDER
    text, html = parts(message)
    assert text.strip() == "Hello 0"
    assert 'style="color: #123456;"' in html


def test_outbox_listing_of_missing_dir_is_empty(tmp_path: Path) -> None:
    assert list_outbox(tmp_path / "nowhere") == []


@pytest.mark.parametrize("name", ["../x.eml", "a/b.eml", "a\\b.eml", "x.txt", ".hidden.eml", ""])
def test_read_outbox_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    (tmp_path / "x.eml").write_bytes(b"Subject: outside\n\nbody\n")
    outbox = tmp_path / "outbox"
    (outbox / "a").mkdir(parents=True)
    (outbox / "a" / "b.eml").write_bytes(b"Subject: nested\n\nbody\n")
    with pytest.raises(FileNotFoundError):
        read_outbox(outbox, name)


def test_render_mail_escapes_html_and_renders_both_parts(env: jinja2.Environment) -> None:
    rendered = render_mail(
        env,
        "test_message",
        to="a@example.org",
        subject="Test",
        context={"org_name": "<script>alert(1)</script>"},
        headers={"X-Kudos": "test"},
        message_id="<m@example.org>",
    )
    assert rendered.to == "a@example.org" and rendered.subject == "Test"
    assert rendered.headers == {"X-Kudos": "test"} and rendered.message_id == "<m@example.org>"
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "This is a test message from Kudos" in rendered.html
    settings_link = get_settings().base_url + "/me/settings"  # links in mail: KUDOS_BASE_URL + the route's path
    assert f'href="{settings_link}"' in rendered.html
    assert "<script>alert(1)</script>" in rendered.text
    assert "This is a test message from Kudos" in rendered.text
    assert settings_link in rendered.text

    text, html = parts(build_message(rendered, sender=SENDER).parsed())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<style" not in html and 'style="' in html
    assert "This is a test message from Kudos" in text


# ---------------------------------------------------------------------- messages as the standard library builds them


def stdlib_message(mail: Mail, *, sender: str, html: str | None) -> EmailMessage:
    """The message as it was built before messages were written directly (EmailMessage, policy.default)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        del message[name]
        message[name] = value
    message.set_content(mail.text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def anatomy(message: EmailMessage) -> list[tuple[object, ...]]:
    """What a mail client sees: each part's headers (decoded; the boundary and Date aside), type and content."""
    shape: list[tuple[object, ...]] = []
    for part in message.walk():
        headers = [(name, str(value)) for name, value in part.items() if name not in {"Date", "Content-Type"}]
        params = {k: v for k, v in part["Content-Type"].params.items() if k != "boundary"}
        body = None if part.is_multipart() else part.get_content()
        shape.append((part.get_content_type(), params, headers, body))
    return shape


LONG_WORD = "w" * 90
MAILS = [
    Mail(to="Grace Lemford <grace@example.org>", subject="Your month", text="Hi\n", html="<p>Hi</p>"),
    Mail(
        to="Zoë Ørsted <zoe@example.org>",
        subject="Kudos für Zoë · November 2026",
        text="Danke schön!\n" + "lang " * 30 + "\nend",
        html="<p>Merci · déjà</p>" + "<p>" + "x" * 200 + "</p>",
        headers={
            "List-Unsubscribe": "<https://kudos.example.com/unsubscribe/MS5lbXBsb3llZQ.wiqPhNDGX-NhGGpEP4900Py9>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            PRIVATE_HEADER: "2",
        },
        message_id="<digest.employee.2026-11.7@example.org>",
    ),
    Mail(to="J. R. Smith <j.smith@example.org>", subject="  spaced   out  ", text="plain only"),
    Mail(to="a@example.org", subject="=?utf-8?q?looks_encoded?=", text=f"{LONG_WORD}\n" * 3, html=None),
    Mail(
        to='"Quoted, Name" <q@example.org>', subject="S" * 100, text="日本語のテキスト " * 20, html="<b>日本</b>" * 40
    ),
    Mail(to="b@example.org", subject="Replaced", text="t", headers={"Subject": "Replacement", "X-Extra": "one two"}),
]


@pytest.mark.parametrize("mail", MAILS, ids=range(len(MAILS)))
def test_written_message_reads_as_the_standard_library_builds_it(mail: Mail) -> None:
    mail = Mail(
        **{**{f: getattr(mail, f) for f in Mail.__slots__}, "message_id": mail.message_id or "<m-1@example.org>"}
    )
    built = build_message(mail, sender=SENDER)
    expected = stdlib_message(mail, sender=SENDER, html=None if mail.html is None else inline_css(mail.html))
    ours, theirs = built.parsed(), message_from_bytes(expected.as_bytes(), policy=policy.default)
    assert isinstance(theirs, EmailMessage)
    assert anatomy(ours) == anatomy(theirs)  # as a mail client reads each
    assert [name for name, _ in ours.items()] == [name for name, _ in expected.items()]  # same headers, same order
    ours_head, expected_head = (m.split(b"\n\n", 1)[0] for m in (built.data, expected.as_bytes()))
    drop = re.compile(rb"^(?:Date|List-Unsubscribe): .*\n(?: .*\n)*|boundary=\"[^\"]+\"", re.M)
    assert drop.sub(b"", ours_head + b"\n") == drop.sub(b"", expected_head + b"\n")  # the header bytes themselves
    if "List-Unsubscribe" in mail.headers:  # one word longer than a line: as it is, not as RFC 2047 encoded words
        assert f"\nList-Unsubscribe: {mail.headers['List-Unsubscribe']}\n".encode() in ours_head + b"\n"
    assert built.sender == "kudos@example.org" and built.message_id == mail.message_id
    assert built.recipients == tuple(a.addr_spec for a in expected["To"].addresses)


ASCII_HEADER_TEXT = st.text(st.sampled_from("aZ09 .,<>@\"()=?_-:;\\'\t"), max_size=90)


@given(
    st.sampled_from(["To", "From", "Subject", "X-Kudos", "Message-ID", "Date", "List-Unsubscribe"]),
    ASCII_HEADER_TEXT | st.text(max_size=90),
)
@hypothesis_settings(max_examples=400, deadline=None)
def test_header_is_written_as_the_standard_library_folds_it(name: str, value: str) -> None:
    value = value.replace("\r", " ").replace("\n", " ")
    try:
        stored = policy.default.header_store_parse(name, value)[1]
        expected = policy.default.fold(name, stored)
    except Exception:  # a value the standard library refuses is not a header we write either
        return
    written = header(name, value)
    long_word = " " not in value.strip() and len(expected) > len(name) + 2 + 78 + 1 and name != "Subject"
    if long_word and written == f"{name}: {value}\n":
        # one word longer than a line: written as it is, where the standard library writes encoded words
        assert str(policy.default.header_fetch_parse(name, expected.partition(": ")[2].rstrip("\n"))) == value
        return
    assert written == expected
