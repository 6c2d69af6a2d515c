"""Mail delivery backends: an `.eml` outbox on disk (the default) and SMTP over one reused connection."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import DateHeader
from email.message import EmailMessage
from pathlib import Path
from typing import Self

import aiosmtplib

from app.mail.message import Outgoing
from app.settings import Settings

SMTP_TIMEOUT = 30.0


class _Backend:
    """Shared `async with` support: leaving the block closes the backend."""

    async def close(self) -> None:
        """Release resources held by the backend (nothing by default)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Summary of one message in the outbox, for listing."""

    name: str
    subject: str
    to: str
    date: datetime | None
    size: int


class OutboxBackend(_Backend):
    """Writes each message as an `.eml` file in a directory instead of sending it."""

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    async def send(self, message: Outgoing) -> None:
        """Store the message in the outbox."""
        await asyncio.to_thread(self._write, message)

    def _write(self, message: Outgoing) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        digest = hashlib.sha256(message.message_id.encode()).hexdigest()[:12]
        path = self.outbox_dir / f"{stamp}-{digest}.eml"
        fd, tmp_name = tempfile.mkstemp(dir=self.outbox_dir, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.data)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def _is_outbox_name(name: str) -> bool:
    """A plain `.eml` file name: no path separators, not hidden (temporary files are)."""
    return name.endswith(".eml") and not name.startswith(".") and not set(name) & {"/", "\\", "\0"}


def list_outbox(outbox_dir: Path, limit: int = 100) -> list[OutboxEntry]:
    """The newest `limit` messages in the outbox, newest first (file names start with a UTC timestamp)."""
    if not outbox_dir.is_dir():
        return []
    names = sorted((p.name for p in outbox_dir.iterdir() if _is_outbox_name(p.name)), reverse=True)
    entries = []
    for name in names[:limit]:
        data = (outbox_dir / name).read_bytes()
        message = message_from_bytes(data, policy=policy.default)
        date = message["Date"]
        entries.append(
            OutboxEntry(
                name=name,
                subject=str(message["Subject"] or ""),
                to=str(message["To"] or ""),
                date=date.datetime if isinstance(date, DateHeader) else None,
                size=len(data),
            )
        )
    return entries


def read_outbox(outbox_dir: Path, name: str) -> EmailMessage:
    """Parse one outbox message; names that are not plain `.eml` file names raise FileNotFoundError."""
    if not _is_outbox_name(name):
        raise FileNotFoundError(name)
    return message_from_bytes((outbox_dir / name).read_bytes(), policy=policy.default)


class SmtpBackend(_Backend):
    """Sends through one SMTP connection, opened on first use and reopened once if the server dropped it."""

    def __init__(self, settings: Settings) -> None:
        self._client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls,
            timeout=SMTP_TIMEOUT,
        )
        self._lock = asyncio.Lock()

    async def send(self, message: Outgoing) -> None:
        """Send the message to its envelope's recipients (those of its To header)."""
        async with self._lock:
            if not self._client.is_connected:
                await self._client.connect()
            try:
                await self._transmit(message)
            except aiosmtplib.SMTPServerDisconnected:
                self._client.close()
                await self._client.connect()
                await self._transmit(message)

    async def _transmit(self, message: Outgoing) -> None:
        client = self._client
        if message.sender.isascii() and all(address.isascii() for address in message.recipients):
            if message.data.isascii():
                await client.sendmail(message.sender, message.recipients, message.data)
                return
            if not client.is_ehlo_or_helo_needed and client.supports_extension("8bitmime"):
                await client.sendmail(message.sender, message.recipients, message.data, mail_options=["BODY=8BITMIME"])
                return
        # An address that needs SMTPUTF8, or 8-bit text before the server said it takes it: the library decides (and
        # encodes 8-bit parts again for a server without 8BITMIME).
        await client.send_message(message.parsed(), sender=message.sender, recipients=list(message.recipients))

    async def close(self) -> None:
        """Say QUIT if connected, then drop the connection."""
        async with self._lock:
            if not self._client.is_connected:
                return
            try:
                await self._client.quit()
            except aiosmtplib.SMTPException:
                self._client.close()


def get_backend(settings: Settings) -> OutboxBackend | SmtpBackend:
    """The backend chosen by `settings.mail_backend`."""
    if settings.mail_backend == "smtp":
        return SmtpBackend(settings)
    return OutboxBackend(settings.outbox_dir)
