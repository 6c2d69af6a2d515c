"""Queries and time per request for the home page and the kudos POST, on a database holding the demo data.

    DATABASE_URL=postgresql://…/kudos_demo REDIS_URL=redis://…/10 uv run python tests/bench/page_queries.py

Signs in as the demo employee, then requests each page N times in-process (no network) and prints the number of
SQL statements each request sent (counted by an asyncpg query logger on every pooled connection) and the median
and p95 wall time. The POST gives 0-point kudos so the allowance never runs out; it changes the database.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

import httpx
from leaderboard import start_logged_pool

ROUNDS = 50


async def main() -> None:
    from app.db import close_pool
    from app.main import create_app
    from app.people.seed import DEMO_LOGINS, DEMO_PASSWORD
    from app.people.tables import Employee, Role

    statements = await start_logged_pool()
    app = create_app(manage_pool=False)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get("/login")
            token = client.cookies["kudos_csrf"]
            email = DEMO_LOGINS[Role.EMPLOYEE]
            signed = await client.post(
                "/login", data={"email": email, "password": DEMO_PASSWORD, "next": "/", "_csrf_token": token}
            )
            assert signed.status_code == 303, signed.text
            me = await Employee.select(Employee.id, Employee.department).where(Employee.email == email).first()
            colleague = (
                await Employee.select(Employee.id)
                .where((Employee.department == me["department"]) & (Employee.id != me["id"]) & Employee.active.eq(True))
                .first()
            )

            async def home() -> httpx.Response:
                return await client.get("/")

            async def give() -> httpx.Response:
                data = {
                    "_csrf_token": token,
                    "recipients": str(colleague["id"]),
                    "message": "Benchmark thanks",
                    "points": "0",
                    "visibility": "public",
                    "idempotency_key": uuid.uuid4().hex,
                    "box": "1",
                }
                return await client.post("/kudos", data=data, headers={"HX-Request": "true"})

            for name, call, expected in (("GET / (home page)", home, 200), ("POST /kudos (htmx, home box)", give, 200)):
                counts, times = [], []
                for _ in range(ROUNDS):
                    statements.clear()
                    started = time.perf_counter()
                    response = await call()
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == expected, response.text[:500]
                    counts.append(len(statements))
                times.sort()
                print(
                    f"{name:32} queries {min(counts)}-{max(counts)}  median {statistics.median(times):6.1f} ms"
                    f"  p95 {times[int(len(times) * 0.95) - 1]:6.1f} ms  ({ROUNDS} rounds)"
                )
                if "-v" in sys.argv:
                    print("\n".join(f"    {q.strip()[:150]}" for q, _ in statements))
    await close_pool()


if __name__ == "__main__":
    asyncio.run(main())
