"""Database lifecycle helpers: migrations and the connection pool."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine import engine_finder


class MigrationError(RuntimeError):
    pass


async def migrate() -> None:
    """Apply every pending Piccolo migration of every app (Piccolo's chatter is kept off the console)."""
    with contextlib.redirect_stdout(io.StringIO()) as output:
        result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationError(result.message or output.getvalue())


async def start_pool(*, max_size: int = 10) -> None:
    await engine_finder().start_connection_pool(min_size=1, max_size=max_size)


async def close_pool() -> None:
    await engine_finder().close_connection_pool()
