"""HTTP for insights: `/admin/insights` (admins: everything, review marks, on-demand runs, the threshold) and
`/insights` (managers: their departments and reports). One page whose view and period switches are plain links
that HTMX turns into a swap of the view; each view's table exports as CSV."""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.insights import services
from app.insights.services import DEFAULT_PERIOD, DEFAULT_VIEW, PERIODS, VIEWS, Scope
from app.jobs.outbox import hand_over
from app.people.services import CurrentUser
from app.people.tables import Role
from app.rules import RuleViolation
from app.web.auth import admin_only, requires_role
from app.web.templating import render


def _user(request: HTMXRequest) -> CurrentUser:
    return request.scope["user"]


def _refuse(exc: RuleViolation) -> NoReturn:
    if exc.status_code == 403:
        raise PermissionDeniedException(exc.message) from exc
    raise NotFoundException(exc.message) from exc


async def _scope(request: HTMXRequest) -> Scope:
    try:
        return await services.scope_for(_user(request))
    except RuleViolation as exc:
        _refuse(exc)


def _run_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


class _Insights(Controller):
    """The pages both audiences share; `path` is the base of every link."""

    async def _view(
        self, scope: Scope, view: str, period: services.InsightPeriod, run: int | None, *, export: bool = False
    ) -> Any:
        if view == "participation":
            return await services.participation(scope, period)
        if view == "equity":
            return await services.equity(scope, period, every_row=export)
        if view == "invisible":
            return await services.invisible(scope, period)
        if view == "signals":
            return await services.signals(scope, run_id=run)
        return await services.service_map(period, every_link=export)

    def _url(self, view: str, period: str, run: int | None = None, *, suffix: str = "") -> str:
        query = {"view": view, "period": period} | ({"run": str(run)} if run else {})
        return f"{self.path}{suffix}?{urlencode(query)}"

    @get("/")
    async def index(
        self,
        request: HTMXRequest,
        view: FromQuery[str] = DEFAULT_VIEW,
        period: FromQuery[str] = DEFAULT_PERIOD,
        run: FromQuery[str | None] = None,
    ) -> Template:
        """`view` a key of VIEWS, `period` month|last_month|quarter|year; unknown values fall back to the
        defaults; `run` picks a detection run on the signals view."""
        return await self._page(request, view, period, _run_id(run))

    async def _page(
        self,
        request: HTMXRequest,
        view: str,
        period: str,
        run_id: int | None,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        scope = await _scope(request)
        view = view if view in VIEWS else DEFAULT_VIEW
        chosen = services.period_for(period)
        context = {
            "base": self.path,
            "scope": scope,
            "view": view,
            "period": chosen,
            "data": await self._view(scope, view, chosen, run_id),
            "view_links": [(k, label, self._url(k, chosen.name), k == view) for k, label in VIEWS.items()],
            "period_links": [(k, label, self._url(view, k, run_id), k == chosen.name) for k, label in PERIODS.items()],
            "csv_url": self._url(view, chosen.name, run_id, suffix="/export.csv"),
            "run_url": self.path + "/runs",
            "errors": errors or {},
            "values": values or {},
        }
        return await render(
            request,
            "pages/insights/index.html",
            context,
            fragment="fragments/insights/view.html",
            status_code=status_code,
        )

    @get("/export.csv")
    async def export(
        self,
        request: HTMXRequest,
        view: FromQuery[str] = DEFAULT_VIEW,
        period: FromQuery[str] = DEFAULT_PERIOD,
        run: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """The view's table as CSV (UTF-8 with BOM; text that a spreadsheet would run is neutralised)."""
        scope = await _scope(request)
        view = view if view in VIEWS else DEFAULT_VIEW
        table = (await self._view(scope, view, services.period_for(period), _run_id(run), export=True)).table()
        return Response(
            services.to_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table.name}.csv"', "Cache-Control": "no-store"},
        )

    @get("/signals/{finding_id:int}")
    async def signal(self, request: HTMXRequest, finding_id: FromPath[int]) -> Template:
        scope = await _scope(request)
        try:
            detail = await services.signal_detail(scope, finding_id)
        except RuleViolation as exc:
            _refuse(exc)
        return await render(
            request, "pages/insights/signal.html", {"base": self.path, "detail": detail, "errors": {}, "values": {}}
        )


class InsightsController(_Insights):
    path = "/insights"
    guards = [requires_role(Role.MANAGER, Role.ADMIN)]
    index = get("/", name="insights")(_Insights.index.fn)  # the shared page, named for the nav's link


class AdminInsightsController(_Insights):
    path = "/admin/insights"
    guards = [admin_only]
    index = get("/", name="admin.insights")(_Insights.index.fn)

    @post("/signals/{finding_id:int}/review")
    async def review(self, request: HTMXRequest, finding_id: FromPath[int]) -> Response:
        form = await request.form()
        status, note = str(form.get("status", "")), str(form.get("note", ""))
        try:
            detail = await services.review_signal(_user(request), finding_id, status, note)
        except RuleViolation as exc:
            if exc.status_code in {403, 404}:
                _refuse(exc)
            detail = await services.signal_detail(await _scope(request), finding_id)
            return await render(
                request,
                "pages/insights/signal.html",
                {"base": self.path, "detail": detail, "errors": exc.errors, "values": {"status": status, "note": note}},
                fragment="fragments/insights/review.html",
                status_code=exc.status_code,
            )
        message = f"Marked {detail.signal.review_label.lower()}; the audit log has it."
        if request.htmx:
            return await render(
                request,
                "pages/insights/signal.html",
                {"base": self.path, "detail": detail, "errors": {}, "values": {}, "saved": message},
                fragment="fragments/insights/review.html",
            )
        flash(request, message, category="success")
        return Redirect(f"{self.path}/signals/{finding_id}", status_code=303)

    @post("/runs")
    async def run(self, request: HTMXRequest) -> Redirect:
        """Run collusion detection over a period now (queued; the page lists it when done)."""
        form = await request.form()
        chosen = services.period_for(str(form.get("period", "")))
        run_id = await services.request_run(_user(request), chosen)
        await hand_over(request.app.state.redis)
        flash(request, f"Detection for {chosen.label} is queued; reload in a moment to see its findings.", "success")
        return Redirect(self._url("signals", chosen.name, run_id), status_code=303)

    @post("/settings")
    async def settings(self, request: HTMXRequest) -> Response:
        form = await request.form()
        raw = str(form.get("concentration_percent", ""))
        try:
            percent = await services.set_concentration(_user(request), raw)
        except RuleViolation as exc:
            return await self._page(
                request,
                "signals",
                DEFAULT_PERIOD,
                None,
                errors=exc.errors,
                values={"concentration_percent": raw},
                status_code=exc.status_code,
            )
        flash(request, f"Concentration is now flagged above {percent} % of a giver's allowance.", "success")
        return Redirect(self._url("signals", DEFAULT_PERIOD), status_code=303)
