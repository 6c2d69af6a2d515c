"""Database lifecycle helpers: migrations, the connection pool, and an engine that survives lost connections."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg import exceptions as pg
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

log = logging.getLogger("kudos.db")

# PostgreSQL cannot be reached, or dropped the connection: worth a retry later (jobs) or a 503 (pages), never a 500.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    pg.PostgresConnectionError,  # class 08, and a connection closed mid-operation
    pg.AdminShutdownError,  # pg_terminate_backend, or a server shutting down
    pg.CrashShutdownError,
    pg.CannotConnectNowError,  # starting up or in recovery
    pg.InterfaceError,
    pg.InternalClientError,  # "cannot switch to state …": the server's goodbye arrived but the socket is still open
    OSError,  # refused, reset
)
# …of which these prove the statement never ran (it was never sent, or the server ended the session before
# committing it), so running it again on another connection cannot do anything twice.
NOT_RUN: tuple[type[BaseException], ...] = (
    pg.InternalClientError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,
)


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


def _discard(connection: Any, exc: BaseException) -> None:
    """Close a pooled connection PostgreSQL has dropped, so the pool opens a fresh one in its place."""
    log.warning("replacing a dropped database connection (%s: %s)", type(exc).__name__, exc)
    with contextlib.suppress(pg.InterfaceError):  # the pool already took back a connection that closed itself
        connection.terminate()


class ResilientTransaction(PostgresTransaction):
    """A transaction that starts on a live connection, and always returns its connection to the pool.

    A pooled connection can die while idle (the server restarted, an operator ended it); asyncpg notices only
    when it is used. BEGIN is the first thing sent, so when it fails the transaction starts again on another
    connection: nothing was written yet. A connection lost later ends the transaction with its error.
    """

    __slots__ = ()

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        pool = self.engine.pool
        for attempt in range(1, (pool.get_max_size() if pool else 0) + 2):
            self.connection = await self.get_connection()
            self.transaction = self.connection.transaction()
            try:
                await self.begin()
            except UNAVAILABLE as exc:
                _discard(self.connection, exc)
                await self._give_back()
                if pool is None or attempt > pool.get_max_size():
                    raise
            else:
                break
        self.context = self.engine.current_transaction.set(self)
        return self

    async def _give_back(self) -> None:
        if self.engine.pool:
            await self.engine.pool.release(self.connection)
        else:
            await self.connection.close()

    async def __aexit__(self, exception_type, exception, traceback) -> bool:  # type: ignore[no-untyped-def]
        if self._parent is not None:
            return exception is None
        try:
            if exception is None and not (self._committed or self._rolled_back):
                await self.commit()
            elif exception is not None and not self._rolled_back:
                await self.rollback()
        except UNAVAILABLE as exc:  # the connection died with the transaction: discard it, keep the first error
            _discard(self.connection, exc)
            if exception is None:
                raise
        finally:
            await self._give_back()
            self.engine.current_transaction.reset(self.context)
        return exception is None


class ResilientEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, replacing pooled connections the server dropped (see ResilientTransaction).

    A statement outside a transaction is sent again on another connection when the error proves it never ran, or
    when it only reads (a SELECT: the connection may have been dropped while it ran, which changes nothing).
    """

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return ResilientTransaction(engine=self, allow_nested=allow_nested)

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        if not self.pool:
            raise ValueError("A pool isn't currently running.")
        for attempt in range(1, self.pool.get_max_size() + 2):
            async with self.pool.acquire() as connection:
                try:
                    return await connection.fetch(query, *(args or ()))
                except UNAVAILABLE as exc:
                    if not isinstance(exc, NOT_RUN) and query.lstrip()[:6].upper() != "SELECT":
                        raise
                    _discard(connection, exc)
                    if attempt > self.pool.get_max_size():
                        raise
        raise AssertionError("unreachable")


def engine() -> ResilientEngine:
    """The one engine (app/piccolo_conf.py): the single way to reach it, typed, for raw statements and
    transactions."""
    found = engine_finder()
    if not isinstance(found, ResilientEngine):
        raise RuntimeError("Piccolo's engine is not configured (app/piccolo_conf.py)")
    return found


def transaction() -> contextlib.AbstractAsyncContextManager[PostgresTransaction]:
    """The one way to open a transaction: `async with db.transaction(): ...` (nested calls join the outer one).

    Typed as a plain context manager: Piccolo's `__aexit__` returns a bool, which tells mypy an exception raised
    inside could be swallowed and the code after the block reached."""
    return engine().transaction()


async def start_pool(*, max_size: int = 10, **options: object) -> None:
    """The engine's connection pool; `options` go to asyncpg.create_pool (e.g. `init` for a query logger)."""
    await engine().start_connection_pool(min_size=1, max_size=max_size, reset=_release, **options)


POOL_CLOSE_SECONDS = 10


async def close_pool() -> None:
    """Close the pool once its connections are back; one still held after POOL_CLOSE_SECONDS (by a task that
    ignored its cancellation) is cut, so stopping never waits on it for ever."""
    pool = engine().pool
    if pool is None:
        return
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
    except TimeoutError:
        log.warning("database connections still in use after %d s; closing them", POOL_CLOSE_SECONDS)
        pool.terminate()
    engine().pool = None
