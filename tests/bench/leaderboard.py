"""Leaderboard benchmark: a synthetic organisation, the app as a real server process, wrk at 4 and 32 connections.

    uv run python tests/bench/leaderboard.py                 # 10k people / 1M kudos (database kudos_bench_10k)
    uv run python tests/bench/leaderboard.py --large         # 100k people / 10M kudos (kudos_bench_100k; long)
    uv run python tests/bench/leaderboard.py --regenerate    # drop the database and generate it again

Needs PostgreSQL and Redis on loopback (`--postgres`, `--redis`; defaults 127.0.0.1:5432 user postgres, Redis
database 4, which is flushed) and `wrk` (`apt-get install wrk`). Steps:
1. create the database when missing, migrate, and fill it with `kudos seed synthetic` (kept between runs: a
   database that already has people is reused);
2. start `uvicorn` on tests/bench/bench_app.py (the app plus `/bench/bare` and `/bench/static`: the real
   leaderboard template rendered from a board kept in memory, with and without the header's queries) with
   DATABASE_URL / REDIS_URL, one process, and sign in as a synthetic person in the middle of this month's board
   (outside the top 25, so their own rank is counted, as for most people);
3. for 4 and 32 connections, `wrk` for `--duration` seconds against the static and bare routes and the
   leaderboard (month, departments) and (month, people): p50/p95/p99, requests/s, errors, the board's throughput
   as a share of the bare route's, and the server's peak RSS (psutil, sampled while wrk runs);
4. each board's service run in this process with a query logger (the SQL it really sends), then EXPLAIN ANALYZE
   of each of those queries, median of 20; without the page's Redis cache, so the count of the people ahead of
   the viewer runs every time (the page reuses it for 30 s per board and value, so under wrk it runs rarely);
5. `kudos boards rebuild` wall time (skip with `--no-rebuild`), then VACUUM (ANALYZE) of the rollups (also done
   before the load: a freshly rebuilt rollup has no visibility map, and index-only scans become heap fetches).
Targets (ENGINEERING.md): p95 <= 25 ms at 4 connections and >= 40 % of the bare route at 10k/1M; p95 <= 50 ms
and no scan of the kudos table at 100k/10M; RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
SCALES = {"10k": (10_000, 1_000_000), "100k": (100_000, 10_000_000)}
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format(
    "WRK {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d, \\"max\\": %d, "
    .. "\\"status\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"timeout\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
"""


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kudos_command(*args: str, env: dict[str, str]) -> tuple[float, str]:
    """Run `kudos …` (app/cli.py) in a child process; its wall time and output (echoed)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    output = "\n".join(line for line in (result.stdout + result.stderr).splitlines() if " INFO " not in line)
    print("\n".join(f"    {line}" for line in output.splitlines()))
    if result.returncode:
        raise SystemExit(f"kudos {' '.join(args)} failed ({result.returncode})")
    return seconds, output


async def prepare_database(server: str, name: str, people: int, kudos: int, *, regenerate: bool, env: dict) -> None:
    admin = await asyncpg.connect(server)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and regenerate:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(database_url(server, name))
    try:
        has_people = await connection.fetchval("SELECT to_regclass('employee') IS NOT NULL") and (
            await connection.fetchval("SELECT count(*) FROM employee")
        )
    finally:
        await connection.close()
    if has_people:
        print(f"  reusing database {name} ({has_people:,} people; --regenerate to start again)")
        return
    print(f"  generating {people:,} people / {kudos:,} kudos into {name}")
    seconds, _ = kudos_command("seed", "synthetic", "--people", str(people), "--kudos", str(kudos), env=env)
    print(f"  seed synthetic took {seconds:.1f} s in all")


async def sizes(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY($1::text[])",
            [
                "employee",
                "department",
                "kudos",
                "ledger_entry",
                "person_period",
                "person_giver_period",
                "department_period",
            ],
        )
        return {row["relname"]: row["n_live_tup"] for row in rows}
    finally:
        await connection.close()


async def settle(url: str) -> float:
    """VACUUM (ANALYZE) the rollups, as autovacuum would on a live system: after `kudos boards rebuild` (which
    truncates and refills them) index-only scans fetch every heap row until the visibility map is set again."""
    from app.boards.rollups import ROLLUP_TABLES

    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await connection.execute(f"VACUUM (ANALYZE) {', '.join(ROLLUP_TABLES)}")
        return time.perf_counter() - started
    finally:
        await connection.close()


async def pick_viewer(url: str, month_start) -> dict:
    """An active, opted-in person in the middle of this month's points board."""
    connection = await asyncpg.connect(url)
    try:
        ranked = await connection.fetchval(
            "SELECT count(*) FROM person_period WHERE period = 'month' AND start = $1 AND points > 0", month_start
        )
        row = await connection.fetchrow(
            "SELECT e.id, e.email, e.name, pp.points FROM person_period pp JOIN employee e ON e.id = pp.employee "
            "WHERE pp.period = 'month' AND pp.start = $1 AND pp.points > 0 AND e.active AND NOT e.board_opt_out "
            "ORDER BY pp.points DESC, e.id OFFSET $2 LIMIT 1",
            month_start,
            max(0, ranked // 2),
        )
        if row is None:  # nothing given this month (the month just started): anyone will do
            row = await connection.fetchrow(
                "SELECT id, email, name, 0 AS points FROM employee WHERE active AND NOT board_opt_out ORDER BY id"
            )
        return {**dict(row), "ranked": ranked}
    finally:
        await connection.close()


def start_server(port: int, env: dict[str, str], *, workers: int = 1) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "uvicorn", "bench_app:create_bench_app", "--factory", "--app-dir", str(BENCH_DIR),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(workers),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited at start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer /healthz within 60 s")


def sign_in(base: str, email: str, password: str) -> str:
    """The session cookie of `email`. Cookies are sent by hand, as wrk sends the session: in production mode they are
    `Secure`, and an HTTP client keeps those from plain http://."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        token = client.get("/login").cookies["kudos_csrf"]
        response = client.post(
            "/login",
            data={"email": email, "password": password, "next": "/", "_csrf_token": token},
            headers={"Cookie": f"kudos_csrf={token}"},
        )
        if response.status_code != 303:
            raise SystemExit(f"sign-in failed: {response.status_code} {response.text[:300]}")
        return response.cookies["kudos_session"]


class RssSampler:
    """Peak resident memory of a process (and its children) while running."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in (self.process, *self.process.children(recursive=True)))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> RssSampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_wrk(url: str, cookie: str, connections: int, duration: int, script: str) -> dict:
    command = [
        "wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
        "-H", f"Cookie: kudos_session={cookie}", "-s", script, url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"^WRK (\{.*\})$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"no figures from wrk:\n{output}")
    figures = json.loads(found.group(1))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("status", "connect", "read", "write", "timeout"))
    return figures


async def start_logged_pool() -> list[tuple[str, tuple]]:
    """Start the app's connection pool with a query logger on every connection; the list it appends each statement
    sent (SQL text, arguments) to, BEGIN and COMMIT included."""
    from app.db import start_pool

    captured: list[tuple[str, tuple]] = []

    def log(record) -> None:
        captured.append((record.query, tuple(record.args or ())))

    async def add_logger(connection) -> None:
        connection.add_query_logger(log)

    await start_pool(init=add_logger)
    return captured


async def board_queries(url: str, viewer_id: int, rounds: int = 20) -> dict[str, dict]:
    """Run each board's service in this process (`app.boards.services.board`, this month, points) with a query
    logger on the pool: the SQL it sends with its arguments, and its median time (queries and Python)."""
    from app.boards import services
    from app.db import close_pool
    from app.people.services import load_current_user

    captured = await start_logged_pool()
    boards: dict[str, dict] = {}
    try:
        user = await load_current_user(viewer_id)
        for scope in ("departments", "people"):
            times = []
            for _ in range(rounds):
                captured.clear()
                started = time.perf_counter()
                await services.board(user, scope=scope, period="month", metric="points")
                times.append((time.perf_counter() - started) * 1000)
            boards[scope] = {"service_ms": statistics.median(times), "queries": list(captured)}
    finally:
        await close_pool()
    return boards


async def explain(url: str, queries: list[tuple[str, tuple]], rounds: int = 20) -> list[dict]:
    """EXPLAIN ANALYZE of each query, median execution time over `rounds`, and its plan."""
    connection = await asyncpg.connect(url)
    results = []
    try:
        for sql, args in queries:
            times, plan = [], []
            for _ in range(rounds):
                rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
                plan = [row[0] for row in rows]
                times.append(float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1)))
            text = "\n".join(plan)
            results.append(
                {
                    "sql": " ".join(sql.split()),
                    "execution_ms": statistics.median(times),
                    "seq_scans": sorted(set(re.findall(r"Seq Scan on (\w+)", text))),
                    "plan": plan,
                }
            )
    finally:
        await connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="100k people / 10M kudos instead of 10k / 1M")
    parser.add_argument("--people", type=int)
    parser.add_argument("--kudos", type=int)
    parser.add_argument("--database", help="database name (default kudos_bench_10k or kudos_bench_100k)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--regenerate", action="store_true", help="drop and generate the database again")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per route and concurrency")
    parser.add_argument("--connections", default="4,32")
    parser.add_argument("--no-rebuild", action="store_true", help="skip timing `kudos boards rebuild`")
    parser.add_argument("--plans", action="store_true", help="print the full query plans")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed as the load generator: apt-get install wrk")

    scale = "100k" if options.large else "10k"
    people, kudos = options.people or SCALES[scale][0], options.kudos or SCALES[scale][1]
    name = options.database or f"kudos_bench_{scale}"
    url = database_url(options.postgres, name)
    data_dir = Path(tempfile.mkdtemp(prefix="kudos-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": options.redis,
        "KUDOS_ENV": "development",
        "KUDOS_SECRET_KEY": secrets.token_urlsafe(48),
        "KUDOS_DATA_DIR": str(data_dir),
        "KUDOS_MAIL_BACKEND": "outbox",
    }
    os.environ.update(env)  # before importing app: its settings are read once
    sys.path.insert(0, str(ROOT))
    from app.boards.periods import window
    from app.people.seed import DEMO_PASSWORD

    print(f"== Leaderboard benchmark: database {name}")
    print(f"   machine: {psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    asyncio.run(prepare_database(options.postgres, name, people, kudos, regenerate=options.regenerate, env=env))
    print(f"   rows (estimates): {asyncio.run(sizes(url))}")
    print(f"   rollups vacuumed and analysed in {asyncio.run(settle(url)):.1f} s")

    month = window("month")
    viewer = asyncio.run(pick_viewer(url, month.start))
    print(
        f"   viewer: {viewer['name']} <{viewer['email']}>, {viewer['points']} points this month "
        f"(about rank {viewer['ranked'] // 2 + 1} of {viewer['ranked']:,} people with points)"
    )

    import redis

    redis.Redis.from_url(options.redis).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, env)
    results: dict[tuple[int, str], dict] = {}
    try:
        cookie = sign_in(base, viewer["email"], DEMO_PASSWORD)
        routes = {
            "static": "/bench/static?board=people",
            "bare": "/bench/bare?board=people",
            "departments": "/leaderboards?board=departments&period=month&metric=points",
            "people": "/leaderboards?board=people&period=month&metric=points",
        }
        with httpx.Client(base_url=base, cookies={"kudos_session": cookie}) as client:
            for route, path in routes.items():
                for _ in range(20):  # warm up: templates compiled, pool filled, caches warm
                    response = client.get(path)
                if response.status_code != 200 or "Leaderboards" not in response.text:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                print(f"   {route:12} {path}  ({len(response.content):,} bytes)")
        print(f"   server RSS after warm-up: {RssSampler(server.pid).rss() / 2**20:.0f} MB")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        for connections in (int(c) for c in options.connections.split(",")):
            for route, path in routes.items():
                with RssSampler(server.pid) as rss:
                    figures = run_wrk(base + path, cookie, connections, options.duration, script.name)
                figures["rss_mb"] = rss.peak / 2**20
                results[(connections, route)] = figures
                print(
                    f"   c={connections:<3} {route:12} {figures['rps']:7.1f} req/s  p50 {figures['p50'] / 1000:6.1f} ms"
                    f"  p95 {figures['p95'] / 1000:6.1f} ms  p99 {figures['p99'] / 1000:6.1f} ms"
                    f"  errors {figures['errors']}  peak RSS {figures['rss_mb']:.0f} MB"
                )
        os.unlink(script.name)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print("\n== Board queries: each board's service run in-process (median of 20), then EXPLAIN ANALYZE of its SQL")
    for scope, measured in asyncio.run(board_queries(url, viewer["id"])).items():
        print(f"   {scope}: {len(measured['queries'])} queries, service {measured['service_ms']:.2f} ms")
        for query in asyncio.run(explain(url, measured["queries"])):
            scans = f"  SEQ SCAN on {', '.join(query['seq_scans'])}" if query["seq_scans"] else ""
            print(f"     {query['execution_ms']:7.2f} ms  {query['sql'][:110]}{scans}")
            if options.plans:
                print("\n".join(f"          {line}" for line in query["plan"]))

    rebuild_seconds = None
    if not options.no_rebuild:
        print("\n== kudos boards rebuild")
        rebuild_seconds, _ = kudos_command("boards", "rebuild", env=env)
        print(f"   then VACUUM (ANALYZE) of the rollups: {asyncio.run(settle(url)):.1f} s")

    print("\n== Summary")
    connections_list = sorted({c for c, _ in results})
    print(
        f"   {'':6} {'route':12} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'vs bare':>8} "
        f"{'vs static':>9} {'RSS MB':>7}"
    )
    for connections in connections_list:
        bare, static = (results[(connections, route)]["rps"] for route in ("bare", "static"))
        for route in ("static", "bare", "departments", "people"):
            f = results[(connections, route)]
            print(
                f"   c={connections:<4} {route:12} {f['rps']:8.1f} {f['p50'] / 1000:8.1f} {f['p95'] / 1000:8.1f} "
                f"{f['p99'] / 1000:8.1f} {f['rps'] / bare:8.0%} {f['rps'] / static:9.0%} {f['rss_mb']:7.0f}"
            )
    if rebuild_seconds is not None:
        print(f"   kudos boards rebuild: {rebuild_seconds:.1f} s wall (process start included)")
    print(f"   load average at the end: {' / '.join(f'{load:.1f}' for load in os.getloadavg())} (1 / 5 / 15 min)")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
