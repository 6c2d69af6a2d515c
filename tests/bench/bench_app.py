"""The Kudos app plus two benchmark-only routes, for tests/bench/leaderboard.py.

    uvicorn bench_app:create_bench_app --factory --app-dir tests/bench

Both render the real leaderboard page template (so the same size, and the same middleware: session, signed-in
person, CSRF, security headers) from a board computed once and kept in memory, with no query of their own:
- `/bench/bare?board=people|departments` goes through the app's `render()` like every full page, so it also
  reads the header's figures (points left, unread notifications): the baseline for "the board's throughput as a
  share of a bare templated route";
- `/bench/static?board=…` passes fixed header figures: the template and middleware alone.
- `/bench/statements` answers how many SQL statements this process has sent so far (every query asyncpg runs on
  a pooled connection, BEGIN and COMMIT included), for tests/bench/give.py's statements per gift.
The product never serves these routes.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app import main
from app.boards import services
from app.boards.controllers import switches
from app.web.header import Header
from app.web.templating import render

_boards: dict[str, dict[str, Any]] = {}


async def _context(request: HTMXRequest, scope: str) -> dict[str, Any]:
    context = _boards.get(scope)
    if context is None:
        shown = await services.board(request.scope["user"], scope=scope, period="month", metric="points")
        context = {"board": shown, "switches": switches(shown, request.app.route_reverse("leaderboards"))}
        _boards[scope] = context
    return context


@get("/bench/bare", name="bench_bare")
async def bare(request: HTMXRequest, board: FromQuery[str] = "people") -> Template:
    return await render(request, "pages/boards/index.html", await _context(request, board))


@get("/bench/static", name="bench_static")
async def static(request: HTMXRequest, board: FromQuery[str] = "people") -> Template:
    context = {**await _context(request, board), "header": Header(unread=3, remaining=40, budget=100)}
    return Template(template_name="pages/boards/index.html", context=context)


_statements = [0]


def _count(record: Any) -> None:
    _statements[0] += 1


async def _add_counter(connection: Any) -> None:
    connection.add_query_logger(_count)


@get("/bench/statements", name="bench_statements")
async def statements() -> dict[str, int]:
    return {"statements": _statements[0]}


def create_bench_app() -> Litestar:
    start_pool = main.start_pool

    async def counted_pool(**options: Any) -> None:
        await start_pool(init=_add_counter, **options)

    main.start_pool = counted_pool  # type: ignore[assignment]  # the app's lifespan looks it up at start-up
    app = main.create_app()
    app.register(bare)
    app.register(static)
    app.register(statements)
    return app
