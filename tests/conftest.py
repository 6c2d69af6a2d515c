"""Test harness: real PostgreSQL and Redis, the app's lifespan on the test loop, tests in parallel.

The rule for test writers: **a test that touches the database or Redis asks for the `db` fixture** — directly,
through a fixture that depends on it (`app`, `client`, `client_factory`, `run_worker`, `redis`, `page`), or for a
whole module with `pytestmark = pytest.mark.usefixtures("db")`. `db` empties what the previous test wrote and
flushes Redis. Every other test is pure and runs with no reset at all; one that opens a database connection
without asking for `db` fails, saying so (it would otherwise see whatever the previous test left behind).

Servers come from KUDOS_TEST_DATABASE_URL / KUDOS_TEST_REDIS_URL when set (a database of its own is created on
that server and dropped afterwards; the Redis database named is flushed, so point it at a spare number),
otherwise embedded ones are started in a temporary directory (the `embedded` extra), without fsync: the cluster
is thrown away. The environment is set in pytest_configure, before any test module imports `app` (Piccolo reads
its engine configuration on first use).

Parallel runs (pytest-xdist): with the embedded Redis the suite runs on two workers unless `-n` says otherwise,
each module on one worker (`--dist loadscope`, so a world a module builds once with `built_once` serves it all);
with KUDOS_TEST_REDIS_URL it runs in one process unless `-n N` is given, and then worker k uses the Redis
database named plus k. The controller process starts the servers and migrates one template database; each
worker clones its own database from it, uses a Redis database of its own and a data directory of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from tests.lifespan import lifespan_running
from tests.plugins.live_app import cheap_password_hashing

# No example database under the working tree: a failing case is printed, and runs stay independent.
hypothesis_settings.register_profile("kudos", database=None)
hypothesis_settings.load_profile("kudos")

pytest_plugins = [
    "tests.plugins.smtp",
    "tests.plugins.browser",
    "tests.plugins.database",
    "tests.plugins.receiver",
    "tests.plugins.oidc_provider",
]

WORKERS = 2  # the default with embedded servers: a 2-core machine runs the suite in about half the time
_state: dict[str, Any] = {}


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns numprocesses into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Run on WORKERS workers by default when this run starts its own Redis (it hands out database numbers)."""
    if (
        hasattr(config.option, "numprocesses")
        and config.option.numprocesses is None
        and not hasattr(config, "workerinput")
        and not os.environ.get("KUDOS_TEST_REDIS_URL")
        and not config.option.collectonly
        and not config.getoption("usepdb", False)
    ):
        config.option.numprocesses = WORKERS
        if config.option.dist == "no":
            # A module's tests run on one worker, so a world it builds once (built_once) serves all of them.
            # (Not loadgroup: pytest-xdist 3.8 cannot mark pytest 9's node ids with their group.)
            config.option.dist = "loadscope"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _with_redis_db(url: str, offset: int) -> str:
    """The Redis URL `offset` databases after the one `url` names (a path /N, or ?db=N for a Unix socket)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix":
        query["db"] = str(int(query.get("db", 0)) + offset)
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + offset}"))


async def _admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _start_servers(data_dir: Path) -> tuple[str, str]:
    """The admin database URL and the Redis URL: the ones given, or embedded servers started here."""
    admin_url = os.environ.get("KUDOS_TEST_DATABASE_URL")
    redis_url = os.environ.get("KUDOS_TEST_REDIS_URL")
    if not admin_url:
        from app.runtime import EmbeddedPostgres

        postgres = EmbeddedPostgres(data_dir, durable=False)
        postgres.start()
        _state["postgres"] = postgres
        admin_url = postgres.url("postgres")
    if not redis_url:
        from app.runtime import EmbeddedRedis

        redis_server = EmbeddedRedis(data_dir, persistent=False)
        redis_server.start()
        _state["redis"] = redis_server
        redis_url = redis_server.url
    return admin_url, redis_url


def _set_environment(data_dir: Path, database_url: str, redis_url: str) -> None:
    os.environ.update(
        {
            "KUDOS_ENV": "development",
            "KUDOS_DATA_DIR": str(data_dir),
            "KUDOS_SECRET_KEY": secrets.token_urlsafe(48),
            "KUDOS_MAIL_BACKEND": "outbox",
            "KUDOS_BASE_URL": "http://testserver",
            "KUDOS_TIMEZONE": "UTC",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )


def pytest_configure(config: pytest.Config) -> None:
    worker: dict[str, Any] | None = getattr(config, "workerinput", None)
    if worker is not None:  # an xdist worker: the controller started the servers and made the template
        servers = worker["kudos"]
        index = int(worker["workerid"].removeprefix("gw"))
        data_dir = Path(servers["data_dir"]) / worker["workerid"]
        data_dir.mkdir()
        name = f"{servers['template']}_{worker['workerid']}"
        asyncio.run(_admin(servers["admin_url"], f'CREATE DATABASE "{name}" TEMPLATE "{servers["template"]}"'))
        _state.update(admin_url=servers["admin_url"], database=name)
        _set_environment(
            data_dir, _with_database(servers["admin_url"], name), _with_redis_db(servers["redis_url"], index)
        )
        cheap_password_hashing()
        return

    data_dir = Path(tempfile.mkdtemp(prefix="kudos-test-"))
    _state["data_dir"] = data_dir
    admin_url, redis_url = _start_servers(data_dir)
    name = f"kudos_test_{os.getpid()}_{secrets.token_hex(3)}"
    # Commits need not wait for the WAL to reach the disk: the database is dropped at the end of the run.
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"', f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    _state.update(admin_url=admin_url, database=name)
    _set_environment(data_dir, _with_database(admin_url, name), redis_url)
    cheap_password_hashing()
    # In a parallel run this database is the workers' template (CREATE DATABASE … TEMPLATE copies it with its
    # schema and the reset function), so it is migrated once, here, before any worker starts.
    _state["kudos"] = {"admin_url": admin_url, "redis_url": redis_url, "template": name, "data_dir": str(data_dir)}

    from tests.plugins.database import prepare_database

    asyncio.run(prepare_database())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: what each worker needs to find the servers and the template database."""
    node.workerinput["kudos"] = _state["kudos"]


