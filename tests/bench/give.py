"""Give-kudos benchmark: the app as a real server process plus one worker, wrk posting kudos from many signed-in
people. One command prints every figure:

    uv run python tests/bench/give.py                      # 16 connections for 60 s (the target's load)
    uv run python tests/bench/give.py --connections 32 --duration 30

Needs PostgreSQL and Redis on loopback (`--postgres`, `--redis`; defaults 127.0.0.1:5432 user postgres, Redis
database 5, which is flushed) and `wrk` (`apt-get install wrk`). Steps:
1. a fresh database `kudos_bench_give` (dropped first), migrated and filled with `kudos seed synthetic --people
   2000 --kudos 20000 --months 2`; the allowance budgets are then raised so nobody runs out during the run (the
   spend itself, one conditional UPDATE, still happens for every kudos); a webhook subscribed to `kudos.given` and
   `badge.earned` points at a receiver in this process (KUDOS_WEBHOOK_ALLOW_PRIVATE=true);
2. `uvicorn` on the app (tests/bench/bench_app.py, which counts the SQL statements the process sends), `--workers`
   processes (default 1), one `kudos worker` process, and `--givers` people signed in, each with their own session
   and CSRF token;
3. wrk for `--duration` seconds at `--connections`: every request is the home page's HTMX give box
   (`POST /kudos`), from the next signed-in giver to a colleague of their department, 1 point, a fresh
   idempotency key each;
4. p50/p95/p99, requests/s, non-2xx answers, SQL statements the web process sent per gift (every statement,
   BEGIN/COMMIT and the signed-in person's lookup included), the server's peak RSS, the machine's load;
5. the database's view: kudos created, points given = budget spent for every giver; then, polled for 5 s after
   the run's end, whether every gift's notification, webhook delivery and stored event handlers (badges …) are
   there; then the board page's throughput as a share of the bare templated route (/bench/bare), 4 connections,
   `--board-duration` s each; finally `kudos boards rebuild --check` (rollups equal the ledger).
Target (ENGINEERING.md): >= 200 kudos/s for 60 s at 16 clients, p95 <= 100 ms, 0 errors, everything present
within 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx
from leaderboard import (
    ROOT,
    WRK_SCRIPT,
    RssSampler,
    database_url,
    free_port,
    kudos_command,
    run_wrk,
    start_server,
)

BUDGET = 20_000  # per person and month: plenty for a run, and the organisation's total still fits an int4
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


class Receiver:
    """A webhook receiver on loopback: answers 204 and counts the deliveries of each event."""

    def __init__(self) -> None:
        counts: dict[str, int] = {}
        self.counts = counts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event = json.loads(body).get("event", "?")
                counts[event] = counts.get(event, 0) + 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def subscribe(url: str, hook: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO webhook (name, url, events, secret, created_at) "
            "VALUES ('bench', $1, ARRAY['kudos.given', 'badge.earned'], 'bench-secret', now())",
            hook,
        )
    finally:
        await connection.close()


_PENDING_HANDLERS = """
    SELECT count(*) FROM job_outbox o
    CROSS JOIN LATERAL jsonb_array_elements_text(
        coalesce(o.kwargs -> 'handlers', jsonb_build_array(o.kwargs -> 'handler'))) AS h(name)
    WHERE o.function = 'handle_event' AND o.created_at >= to_timestamp($1)
      AND NOT EXISTS (SELECT 1 FROM event_receipt r
                      WHERE r.event_id = o.kwargs -> 'payload' ->> 'event_id' AND r.handler = h.name)
