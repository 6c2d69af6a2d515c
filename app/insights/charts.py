"""Chart geometry for the insights pages, computed in Python and drawn by templates as inline SVG (no script):
horizontal bar charts, a two-series line chart for 12-month trends, and the service map (departments on a circle,
curved edges through the middle, a chord-style picture that needs no physics and reads the same every time)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BAR_ROW = 22  # px per bar
LABEL_WIDTH = 150  # px for the labels left of the bars
CHART_WIDTH = 480
MAX_BARS = 30  # a chart shows at most this many rows; its table lists them all


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as text
    y: float
    width: float


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    summary: str  # the chart in one sentence (SVG <desc>)
    bars: tuple[Bar, ...]
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * BAR_ROW + 8


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    percent: bool = False,
    digits: int = 0,
    limit: int = MAX_BARS,
) -> BarChart:
    """Bars for (label, value) pairs in the order given (the first `limit`); values scale to the largest."""
    shown_items = list(items)[:limit]
    top = max((value for _, value in shown_items), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 60
    bars = tuple(
        Bar(
            label=label if len(label) <= 22 else label[:21] + "…",
            value=value,
            shown=f"{value:.0%}" if percent else f"{value:,.{digits}f}",
            y=4 + n * BAR_ROW,
            width=round(room * value / top, 1),
        )
        for n, (label, value) in enumerate(shown_items)
    )
    if bars:
        first = bars[0]
        summary = f"{len(items)} rows; highest {first.label} at {first.shown}"
        if len(items) > limit:
            summary += f"; the chart shows the first {limit}, the table lists all"
    else:
        summary = "No data for this period."
    return BarChart(title=title, summary=summary + ".", bars=bars)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str  # class of its line ("series-a" / "series-b")
    points: str  # SVG polyline points
    dots: tuple[tuple[float, float, str], ...]  # x, y, value text


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    summary: str
    labels: tuple[tuple[float, str], ...]  # x, month label
    series: tuple[Series, ...]
    width: int = CHART_WIDTH
    height: int = 220
    top: int = 10
    baseline: int = 190


def share_trend(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> LineChart:
    """Shares (0..1) per month as lines on a 0-100 % scale."""
    left, right, top, baseline = 52, CHART_WIDTH - 20, 10, 190
    step = (right - left) / max(1, len(labels) - 1)

    def at(n: int, value: float) -> tuple[float, float]:
        return round(left + n * step, 1), round(baseline - (baseline - top) * value, 1)

    lines = []
    for index, (name, values) in enumerate(series):
        coords = [at(n, v) for n, v in enumerate(values)]
        lines.append(
            Series(
                name=name,
                css=f"series-{'ab'[index % 2]}",
                points=" ".join(f"{x},{y}" for x, y in coords),
                dots=tuple((x, y, f"{v:.0%}") for (x, y), v in zip(coords, values, strict=True)),
            )
        )
    last = [f"{name} {values[-1]:.0%}" for name, values in series if values]
    summary = f"{len(labels)} months; latest: {', '.join(last)}." if last else "No data."
    return LineChart(
        title=title,
        summary=summary,
        labels=tuple((round(left + n * step, 1), label) for n, label in enumerate(labels)),
        series=tuple(lines),
        top=top,
        baseline=baseline,
    )


# ------------------------------------------------------------------------------------------------ service map

MAP_SIZE = 640
MAP_RADIUS = 200
MAX_NODES = 16  # the busiest departments are drawn; the edge table lists every pair
MAX_EDGES = 30  # ... and the heaviest connections between them


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    label: str
    x: float
    y: float
    label_x: float
    label_y: float
    anchor: str  # text-anchor of its label
    weight: int


@dataclass(frozen=True, slots=True)
class Edge:
    source: int
    target: int
    path: str  # SVG path: a quadratic curve bending towards the centre
    width: float
    title: str  # what it stands for, as a tooltip and for screen readers


@dataclass(frozen=True, slots=True)
class MapPicture:
    size: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    summary: str
    hidden: int  # departments left out of the picture (quieter than the MAX_NODES drawn)


def service_map_picture(
    departments: dict[int, str], totals: dict[int, int], weights: Sequence[tuple[int, int, int, str]]
) -> MapPicture:
    """Departments on a circle (the MAX_NODES busiest by `totals`, busiest first, clockwise from the top) and the
    MAX_EDGES heaviest of `weights` between them, each (supplier, customer, weight, description) drawn from
    supplier to customer with width by weight."""
    busiest = sorted(totals, key=lambda d: (-totals[d], departments.get(d, "")))[:MAX_NODES]
    centre = MAP_SIZE / 2
    nodes: dict[int, Node] = {}
    for n, department in enumerate(busiest):
        angle = -math.pi / 2 + 2 * math.pi * n / max(1, len(busiest))
        cos, sin = math.cos(angle), math.sin(angle)
        label_r = MAP_RADIUS + 16
        nodes[department] = Node(
            id=department,
            label=departments.get(department, "?"),
            x=round(centre + MAP_RADIUS * cos, 1),
            y=round(centre + MAP_RADIUS * sin, 1),
            label_x=round(centre + label_r * cos, 1),
            label_y=round(centre + label_r * sin + 7 + (12 * sin if abs(cos) < 0.3 else 0), 1),
            anchor="middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end"),
            weight=totals[department],
        )
    heaviest = max((w for s, t, w, _ in weights if s in nodes and t in nodes), default=1) or 1
    drawn = sorted((e for e in weights if e[0] in nodes and e[1] in nodes and e[0] != e[1]), key=lambda e: -e[2])[
        :MAX_EDGES
    ]
    edges = []
    for source, target, weight, title in reversed(drawn):  # the heaviest drawn last, on top
        a, b = nodes[source], nodes[target]
        # Bend towards the centre, a little to one side so A→B and B→A stay apart.
        mx, my = (a.x + b.x) / 2, (a.y + b.y) / 2
        cx, cy = mx + (centre - mx) * 0.7 + (b.y - a.y) * 0.08, my + (centre - my) * 0.7 - (b.x - a.x) * 0.08
        edges.append(
            Edge(
                source=source,
                target=target,
                path=f"M{a.x},{a.y} Q{round(cx, 1)},{round(cy, 1)} {b.x},{b.y}",
                width=round(1.5 + 8 * weight / heaviest, 1),
                title=title,
            )
        )
    summary = (
        f"{len(nodes)} departments and their {len(edges)} busiest connections; the thickest: {edges[-1].title}."
        if edges
        else "No requests or kudos between departments in this period."
    )
    return MapPicture(
        size=MAP_SIZE,
        nodes=tuple(nodes.values()),
        edges=tuple(edges),
        summary=summary,
        hidden=max(0, len(totals) - len(nodes)),
    )
