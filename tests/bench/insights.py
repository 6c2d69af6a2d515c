"""Insights benchmark: every insights view at 10,000 people / 1,000,000 kudos, against the 200 ms target.

    uv run python tests/bench/insights.py                        # database kudos_bench_insights
    uv run python tests/bench/insights.py --database kudos_i19   # another one (filled when it has no people)

Needs PostgreSQL on loopback (`--postgres`, default 127.0.0.1:5432 user postgres) and Redis (`--redis`, default
database 13; nothing is flushed). Steps:
1. create the database when missing, migrate, and fill it with `kudos seed synthetic --people 10000 --kudos
   1000000` when it has nobody (a few minutes; kept between runs);
2. add internal requests when there are none (the generator makes none): REQUESTS over the last 12 months from
   random people to random other departments, 85 % completed by one or two people of that department, half of
   the completed ones thanked by linking a kudos of the requester to them;
3. run the jobs the pages read from: the department flows for 13 months and the nightly collusion detection over
   the last 90 days (their wall times are printed);
4. serve the app in this process (ASGI, no network), sign in as the admin and as the head of the biggest
   department, and load each view (page, and HTMX fragment) for this month and this year `--repeat` times:
   p50 / p95 / max per view and the SQL statements each sends. Target: p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 60_000
TARGET_MS = 200


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def kudos_command(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, check=True)


async def prepare(server: str, name: str, env: dict[str, str]) -> None:
    admin = await asyncpg.connect(server)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    kudos_command("migrate", env=env)
    connection = await asyncpg.connect(database_url(server, name))
    try:
        if not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM employee)"):
            print("filling: kudos seed synthetic --people 10000 --kudos 1000000 (minutes)", flush=True)
            kudos_command("seed", "synthetic", "--people", "10000", "--kudos", "1000000", env=env)
        if not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM request)"):
            started = time.perf_counter()
            await add_requests(connection)
            print(f"added {REQUESTS:,} requests in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await connection.close()


async def add_requests(connection: asyncpg.Connection) -> None:
    """Requests from random active people to another random department, mostly completed, half thanked."""
    async with connection.transaction():
        await connection.execute(
            """
            CREATE TEMP TABLE people AS
              SELECT id, department, row_number() OVER (ORDER BY id) AS n FROM employee WHERE active;
            CREATE TEMP TABLE departments AS
              SELECT id, row_number() OVER (ORDER BY id) AS n FROM department;
            """
        )
        await connection.execute(
            f"""
            INSERT INTO request (requester, department, title, description, status, created_at, first_response_at,
                                 completed_at)
            SELECT p.id, d.id, 'Help with ' || d.id, '', CASE WHEN r.done THEN 'completed' ELSE 'open' END,
                   r.at, CASE WHEN r.done THEN r.at + interval '1 hour' END,
                   CASE WHEN r.done THEN r.at + make_interval(hours => r.took) END
            FROM (SELECT g, now() - random() * interval '365 days' AS at, random() < 0.85 AS done,
                         1 + (random() * 72)::int AS took,
                         1 + (random() * ((SELECT count(*) FROM people) - 1))::int AS pn,
                         1 + (random() * ((SELECT count(*) FROM departments) - 1))::int AS dn
                  FROM generate_series(1, {REQUESTS}) g) r
            JOIN people p ON p.n = r.pn JOIN departments d ON d.n = r.dn
            WHERE d.id IS DISTINCT FROM p.department
            """  # noqa: S608 — constants
        )
        # One or two resolvers from the serving department (a random member, picked per request).
        await connection.execute(
            """
            INSERT INTO request_resolver (request, employee, added_at)
            SELECT r.id, m.id, r.first_response_at
            FROM request r
            CROSS JOIN LATERAL (
                SELECT e.id FROM employee e WHERE e.department = r.department AND e.active
                ORDER BY md5(e.id::text || r.id::text) LIMIT (1 + (r.id % 5 = 0)::int)
            ) m
            WHERE r.status = 'completed'
            """
        )
        # Half of the completed requests thanked: a kudos of their requester, given after completion, linked.
        await connection.execute(
            """
            UPDATE kudos k SET request = pick.request FROM (
                SELECT DISTINCT ON (r.id) r.id AS request, k.id AS kudos
                FROM request r JOIN kudos k ON k.giver = r.requester
                 AND k.created_at > r.completed_at AND k.created_at < r.completed_at + interval '30 days'
                WHERE r.status = 'completed' AND r.id % 2 = 0 AND k.request IS NULL
                ORDER BY r.id, k.created_at
            ) pick WHERE k.id = pick.kudos AND k.request IS NULL
            """
        )
        await connection.execute("ANALYZE request; ANALYZE request_resolver; ANALYZE kudos")


async def measure(repeat: int) -> None:
    import httpx

    from app.db import close_pool, start_pool
    from app.insights import rollups, runs
    from app.main import create_app
    from app.people.tables import Employee

    await start_pool(max_size=4)
    try:
        started = time.perf_counter()
        await rollups.refresh_year()
        print(f"insights rollups, 13 months: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        found = await runs.run_nightly()
        print(f"collusion detection, last 90 days: {time.perf_counter() - started:.1f} s, {found} signals")

        admin = await Employee.select(Employee.email).where(Employee.role == "admin").first()
        head = await Employee.raw(
            "SELECT e.email FROM department_lead l JOIN employee e ON e.id = l.employee "
            "WHERE e.role = 'manager' AND e.active ORDER BY (SELECT count(*) FROM employee m "
            "WHERE m.department = l.department) DESC LIMIT 1"
        )
        app = create_app(manage_pool=False)
        async with app.lifespan():
            for who, email, base in (("admin", admin["email"], "/admin/insights"),
                                     ("manager", head[0]["email"], "/insights")):  # fmt: skip
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                    await client.get("/login")
                    token = client.cookies["kudos_csrf"]
                    response = await client.post(
                        "/login", data={"_csrf_token": token, "email": email, "password": "demo-password", "next": ""}
                    )
                    assert response.status_code == 303, response.text
                    print(f"\n{who} ({email}), {repeat} loads each, ms:")
                    print(f"{'view':<16}{'period':<8}{'kind':<10}{'p50':>8}{'p95':>8}{'max':>8}  target")
                    for view in ("participation", "equity", "invisible", "signals", "map"):
                        for period in ("month", "year"):
                            for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
                                url = f"{base}?view={view}&period={period}"
                                times = []
                                for _ in range(repeat + 1):
                                    t = time.perf_counter()
                                    response = await client.get(url, headers=headers)
                                    times.append((time.perf_counter() - t) * 1000)
                                    assert response.status_code == 200, (url, response.status_code)
                                times = sorted(times[1:])  # the first load warms plans and caches
                                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                                print(f"{view:<16}{period:<8}{kind:<10}{statistics.median(times):8.1f}{p95:8.1f}"
                                      f"{times[-1]:8.1f}  {'ok' if p95 <= TARGET_MS else 'OVER'}")  # fmt: skip
                    t = time.perf_counter()
                    response = await client.get(f"{base}/export.csv?view=equity&period=year")
                    print(f"CSV export (equity, year): {(time.perf_counter() - t) * 1000:.1f} ms, "
                          f"{len(response.content):,} bytes")  # fmt: skip
    finally:
        await close_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--database", default="kudos_bench_insights")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    env = os.environ | {
        "DATABASE_URL": database_url(args.postgres, args.database),
        "REDIS_URL": args.redis,
        "KUDOS_DATA_DIR": os.environ.get("KUDOS_DATA_DIR", str(Path(tempfile.gettempdir()) / "kudos-bench-insights")),
    }
    asyncio.run(prepare(args.postgres, args.database, env))
    os.environ.update(env)  # before app is imported: Piccolo reads its engine configuration on first use
    asyncio.run(measure(args.repeat))


if __name__ == "__main__":
    main()
