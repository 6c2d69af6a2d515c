"""Collusion signals, measured: planted patterns in a realistic synthetic organisation of 2,000 people.

A random set of reciprocal pairs, rings of 3 to 6, month-end dumpers and concentrated givers is hidden among
ordinary people (`kudos seed synthetic` with a PlantSpec); detection over the last 90 days must flag every
planted pattern as its own kind, and at least 95 % of all flags must involve only planted people. The seed is
random on each run and printed with the figures (`-s` shows them); KUDOS_ACCURACY_SEED=N replays one.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from app.demo.synthetic import Planted, PlantSpec, seed_synthetic
from app.insights.detection import signature
from app.insights.runs import find_signals, last_days
from app.insights.tables import SignalKind

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

MOMENT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PEOPLE, KUDOS, MONTHS = 2_000, 50_000, 4


def _signature(pattern: Planted) -> str:
    """What the detector calls a planted pattern (a concentration names its giver and the one recipient)."""
    return signature(SignalKind(pattern.kind), pattern.people)


async def test_every_planted_pattern_is_flagged_and_few_flags_land_on_honest_people() -> None:
    seed = int(os.environ.get("KUDOS_ACCURACY_SEED") or random.SystemRandom().randrange(1_000_000))
    rng = random.Random(seed)
    spec = PlantSpec(
        pairs=rng.randint(2, 5),
        rings=tuple(rng.randint(3, 6) for _ in range(rng.randint(2, 4))),
        dumpers=rng.randint(2, 5),
        concentrated=rng.randint(2, 5),
    )
    report = await seed_synthetic(PEOPLE, KUDOS, months=MONTHS, seed=seed, moment=MOMENT, plant=spec)
    signals = await find_signals(last_days(at=MOMENT), percent=50)

    planted_people = {person for pattern in report.planted for person in pattern.people}
    flagged = {signal.signature for signal in signals}
    by_kind = Counter(pattern.kind for pattern in report.planted)
    found = Counter(pattern.kind for pattern in report.planted if _signature(pattern) in flagged)
    flags = Counter(signal.kind.value for signal in signals)
    honest = Counter(signal.kind.value for signal in signals if not set(signal.people[:1]) <= planted_people)
    lines = [f"seed {seed}, planted {dict(by_kind)}"]
    for kind in SignalKind:
        recall = found[kind] / by_kind[kind] if by_kind[kind] else 1.0
        precision = 1 - honest[kind] / flags[kind] if flags[kind] else 1.0
        lines.append(
            f"{kind}: recall {recall:.0%} ({found[kind]}/{by_kind[kind]}), "
            f"precision {precision:.0%} ({flags[kind] - honest[kind]}/{flags[kind]})"
        )
    print("\n".join(lines))
    missed = [pattern for pattern in report.planted if _signature(pattern) not in flagged]
    assert not missed, "\n".join(lines) + f"\nmissed: {missed}"
    assert sum(honest.values()) <= 0.05 * len(signals), "\n".join(lines)
