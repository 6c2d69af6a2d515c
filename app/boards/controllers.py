"""HTTP for the leaderboards: one page whose switches (board, period, metric) swap the board with HTMX."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.boards import services
from app.boards.periods import DEFAULT_PERIOD, PERIODS
from app.boards.services import DEFAULT_METRIC, DEFAULT_SCOPE, METRICS, PER_HEAD, SCOPES, Board
from app.web.templating import render


def board_url(scope: str, period: str, metric: str) -> str:
    """The plain URL of one board state (also what HTMX pushes to the address bar)."""
    return "/leaderboards?" + urlencode({"board": scope, "period": period, "metric": metric})


def switches(board: Board) -> dict[str, list[dict[str, Any]]]:
    """Links to every neighbouring state: change one switch, keep the others."""
    scope, period, column = board.scope, board.window.name, board.column
    suffix = PER_HEAD if board.per_head else ""

    def link(key: str, label: str, url: str, current: bool) -> dict[str, Any]:
        return {"key": key, "label": label, "url": url, "current": current}

    links = {
        "scope": [
            link(key, label, board_url(key, period, column + (suffix if key == "departments" else "")), key == scope)
            for key, label in SCOPES.items()
        ],
        "period": [
            link(key, label, board_url(scope, key, board.metric), key == period) for key, label in PERIODS.items()
        ],
        "metric": [
            link(key, label, board_url(scope, period, key + suffix), key == column) for key, label in METRICS.items()
        ],
        "count": [],
    }
    if scope == "departments":
        links["count"] = [
            link("total", "Total", board_url(scope, period, column), not board.per_head),
            link("per_head", "Per member", board_url(scope, period, column + PER_HEAD), board.per_head),
        ]
    return links


class BoardController(Controller):
    path = "/leaderboards"

    @get("/", name="leaderboards")
    async def index(
        self,
        request: HTMXRequest,
        board: FromQuery[str] = DEFAULT_SCOPE,
        period: FromQuery[str] = DEFAULT_PERIOD,
        metric: FromQuery[str] = DEFAULT_METRIC,
    ) -> Template:
        """`board` people|departments, `period` a key of PERIODS, `metric` points|kudos|givers|cross_givers (with
        `_per_head` on department boards); unknown values fall back to people, this month, points."""
        shown = await services.board(
            request.scope["user"], scope=board, period=period, metric=metric, cache=request.app.state.redis
        )
        return await render(
            request,
            "pages/boards/index.html",
            {"board": shown, "switches": switches(shown)},
            fragment="fragments/boards/board.html",
        )
