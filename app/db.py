"""Database lifecycle helpers: migrations and the connection pool."""

from __future__ import annotations

import contextlib
import io

import asyncpg
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


async def _release(connection: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool: only an open transaction ended.

    asyncpg's default also runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` — a second
    round trip for every query run outside a transaction. Kudos never leaves session state behind (no LISTEN,
    advisory locks, cursors or plain SET; settings are SET LOCAL inside transactions), so that reset buys nothing.
    """
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


async def start_pool(*, max_size: int = 10, **options: object) -> None:
    """The engine's connection pool; `options` go to asyncpg.create_pool (e.g. `init` for a query logger)."""
    await engine_finder().start_connection_pool(min_size=1, max_size=max_size, reset=_release, **options)


async def close_pool() -> None:
    await engine_finder().close_connection_pool()