"""


async def reactions(url: str, since: float) -> dict[str, int]:
    """What every gift since `since` should have caused, and what is still missing."""
    connection = await asyncpg.connect(url)
    try:
        expected = await connection.fetchrow(
            "SELECT count(DISTINCT k.id) AS kudos, count(*) AS recipients FROM kudos k "
            "JOIN kudos_recipient r ON r.kudos = k.id WHERE k.created_at >= to_timestamp($1)",
            since,
        )
        notified = await connection.fetchval(
            "SELECT count(*) FROM notification WHERE kind = 'kudos_received' AND created_at >= to_timestamp($1)",
            since,
        )
        deliveries = await connection.fetchval(
            "SELECT count(*) FROM webhook_delivery WHERE event = 'kudos.given' AND created_at >= to_timestamp($1)",
            since,
        )
        badges = await connection.fetchval(
            "SELECT count(*) FROM badge_award WHERE awarded_at >= to_timestamp($1)", since
        )
        pending = await connection.fetchval(_PENDING_HANDLERS, since)
        return {
            "missing notifications": expected["recipients"] - notified,
            "missing webhook deliveries": expected["kudos"] - deliveries,
            "stored handlers not run": pending,
            "badges awarded": badges,
        }
    finally:
        await connection.close()


def statements(base: str, cookie: str) -> int:
    response = httpx.get(f"{base}/bench/statements", headers={"Cookie": f"kudos_session={cookie}"}, timeout=10)
    response.raise_for_status()
    return int(response.json()["statements"])


def load() -> str:
    return "load average " + " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--board-duration", type=int, default=10)
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
        "KUDOS_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    print(f"preparing the database ({load()})")
    asyncio.run(prepare(options.postgres, name, env))
    receiver = Receiver()
    asyncio.run(subscribe(url, receiver.url))
    subprocess.run(["redis-cli", "-u", options.redis, "FLUSHDB"], check=True, capture_output=True)
    port = free_port()
    server = start_server(port, env, workers=options.workers)
    worker_log = Path(env["KUDOS_DATA_DIR"]) / "worker.log"
    with worker_log.open("w") as log:
        command = [sys.executable, "-m", "app.cli", "worker"]
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    print(f"  worker log: {worker_log}")
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
        sent_before = statements(base, givers[0]["session"])
        load_before = load()
        with RssSampler(server.pid) as rss:
            command = [
                "wrk", f"-t{min(2, options.connections)}", f"-c{options.connections}", f"-d{options.duration}s",
                "--timeout", "10s", "-s", script.name, base + "/kudos",
            ]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        ended = time.monotonic()
        load_after = load()
        sent = statements(base, givers[0]["session"]) - sent_before
        found = re.search(r"^WRK (\{.*\})$", output, re.MULTILINE)
        if not found:
            raise SystemExit(f"no figures from wrk:\n{output}")
        figures = json.loads(found.group(1))
        rps = figures["requests"] / (figures["duration_us"] / 1e6)
        errors = sum(figures[k] for k in ("status", "connect", "read", "write", "timeout"))
        print(
            f"\nPOST /kudos, {options.connections} connections, {options.duration} s: {rps:.0f} gifts/s, "
            f"p50 {figures['p50'] / 1000:.1f} ms, p95 {figures['p95'] / 1000:.1f} ms, "
            f"p99 {figures['p99'] / 1000:.1f} ms, max {figures['max'] / 1000:.1f} ms, "
            f"{figures['requests']} requests, {errors} errors (non-2xx {figures['status']}), "
            f"{sent / max(1, figures['requests']):.1f} SQL statements per gift (web process), "
            f"server peak RSS {rss.peak / 2**20:.0f} MB\n  {load_before} before, {load_after} after"
        )
        while True:  # the gifts' stored reactions (worker), due within 5 s of the run's end
            missing = asyncio.run(reactions(url, started))
            waited = time.monotonic() - ended
            late = {k: v for k, v in missing.items() if k != "badges awarded" and v}
            if not late or waited > 5:
                break
            time.sleep(0.25)
        verdict = "all present" if not late else f"STILL MISSING {late}"
        print(
            f"reactions {waited:.1f} s after the run's end: {verdict}; {missing['badges awarded']} badges awarded; "
            f"webhook receiver got {receiver.counts}"
        )
        created, points = asyncio.run(given(url, givers, started))
        after = asyncio.run(spent(url, givers))
        wrong = [g["id"] for g in givers if after.get(g["id"], 0) - before.get(g["id"], 0) != points.get(g["id"], 0)]
        print(
            f"database: {created} kudos created (wrk counted {figures['requests']}); "
            f"{len(wrong)} givers whose spent allowance moved by other than the points they gave"
        )
        cookie = givers[0]["session"]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as done:
            done.write(WRK_SCRIPT)
        board = run_wrk(f"{base}/leaderboards?board=people&period=month&metric=points", cookie, 4,
                        options.board_duration, done.name)  # fmt: skip
        bare = run_wrk(f"{base}/bench/bare?board=people", cookie, 4, options.board_duration, done.name)
        print(
            f"board page {board['rps']:.0f} req/s (p95 {board['p95'] / 1000:.1f} ms, {board['errors']} errors), "
            f"bare route {bare['rps']:.0f} req/s: ratio {board['rps'] / bare['rps']:.0%} ({load()})"
        )
    finally:
        worker.terminate()
        server.terminate()
        worker.wait(timeout=30)
        server.wait(timeout=30)
    kudos_command("boards", "rebuild", "--check", env=env)
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