def pytest_unconfigure(config: pytest.Config) -> None:
    if "database" in _state:
        asyncio.run(_admin(_state["admin_url"], f'DROP DATABASE IF EXISTS "{_state["database"]}" WITH (FORCE)'))
    if redis_server := _state.get("redis"):
        redis_server.stop()
    if postgres := _state.get("postgres"):
        postgres.stop()
    if data_dir := _state.get("data_dir"):
        shutil.rmtree(str(data_dir), ignore_errors=True)


@pytest.fixture(scope="session")
async def _pool() -> AsyncIterator[None]:
    from app.db import close_pool, start_pool
    from app.handlers import register_all

    register_all()  # services publish domain events: every process registers the handlers at start-up
    await start_pool(max_size=20)
    yield
    await close_pool()


@pytest.fixture
def own_redis() -> Iterator[Any]:
    """A redis-server of this test's own (never the shared one), to kill and restart empty."""
    from app.runtime import EmbeddedRedis

    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="kudos-kill-")), persistent=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def mail_links() -> None:
    """Mail is rendered outside a request in many tests: register the routes its links are built from, as the worker
    and the CLI do at start-up."""
    from app.main import mail_links as register

    register()


@pytest.fixture(scope="session")
async def _redis_client(_pool: None) -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture
async def db(_pool: None, _redis_client: Any) -> None:
    """The database as the migrations left it (what earlier tests wrote removed, ids from 1) and an empty Redis."""
    from tests.plugins.database import reset_database

    await reset_database()
    await _redis_client.flushdb()


@pytest.fixture
def redis(db: None, _redis_client: Any) -> Any:
    """A Redis client on the test's (empty) Redis database."""
    return _redis_client


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
    """Names resolve through `stub_resolve`, and an HTTP request to anything but loopback fails at once as an
    unreachable host would: no test sends a packet beyond loopback, whatever job a worker it runs picks up."""
    import ipaddress

    import httpx

    from app.api import egress

    real_send = httpx.AsyncHTTPTransport.handle_async_request

    async def loopback_only(transport: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise httpx.ConnectError(f"the test harness sends nothing beyond loopback ({host})", request=request)
        return await real_send(transport, request)

    monkeypatch.setattr(egress, "resolve", stub_resolve)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", loopback_only)


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
async def _app(_pool: None) -> AsyncIterator[Any]:
    """The application with its lifespan entered and exited in one task on the test loop (once per session)."""
    from app.main import create_app

    async with lifespan_running(create_app(manage_pool=False)) as application:
        yield application


@pytest.fixture
def app(db: None, _app: Any) -> Any:
    """The application, on a clean database."""
    return _app


ClientFactory = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_factory(app: Any) -> AsyncIterator[ClientFactory]:
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


@dataclass
class BurstRun:
    """What the burst workers of one `run_worker` call did, added up."""

    jobs_complete: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0


@pytest.fixture
def run_worker(db: None) -> Callable[..., Awaitable[BurstRun]]:
    """Run a real arq worker in burst mode until the queue is empty. What the outbox holds is handed over first, as
    a long-running worker's listener does when it starts and on every commit.

    arq's burst worker stops once the queue is empty and its running jobs are done, so a job enqueued by one of
    those (the sweep at start-up hands lost work over) would stay queued: another burst worker, without the cron
    jobs, then runs what is left, until nothing is."""
    from arq.connections import create_pool

    from app.jobs.outbox import drain
    from app.jobs.worker import build_worker, redis_settings

    async def run(*, hand_over: bool = True, **overrides: object) -> BurstRun:
        redis = await create_pool(redis_settings())
        done = BurstRun()
        try:
            if hand_over:
                await drain(redis)
            for _ in range(5):
                worker = build_worker(burst=True, handle_signals=False, poll_delay=0.05, **overrides)
                try:
                    await worker.async_run()
                finally:
                    await worker.close()
                done.jobs_complete += worker.jobs_complete
                done.jobs_failed += worker.jobs_failed
                done.jobs_retried += worker.jobs_retried
                if not await redis.zcard(worker.queue_name):
                    return done
                overrides = {**overrides, "cron_jobs": []}
            raise AssertionError("the queue never emptied")
        finally:
            await redis.aclose()

    return run
