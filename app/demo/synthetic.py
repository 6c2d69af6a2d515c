"""A large synthetic organisation with a year of kudos, for benchmarks (`kudos seed synthetic`).

Unlike the demo activity (app.demo.activity), nothing here goes through the services: rows are generated in
Python with a seeded `random.Random` and written with PostgreSQL's COPY, ids set explicitly, in chunks of
`chunk` kudos so memory stays bounded however many kudos are asked for. The whole load is one transaction, so
a failure leaves the database as it was; as a superuser it runs with `session_replication_role = replica`, which
skips the foreign-key checks (2-3x faster; the generated ids are consistent, and tests/unit/test_synthetic.py
checks every reference). Afterwards the board rollups are rebuilt from the ledger
(`app.boards.rollups.rebuild`) and the tables are vacuumed and analysed, as autovacuum would have done on a live
system.

What the data looks like:
- departments: about one per hundred people, sized by a heavy-tailed (Zipf-like) distribution, so a few are
  big; each has a head (a manager) and team leads (managers) for every eight or so members; the head of the
  first department is the admin. ~2 % have left (inactive), ~3 % opted out of boards. Every active person signs
  in with the demo password.
- kudos: spread over the last `months` calendar months (the current one included, up to now), mostly on
  weekdays in working hours, slowly growing. How much each person gives and receives follows a log-normal
  activity weight (a few very active people), times a per-department factor (a few very active departments).
  1 to 3 recipients (mostly one), 60 % from another department, ~10 % private, 0 to 2 company values, 0 to 20
  points.
- add-ons: on about 10 % of kudos (public ones), from others than the giver and the recipients.
- ledger: one `kudos` entry per recipient (amount = points) and one `addon` entry per add-on and recipient,
  with both departments and `created_at = effective_at` = the moment it happened.
- allowance: one row per giver and month with what they spent, budget = max(100, spent): synthetic history
  ignores the budget rules.
- planted patterns (`plant=PlantSpec(...)`, for measuring the collusion signals of app/insights/detection.py):
  reciprocal pairs, rings of 3 to 6, month-end dumpers and concentrated givers, each hidden among otherwise
  ordinary people (chosen among those who gave no more than the usual allowance), in every month generated,
  on top of their ordinary kudos; the report lists them (`SyntheticReport.planted`).
Not generated: requests, notifications, revokes, badges.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import re
import time
from array import array
from bisect import bisect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import asyncpg

import app.db as db
from app.people.passwords import hash_password
from app.people.seed import DEMO_PASSWORD, OrganisationNotEmpty
from app.timeutil import next_month, org_tz

CHUNK = 100_000  # kudos generated and copied at a time
MIN_PEOPLE = 10
PEOPLE_PER_DEPARTMENT = 100
TEAM_SIZE = 8
CROSS_DEPARTMENT_SHARE = 0.6
PRIVATE_SHARE = 0.1
ADDON_SHARE = 0.085  # of kudos with add-ons; ~1.2 add-ons each, on public kudos only: ~10 % of kudos overall
INACTIVE_SHARE = 0.02  # people who left (history kept, off boards, cannot sign in)
OPT_OUT_SHARE = 0.03  # people kept off individual boards
GIVE_SIGMA = 1.3  # spread of the log-normal giving activity
RECEIVE_SIGMA = 1.2  # ... and receiving activity
DEPARTMENT_SIGMA = 0.6  # ... and of each department's activity factor
WEEKEND_WEIGHT = 0.08
# Share of a working day's kudos given in each local hour.
HOUR_WEIGHTS = (0, 0, 0, 0, 0, 0, 1, 3, 8, 12, 12, 11, 8, 9, 11, 11, 10, 7, 4, 2, 2, 1, 1, 0)

AREAS = (
    "IT", "Facilities", "HR", "Finance", "Payroll", "Legal", "Marketing", "Sales", "Support", "IT Security",
    "Procurement", "Logistics", "Engineering", "Data", "Research", "Quality", "Compliance", "Communications",
    "Training", "Customer Success", "Operations", "Product", "Design", "Analytics", "Infrastructure", "Travel",
    "Workplace", "Internal Audit", "Risk", "Treasury", "Tax", "Partnerships", "Brand", "Platform", "Service Desk",
    "Field Service", "Warehouse", "Fleet", "Health and Safety", "Learning",
)  # fmt: skip
REGIONS = ("North", "South", "East", "West", "Central", "EMEA", "APAC", "Americas", "Nordics", "Iberia")
FIRST_NAMES = (
    "Ada", "Adam", "Aisha", "Alba", "Alex", "Amir", "Ana", "Anders", "Anna", "Arjun", "Astrid", "Ben", "Bianca",
    "Carlos", "Chen", "Chloe", "Clara", "Daniel", "David", "Dina", "Elena", "Eli", "Emma", "Erik", "Eva", "Farah",
    "Felix", "Fatima", "Gabriel", "Grace", "Hana", "Hugo", "Ida", "Ines", "Isaac", "Ivan", "Jade", "Jakob", "James",
    "Jana", "Jonas", "Julia", "Kai", "Karin", "Kenji", "Lara", "Leila", "Leo", "Lina", "Luca", "Lucia", "Maja",
    "Malik", "Marco", "Maria", "Marta", "Mateo", "Maya", "Mei", "Mila", "Nadia", "Nils", "Nina", "Noah", "Nora",
    "Olga", "Omar", "Oscar", "Paula", "Pedro", "Priya", "Rafael", "Rania", "Ravi", "Rosa", "Ruth", "Sami", "Sara",
    "Sofia", "Stefan", "Tariq", "Theo", "Tomas", "Una", "Vera", "Victor", "Wei", "Yara", "Yusuf", "Zoe",
)  # fmt: skip
NAME_STARTS = (
    "Ander", "Berg", "Carl", "Dahl", "Eng", "Falk", "Gran", "Hal", "Is", "Jans", "Kall", "Lind", "Mal", "Nord",
    "Ols", "Pers", "Quin", "Ros", "Sand", "Torn", "Ull", "Vik", "Wall", "Ek", "Fern", "Mor", "Bel", "Cas", "Dor",
    "Gal", "Lem", "Mar", "Oli", "Pal", "Ser", "Tal", "Var", "Zan", "Hart", "Brook",
)  # fmt: skip
NAME_ENDS = (
    "son", "berg", "ström", "lund", "quist", "man", "ford", "ley", "ton", "field", "wood", "ez", "ini", "ova",
    "ski", "ard", "ell", "ina", "ado", "ero", "holm", "dal", "by", "strand", "gren", "mark", "stad", "well",
)  # fmt: skip
TITLES = (
    "Specialist", "Analyst", "Coordinator", "Engineer", "Advisor", "Associate", "Consultant", "Officer",
    "Administrator", "Technician",
)  # fmt: skip
OPENERS = ("Thank you for", "Thanks for", "Huge thanks for", "Really appreciated", "Grateful for", "Kudos for")
REASONS = (
    "sorting out my laptop before the client demo.",
    "getting the contract reviewed in a day.",
    "fixing the payroll mistake so quickly.",
    "walking me through the new expense process.",
    "finding a meeting room for twenty people at short notice.",
    "answering every question on the onboarding call.",
    "the clear write-up of the incident.",
    "jumping in when the release went sideways.",
    "covering the support queue over the holidays.",
    "untangling the access rights for the new team.",
    "the patience with our endless data requests.",
    "keeping everyone informed during the office move.",
    "catching the error in the quarterly figures.",
    "making the training session genuinely useful.",
    "the quick turnaround on the purchase order.",
    "helping the new starters feel welcome.",
    "following up without being asked.",
    "going the extra mile on the customer escalation.",
)  # fmt: skip
COMMENTS = (
    "Seconded!", "Couldn't agree more.", "Same here, thank you!", "So true.", "+1, made my week easier.",
    "Absolutely deserved.", "This saved us days.", "Great work.",
)  # fmt: skip

EMPLOYEE_COLUMNS = (
    "id", "name", "email", "title", "department", "manager", "role", "active", "password_hash", "board_opt_out",
    "created_at",
)  # fmt: skip
KUDOS_COLUMNS = ("id", "giver", "message", "points", "visibility", "month", "idempotency_key", "created_at")
ADDON_COLUMNS = ("id", "kudos", "giver", "comment", "points", "month", "created_at")
LEDGER_COLUMNS = (
    "id", "kind", "kudos", "addon", "giver", "giver_department", "recipient", "recipient_department", "amount",
    "created_at", "effective_at",
)  # fmt: skip
LOADED_TABLES = (
    "department", "employee", "department_lead", "kudos", "kudos_recipient", "kudos_value", "add_on", "ledger_entry",
    "allowance",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlantSpec:
    """Collusion patterns to hide in the organisation: how many of each (a ring per size given)."""

    pairs: int = 0
    rings: tuple[int, ...] = ()  # sizes, each 3..6
    dumpers: int = 0
    concentrated: int = 0


@dataclass(frozen=True, slots=True)
class Planted:
    kind: str  # "reciprocal", "ring", "dumping" or "concentration" (app.insights.tables.SignalKind values)
    people: tuple[int, ...]  # employee ids: the members; a dumper or concentrated giver first, then its targets


@dataclass(frozen=True, slots=True)
class SyntheticReport:
    counts: dict[str, int]
    load_seconds: float  # generate and COPY, in one transaction
    rebuild_seconds: float  # the board rollups from the ledger
    settle_seconds: float  # VACUUM ANALYZE of the loaded and rebuilt tables
    logins: dict[str, str] = field(default_factory=dict)  # role → an email to sign in with
    planted: list[Planted] = field(default_factory=list)


class _Weighted:
    """Draws items with fixed weights, in O(log n) each."""

    def __init__(self, items: Sequence[int], weights: Sequence[float], rng: random.Random) -> None:
        self.items = items
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]
        self.last = len(items) - 1
        self.random = rng.random

    def draw(self) -> int:
        return self.items[min(bisect(self.cumulative, self.random() * self.total), self.last)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(slots=True)
class _Org:
    """The organisation being generated; people are indexed 0..n-1 (id = first_person_id + index)."""

    department_ids: list[int]
    department_rows: list[tuple[Any, ...]]
    lead_rows: list[tuple[Any, ...]]
    person_rows: list[tuple[Any, ...]]
    person_ids: list[int]
    department_of: list[int]  # by person index: department id
    members: dict[int, list[int]]  # department id → person indexes
    logins: dict[str, str]


def _organisation(
    rng: random.Random,
    people: int,
    *,
    first_department_id: int,
    first_person_id: int,
    first_lead_id: int,
    taken_slugs: set[str],
    password_hash: str,
    founded: datetime,
) -> _Org:
    count = max(2, round(people / PEOPLE_PER_DEPARTMENT))
    count = min(count, people // 2)
    department_ids = [first_department_id + i for i in range(count)]
    rows, slugs = [], set(taken_slugs)
    for i, department_id in enumerate(department_ids):
        area = AREAS[i % len(AREAS)]
        round_ = i // len(AREAS)
        if round_ == 0:
            name = area
        elif round_ <= len(REGIONS):
            name = f"{area} {REGIONS[round_ - 1]}"
        else:
            name = f"{area} {round_ - len(REGIONS) + 1}"
        slug, n = _slug(name), 1
        while slug in slugs:
            n += 1
            slug = f"{_slug(name)}-{n}"
        slugs.add(slug)
        # The first few departments are divisions; the others belong to one of them.
        parent = None if i < 8 else department_ids[rng.randrange(min(8, count))]
        rows.append((department_id, name, slug, parent, f"The {name} team.", founded))

    # Sizes: two people each, the rest spread by Zipf-like weights over the departments in random order.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(count)]
    rng.shuffle(weights)
    assignment = [d for d in department_ids for _ in range(2)]
    assignment += rng.choices(department_ids, weights=weights, k=people - len(assignment))
    rng.shuffle(assignment)
    members: dict[int, list[int]] = {d: [] for d in department_ids}
    for index, department_id in enumerate(assignment):
        members[department_id].append(index)

    person_ids = [first_person_id + i for i in range(people)]
    role = ["employee"] * people
    manager: list[int | None] = [None] * people
    title = [""] * people
    lead_rows: list[tuple[Any, ...]] = []
    admin = members[department_ids[0]][0]
    role[admin] = "admin"
    for department_id, name in ((row[0], row[1]) for row in rows):
        team = members[department_id]
        head = team[0]
        if head != admin:
            role[head] = "manager"
            manager[head] = person_ids[admin]
        title[head] = f"Head of {name}"
        lead_rows.append((first_lead_id + len(lead_rows), department_id, person_ids[head]))
        leads = [head]
        for position, index in enumerate(team[1:], start=1):
            if position % TEAM_SIZE == 0:
                role[index] = "manager"
                manager[index] = person_ids[head]
                title[index] = f"{name} team lead"
                leads.append(index)
            else:
                manager[index] = person_ids[leads[-1]]
                title[index] = f"{name} {rng.choice(TITLES)}"

    used_emails: dict[str, int] = {}
    person_rows = []
    department_of = assignment
    for index in range(people):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(NAME_STARTS) + rng.choice(NAME_ENDS)
        local = _slug(f"{first}.{last}").replace("-", ".")
        seen = used_emails.get(local, 0) + 1
        used_emails[local] = seen
        email = f"{local}{seen if seen > 1 else ''}@example.com"
        active = index == admin or rng.random() >= INACTIVE_SHARE
        person_rows.append(
            (
                person_ids[index],
                f"{first} {last}",
                email,
                title[index],
                department_of[index],
                manager[index],
                role[index],
                active,
                password_hash,
                rng.random() < OPT_OUT_SHARE and index != admin,
                founded + timedelta(days=rng.uniform(0, 20)),
            )
        )
    logins = {"admin": person_rows[admin][2]}
    for wanted in ("manager", "employee"):
        found = next((row for row in person_rows if row[6] == wanted and row[7] and not row[9]), None)
        if found:
            logins[wanted] = found[2]
    return _Org(department_ids, rows, lead_rows, person_rows, person_ids, department_of, members, logins)


def _day_counts(rng: random.Random, days: list[date], total: int, today_share: float) -> list[int]:
    """How many kudos each day gets: weekdays far more than weekends, a slow growth, some noise."""
    weights = []
    for n, day in enumerate(days):
        weight = (1.0 if day.weekday() < 5 else WEEKEND_WEIGHT) * (0.8 + 0.4 * n / max(1, len(days) - 1))
        weights.append(weight * rng.uniform(0.75, 1.25))
    weights[-1] *= today_share
    scale = total / sum(weights)
    counts, carried, given = [], 0.0, 0
    for weight in weights:
        carried += weight * scale
        counts.append(round(carried) - given)
        given += counts[-1]
    return counts


@dataclass(slots=True)
class _Chunk:
    kudos: list[tuple[Any, ...]] = field(default_factory=list)
    recipients: list[tuple[Any, ...]] = field(default_factory=list)
    values: list[tuple[Any, ...]] = field(default_factory=list)
    addons: list[tuple[Any, ...]] = field(default_factory=list)
    ledger: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class _Ids:
    kudos: int
    recipient: int
    value: int
    addon: int
    ledger: int


def _activity(
    rng: random.Random,
    org: _Org,
    *,
    kudos: int,
    months: int,
    moment: datetime,
    value_ids: list[int],
    ids: _Ids,
    spent: dict[date, array[int]],
    chunk: int,
) -> Iterator[_Chunk]:
    """Generate the kudos, their recipients, values, add-ons and ledger entries in time order, `chunk` kudos at a
    time; `spent` collects each giver's points per month (by person index)."""
    tz = org_tz()
    local_now = moment.astimezone(tz)
    today = local_now.date()
    first_month = today.replace(day=1)
    for _ in range(months - 1):
        first_month = (first_month - timedelta(days=1)).replace(day=1)
    days = [first_month + timedelta(days=n) for n in range((today - first_month).days + 1)]
    month = first_month
    while month <= today:
        spent[month] = array("l", bytes(8 * len(org.person_ids)))
        month = next_month(month)
    elapsed = local_now.hour * 3600 + local_now.minute * 60 + local_now.second
    hour_total = sum(HOUR_WEIGHTS)
    today_share = sum(w * min(1.0, max(0.0, (elapsed - h * 3600) / 3600)) for h, w in enumerate(HOUR_WEIGHTS))
    counts = _day_counts(rng, days, kudos, today_share / hour_total)

    people = range(len(org.person_ids))
    department_factor = {d: math.exp(rng.gauss(0, DEPARTMENT_SIGMA)) for d in org.department_ids}
    give_weight = [math.exp(rng.gauss(0, GIVE_SIGMA)) * department_factor[org.department_of[i]] for i in people]
    receive_weight = [math.exp(rng.gauss(0, RECEIVE_SIGMA)) * department_factor[org.department_of[i]] for i in people]
    givers = _Weighted(people, give_weight, rng)
    receivers = _Weighted(people, receive_weight, rng)
    colleagues = {d: _Weighted(team, [receive_weight[i] for i in team], rng) for d, team in org.members.items() if team}
    department_of, person_ids = org.department_of, org.person_ids
    hours = _Weighted(range(24), HOUR_WEIGHTS, rng)
    rand, randint = rng.random, rng.randint

    def pick(giver: int, chosen: list[int], cross: bool) -> int | None:
        department = department_of[giver]
        if not cross:
            team = colleagues[department]
            for _ in range(12):
                candidate = team.draw()
                if candidate != giver and candidate not in chosen:
                    return candidate
        for _ in range(40):
            candidate = receivers.draw()
            if department_of[candidate] != department and candidate not in chosen:
                return candidate
        for _ in range(40):  # a department so big that the draws keep landing in it: anyone else will do
            candidate = receivers.draw()
            if candidate != giver and candidate not in chosen:
                return candidate
        return None

    current = _Chunk()
    for day, count in zip(days, counts, strict=True):
        if count <= 0:
            continue
        month = day.replace(day=1)
        month_spent = spent[month]
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        limit = elapsed if day == today else 86_400
        seconds = []
        for _ in range(count):
            second = hours.draw() * 3600 + randint(0, 3599)
            seconds.append(second if second < limit else int(rand() * limit))
        seconds.sort()
        for second in seconds:
            at = midnight + timedelta(seconds=second)
            giver = givers.draw()
            size = 1 if (r := rand()) < 0.8 else (2 if r < 0.94 else 3)
            cross = rand() < CROSS_DEPARTMENT_SHARE
            chosen: list[int] = []
            for _ in range(size):
                candidate = pick(giver, chosen, cross)
                if candidate is not None:
                    chosen.append(candidate)
            if not chosen:
                continue
            r = rand()
            points = 0 if r < 0.2 else ((5, 10, 15, 20)[randint(0, 3)] if r < 0.6 else randint(1, 20))
            public = rand() >= PRIVATE_SHARE
            kudos_id = ids.kudos
            ids.kudos += 1
            giver_id, giver_department = person_ids[giver], department_of[giver]
            current.kudos.append(
                (
                    kudos_id,
                    giver_id,
                    f"{OPENERS[randint(0, len(OPENERS) - 1)]} {REASONS[randint(0, len(REASONS) - 1)]}",
                    points,
                    "public" if public else "private",
                    month,
                    f"synthetic-{kudos_id}",
                    at,
                )
            )
            month_spent[giver] += points * len(chosen)
            for recipient in chosen:
                current.recipients.append((ids.recipient, kudos_id, person_ids[recipient]))
                ids.recipient += 1
                current.ledger.append(
                    (
                        ids.ledger,
                        "kudos",
                        kudos_id,
                        None,
                        giver_id,
                        giver_department,
                        person_ids[recipient],
                        department_of[recipient],
                        points,
                        at,
                        at,
                    )
                )
                ids.ledger += 1
            if value_ids and (r := rand()) >= 0.15:
                tags = {value_ids[randint(0, len(value_ids) - 1)] for _ in range(1 if r < 0.8 else 2)}
                for value_id in tags:
                    current.values.append((ids.value, kudos_id, value_id))
                    ids.value += 1
            if public and rand() < ADDON_SHARE:
                _addons(rng, current, ids, givers, giver, chosen, kudos_id, at, moment, org, spent)
            if len(current.kudos) >= chunk:
                yield current
                current = _Chunk()
    if current.kudos:
        yield current


