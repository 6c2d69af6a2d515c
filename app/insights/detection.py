"""Collusion signals (SPEC B4): patterns in who gives points to whom that deserve a human look.

Detection runs over a window ([start, end), normally the last 90 days, nightly; or a period an admin asks for),
and its findings are stored (app/insights/tables.py) so the pages only read them (running it: runs.py; this module
is the detection itself, pure functions over the flows). It never penalises anyone: an admin reads the evidence and
marks a finding "reviewed — fine" or "reviewed — acted".

One aggregate over the ledger gives, per (giver, recipient, organisation-time month), the net points (kudos and
add-ons, less revokes) and the part given on the last LATE_DAYS days of the month. From those flows, in Python:

- reciprocal pair — A gives B at least RECIPROCAL_SHARE of everything A gives, and B gives A the same, each at
  least MIN_POINTS, in at least `min_months` months (both ways in the same month);
- ring — 3 to 6 people joined by strong edges (a giver sends one of them at least RING_EDGE_SHARE of their points
  and at least RING_EDGE_POINTS) into one strongly connected group, whose members send at least RING_SHARE of
  all their points to each other, each member at least MIN_POINTS, in at least `min_months` months;
- month-end dumping — in at least `min_months` month ends, a giver spends on the last LATE_DAYS days, in at
  least DUMP_MIN_KUDOS kudos, at least DUMP_BUDGET_SHARE of that month's allowance, which is at least
  DUMP_MONTH_SHARE of all they gave that month, and at most DUMP_RECIPIENTS people get at least DUMP_FEW_SHARE
  of it;
- concentration — a giver sends one person more than the threshold (a setting, percent of their allowance over
  the window: each month's budget pro rata to its days inside the window) and at least MIN_POINTS.

`min_months` is MIN_MONTHS, or 1 for a window that holds fewer month ends. Members of a flagged ring are not
flagged again as reciprocal pairs among themselves. The thresholds were tuned on the planted patterns of
`kudos seed synthetic` (tests/unit/test_insights_accuracy.py measures recall and precision).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from app.insights.tables import SignalKind

LATE_DAYS = 3  # "the last days of the month": the last three calendar days
MIN_MONTHS = 2
MIN_POINTS = 40
RECIPROCAL_SHARE = 0.5
RING_EDGE_SHARE = 0.1
RING_EDGE_POINTS = 20
RING_SHARE = 0.6
RING_SIZES = range(3, 7)
DUMP_BUDGET_SHARE = 0.5
DUMP_MONTH_SHARE = 0.6
DUMP_RECIPIENTS = 3
DUMP_MIN_KUDOS = 2  # one generous kudos to a team at month end is not dumping
DUMP_FEW_SHARE = 0.8
DEFAULT_CONCENTRATION_PERCENT = 50


@dataclass(frozen=True, slots=True)
class Flow:
    """Net points from one giver to one recipient in one month, and the part given on its last days."""

    giver: int
    recipient: int
    month: date
    points: int
    late_points: int


@dataclass(frozen=True, slots=True)
class Signal:
    kind: SignalKind
    people: tuple[int, ...]  # see Finding.people
    points: int
    share: float
    months: int
    late_only: bool = False  # evidence: only the kudos given on the last days of a month

    @property
    def signature(self) -> str:
        return signature(self.kind, self.people)


def signature(kind: SignalKind, people: Iterable[int]) -> str:
    """Names a pattern across runs: the kind and its people (as a set, except a concentration's direction)."""
    ids = list(people)
    if kind in {SignalKind.RECIPROCAL, SignalKind.RING}:
        ids = sorted(ids)
    elif kind == SignalKind.DUMPING:
        ids = ids[:1]
    return f"{kind}:{'-'.join(map(str, ids))}"


@dataclass(slots=True)
class _Graph:
    """The window's flows, indexed for the detectors."""

    given: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    pair: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    pair_months: dict[tuple[int, int], set[date]] = field(default_factory=lambda: defaultdict(set))
    month_given: dict[tuple[int, date], int] = field(default_factory=lambda: defaultdict(int))
    late: dict[tuple[int, date], dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    @classmethod
    def of(cls, flows: Iterable[Flow]) -> _Graph:
        graph = cls()
        for flow in flows:
            if flow.points <= 0:
                continue
            graph.given[flow.giver] += flow.points
            graph.pair[flow.giver][flow.recipient] += flow.points
            graph.pair_months[flow.giver, flow.recipient].add(flow.month)
            graph.month_given[flow.giver, flow.month] += flow.points
            if flow.late_points > 0:
                graph.late[flow.giver, flow.month][flow.recipient] += flow.late_points

        return graph

    def share(self, giver: int, recipient: int) -> float:
        total = self.given.get(giver, 0)
        return self.pair[giver].get(recipient, 0) / total if total else 0.0


def detect(
    flows: Iterable[Flow],
    *,
    late_kudos: Mapping[tuple[int, date], int],
    budgets: Mapping[int, float],
    month_budgets: Mapping[tuple[int, date], int],
    default_budget: int,
    month_ends: set[date],
    concentration_percent: int = DEFAULT_CONCENTRATION_PERCENT,
) -> list[Signal]:
    """Every signal in the flows. `late_kudos`: (giver, month) → kudos given on its last days; `budgets`: each
    giver's allowance over the window (pro rata); `month_budgets`:
    (giver, month) → that month's budget (`default_budget` when absent); `month_ends`: the months whose last days
    lie inside the window (only those can show dumping)."""
    graph = _Graph.of(flows)
    min_months = MIN_MONTHS if len(month_ends) >= MIN_MONTHS else 1
    rings = _rings(graph, min_months)
    in_ring = {person: ring.people for ring in rings for person in ring.people}
    signals = [*rings, *_pairs(graph, min_months, in_ring)]
    signals += _dumpers(graph, late_kudos, month_budgets, default_budget, month_ends, min_months)
    signals += _concentrations(graph, budgets, default_budget, concentration_percent)
    return signals


def _pairs(graph: _Graph, min_months: int, in_ring: Mapping[int, tuple[int, ...]]) -> list[Signal]:
    found = []
    for a, targets in graph.pair.items():
        for b, points in targets.items():
            if b <= a or a not in graph.pair.get(b, {}) or (a in in_ring and b in in_ring.get(a, ())):
                continue
            back = graph.pair[b][a]
            if min(points, back) < MIN_POINTS:
                continue
            share = min(graph.share(a, b), graph.share(b, a))
            months = len(graph.pair_months[a, b] & graph.pair_months[b, a])
            if share >= RECIPROCAL_SHARE and months >= min_months:
                found.append(Signal(SignalKind.RECIPROCAL, (a, b), points + back, share, months))
    return found


def strongly_connected(edges: Mapping[int, Iterable[int]]) -> list[list[int]]:
    """The strongly connected components of a directed graph (Tarjan's algorithm, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _rings(graph: _Graph, min_months: int) -> list[Signal]:
    strong: dict[int, list[int]] = {}
    for giver, targets in graph.pair.items():
        total = graph.given[giver]
        strong[giver] = [r for r, p in targets.items() if p >= RING_EDGE_POINTS and p >= RING_EDGE_SHARE * total]
    found = []
    for component in strongly_connected(strong):
        if len(component) not in RING_SIZES:
            continue
        members = set(component)
        inside = {m: sum(p for r, p in graph.pair[m].items() if r in members) for m in component}
        total = sum(graph.given[m] for m in component)
        share = sum(inside.values()) / total if total else 0.0
        months = {
            month
            for giver in component
            for recipient in graph.pair[giver]
            if recipient in members
            for month in graph.pair_months[giver, recipient]
        }
        if share >= RING_SHARE and min(inside.values()) >= MIN_POINTS and len(months) >= min_months:
            found.append(Signal(SignalKind.RING, tuple(sorted(component)), sum(inside.values()), share, len(months)))
    return found


def _dumpers(
    graph: _Graph,
    late_kudos: Mapping[tuple[int, date], int],
    month_budgets: Mapping[tuple[int, date], int],
    default_budget: int,
    month_ends: set[date],
    min_months: int,
) -> list[Signal]:
    months_by_giver: dict[int, list[tuple[date, int, float, list[int]]]] = defaultdict(list)
    for (giver, month), recipients in graph.late.items():
        if month not in month_ends:
            continue
        late = sum(recipients.values())
        budget = month_budgets.get((giver, month), default_budget)
        few = heapq.nlargest(DUMP_RECIPIENTS, recipients.items(), key=lambda item: item[1])
        if (
            late_kudos.get((giver, month), 0) >= DUMP_MIN_KUDOS
            and late >= DUMP_BUDGET_SHARE * budget
            and late >= DUMP_MONTH_SHARE * graph.month_given[giver, month]
            and sum(p for _, p in few) >= DUMP_FEW_SHARE * late
        ):
            months_by_giver[giver].append((month, late, late / budget, [r for r, _ in few]))
    found = []
    for giver, months in months_by_giver.items():
        if len(months) < min_months:
            continue
        late_by_recipient: dict[int, int] = defaultdict(int)
        for month, _, _, _ in months:
            for recipient, points in graph.late[giver, month].items():
                late_by_recipient[recipient] += points
        top = [r for r, _ in sorted(late_by_recipient.items(), key=lambda item: (-item[1], item[0]))][:DUMP_RECIPIENTS]
        found.append(
            Signal(
                SignalKind.DUMPING,
                (giver, *top),
                sum(late for _, late, _, _ in months),
                min(share for _, _, share, _ in months),
                len(months),
                late_only=True,
            )
        )
    return found


def _concentrations(graph: _Graph, budgets: Mapping[int, float], default_budget: int, percent: int) -> list[Signal]:
    found = []
    for giver, targets in graph.pair.items():
        allowance = max(budgets.get(giver, default_budget), graph.given[giver])
        for recipient, points in targets.items():
            share = points / allowance
            if points >= MIN_POINTS and share * 100 > percent:
                months = len(graph.pair_months[giver, recipient])
                found.append(Signal(SignalKind.CONCENTRATION, (giver, recipient), points, share, months))
    return found
