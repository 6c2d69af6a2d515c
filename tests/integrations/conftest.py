"""Slack and Teams as tests see them: an organisation, requests signed exactly as Slack and Teams sign them, and
Slack's Web API played by a local recorder (loopback only) that answers as Slack does."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from app.integrations import slack_api
from app.integrations.tables import ChatSettings
from app.kudos.tables import CompanyValue
from app.people.tables import Role
from tests.factories import make_department, make_employee

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
TEAMS_TOKEN = base64.b64encode(b"teams-security-token-of-32-bytes").decode()
SLACK_USERS = {
    "UANA": "ana@example.com",
    "URAVI": "Ravi@Example.com",
    "UGINA": "gina@example.com",
    "UNOBODY": "x@else.org",
}


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    await CompanyValue.insert(
        CompanyValue(name="Teamwork", position=1), CompanyValue(name="Customer first", position=2)
    )
    return {
        "it": it,
        "gina": await make_employee("Gina Giver", department=finance, email="gina@example.com"),
        "ana": await make_employee("Ana Silva", department=it, email="ana@example.com"),
        "ravi": await make_employee("Ravi Patel", department=it, email="ravi@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com"),
    }


@dataclass
class SlackApi:
    """Slack's Web API on a loopback port: records each call (method, form fields, token) and answers as Slack."""

    calls: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=lambda: dict(SLACK_USERS))
    delay: float = 0.0

    def called(self, method: str) -> list[dict[str, str]]:
        return [fields for name, fields, _ in self.calls if name == method]

    def answer(self, method: str, fields: dict[str, str]) -> dict[str, Any]:
        if method == "users.info":
            email = self.users.get(fields.get("user", ""))
            if email is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": fields["user"], "profile": {"email": email}}}
        if method == "users.lookupByEmail":
            for user_id, email in self.users.items():
                if email.lower() == fields.get("email", "").lower():
                    return {"ok": True, "user": {"id": user_id}}
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method = request_line.split()[1].rsplit("/", 1)[-1]
        fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        self.calls.append((method, fields, headers.get("authorization", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = json.dumps(self.answer(method, fields)).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def slack_web(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackApi]:
    recorder = SlackApi()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    monkeypatch.setattr(slack_api, "API_URL", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/")
    yield recorder
    server.close()
    await server.wait_closed()


@pytest.fixture
async def slack_on(org, slack_web) -> SlackApi:
    """Slack set up as an admin would: signing secret, bot token and channel stored."""
    await ChatSettings.insert(
        ChatSettings(id=1, slack_signing_secret=SIGNING_SECRET, slack_bot_token=BOT_TOKEN, slack_channel="C0KUDOS")
    )
    return slack_web


def slack_headers(body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """Headers as Slack signs a request: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


async def slack_post(client: httpx.AsyncClient, path: str, fields: dict[str, str], **signing: Any) -> httpx.Response:
    body = urlencode(fields).encode()
    return await client.post(path, content=body, headers=slack_headers(body, **signing))


def command(text: str, *, user: str = "UGINA", trigger: str = "13345224609.738474920.8088930838d") -> dict[str, str]:
    return {
        "command": "/kudos",
        "text": text,
        "user_id": user,
        "trigger_id": trigger,
        "response_url": "https://hooks.slack.com/commands/T1/1/abc",
        "team_id": "T1",
    }


def teams_auth(body: bytes, token: str = TEAMS_TOKEN) -> dict[str, str]:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return {"Authorization": "HMAC " + base64.b64encode(digest).decode(), "Content-Type": "application/json"}
