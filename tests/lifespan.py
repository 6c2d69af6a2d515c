"""Running an application's lifespan on the test loop (no `app` import here: conftest loads this before the
environment is set)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def lifespan_running(application: Any) -> AsyncIterator[Any]:
    """`application` with its lifespan entered and exited in one task of its own (pytest-asyncio runs a fixture's
    set-up and teardown in different tasks, which the lifespan's context managers do not allow)."""
    ready, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with application.lifespan():
            ready.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await ready.wait()
    try:
        yield application
    finally:
        stop.set()
        await task
