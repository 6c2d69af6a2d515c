"""Give-kudos benchmark: the app as a real server process, wrk posting kudos from many signed-in people.

    uv run python tests/bench/give.py                      # 16 connections for 60 s (the target's load)
    uv run python tests/bench/give.py --connections 32 --duration 30

Needs PostgreSQL and Redis on loopback (`--postgres`, `--redis`; defaults 127.0.0.1:5432 user postgres, Redis
database 5, which is flushed) and `wrk` (`apt-get install wrk`). Steps:
1. a fresh database `kudos_bench_give` (dropped first), migrated and filled with `kudos seed synthetic --people
   2000 --kudos 20000 --months 2`; the allowance budgets are then raised so nobody runs out during the run (the
   spend itself, one conditional UPDATE, still happens for every kudos);
2. `uvicorn` on the app (tests/bench/bench_app.py), `--workers` processes (default 1), and `--givers` people
   signed in, each with their own session and CSRF token;
3. wrk for `--duration` seconds at `--connections`: every request is the home page's HTMX give box
   (`POST /kudos`: session, CSRF, allowance, ledger, rollups, badges, webhooks check, notifications), from the
   next signed-in giver to a colleague of their department, 1 point, a fresh idempotency key each;
4. p50/p95/p99, requests/s, non-2xx answers, the server's peak RSS; then the database's view: kudos created,
   points given = budget spent for every giver, and `kudos boards rebuild --check` (rollups equal the ledger).
Target (ENGINEERING.md): >= 200 kudos/s for 60 s at 16 clients, p95 <= 100 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time

import asyncpg
import httpx
from leaderboard import RssSampler, database_url, free_port, kudos_command, start_server

BUDGET = 1_000_000
DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    "WRK {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d, \\"max\\": %d, "
    .. "\\"status\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"timeout\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
"""


def lua_script(givers: list[dict]) -> str:
    """A wrk script that cycles through the givers: their cookies, CSRF token and a colleague to thank."""
    rows = ",\n".join(
        f'  {{cookie = "kudos_session={g["session"]}; kudos_csrf={g["csrf"]}", '
        f'csrf = "{g["csrf"]}", to = {g["colleague"]}}}'
        for g in givers
    )
    return f"""
local givers = {{
{rows}
}}
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tag", threads)
end
request = function()
  counter = counter + 1
  local g = givers[(counter % #givers) + 1]
  local body = "recipients=" .. g.to .. "&message=Benchmark+thanks&points=1&visibility=public&box=1"
    .. "&_csrf_token=" .. g.csrf .. "&idempotency_key=bench-" .. tag .. "-" .. counter
  return wrk.format("POST", "/kudos", {{
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = g.cookie,
    ["HX-Request"] = "true",
    ["X-CSRFToken"] = g.csrf,
  }}, body)
end
{DONE}"""


def sign_in(base: str, email: str) -> dict:
    from app.people.seed import DEMO_PASSWORD

    with httpx.Client(base_url=base, follow_redirects=False) as client:
        client.get("/login")
        token = client.cookies["kudos_csrf"]
        data = {"email": email, "password": DEMO_PASSWORD, "next": "/", "_csrf_token": token}
        response = client.post("/login", data=data)
        if response.status_code != 303:
            raise SystemExit(f"sign-in failed: {response.status_code} {response.text[:300]}")
        return {"session": client.cookies["kudos_session"], "csrf": client.cookies["kudos_csrf"]}


async def prepare(server: str, name: str, env: dict[str, str]) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    kudos_command("migrate", env=env)
    kudos_command("seed", "synthetic", "--people", "2000", "--kudos", "20000", "--months", "2", env=env)
    connection = await asyncpg.connect(database_url(server, name))
    try:
        await connection.execute(
            "UPDATE allowance_policy SET employee_budget = $1, manager_budget = $1, admin_budget = $1", BUDGET
        )
        await connection.execute("UPDATE allowance SET budget = $1", BUDGET)
    finally:
        await connection.close()


