"""A real `kudos worker` process sending mail to the test's SMTP server, and waiting on the database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.plugins.smtp import SmtpServer


def worker_process(server: SmtpServer, log_path: Path) -> subprocess.Popen[bytes]:
    """`kudos worker` in its own process, its mail to `server`, a dead worker's claims reaped after 2 s."""
    env = {
        **os.environ,
        "KUDOS_MAIL_BACKEND": "smtp",
        "KUDOS_SMTP_HOST": server.host,
        "KUDOS_SMTP_PORT": str(server.port),
        "KUDOS_DIGEST_LEASE_SECONDS": "2",
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(60):
        while not await condition():  # noqa: ASYNC110 — polling the database, which has no event to wait on
            await asyncio.sleep(0.05)
