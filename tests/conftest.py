"""Test harness: real PostgreSQL and Redis per test session, the app's lifespan on the test loop.

Servers come from KUDOS_TEST_DATABASE_URL / KUDOS_TEST_REDIS_URL when set (a database of its own is created
on that server and dropped afterwards; Redis is flushed per test, so point it at a spare database number),
otherwise embedded ones are started in a temporary directory. The environment is set in pytest_configure,
before any test module imports `app` (Piccolo reads its engine configuration on first use).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from tests.lifespan import lifespan_running

# No example database under the working tree: a failing case is printed, and runs stay independent.
hypothesis_settings.register_profile("kudos", database=None)
hypothesis_settings.load_profile("kudos")

pytest_plugins = ["tests.plugins.smtp", "tests.plugins.browser"]

_state: dict[str, object] = {}


def _replace_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _create_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kudos-test-"))
    _state["data_dir"] = data_dir
    os.environ.update(
        {
            "KUDOS_ENV": "development",
            "KUDOS_DATA_DIR": str(data_dir),
            "KUDOS_SECRET_KEY": secrets.token_urlsafe(48),
            "KUDOS_MAIL_BACKEND": "outbox",
            "KUDOS_BASE_URL": "http://testserver",
            "KUDOS_TIMEZONE": "UTC",
        }
    )
    external_db = os.environ.get("KUDOS_TEST_DATABASE_URL")
    external_redis = os.environ.get("KUDOS_TEST_REDIS_URL")
    if not (external_db and external_redis):
        from app.runtime import EmbeddedPostgres, EmbeddedRedis

        if not external_db:
            postgres = EmbeddedPostgres(data_dir)
            postgres.start()
            _state["postgres"] = postgres
            external_db = postgres.url("postgres")
        if not external_redis:
            redis_server = EmbeddedRedis(data_dir, persistent=False)
            redis_server.start()
            _state["redis"] = redis_server
            external_redis = redis_server.url
    name = f"kudos_test_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(external_db, name))
    _state["admin_db_url"] = external_db
    _state["db_name"] = name
    os.environ["DATABASE_URL"] = _replace_database(external_db, name)
    os.environ["REDIS_URL"] = external_redis

    from app.db import migrate

    asyncio.run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    if "db_name" in _state:
        asyncio.run(_drop_database(str(_state["admin_db_url"]), str(_state["db_name"])))
    if redis_server := _state.get("redis"):
        redis_server.stop()  # type: ignore[attr-defined]
    if postgres := _state.get("postgres"):
        postgres.stop()  # type: ignore[attr-defined]
    if data_dir := _state.get("data_dir"):
        shutil.rmtree(str(data_dir), ignore_errors=True)


@pytest.fixture(scope="session")
async def db_pool() -> AsyncIterator[None]:
    from app.db import close_pool, start_pool
    from app.handlers import register_all

    register_all()  # services publish domain events: every process registers the handlers at start-up
    await start_pool(max_size=20)
    yield
    await close_pool()


@pytest.fixture(scope="session", autouse=True)
def mail_links(db_pool: None) -> None:
    """Mail is rendered outside a request in many tests: register the routes its links are built from, as the worker
    and the CLI do at start-up."""
    from app.main import mail_links as register

    register()


@pytest.fixture(scope="session")
async def redis(db_pool: None) -> AsyncIterator[object]:
    from redis.asyncio import Redis

    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def clean_state(db_pool: None, redis) -> AsyncIterator[None]:
    """Every test starts with empty tables and an empty Redis database."""
    from piccolo.engine import engine_finder

    engine = engine_finder()
    tables = await engine.run_ddl(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
    )
    if tables:
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await engine.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await redis.flushdb()
    yield


# Webhook destinations are resolved by app.api.egress.resolve; in tests a stub answers instead, so no test sends a
# DNS query (or anything else) beyond loopback. Names under example.com get a public address; localhost is loopback.
STUB_PUBLIC_ADDRESS = "93.184.216.34"


async def stub_resolve(host: str, port: int) -> list[str]:
    import socket

    if host == "localhost" or host.endswith(".localhost"):
        return ["127.0.0.1", "::1"]
    if host == "example.com" or host.endswith(".example.com"):
        return [STUB_PUBLIC_ADDRESS]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture(autouse=True)
def offline_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.api import egress

    monkeypatch.setattr(egress, "resolve", stub_resolve)


@pytest.fixture
def allow_private_webhooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KUDOS_WEBHOOK_ALLOW_PRIVATE=true: for tests whose webhook receiver is a local server on 127.0.0.1."""
    from app.settings import get_settings

    monkeypatch.setenv("KUDOS_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("KUDOS_WEBHOOK_ALLOW_PRIVATE")
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def app(db_pool: None) -> AsyncIterator[object]:
    """The application with its lifespan entered and exited in one task on the test loop."""
    from app.main import create_app

    async with lifespan_running(create_app(manage_pool=False)) as application:
        yield application


ClientFactory = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_factory(app) -> AsyncIterator[ClientFactory]:
    clients: list[httpx.AsyncClient] = []

    async def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(client_factory: ClientFactory) -> httpx.AsyncClient:
    return await client_factory()


@pytest.fixture
def run_worker(db_pool: None) -> Callable[..., Awaitable[object]]:
    """Run a real arq worker in burst mode until the queue is empty; returns the finished Worker."""
    from app.jobs.worker import build_worker

    async def run(**overrides: object) -> object:
        worker = build_worker(burst=True, handle_signals=False, poll_delay=0.05, **overrides)
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return worker

    return run
