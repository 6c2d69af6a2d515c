"""HTTP for insights: `/admin/insights` (admins: everything, review marks, on-demand runs, the threshold) and
`/insights` (managers: their departments and reports). One page whose view and period switches are plain links
that HTMX turns into a swap of the view; each view's table exports as CSV.

Both audiences share the pages, built once by `_pages` under their own route names (`insights…` and
`admin.insights…`); templates get that prefix as `routes` and build their links with `url_for(routes ~ …)`.
"""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.insights import figures, service_map, signals
from app.insights.scope import (
    DEFAULT_PERIOD,
    DEFAULT_VIEW,
    PERIODS,
    VIEWS,
    CsvTable,
    InsightPeriod,
    Scope,
    period_for,
    scope_for,
    to_csv,
)
from app.people.tables import Role
from app.rules import RuleViolation
from app.web.auth import admin_only, requires_role
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import render

ADMIN = "admin.insights"  # the admins' route names start with this; the managers' with "insights"


class ReviewForm(msgspec.Struct, frozen=True):
    status: str = ""
    note: str = ""


class RunForm(msgspec.Struct, frozen=True):
    period: str = ""


class SettingsForm(msgspec.Struct, frozen=True):
    concentration_percent: str = ""


def _refuse(exc: RuleViolation) -> NoReturn:
    if exc.status_code == 403:
        raise PermissionDeniedException(exc.message) from exc
    raise NotFoundException(exc.message) from exc


async def _scope(user: CurrentUser) -> Scope:
    try:
        return await scope_for(user)
    except RuleViolation as exc:
        _refuse(exc)


def _run_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


def _link(request: Request[Any, Any, Any], route: str, view: str, period: str, run: int | None = None) -> str:
    """A view's address: `route` (the page or its CSV) with the view, period and run in the query string."""
    query = {"view": view, "period": period} | ({"run": str(run)} if run else {})
    return f"{request.app.route_reverse(route)}?{urlencode(query)}"


async def _data(scope: Scope, view: str, period: InsightPeriod, run: int | None, *, export: bool = False) -> Any:
    """The view's data (every view has a `.table()` for the CSV)."""
    if view == "participation":
        return await figures.participation(scope, period)
    if view == "equity":
        return await figures.equity(scope, period, every_row=export)
    if view == "invisible":
        return await figures.invisible(scope, period)
    if view == "signals":
        return await signals.signals(scope, run_id=run)
    return await service_map.service_map(period, every_link=export)


async def page(
    request: HTMXRequest,
    user: CurrentUser,
    routes: str,
    view: str,
    period: str,
    run_id: int | None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The insights page (or, for HTMX, its view) under the route names starting with `routes`."""
    scope = await _scope(user)
    view = view if view in VIEWS else DEFAULT_VIEW
    chosen = period_for(period)
    context = {
        "routes": routes,
        "scope": scope,
        "view": view,
        "period": chosen,
        "data": await _data(scope, view, chosen, run_id),
        "view_links": [(k, label, _link(request, routes, k, chosen.name), k == view) for k, label in VIEWS.items()],
        "period_links": [
            (k, label, _link(request, routes, view, k, run_id), k == chosen.name) for k, label in PERIODS.items()
        ],
        "csv_url": _link(request, f"{routes}.export", view, chosen.name, run_id),
        "errors": errors or {},
        "values": values or {},
    }
    return await render(
        request, "pages/insights/index.html", context, fragment="fragments/insights/view.html", status_code=status_code
    )


def _pages(routes: str) -> type[Controller]:
    """The pages both audiences share, named `routes`, `routes.export` and `routes.signal`."""

    class Pages(Controller):
        @get("/", name=routes)
        async def index(
            self,
            request: HTMXRequest,
            user: CurrentUser,
            view: FromQuery[str] = DEFAULT_VIEW,
            period: FromQuery[str] = DEFAULT_PERIOD,
            run: FromQuery[str | None] = None,
        ) -> Template:
            """`view` a key of VIEWS, `period` month|last_month|quarter|year; unknown values fall back to the
            defaults; `run` picks a detection run on the signals view."""
            return await page(request, user, routes, view, period, _run_id(run))

        @get("/export.csv", name=f"{routes}.export")
        async def export(
            self,
            user: CurrentUser,
            view: FromQuery[str] = DEFAULT_VIEW,
            period: FromQuery[str] = DEFAULT_PERIOD,
            run: FromQuery[str | None] = None,
        ) -> Response[bytes]:
            """The view's table as CSV (UTF-8 with BOM; text that a spreadsheet would run is neutralised)."""
            scope = await _scope(user)
            view = view if view in VIEWS else DEFAULT_VIEW
            table: CsvTable = (await _data(scope, view, period_for(period), _run_id(run), export=True)).table()
            return Response(
                to_csv(table),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{table.name}.csv"',
                    "Cache-Control": "no-store",
                },
            )

        @get("/signals/{finding_id:int}", name=f"{routes}.signal")
        async def signal(self, request: HTMXRequest, user: CurrentUser, finding_id: FromPath[int]) -> Template:
            scope = await _scope(user)
            try:
                detail = await signals.signal_detail(scope, finding_id)
            except RuleViolation as exc:
                _refuse(exc)
            return await render(
                request,
                "pages/insights/signal.html",
                {"routes": routes, "detail": detail, "errors": {}, "values": {}},
            )

    return Pages


