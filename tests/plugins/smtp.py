"""Pytest plugin: a real SMTP server (aiosmtpd) on a free loopback port, collecting what it receives."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    """The running server as tests see it: where it listens and what it received."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    sessions: list[SMTP] = field(default_factory=list)
    delay: float = 0.0  # seconds the server takes to accept each message (a slow server)
    refuse: set[str] = field(default_factory=set)  # recipient addresses answered with 550

    @property
    def connections(self) -> int:
        """How many client connections greeted the server (EHLO)."""
        return len(self.sessions)

    def drop_connections(self) -> None:
        """Close every client connection from the server side, as an idle-timeout would."""
        for server in self.sessions:
            if server.transport is not None:
                server.loop.call_soon_threadsafe(server.transport.close)


class _Handler:
    def __init__(self, state: SmtpServer) -> None:
        self.state = state

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if not any(known is server for known in self.state.sessions):
            self.state.sessions.append(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.state.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.state.delay:
            await asyncio.sleep(self.state.delay)
        raw = envelope.original_content or b""
        self.state.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest_asyncio.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """Start an aiosmtpd server in its own thread for one test, then stop it."""
    state = SmtpServer(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(state), hostname=state.host, port=state.port)
    await asyncio.to_thread(controller.start)
    try:
        yield state
    finally:
        await asyncio.to_thread(controller.stop)


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch):
    """The app's settings pointed at the test's SMTP server (the worker's mail backend reads them at start)."""
    from app.settings import get_settings  # the app is imported once the test environment is set

    monkeypatch.setenv("KUDOS_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("KUDOS_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("KUDOS_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    yield smtp_server
    monkeypatch.undo()
    get_settings.cache_clear()
