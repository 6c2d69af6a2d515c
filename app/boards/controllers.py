"""HTTP for the leaderboards: one page whose switches (board, period, metric) swap the board with HTMX."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.boards import services
from app.boards.periods import DEFAULT_PERIOD, PERIODS
from app.boards.services import DEFAULT_METRIC, DEFAULT_SCOPE, METRICS, PER_HEAD, SCOPES, Board
from app.web.deps import CurrentUser
from app.web.templating import render


@dataclass(frozen=True, slots=True)
class Switch:
    """One link of a switch: the board state it shows, and whether that is the state on screen."""

    key: str
    label: str
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class Switches:
    scope: list[Switch]
    period: list[Switch]
    metric: list[Switch]
    count: list[Switch]  # total or per member, on department boards only


def switches(board: Board, base: str) -> Switches:
    """Links to every neighbouring state: change one switch, keep the others. `base` is the page's path; a state's
    plain URL is also what HTMX pushes to the address bar."""
    scope, period, column = board.scope, board.window.name, board.column
    suffix = PER_HEAD if board.per_head else ""

    def link(key: str, label: str, current: bool, *, board: str, period: str, metric: str) -> Switch:
        url = f"{base}?{urlencode({'board': board, 'period': period, 'metric': metric})}"
        return Switch(key=key, label=label, url=url, current=current)

    count = []
    if scope == "departments":
        count = [
            link("total", "Total", not board.per_head, board=scope, period=period, metric=column),
            link("per_head", "Per member", board.per_head, board=scope, period=period, metric=column + PER_HEAD),
        ]
    return Switches(
        scope=[
            link(
                key,
                label,
                key == scope,
                board=key,
                period=period,
                metric=column + (suffix if key == "departments" else ""),
            )
            for key, label in SCOPES.items()
        ],
        period=[
            link(key, label, key == period, board=scope, period=key, metric=board.metric)
            for key, label in PERIODS.items()
        ],
        metric=[
            link(key, label, key == column, board=scope, period=period, metric=key + suffix)
            for key, label in METRICS.items()
        ],
        count=count,
    )


class BoardController(Controller):
    path = "/leaderboards"

    @get("/", name="leaderboards")
    async def index(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        state: State,
        board: FromQuery[str] = DEFAULT_SCOPE,
        period: FromQuery[str] = DEFAULT_PERIOD,
        metric: FromQuery[str] = DEFAULT_METRIC,
    ) -> Template:
        """`board` people|departments, `period` a key of PERIODS, `metric` points|kudos|givers|cross_givers (with
        `_per_head` on department boards); unknown values fall back to people, this month, points."""
        shown = await services.board(user, scope=board, period=period, metric=metric, cache=state.redis)
        return await render(
            request,
            "pages/boards/index.html",
            {"board": shown, "switches": switches(shown, request.app.route_reverse("leaderboards"))},
            fragment="fragments/boards/board.html",
        )