def _addons(
    rng: random.Random,
    current: _Chunk,
    ids: _Ids,
    givers: _Weighted,
    giver: int,
    recipients: list[int],
    kudos_id: int,
    at: datetime,
    moment: datetime,
    org: _Org,
    spent: dict[date, array[int]],
) -> None:
    """One to three "+1"s on a public kudos, within two days of it (none in the future)."""
    r = rng.random()
    joined: list[int] = []
    for _ in range(1 if r < 0.8 else (2 if r < 0.95 else 3)):
        for _ in range(10):
            candidate = givers.draw()
            if candidate != giver and candidate not in recipients and candidate not in joined:
                break
        else:
            continue
        added = at + timedelta(seconds=rng.uniform(300, 2 * 86_400))
        if added > moment:
            continue
        joined.append(candidate)
        points = 0 if rng.random() < 0.4 else rng.randint(1, 10)
        month = date(added.year, added.month, 1)  # `added` keeps the local wall time of `at`'s time zone
        spent[month][candidate] += points * len(recipients)
        addon_id = ids.addon
        ids.addon += 1
        candidate_id = org.person_ids[candidate]
        current.addons.append(
            (addon_id, kudos_id, candidate_id, COMMENTS[rng.randrange(len(COMMENTS))], points, month, added)
        )
        for recipient in recipients:
            current.ledger.append(
                (
                    ids.ledger,
                    "addon",
                    kudos_id,
                    addon_id,
                    candidate_id,
                    org.department_of[candidate],
                    org.person_ids[recipient],
                    org.department_of[recipient],
                    points,
                    added,
                    added,
                )
            )
            ids.ledger += 1


