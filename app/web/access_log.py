"""One log line per HTTP request — method, path, status and time taken — around the whole ASGI app, so requests
that match no route (404s) and static files are logged too. The query string is left out: it can hold search
terms people typed."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kudos.http")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # also lifespan, which Litestar's Scope type leaves out
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, took)
