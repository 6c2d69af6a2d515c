"""Monthly digest benchmark: a synthetic organisation, real `kudos worker` processes, a local SMTP server.

    uv run python tests/bench/digest.py                  # 10,000 people, 250,000 kudos over 3 months
    uv run python tests/bench/digest.py --workers 2      # two worker processes share the run
    uv run python tests/bench/digest.py --regenerate     # drop the database and generate it again

Needs PostgreSQL and Redis on loopback (`--postgres`, `--redis`; defaults 127.0.0.1:5432 user postgres and Redis
database 14, which is flushed). Steps:
1. create `kudos_bench_digest` (or `--database`) when missing, migrate, and fill it with `kudos seed synthetic`
   (kept between runs; the density, about 83,000 kudos a month, is that of 1M kudos over a year);
2. forget earlier digest runs (deliveries, runs, queued jobs), start an aiosmtpd server that accepts and counts
   every message, and start `--workers` `kudos worker` processes with the `smtp` backend pointed at it;
3. start last month's run (as the schedule does) and hand its jobs to arq, then wait until every delivery is
   settled, sampling the workers' RSS (psutil) every 0.1 s;
4. print the wall time from the start of the run to the last delivery, mails per second, messages the server
   received and over how many connections, the workers' CPU time (mails per CPU second does not depend on what
   else the machine is doing), the load average, and the workers' peak RSS.
Targets (ENGINEERING.md): 10k people within 60 s with two workers; >= 500 mails per worker CPU second; worker
memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "kudos_bench_digest"  # the default of --database


class Sink:
    """An SMTP server that accepts everything and only counts."""

    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
        return "250 OK"


def _url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


async def _has_people(admin_url: str, name: str, regenerate: bool) -> bool:
    """Create the database when missing (again with `regenerate`); whether it holds an organisation already."""
    connection = await asyncpg.connect(admin_url)
    try:
        if regenerate:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    database = await asyncpg.connect(_url(admin_url, name))
    try:
        migrated = await database.fetchval("SELECT to_regclass('employee') IS NOT NULL")
        has_people = migrated and await database.fetchval("SELECT EXISTS (SELECT 1 FROM employee)")
    finally:
        await database.close()
    return bool(has_people)


async def _forget_runs(database_url: str) -> None:
    """Earlier runs' rows go before any worker starts (a worker would otherwise pick up their leftovers)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("TRUNCATE digest_delivery, digest_run, job_outbox")
    finally:
        await connection.close()


def _prepare(admin_url: str, name: str, people: int, kudos: int, regenerate: bool) -> None:
    if not asyncio.run(_has_people(admin_url, name, regenerate)):
        print(f"generating {people:,} people and {kudos:,} kudos (once; kept in {name}) …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "app.cli", "seed", "synthetic", "--people", str(people), "--kudos", str(kudos),
             "--months", "3"],
            env=os.environ.copy(),
            check=True,
            cwd=ROOT,
        )  # fmt: skip
    else:
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=os.environ.copy(), check=True, cwd=ROOT)


async def _run(workers: list[psutil.Popen], redis_url: str) -> dict[str, float]:
    from arq.connections import RedisSettings, create_pool

    from app.db import close_pool, start_pool
    from app.digests.services import Trigger, last_month, progress, start_run
    from app.jobs.outbox import drain

    await start_pool(max_size=2)
    arq = await create_pool(RedisSettings.from_dsn(redis_url))
    peak = 0
    try:
        month = last_month()
        cpu_before = sum(sum(worker.cpu_times()[:2]) for worker in workers)
        started = time.perf_counter()
        run = await start_run(month, trigger=Trigger.CLI)
        await drain(arq)
        planned = sum(run.planned.values())
        print(f"run for {month:%B %Y}: {run.planned}", flush=True)
        state = await progress(month)
        ticks = 0
        while not state.done:
            for worker in workers:
                if worker.poll() is not None:
                    raise RuntimeError("a worker exited during the run")
                peak = max(peak, worker.memory_info().rss)
            await asyncio.sleep(0.1)
            ticks += 1
            if ticks % 5 == 0:
                state = await progress(month)
            if ticks % 50 == 0:
                print(f"  {time.perf_counter() - started:6.1f} s: {state.counts}", flush=True)
        elapsed = time.perf_counter() - started
        cpu = sum(sum(worker.cpu_times()[:2]) for worker in workers) - cpu_before
        return {
            "cpu_seconds": cpu,
            "planned": planned,
            "seconds": elapsed,
            "sent": state.sent,
            "failed": state.failed,
            "peak_rss_mb": peak / 2**20,
        }
    finally:
        await arq.aclose()
        await close_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database", default=DATABASE, help="name of the benchmark's database (kept between runs)")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--kudos", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="kudos-bench-digest-")
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ.update(
        {
            "DATABASE_URL": _url(args.postgres, args.database),
            "REDIS_URL": args.redis,
            "KUDOS_DATA_DIR": data_dir,
            "KUDOS_SECRET_KEY": "bench-" + "x" * 40,
            "KUDOS_MAIL_BACKEND": "smtp",
            "KUDOS_SMTP_HOST": "127.0.0.1",
            "KUDOS_SMTP_PORT": str(port),
            "KUDOS_BASE_URL": "https://kudos.example.com",
        }
    )
    _prepare(args.postgres, args.database, args.people, args.kudos, args.regenerate)
    asyncio.run(_forget_runs(os.environ["DATABASE_URL"]))
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    log = open(Path(data_dir) / "workers.log", "ab")  # noqa: SIM115 — kept open for the workers' lifetime
    workers = [
        psutil.Popen([sys.executable, "-m", "app.cli", "worker"], env=os.environ.copy(), stdout=log, stderr=log)
        for _ in range(args.workers)
    ]
    try:
        time.sleep(4)  # imports, pool, first cron pass (its delivery pass finds nothing yet)
        result = asyncio.run(_run(workers, args.redis))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        controller.stop()
        log.close()
    print()
    print(f"people planned        {result['planned']:,}  ({args.workers} worker process(es))")
    print(f"sent / failed         {result['sent']:,} / {result['failed']:,}")
    print(f"server received       {sink.messages:,} messages over {sink.connections} connection(s)")
    print(f"wall time             {result['seconds']:.1f} s   (target <= 60 s with two workers)")
    print(f"mails per second      {result['sent'] / result['seconds']:.0f}")
    per_cpu = result["sent"] / result["cpu_seconds"]
    print(f"worker CPU            {result['cpu_seconds']:.1f} s: {per_cpu:.0f} mails per CPU second   (target >= 500)")
    print(f"load average          {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores; other work slows the run)")
    print(f"worker peak RSS       {result['peak_rss_mb']:.0f} MB   (target <= 300 MB)")
    print(f"worker log            {Path(data_dir) / 'workers.log'}")


if __name__ == "__main__":
    main()