async def pick_givers(url: str, count: int) -> list[dict]:
    """Active people, each with an active colleague of their department to thank."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT e.id, e.email, (SELECT min(c.id) FROM employee c WHERE c.department = e.department "
            "AND c.id <> e.id AND c.active) AS colleague FROM employee e WHERE e.active ORDER BY e.id LIMIT $1",
            count,
        )
        return [dict(row) for row in rows if row["colleague"] is not None]
    finally:
        await connection.close()


async def spent(url: str, givers: list[dict]) -> dict[int, int]:
    """Allowance spent so far by each giver, all months together."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT employee, sum(spent) AS spent FROM allowance WHERE employee = ANY($1) GROUP BY employee",
            [g["id"] for g in givers],
        )
        return {row["employee"]: row["spent"] for row in rows}
    finally:
        await connection.close()


async def given(url: str, givers: list[dict], since: float) -> tuple[int, dict[int, int]]:
    """Kudos the givers created since `since`, and the points each gave in them (from the ledger)."""
    connection = await asyncpg.connect(url)
    try:
        ids = [g["id"] for g in givers]
        created = await connection.fetchval(
            "SELECT count(*) FROM kudos WHERE giver = ANY($1) AND created_at >= to_timestamp($2)", ids, since
        )
        rows = await connection.fetch(
            "SELECT l.giver, sum(l.amount) AS points FROM ledger_entry l JOIN kudos k ON k.id = l.kudos "
            "WHERE l.giver = ANY($1) AND l.kind = 'kudos' AND l.addon IS NULL AND k.created_at >= to_timestamp($2) "
            "GROUP BY l.giver",
            ids,
            since,
        )
        return created, {row["giver"]: row["points"] for row in rows}
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--givers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    options = parser.parse_args()
    name = "kudos_bench_give"
    url = database_url(options.postgres, name)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": options.redis,
        "KUDOS_ENV": "development",
        "KUDOS_DATA_DIR": tempfile.mkdtemp(prefix="kudos-bench-"),
    }
    print("preparing the database")
    asyncio.run(prepare(options.postgres, name, env))
    subprocess.run(["redis-cli", "-u", options.redis, "FLUSHDB"], check=True, capture_output=True)
    port = free_port()
    server = start_server(port, env, workers=options.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        givers = asyncio.run(pick_givers(url, options.givers))
        for giver in givers:
            giver.update(sign_in(base, giver["email"]))
        print(f"  {len(givers)} givers signed in")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(lua_script(givers))
        before = asyncio.run(spent(url, givers))
        started = time.time() - 1
        with RssSampler(server.pid) as rss:
            command = [
                "wrk", f"-t{min(2, options.connections)}", f"-c{options.connections}", f"-d{options.duration}s",
                "--timeout", "10s", "-s", script.name, base + "/kudos",
            ]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found = re.search(r"^WRK (\{.*\})$", output, re.MULTILINE)
        if not found:
            raise SystemExit(f"no figures from wrk:\n{output}")
        figures = json.loads(found.group(1))
        rps = figures["requests"] / (figures["duration_us"] / 1e6)
        errors = sum(figures[k] for k in ("status", "connect", "read", "write", "timeout"))
        print(
            f"\nPOST /kudos, {options.connections} connections, {options.duration} s: {rps:.0f} req/s, "
            f"p50 {figures['p50'] / 1000:.1f} ms, p95 {figures['p95'] / 1000:.1f} ms, "
            f"p99 {figures['p99'] / 1000:.1f} ms, max {figures['max'] / 1000:.1f} ms, "
            f"{figures['requests']} requests, {errors} errors (non-2xx {figures['status']}), "
            f"server peak RSS {rss.peak / 2**20:.0f} MB"
        )
        time.sleep(2)  # requests wrk gave up on at the end are still finishing on the server
        created, points = asyncio.run(given(url, givers, started))
        after = asyncio.run(spent(url, givers))
        wrong = [g["id"] for g in givers if after.get(g["id"], 0) - before.get(g["id"], 0) != points.get(g["id"], 0)]
        print(
            f"database: {created} kudos created (wrk counted {figures['requests']}); "
            f"{len(wrong)} givers whose spent allowance moved by other than the points they gave"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    kudos_command("boards", "rebuild", "--check", env=env)
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
