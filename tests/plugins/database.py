"""The test database: migrated once, reset per test by one server-side call, guarded against tests that forgot `db`.

Why not a transaction rolled back after each test: the app under test and its arq worker take connections from a
pool of their own, several tests run gifts concurrently on separate connections to prove nothing is overspent
(one transaction would serialise them, or deadlock), jobs commit in the worker, and the browser tests' server is
another process. None of that sees an uncommitted outer transaction. Nor a fresh database per test from a
template: CREATE DATABASE copies files and every pooled connection would have to be replaced, tens of milliseconds
per test. So data is committed for real, and `kudos_test.reset()` removes it: it looks which tables hold rows (an
EXISTS per table, microseconds each on the small tables tests write), empties only those, and restarts only the
sequences that were used (setval), in one round trip, where truncating every table cost ~0.5 s of each test's
set-up. As a superuser (the test servers' usual role) it DELETEs with triggers off; otherwise it TRUNCATEs, which is
slower on a server that fsyncs (a TRUNCATE's commit always waits for the WAL flush).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

RESET_FUNCTION = """
CREATE OR REPLACE FUNCTION kudos_test.reset() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    written text[];
    relation text;
    has_rows boolean;
BEGIN
    FOR relation IN
        SELECT format('public.%I', tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %s)', relation) INTO has_rows;
        IF has_rows THEN
            written := written || relation;
        END IF;
    END LOOP;
    IF written IS NULL THEN
        NULL;
    ELSIF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        -- DELETE, without foreign-key (or append-only) triggers so the order does not matter: a TRUNCATE swaps
        -- in new files and so forces a synchronous commit, a WAL flush per test on a server that fsyncs.
        SET LOCAL session_replication_role = replica;
        FOREACH relation IN ARRAY written LOOP
            EXECUTE format('DELETE FROM %s', relation);
        END LOOP;
    ELSE
        EXECUTE 'TRUNCATE ' || array_to_string(written, ', ') || ' CASCADE';
    END IF;
    -- setval, not ALTER SEQUENCE … RESTART: the same next value, without the catalog update and new file that an
    -- ALTER writes for each sequence (about 1 ms each, most of a reset's time).
    PERFORM setval(format('public.%I', sequencename), start_value, false) FROM pg_sequences
    WHERE schemaname = 'public' AND last_value IS NOT NULL AND sequencename <> 'migration_id_seq';
END
$$;
"""


def _engine() -> Any:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    assert engine is not None, "piccolo_conf.py names the engine"
    return engine


async def prepare_database() -> None:
    """Migrate the test database and install the reset function (run once, before any worker clones it)."""
    from app.db import migrate

    await migrate()
    await _engine().run_ddl("CREATE SCHEMA kudos_test")
    await _engine().run_ddl(RESET_FUNCTION)


async def reset_database() -> None:
    await _engine().run_ddl("SELECT kudos_test.reset()")


_SNAPSHOTS: dict[str, tuple[Any, dict[str, bytes], dict[str, int]]] = {}


async def built_once(key: str, build: Callable[[], Awaitable[T]]) -> T:
    """`build()`'s result and the rows it wrote, built once per test process and restored after that.

    For a large read-mostly world that several tests share (the demo organisation takes seconds to seed): the
    first test builds it and its tables are copied out (COPY … binary); each later one gets the same rows and
    sequence positions copied back in, on a database `db` has just emptied, in a fraction of the time. Restoring
    skips foreign-key triggers (session_replication_role), which needs a superuser, as the test servers are.
    """
    import asyncpg

    engine = _engine()
    if key in _SNAPSHOTS:
        result, copied, sequences = _SNAPSHOTS[key]
        connection: asyncpg.Connection
        async with engine.pool.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            for table, data in copied.items():
                await connection.copy_to_table(table, source=io.BytesIO(data), format="binary")
            await connection.execute(
                "SELECT setval(name, value) FROM unnest($1::text[], $2::bigint[]) AS s(name, value)",
                list(sequences),
                list(sequences.values()),
            )
        return result  # type: ignore[no-any-return]
    result = await build()
    tables: dict[str, bytes] = {}
    async with engine.pool.acquire() as connection:
        names = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
        )
        for row in names:
            if await connection.fetchval(f'SELECT EXISTS (SELECT FROM "{row["tablename"]}")'):  # noqa: S608
                output = io.BytesIO()
                await connection.copy_from_table(row["tablename"], output=output, format="binary")
                tables[row["tablename"]] = output.getvalue()
        used = await connection.fetch(
            "SELECT format('public.%I', sequencename) AS name, last_value FROM pg_sequences "
            "WHERE schemaname = 'public' AND last_value IS NOT NULL AND sequencename <> 'migration_id_seq'"
        )
    _SNAPSHOTS[key] = (result, tables, {row["name"]: row["last_value"] for row in used})
    return result


class DatabaseNotRequested(RuntimeError):
    """A test that did not ask for the `db` fixture opened a database connection."""


_unguarded_test: str | None = None  # the node id of the running test when it did not ask for `db`
_violation: DatabaseNotRequested | None = None


def _check() -> None:
    global _violation
    if _unguarded_test is not None:
        _violation = DatabaseNotRequested(
            f"{_unguarded_test} uses the database without asking for the `db` fixture: add `db` to its arguments "
            "(or `pytestmark = pytest.mark.usefixtures('db')` to its module), so it starts from a clean database"
        )
        raise _violation


def pytest_configure(config: pytest.Config) -> None:
    """Route every way this process opens or borrows a PostgreSQL connection through the check."""
    import asyncpg
    import asyncpg.pool

    acquire, connect = asyncpg.pool.Pool.acquire, asyncpg.connect

    def guarded_acquire(self: asyncpg.pool.Pool, *, timeout: float | None = None) -> Any:
        _check()
        return acquire(self, timeout=timeout)

    async def guarded_connect(*args: Any, **kwargs: Any) -> Any:
        _check()
        return await connect(*args, **kwargs)

    asyncpg.pool.Pool.acquire = guarded_acquire
    asyncpg.connect = guarded_connect


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`db` first among a test's fixtures, so no fixture's rows (an `org` listed before `redis`) are reset away."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names and "db" in names:
            names.remove("db")
            names.insert(0, "db")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    global _unguarded_test, _violation
    _violation = None
    _unguarded_test = None if "db" in getattr(item, "fixturenames", ()) else item.nodeid
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    if _violation is not None:  # raised where the code under test may have caught it: fail the test all the same
        raise _violation
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    global _unguarded_test
    _unguarded_test = None  # session fixtures (the pool, the app) may be finalised after a pure test
    return (yield)
