"""Page benchmark (issue 20): every main page at 10k people / 1M kudos (or 100k / 10M), against the bare route.

    uv run python tests/bench/pages.py                       # 10k / 1M (database kudos_bench_10k), 4 and 16 conns
    uv run python tests/bench/pages.py --large               # 100k / 10M (kudos_bench_100k)
    uv run python tests/bench/pages.py --duration 5 --repetitions 1 --pages home,profile   # a quick look

Needs PostgreSQL and Redis on loopback (`--postgres`, `--redis`; Redis database 4 by default, flushed) and `wrk`.
Steps:
1. the database of tests/bench/leaderboard.py (created and filled with `kudos seed synthetic` when missing), plus
   what the generator leaves out, added once: internal requests with resolvers and ratings
   (tests/bench/insights.py's generator, ratings for a third of the completed ones), a notification for every
   kudos received in the last 90 days, and an open nomination cycle for last month;
2. the viewers: a manager in the middle of the organisation (the awards page with the open cycle, home, boards,
   requests, notifications, a kudos), the admin (`/admin`, `/admin/people`); the profile is the person with the
   most kudos received, the scorecard the department with the most members, the kudos the newest public one;
3. each page once in-process with a query logger: the SQL statements it sends, then EXPLAIN (ANALYZE) of each
   SELECT (in a transaction rolled back), flagging a sequential scan of `kudos` or `ledger_entry`;
4. the app under uvicorn (tests/bench/bench_app.py, one process); for each repetition, connection count and page,
   `wrk` for `--duration` seconds: requests/s, p50/p95/p99, errors, and the web process's CPU time per request
   (psutil: Python, templates, asyncpg; PostgreSQL's own time is in its processes);
5. a summary: per page and connection count the median over the repetitions of req/s and p95, the ratio of its
   req/s to the bare route's in the same repetition (median), and whether it meets the targets (≥ 40 % of the bare
   route and p95 ≤ 50 ms at 4 connections at 10k / 1M; p95 ≤ 100 ms at 4 connections at 100k / 10M).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
from insights import add_requests
from leaderboard import (
    ROOT,
    SCALES,
    WRK_SCRIPT,
    RssSampler,
    database_url,
    free_port,
    prepare_database,
    settle,
    sign_in,
    start_logged_pool,
    start_server,
)
from leaderboard import run_wrk as wrk

PAGES = (
    "bare",
    "awards",
    "profile",
    "home",
    "scorecard",
    "leaderboards",
    "requests",
    "notifications",
    "kudos",
    "admin",
    "admin_people",
)
TARGETS = {"10k": {"ratio": 0.40, "p95_ms": 50.0}, "100k": {"ratio": None, "p95_ms": 100.0}}
SCANNED = ("kudos", "ledger_entry")


@dataclass(frozen=True)
class World:
    manager: dict
    admin: dict
    profile: int
    department: str
    kudos: int
    paths: dict[str, str]


_EXTRAS_SQL = """
    -- Ratings for a third of the completed requests (the awards shortlist ranks resolvers by them).
    INSERT INTO request_rating (request, rater, timeliness, quality, communication, comment, created_at)
    SELECT r.id, r.requester, 1 + (r.id * 7) % 5, 1 + (r.id * 11) % 5, 1 + (r.id * 13) % 5, '',
           r.completed_at + interval '1 hour'
    FROM request r WHERE r.status = 'completed' AND r.id % 3 = 0
    ON CONFLICT DO NOTHING;
    -- A notification for each kudos received in the last 90 days, as the app writes them.
    INSERT INTO notification (recipient, kind, actor, text, url, action_label, action_url, subject, created_at,
                              read_at, done_at)
    SELECT l.recipient, 'kudos_received', l.giver, 'Someone thanked you', '/kudos/' || l.kudos, '', '',
           'kudos:' || l.kudos, l.created_at,
           CASE WHEN l.created_at < now() - interval '2 days' THEN l.created_at + interval '1 hour' END, NULL
    FROM ledger_entry l WHERE l.kind = 'kudos' AND l.created_at > now() - interval '90 days';
    ANALYZE request_rating; ANALYZE notification;