# mypy cannot follow a base class made by a function (`_pages`); Litestar needs one class per path and guards.
class InsightsController(_pages("insights")):  # type: ignore[misc]
    path = "/insights"
    guards = [requires_role(Role.MANAGER, Role.ADMIN)]


class AdminInsightsController(_pages(ADMIN)):  # type: ignore[misc]
    path = "/admin/insights"
    guards = [admin_only]

    @post("/signals/{finding_id:int}/review", name=f"{ADMIN}.review")
    async def review(self, request: HTMXRequest, user: CurrentUser, finding_id: FromPath[int]) -> Response[Any]:
        form = await read_form(request, ReviewForm)
        values = {"status": form.status, "note": form.note}
        try:
            detail = await signals.review_signal(user, finding_id, form.status, form.note)
        except RuleViolation as exc:
            if exc.status_code in {403, 404}:
                _refuse(exc)
            detail = await signals.signal_detail(await _scope(user), finding_id)
            return await render(
                request,
                "pages/insights/signal.html",
                {"routes": ADMIN, "detail": detail, "errors": exc.errors, "values": values},
                fragment="fragments/insights/review.html",
                status_code=exc.status_code,
            )
        message = f"Marked {detail.signal.review_label.lower()}; the audit log has it."
        if request.htmx:
            return await render(
                request,
                "pages/insights/signal.html",
                {"routes": ADMIN, "detail": detail, "errors": {}, "values": {}, "saved": message},
                fragment="fragments/insights/review.html",
            )
        flash(request, message, category="success")
        return Redirect(request.app.route_reverse(f"{ADMIN}.signal", finding_id=finding_id), status_code=303)

    @post("/runs", name=f"{ADMIN}.run")
    async def run(self, request: HTMXRequest, user: CurrentUser) -> Redirect:
        """Run collusion detection over a period now (queued; the page lists it when done)."""
        chosen = period_for((await read_form(request, RunForm)).period)
        run_id = await signals.request_run(user, chosen)
        flash(request, f"Detection for {chosen.label} is queued; reload in a moment to see its findings.", "success")
        return Redirect(_link(request, ADMIN, "signals", chosen.name, run_id), status_code=303)

    @post("/settings", name=f"{ADMIN}.settings")
    async def settings(self, request: HTMXRequest, user: CurrentUser) -> Response[Any]:
        raw = (await read_form(request, SettingsForm)).concentration_percent
        try:
            percent = await signals.set_concentration(user, raw)
        except RuleViolation as exc:
            return await page(
                request,
                user,
                ADMIN,
                "signals",
                DEFAULT_PERIOD,
                None,
                errors=exc.errors,
                values={"concentration_percent": raw},
                status_code=exc.status_code,
            )
        flash(request, f"Concentration is now flagged above {percent} % of a giver's allowance.", "success")
        return Redirect(_link(request, ADMIN, "signals", DEFAULT_PERIOD), status_code=303)
