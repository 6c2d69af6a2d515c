"""The service map (SPEC B4): who serves whom, from the department flows of app/insights/rollups.py. Department-level
figures only, so every viewer of insights sees the whole map; a department's page shows its top partners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.insights import rollups
from app.insights.charts import MAX_EDGES, MAX_NODES, MapPicture, service_map_picture
from app.insights.scope import CsvTable, InsightPeriod, department_names, period_for


@dataclass(frozen=True, slots=True)
class Link:
    supplier_id: int
    supplier: str
    customer_id: int
    customer: str
    requests: int  # requests from the customer's people the supplier completed
    kudos: int  # kudos from the customer's people to the supplier's
    points: int

    @property
    def weight(self) -> int:
        return self.requests + self.kudos


@dataclass(frozen=True, slots=True)
class MapView:
    period: InsightPeriod
    links: tuple[Link, ...]  # the busiest MAP_LINKS (every one when asked for the CSV)
    count: int  # how many connections there are
    picture: MapPicture
    refreshed_at: datetime | None = None

    def table(self) -> CsvTable:
        return CsvTable(
            f"service-map-{self.period.start:%Y-%m}-{self.period.name}",
            ("serving department", "customer department", "requests completed", "kudos received", "points received"),
            tuple((lk.supplier, lk.customer, lk.requests, lk.kudos, lk.points) for lk in self.links),
        )


MAP_LINKS = 40  # connections listed on the page (the CSV has them all)


def _links(flows: Sequence[rollups.Flow], departments: dict[int, str]) -> tuple[Link, ...]:
    return tuple(
        Link(f.supplier, departments.get(f.supplier, "?"), f.customer, departments.get(f.customer, "?"), f.requests,
             f.kudos, f.points)
        for f in flows
    )  # fmt: skip


async def service_map(period: InsightPeriod, *, every_link: bool = False) -> MapView:
    """Who serves whom: an edge from a department to each department whose requests it completed or whose people
    thanked its people in the period (department-level figures only: every viewer sees the whole map). The busiest
    MAP_LINKS connections, or all of them with `every_link`."""
    departments = await department_names()
    page = await rollups.flow_page(period.kind, period.start, limit=0 if every_link else MAP_LINKS)
    nodes = sorted(page.totals, key=lambda d: (-page.totals[d], departments.get(d, "")))[:MAX_NODES]
    edges = _links(await rollups.flows_for(period.kind, period.start, limit=MAX_EDGES, among=nodes), departments)
    picture = service_map_picture(
        departments,
        page.totals,
        [
            (lk.supplier_id, lk.customer_id, lk.weight,
             f"{lk.supplier} served {lk.customer}: {lk.requests} requests, {lk.kudos} kudos back")
            for lk in edges
        ],
    )  # fmt: skip
    return MapView(period, _links(page.flows, departments), page.count, picture, page.refreshed_at)


@dataclass(frozen=True, slots=True)
class Partners:
    """A department's top customers (whom it serves) and top suppliers (who serve it)."""

    period: InsightPeriod
    customers: tuple[Link, ...]
    suppliers: tuple[Link, ...]


async def partners(department_id: int, *, limit: int = 5) -> Partners:
    """For the department page: this year's top customers and suppliers by requests completed and kudos."""
    period = period_for("year")
    flows = [
        await rollups.flows_for(period.kind, period.start, limit=limit, department=department_id, role=role)
        for role in ("supplier", "customer")
    ]
    departments = await department_names(d for found in flows for f in found for d in (f.customer, f.supplier))
    customers, suppliers = (_links(found, departments) for found in flows)
    return Partners(period, customers, suppliers)