# A planted giver's points in a month: at least PLANT_MIN_POINTS and PLANT_FACTOR times what they gave otherwise; a
# dumper or concentrated giver (whose signal is a share of the whole allowance) BLATANT_MIN_POINTS and BLATANT_FACTOR.
PLANT_MIN_POINTS = 60
PLANT_FACTOR = 2
BLATANT_MIN_POINTS = 80
BLATANT_FACTOR = 3
LATE_DAYS = 3


def _plant(
    rng: random.Random, org: _Org, spec: PlantSpec, *, moment: datetime, ids: _Ids, spent: dict[date, array[int]]
) -> tuple[_Chunk, list[Planted]]:
    """Kudos for the planted patterns, on top of the ordinary ones, in every generated month (up to `moment`)."""
    tz = org_tz()
    months = sorted(spent)
    people = len(org.person_ids)
    usual = [i for i in range(people) if org.person_rows[i][7] and max(spent[m][i] for m in months) <= 100]
    rng.shuffle(usual)
    sizes = [("reciprocal", 2)] * spec.pairs + [("ring", n) for n in spec.rings]
    sizes += [("dumping", 0)] * spec.dumpers  # a giver and one to three targets, drawn below
    sizes += [("concentration", 2)] * spec.concentrated
    chunk, planted = _Chunk(), []
    local_now = moment.astimezone(tz)

    def give(giver: int, recipient: int, points: int, at: datetime) -> None:
        month = date(at.year, at.month, 1)
        kudos_id = ids.kudos
        ids.kudos += 1
        chunk.kudos.append(
            (kudos_id, org.person_ids[giver], f"Thanks for {REASONS[kudos_id % len(REASONS)]}", points, "public",
             month, f"synthetic-{kudos_id}", at)
        )  # fmt: skip
        chunk.recipients.append((ids.recipient, kudos_id, org.person_ids[recipient]))
        ids.recipient += 1
        chunk.ledger.append(
            (ids.ledger, "kudos", kudos_id, None, org.person_ids[giver], org.department_of[giver],
             org.person_ids[recipient], org.department_of[recipient], points, at, at)
        )  # fmt: skip
        ids.ledger += 1
        spent[month][giver] += points

    def moments(month: date, count: int, *, late: bool) -> list[datetime]:
        last = (next_month(month) - timedelta(days=1)).day
        days = range(last - LATE_DAYS + 1, last + 1) if late else range(1, last - LATE_DAYS + 1)
        found = []
        for _ in range(count):
            day = month.replace(day=rng.choice(days))
            at = datetime(day.year, day.month, day.day, rng.randint(9, 16), rng.randint(0, 59), tzinfo=tz)
            if at < local_now:
                found.append(at)
        return found

    def spread(giver: int, targets: list[int], month: date, *, blatant: bool = False, late: bool = False) -> None:
        total = (
            max(BLATANT_MIN_POINTS, BLATANT_FACTOR * spent[month][giver])
            if blatant
            else max(PLANT_MIN_POINTS, PLANT_FACTOR * spent[month][giver])
        )
        per_target = -(-total // len(targets))
        for target in targets:
            count = rng.randint(4, 6)
            for at in moments(month, count, late=late):
                give(giver, target, -(-per_target // count), at)

    for kind, size in sizes:
        if kind == "dumping":
            group = [usual.pop() for _ in range(1 + rng.randint(1, 3))]
        else:
            group = [usual.pop() for _ in range(size)]
        for month in months:
            if kind in {"reciprocal", "ring"}:
                for member in group:
                    spread(member, [other for other in group if other != member], month)
            else:
                spread(group[0], group[1:], month, blatant=True, late=kind == "dumping")
        planted.append(Planted(kind, tuple(org.person_ids[i] for i in group)))
    return chunk, planted


@contextlib.asynccontextmanager
async def _connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection from the engine's pool when it has one, else a new one to the engine's database."""
    engine = db.engine()
    if engine.pool is not None:
        async with engine.pool.acquire() as connection:
            yield connection
        return
    connection = await asyncpg.connect(**engine.config)
    try:
        yield connection
    finally:
        await connection.close()


async def _next_id(connection: asyncpg.Connection, table: str) -> int:
    return int(await connection.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))  # noqa: S608 — constant


async def seed_synthetic(
    people: int,
    kudos: int,
    *,
    months: int = 12,
    seed: int = 1,
    chunk: int = CHUNK,
    moment: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    plant: PlantSpec | None = None,
) -> SyntheticReport:
    """Fill an empty organisation (refuses when people exist) with `people` people in about people/100
    departments and `kudos` kudos over the last `months` months, then rebuild the board rollups."""
    from app.boards.rollups import rebuild

    if people < MIN_PEOPLE:
        raise ValueError(f"a synthetic organisation needs at least {MIN_PEOPLE} people")
    if kudos < 0 or months < 1:
        raise ValueError("kudos must be ≥ 0 and months ≥ 1")
    say = progress or (lambda _: None)
    moment = moment or datetime.now(UTC)
    rng = random.Random(seed)
    password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
    started = time.perf_counter()
    counts: dict[str, int] = {}
    async with _connection() as connection, connection.transaction():
        await connection.execute("LOCK TABLE employee IN SHARE ROW EXCLUSIVE MODE")
        if await connection.fetchval("SELECT current_setting('is_superuser') = 'on'"):
            # Skip the foreign-key triggers for this transaction (2-3x faster): every id is generated here, and
            # consistently. Only superusers may; others load with the checks. No trigger fires on INSERT otherwise.
            await connection.execute("SET LOCAL session_replication_role = replica")
        if await connection.fetchval("SELECT EXISTS (SELECT 1 FROM employee)"):
            raise OrganisationNotEmpty(
                "the organisation already has people; synthetic data loads only into an empty one"
            )
        # Every id below is set here; the sequences are moved past them at the end.
        first = {table: await _next_id(connection, table) for table in LOADED_TABLES}
        taken = {row["slug"] for row in await connection.fetch("SELECT slug FROM department")}
        value_ids = [row["id"] for row in await connection.fetch("SELECT id FROM company_value WHERE active")]
        org = _organisation(
            rng,
            people,
            first_department_id=first["department"],
            first_person_id=first["employee"],
            first_lead_id=first["department_lead"],
            taken_slugs=taken,
            password_hash=password_hash,
            founded=moment - timedelta(days=31 * months + 30),
        )
        await connection.copy_records_to_table(
            "department",
            records=org.department_rows,
            columns=("id", "name", "slug", "parent", "description", "created_at"),
        )
        await connection.copy_records_to_table(
            "employee",
            records=org.person_rows,
            columns=EMPLOYEE_COLUMNS,
        )
        await connection.copy_records_to_table(
            "department_lead", records=org.lead_rows, columns=("id", "department", "employee")
        )
        counts |= {"departments": len(org.department_rows), "people": len(org.person_rows)}
        say(f"{counts['departments']} departments, {counts['people']} people")

        ids = _Ids(
            first["kudos"], first["kudos_recipient"], first["kudos_value"], first["add_on"], first["ledger_entry"]
        )
        spent: dict[date, array[int]] = {}
        chunks = _activity(
            rng, org, kudos=kudos, months=months, moment=moment, value_ids=value_ids, ids=ids, spent=spent, chunk=chunk
        )
        loop = asyncio.get_running_loop()
        # Generate the next chunk in a thread while PostgreSQL takes the current one.
        pending = loop.run_in_executor(None, next, chunks, None)
        written = dict.fromkeys(("kudos", "recipients", "values", "addons", "ledger"), 0)
        while (batch := await pending) is not None:
            pending = loop.run_in_executor(None, next, chunks, None)
            await _copy_chunk(connection, batch, written)
            say(f"{written['kudos']:,} kudos ({time.perf_counter() - started:.0f} s)")
        planted: list[Planted] = []
        if plant is not None:
            batch, planted = _plant(rng, org, plant, moment=moment, ids=ids, spent=spent)
            await _copy_chunk(connection, batch, written)
            say(f"{len(planted)} patterns planted")
        counts |= {
            "kudos": written["kudos"],
            "recipients": written["recipients"],
            "values": written["values"],
            "addons": written["addons"],
            "ledger_entries": written["ledger"],
        }

        allowance_rows = [
            (first["allowance"] + n, org.person_ids[person], month, max(100, points), points)
            for n, (month, person, points) in enumerate(
                (month, person, points)
                for month, by_person in spent.items()
                for person, points in enumerate(by_person)
                if points
            )
        ]
        await connection.copy_records_to_table(
            "allowance", records=allowance_rows, columns=("id", "employee", "month", "budget", "spent")
        )
        counts["allowances"] = len(allowance_rows)
        for table in LOADED_TABLES:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 — constant table names
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
    load_seconds = time.perf_counter() - started
    say(f"loaded in {load_seconds:.1f} s; rebuilding the board rollups")

    report = await rebuild()
    counts |= {f"rollup {table}": rows for table, rows in report.rows.items()}
    say(f"rollups rebuilt in {report.seconds:.1f} s; vacuuming and analysing")

    settle_started = time.perf_counter()
    async with _connection() as connection:
        await connection.execute(f"VACUUM (ANALYZE) {', '.join((*LOADED_TABLES, *_rollup_tables()))}")
    return SyntheticReport(
        counts=counts,
        load_seconds=load_seconds,
        rebuild_seconds=report.seconds,
        settle_seconds=time.perf_counter() - settle_started,
        logins=org.logins,
        planted=planted,
    )


async def _copy_chunk(connection: asyncpg.Connection, batch: _Chunk, written: dict[str, int]) -> None:
    for table, rows, columns in (
        ("kudos", batch.kudos, KUDOS_COLUMNS),
        ("kudos_recipient", batch.recipients, ("id", "kudos", "employee")),
        ("kudos_value", batch.values, ("id", "kudos", "value")),
        ("add_on", batch.addons, ADDON_COLUMNS),
        ("ledger_entry", batch.ledger, LEDGER_COLUMNS),
    ):
        if rows:
            await connection.copy_records_to_table(table, records=rows, columns=columns)
    for key in written:
        written[key] += len(getattr(batch, key))


def _rollup_tables() -> tuple[str, ...]:
    from app.boards.rollups import ROLLUP_TABLES

    return ROLLUP_TABLES