"""


async def add_extras(url: str) -> None:
    """Requests, ratings and notifications once; an open nomination cycle for last month on every run."""
    connection = await asyncpg.connect(url)
    try:
        if not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM request)"):
            started = time.perf_counter()
            await add_requests(connection)
            await connection.execute(_EXTRAS_SQL)
            print(f"   added requests, ratings and notifications in {time.perf_counter() - started:.1f} s")
        await connection.execute(
            """
            INSERT INTO award_cycle (month, opens_at, closes_at, remind_at, status, opened_at)
            VALUES (date_trunc('month', now() - interval '1 month')::date, now() - interval '1 day',
                    now() + interval '7 days', now() + interval '6 days', 'open', now() - interval '1 day')
            ON CONFLICT (month) DO UPDATE SET status = 'open', closes_at = EXCLUDED.closes_at,
                remind_at = EXCLUDED.remind_at, closed_at = NULL, announced_at = NULL
            """
        )
    finally:
        await connection.close()


async def pick_world(url: str) -> World:
    connection = await asyncpg.connect(url)
    try:
        manager = await connection.fetchrow(
            "SELECT e.id, e.email, e.name FROM employee e WHERE e.active AND e.role = 'manager' "
            "ORDER BY e.id OFFSET (SELECT count(*) / 2 FROM employee WHERE active AND role = 'manager') LIMIT 1"
        )
        admin = await connection.fetchrow(
            "SELECT id, email, name FROM employee WHERE active AND role = 'admin' ORDER BY id LIMIT 1"
        )
        profile = await connection.fetchval(
            "SELECT employee FROM kudos_recipient GROUP BY employee ORDER BY count(*) DESC LIMIT 1"
        )
        department = await connection.fetchval(
            "SELECT d.slug FROM department d JOIN employee e ON e.department = d.id AND e.active "
            "GROUP BY d.slug ORDER BY count(*) DESC LIMIT 1"
        )
        kudos = await connection.fetchval(
            "SELECT id FROM kudos WHERE visibility = 'public' AND revoked_at IS NULL ORDER BY id DESC LIMIT 1"
        )
    finally:
        await connection.close()
    paths = {
        "bare": "/bench/bare?board=people",
        "awards": "/awards",
        "profile": f"/people/{profile}",
        "home": "/",
        "scorecard": f"/departments/{department}",
        "leaderboards": "/leaderboards",
        "requests": "/requests",
        "notifications": "/notifications",
        "kudos": f"/kudos/{kudos}",
        "admin": "/admin",
        "admin_people": "/admin/people",
    }
    return World(dict(manager), dict(admin), profile, department, kudos, paths)


async def page_statements(world: World, pages: list[str]) -> dict[str, list[tuple[str, tuple]]]:
    """Each page requested in-process (after one warm-up request) with a query logger: the statements it sent."""
    from app.db import close_pool
    from app.main import create_app
    from app.people.seed import DEMO_PASSWORD

    captured = await start_logged_pool()
    app = create_app(manage_pool=False)
    found: dict[str, list[tuple[str, tuple]]] = {}
    try:
        async with app.lifespan():
            for viewer, names in (
                (world.manager, [p for p in pages if not p.startswith("admin") and p != "bare"]),
                (world.admin, [p for p in pages if p.startswith("admin")]),
            ):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
                    await client.get("/login")
                    data = {"email": viewer["email"], "password": DEMO_PASSWORD, "next": "/"}
                    signed = await client.post("/login", data={**data, "_csrf_token": client.cookies["kudos_csrf"]})
                    if signed.status_code != 303:
                        raise SystemExit(f"sign-in failed: {signed.status_code}")
                    for name in names:
                        await client.get(world.paths[name])
                        captured.clear()
                        response = await client.get(world.paths[name])
                        if response.status_code != 200:
                            raise SystemExit(f"{world.paths[name]}: {response.status_code} {response.text[:300]}")
                        found[name] = list(captured)
    finally:
        await close_pool()
    return found


async def explain(url: str, statements: list[tuple[str, tuple]]) -> list[dict]:
    """EXPLAIN (ANALYZE) of each SELECT, inside a transaction that is rolled back; other statements are listed."""
    connection = await asyncpg.connect(url)
    results = []
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            for sql, args in statements:
                text = " ".join(sql.split())
                if not re.match(r"(?i)\s*(select|with)\b", sql):
                    results.append({"sql": text, "ms": None, "scans": []})
                    continue
                plan = "\n".join(row[0] for row in await connection.fetch("EXPLAIN (ANALYZE) " + sql, *args))
                ms = float(re.search(r"Execution Time: ([\d.]+)", plan).group(1))
                scans = sorted(set(re.findall(r"Seq Scan on (\w+)", plan)))
                results.append({"sql": text, "ms": ms, "scans": scans, "plan": plan})
        finally:
            await transaction.rollback()
    finally:
        await connection.close()
    return results


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="100k people / 10M kudos instead of 10k / 1M")
    parser.add_argument("--database", help="database name (default kudos_bench_10k or kudos_bench_100k)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per page, connections, round")
    parser.add_argument("--connections", default="4,16")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES), help=f"a subset of {','.join(PAGES)} (bare is added)")
    parser.add_argument("--plans", action="store_true", help="print the plans of the statements that scan")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed as the load generator: apt-get install wrk")
    pages = ["bare", *(p for p in options.pages.split(",") if p != "bare")]
    unknown = set(pages) - set(PAGES)
    if unknown:
        raise SystemExit(f"unknown pages: {', '.join(sorted(unknown))}")

    scale = "100k" if options.large else "10k"
    name = options.database or f"kudos_bench_{scale}"
    url = database_url(options.postgres, name)
    data_dir = Path(tempfile.mkdtemp(prefix="kudos-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": options.redis,
        "KUDOS_ENV": "production",  # as deployed: templates are not checked for changes on every render
        "KUDOS_BASE_URL": "https://kudos.example.com",
        "KUDOS_SECRET_KEY": secrets.token_urlsafe(48),
        "KUDOS_DATA_DIR": str(data_dir),
        "KUDOS_MAIL_BACKEND": "outbox",
    }
    os.environ.update(env)  # before importing app: its settings are read once
    sys.path.insert(0, str(ROOT))
    from app.people.seed import DEMO_PASSWORD

    for chatty in ("httpx", "piccolo"):  # one line per request, one per pool: not figures
        logging.getLogger(chatty).setLevel(logging.WARNING)

    print(f"== Page benchmark: database {name}")
    print(f"   machine: {psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    people, kudos = SCALES[scale]
    asyncio.run(prepare_database(options.postgres, name, people, kudos, regenerate=False, env=env))
    asyncio.run(add_extras(url))
    print(f"   rollups vacuumed and analysed in {asyncio.run(settle(url)):.1f} s")
    world = asyncio.run(pick_world(url))
    print(
        f"   manager {world.manager['email']}, admin {world.admin['email']}, profile {world.profile}, "
        f"department {world.department}, kudos {world.kudos}"
    )

    import redis

    redis.Redis.from_url(options.redis).flushdb()
    print("\n== SQL per page (in-process, one request after a warm-up), EXPLAIN ANALYZE of each SELECT")
    scans_found = False
    for page, statements in asyncio.run(page_statements(world, pages)).items():
        explained = asyncio.run(explain(url, statements))
        total = sum(e["ms"] or 0 for e in explained)
        print(f"   {page:14} {len(statements):3} statements, {total:7.2f} ms of SQL execution")
        for e in explained:
            bad = [t for t in e["scans"] if t in SCANNED]
            if bad or (e["ms"] or 0) > 5:
                scans_found = scans_found or bool(bad)
                flag = f"  SEQ SCAN on {', '.join(bad)}" if bad else ""
                print(f"      {e['ms']:7.2f} ms  {e['sql'][:120]}{flag}")
                if options.plans:
                    print("\n".join(f"          {line}" for line in e["plan"].splitlines()))
    print(f"   sequential scans of {' or '.join(SCANNED)}: {'YES' if scans_found else 'none'}")

    redis.Redis.from_url(options.redis).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, env)
    process = psutil.Process(server.pid)
    results: dict[tuple[int, str], list[dict]] = {}
    try:
        cookies = {
            "manager": sign_in(base, world.manager["email"], DEMO_PASSWORD),
            "admin": sign_in(base, world.admin["email"], DEMO_PASSWORD),
        }

        def cookie(page: str) -> str:
            return cookies["admin" if page.startswith("admin") else "manager"]

        for page in pages:
            with httpx.Client(base_url=base, cookies={"kudos_session": cookie(page)}) as client:
                for _ in range(20):  # warm up: templates compiled, pool filled, caches warm
                    response = client.get(world.paths[page])
                if response.status_code != 200:
                    raise SystemExit(f"{world.paths[page]}: {response.status_code} {response.text[:300]}")
                print(f"   {page:14} {world.paths[page]}  ({len(response.content):,} bytes)")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        for repetition in range(1, options.repetitions + 1):
            for connections in (int(c) for c in options.connections.split(",")):
                for page in pages:
                    before = cpu_seconds(process)
                    with RssSampler(server.pid) as rss:
                        figures = wrk(
                            base + world.paths[page], cookie(page), connections, options.duration, script.name
                        )
                    figures["cpu_ms"] = (cpu_seconds(process) - before) * 1000 / max(1, figures["requests"])
                    figures["rss_mb"] = rss.peak / 2**20
                    results.setdefault((connections, page), []).append(figures)
                    print(
                        f"   round {repetition} c={connections:<3} {page:14} {figures['rps']:7.1f} req/s"
                        f"  p50 {figures['p50'] / 1000:6.1f}  p95 {figures['p95'] / 1000:6.1f}"
                        f"  p99 {figures['p99'] / 1000:6.1f} ms  cpu {figures['cpu_ms']:5.2f} ms/req"
                        f"  errors {figures['errors']}  RSS {figures['rss_mb']:.0f} MB",
                        flush=True,
                    )
        os.unlink(script.name)
    finally:
        server.terminate()
        server.wait(timeout=30)

    target = TARGETS[scale]
    print(f"\n== Summary ({scale}; medians over {options.repetitions} rounds of {options.duration} s)")
    print(
        f"   {'':5} {'page':14} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'vs bare':>8} "
        f"{'cpu ms':>7} {'errors':>6}  target"
    )
    for connections in sorted({c for c, _ in results}):
        bare = results[(connections, "bare")]
        for page in pages:
            runs = results[(connections, page)]
            ratio = statistics.median(run["rps"] / base_run["rps"] for run, base_run in zip(runs, bare, strict=True))
            p95 = statistics.median(run["p95"] for run in runs) / 1000
            verdict = ""
            if connections == 4 and page != "bare":
                met = p95 <= target["p95_ms"] and (target["ratio"] is None or ratio >= target["ratio"])
                verdict = "met" if met else "NOT MET"
            print(
                f"   c={connections:<3} {page:14} {statistics.median(r['rps'] for r in runs):7.1f} "
                f"{statistics.median(r['p50'] for r in runs) / 1000:7.1f} {p95:7.1f} "
                f"{statistics.median(r['p99'] for r in runs) / 1000:7.1f} {ratio:8.0%} "
                f"{statistics.median(r['cpu_ms'] for r in runs):7.2f} {sum(r['errors'] for r in runs):6}  {verdict}"
            )
    print(f"   load average at the end: {' / '.join(f'{load:.1f}' for load in os.getloadavg())} (1 / 5 / 15 min)")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
