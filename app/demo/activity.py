"""Three months of believable demo activity: requests, thanks, kudos, add-ons and ratings.

`seed_activity()` runs right after the demo organisation is loaded. It first *plans* everything with a seeded
`random.Random` (who asks which department for what and when, who claims it, how long it takes, who thanks whom),
relative to "now" and in the organisation's time zone, then *replays* the plan in time order through the real
services (`file_request`, `claim`, `add_resolver`, `complete`, `cancel`, `rate`, `give_kudos`, `add_on`) with
`at=` set to the planned moment. So allowances, the ledger, notifications and request histories hold exactly as
if people had used the app; nothing here writes those tables, except one UPDATE at the end that marks
notifications older than a week as read.

The plan never asks a service for something it would refuse: recipients are active colleagues other than the
giver, a kudos linked to a request thanks that request's resolvers after it was completed, and the points of a
kudos or add-on are cut to what the giver has left that month (`allowance.remaining`) before giving.

Texts (request titles, messages, comments) come from fixtures/demo/activity.json.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

import app.db as db
from app.jobs.handling import run_recorded
from app.kudos import allowance
from app.kudos.changes import add_on
from app.kudos.forms import GiveForm
from app.kudos.giving import company_values, give_kudos
from app.kudos.tables import AddOn, Kudos, Visibility
from app.notifications.tables import Notification
from app.people.seed import DEMO_LOGINS, FIXTURES_DIR
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Employee, Role, Service
from app.requests import workflow
from app.requests.tables import Request, RequestRating, Status
from app.timeutil import month_of, now, org_tz

SEED = 20_261_123
DAYS = 90
QUIET_HOURS = 2  # nothing happens in the last two hours before the load ("up to a few hours ago")
READ_AFTER = timedelta(days=7)  # older notifications end up read

REQUESTS = 240  # plus a dozen scripted ones for the demo logins
SPONTANEOUS_KUDOS = 145  # plus a few scripted ones
ADDONS = 80
THANK_SHARE = 0.7  # of completed requests (the most recent ones are often not thanked yet)
RATE_SHARE = 0.45
CANCEL_SHARE = 0.04
HELPER_SHARE = 0.15  # requests with a second resolver
ON_TIME_SHARE = 0.85
CROSS_DEPARTMENT_SHARE = 0.65
PRIVATE_SHARE = 0.1
TAGGED_SHARE = 0.85
WORK_START, WORK_END = 8, 18  # local hours of a working day
RING_POINTS = 30  # the planted ring: what each member gives each other member every month
DUMP_POINTS = (
    30  # the planted month-end dumper: to each of two people (two kudos) in the last DUMP_DAYS days of a month
)
DUMP_DAYS = 3

# How often each department is asked for something (unknown departments get DEFAULT_LOAD).
LOAD = {
    "it": 30,
    "facilities": 12,
    "hr": 10,
    "finance": 10,
    "marketing": 8,
    "it-security": 7,
    "payroll": 6,
    "legal": 6,
    "support": 6,
    "sales": 5,
}
DEFAULT_LOAD = 5
# Departments that lend each other a hand as second resolvers.
PARTNERS = {
    "it": "it-security",
    "it-security": "it",
    "finance": "payroll",
    "payroll": "finance",
    "sales": "support",
    "support": "sales",
    "marketing": "sales",
    "hr": "payroll",
    "legal": "finance",
    "facilities": "it",
}
KUDOS_POINTS = (0, 5, 10, 10, 10, 15, 15, 20, 20, 25, 30, 50)
THANK_POINTS = (0, 5, 10, 10, 10, 15, 20, 25)
ADDON_POINTS = (5, 5, 10)

T = TypeVar("T")


def load_activity_fixture() -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((FIXTURES_DIR / "demo" / "activity.json").read_text())
    return fixture


# --- the organisation as the planner sees it -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    email: str
    role: str
    department: str  # slug; "" for someone without a department


@dataclass(frozen=True, slots=True)
class Offering:
    """A service of a department's catalogue, with the request texts the fixture has for it."""

    id: int
    name: str
    department_id: int
    department: str
    target_hours: int
    texts: tuple[dict[str, str], ...]


# --- the plan ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PlannedRequest:
    key: int
    requester: Person
    offering: Offering
    title: str
    description: str
    created: datetime
    claimer: Person | None = None
    claimed: datetime | None = None
    helper: Person | None = None
    helped: datetime | None = None
    completer: Person | None = None
    completed: datetime | None = None
    canceller: Person | None = None
    cancelled: datetime | None = None
    cancel_reason: str = ""
    rating: tuple[int, int, int, str] | None = None
    rated: datetime | None = None

    @property
    def resolvers(self) -> list[Person]:
        return [p for p in (self.claimer, self.helper) if p is not None]


@dataclass(slots=True)
class PlannedKudos:
    key: int
    giver: Person
    recipients: list[Person]
    message: str
    points: int  # wished for each recipient; fewer when the giver's allowance is short
    values: list[int]
    private: bool
    at: datetime
    request: PlannedRequest | None = None
    addon_givers: set[int] = field(default_factory=set)


@dataclass(slots=True)
class PlannedAddOn:
    kudos: PlannedKudos
    giver: Person
    comment: str
    points: int
    at: datetime


class _Deck(Generic[T]):
    """Draws items in a shuffled order without repeats until all were drawn, then reshuffles."""

    def __init__(self, rng: random.Random, items: Sequence[T]) -> None:
        self._rng, self._items, self._pile = rng, list(items), list[T]()

    def draw(self) -> T:
        if not self._pile:
            self._pile = list(self._items)
            self._rng.shuffle(self._pile)
        return self._pile.pop()


class Planner:
    """Plans three months of activity for the people and services it is given. Pure: no database access."""

    def __init__(
        self,
        people: list[Person],
        offerings: list[Offering],
        value_ids: list[int],
        texts: dict[str, Any],
        *,
        end: datetime,
        seed: int = SEED,
    ) -> None:
        self.rng = random.Random(seed)
        self.tz = org_tz()
        self.end = end
        self.start = end - timedelta(days=DAYS)
        self.people = people
        self.value_ids = value_ids
        self.texts = texts
        self.by_email = {p.email: p for p in people}
        self.members: dict[str, list[Person]] = {}
        for person in people:
            self.members.setdefault(person.department, []).append(person)
        self.offerings: dict[str, list[Offering]] = {}
        for offering in offerings:
            if offering.texts and len(self.members.get(offering.department, [])) >= 2:
                self.offerings.setdefault(offering.department, []).append(offering)
        rng = self.rng
        # Some people ask for more, some resolve more, some give and receive more kudos than others.
        self.asks = {p.id: rng.choice((0.5, 1, 1, 1.5, 2.5)) for p in people}
        self.resolves = {p.id: 0.3 if p.role != Role.EMPLOYEE else rng.uniform(0.6, 2.0) for p in people}
        self.gives = {p.id: rng.choice((0.3, 0.6, 1, 1, 1.5)) for p in people}
        self.liked = {p.id: rng.choice((1, 1, 1, 1.5, 2, 3)) for p in people}
        for person in rng.sample(people, min(5, len(people))):
            self.gives[person.id] = rng.uniform(5, 8)  # the enthusiasts
        for person in rng.sample(people, min(5, len(people))):
            self.liked[person.id] = rng.uniform(4, 6)  # the much-thanked
        self.employee = self.by_email.get(DEMO_LOGINS[Role.EMPLOYEE])
        self.manager = self.by_email.get(DEMO_LOGINS[Role.MANAGER])
        admin = self.by_email.get(DEMO_LOGINS[Role.ADMIN])
        for login, giving in ((self.manager, 5.0), (admin, 4.0), (self.employee, 2.5)):
            if login:
                self.gives[login.id] = giving
        if self.employee:
            self.resolves[self.employee.id] = 2.5
            self.liked[self.employee.id] = 4.0
        self.titles = {o.id: _Deck(rng, o.texts) for o in offerings}
        self.messages: dict[tuple[str, str], _Deck[str]] = {}
        self.addon_comments = _Deck(rng, texts["addon_comments"])
        self.requests: list[PlannedRequest] = []
        self.kudos: list[PlannedKudos] = []
        self.addons: list[PlannedAddOn] = []

    # --- time -----------------------------------------------------------------------------------------------

    def _local(self, day: date, hours: float) -> datetime:
        return (datetime.combine(day, time(0), tzinfo=self.tz) + timedelta(hours=hours)).astimezone(UTC)

    def working_moment(self, start: datetime | None = None, end: datetime | None = None) -> datetime:
        """A moment in working hours (Monday to Friday, busiest mid-morning) between start and end."""
        start, end = start or self.start, end or self.end
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        days = [day for day in days if day.weekday() < 5] or days
        moment = start
        for _ in range(20):  # only a day at either edge can miss
            moment = self._local(self.rng.choice(days), self.rng.triangular(WORK_START + 0.25, WORK_END - 0.5, 10.5))
            if start <= moment <= end:
                return moment
        return min(max(moment, start), end)

    def next_working(self, moment: datetime, within: float = 1.25) -> datetime:
        """`moment`, or a moment in the first `within` hours of the next working day when it falls outside
        working hours."""
        local = moment.astimezone(self.tz)
        hour = local.hour + local.minute / 60
        if local.weekday() < 5 and WORK_START <= hour < WORK_END:
            return moment
        day = local.date()
        if hour >= WORK_END or local.weekday() >= 5:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self._local(day, WORK_START + self.rng.uniform(0, within))

    def working_before(self, moment: datetime) -> datetime:
        """`moment`, or late in the last working day before it when it falls outside working hours."""
        local = moment.astimezone(self.tz)
        hour = local.hour + local.minute / 60
        if local.weekday() < 5 and WORK_START + 0.5 <= hour < WORK_END:
            return moment
        day = local.date()
        if hour < WORK_START + 0.5 or local.weekday() >= 5:
            day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return self._local(day, WORK_END - self.rng.uniform(0.5, 2))

    # --- choices --------------------------------------------------------------------------------------------

    def _pick(self, people: Sequence[Person], weights: dict[int, float]) -> Person:
        return self.rng.choices(list(people), weights=[weights[p.id] for p in people])[0]

    def _message(self, kind: str, department: str) -> str:
        texts = self.texts[kind]
        key = department if department in texts and self.rng.random() < 0.75 else "any"
        if (kind, key) not in self.messages:
            self.messages[(kind, key)] = _Deck(self.rng, texts[key])
        return self.messages[(kind, key)].draw()

    def _values(self) -> list[int]:
        if not self.value_ids or self.rng.random() >= TAGGED_SHARE:
            return []
        return self.rng.sample(self.value_ids, 2 if self.rng.random() < 0.25 and len(self.value_ids) > 1 else 1)

    def _resolver(self, department: str, exclude: set[int]) -> Person | None:
        candidates = [p for p in self.members.get(department, []) if p.id not in exclude]
        return self._pick(candidates, self.resolves) if candidates else None

    # --- requests -------------------------------------------------------------------------------------------

    def request(
        self,
        offering: Offering,
        *,
        requester: Person | None = None,
        created: datetime | None = None,
        completed: datetime | None = None,
        claim: bool = True,
        claimer: Person | None = None,
        claimed: datetime | None = None,
        thank: bool | None = None,
        rate: bool | None = None,
    ) -> PlannedRequest:
        """Plan one request and what happens to it; the keyword arguments force parts of its story."""
        rng = self.rng
        if requester is None:
            outsiders = [p for p in self.people if p.department != offering.department]
            requester = self._pick(outsiders, self.asks)
        text = self.titles[offering.id].draw()
        planned = PlannedRequest(
            key=len(self.requests),
            requester=requester,
            offering=offering,
            title=text["title"],
            description=text.get("description", ""),
            created=created or self.working_moment(),
        )
        self.requests.append(planned)
        target = offering.target_hours
        forced = completed is not None or thank is not None or claimer is not None or claimed is not None or not claim
        if not forced and rng.random() < CANCEL_SHARE:
            self._cancel(planned)
            return planned
        if not claim:
            return planned
        planned.claimer = claimer or self._resolver(offering.department, {requester.id})
        if planned.claimer is None:
            return planned
        if claimed is None:
            if target <= 2:
                delay = rng.uniform(3, 25)
            elif target <= 8:
                delay = rng.uniform(5, 90)
            elif target <= 24:
                delay = rng.uniform(15, 240)
            else:
                delay = rng.uniform(20, 20 * 60)
            claimed = planned.created + timedelta(minutes=delay)
            if target > 4:
                claimed = self.next_working(claimed)
        planned.claimed = claimed
        if completed is not None and planned.claimed >= completed:
            planned.claimed = planned.created + (completed - planned.created) / 4
        if completed is None:
            factor = rng.uniform(0.15, 0.9) if rng.random() < ON_TIME_SHARE else rng.uniform(1.1, 2.6)
            completed = max(
                planned.created + timedelta(hours=target * factor),
                planned.claimed + timedelta(minutes=rng.uniform(10, 40)),
            )
            if target >= 24:
                completed = self.next_working(completed)
        if rng.random() < HELPER_SHARE:
            department = offering.department
            if rng.random() < 0.25 and PARTNERS.get(department) in self.members:
                department = PARTNERS[department]
            planned.helper = self._resolver(department, {requester.id, planned.claimer.id})
            if planned.helper:
                planned.helped = planned.claimed + (completed - planned.claimed) * rng.uniform(0.1, 0.6)
        if planned.claimed > self.end or (planned.helped and planned.helped > self.end):
            planned.helper = planned.helped = None
        if planned.claimed > self.end:
            planned.claimer = planned.claimed = None
            return planned
        if completed > self.end:
            return planned  # still in progress
        planned.completed = completed
        planned.completer = planned.helper if planned.helper and rng.random() < 0.3 else planned.claimer
        on_time = completed - planned.created <= timedelta(hours=target)
        if rate if rate is not None else rng.random() < RATE_SHARE:
            self._rate(planned, on_time)
        if thank if thank is not None else rng.random() < THANK_SHARE:
            self._thank(planned)
        return planned

    def _cancel(self, planned: PlannedRequest) -> None:
        rng = self.rng
        reasons = self.texts["cancel_reasons"]
        planned.cancelled = planned.created + timedelta(hours=rng.uniform(1, 30))
        if planned.cancelled > self.end:
            planned.cancelled = None
            return
        staff = self._resolver(planned.offering.department, {planned.requester.id})
        if staff is None or rng.random() < 0.5:
            planned.canceller = planned.requester
            planned.cancel_reason = rng.choice(reasons["requester"]) if rng.random() < 0.7 else ""
        else:
            planned.canceller = staff
            planned.cancel_reason = rng.choice(reasons["staff"])

    def _rate(self, planned: PlannedRequest, on_time: bool) -> None:
        rng = self.rng
        assert planned.completed is not None
        rated = planned.completed + timedelta(minutes=rng.uniform(10, 48 * 60))
        if rated > self.end:
            return
        mood = rng.random()
        if mood < 0.65:
            scores = [rng.choice((4, 5, 5)) for _ in range(3)]
        elif mood < 0.9:
            scores = [rng.choice((3, 4, 4, 5)) for _ in range(3)]
        else:
            scores = [rng.choice((2, 3, 3)) for _ in range(3)]
        if not on_time:
            scores[0] = min(scores[0], rng.choice((2, 3, 3, 4)))
        comment = ""
        if rng.random() < 0.35:
            comment = rng.choice(self.texts["rating_comments"]["good" if sum(scores) >= 12 else "mixed"])
        planned.rating = (scores[0], scores[1], scores[2], comment)
        planned.rated = rated

    def _thank(self, planned: PlannedRequest) -> None:
        rng = self.rng
        assert planned.completed is not None
        at = self.next_working(planned.completed + timedelta(minutes=rng.uniform(5, 30 * 60)), within=8)
        if at > self.end:
            return
        recipients = planned.resolvers
        if len(recipients) > 1 and rng.random() < 0.1:
            recipients = recipients[:1]
        message = self._message("thanks", planned.offering.department).replace("{title}", planned.title)
        self.kudos.append(
            PlannedKudos(
                key=len(self.kudos),
                giver=planned.requester,
                recipients=recipients,
                message=message,
                points=rng.choice(THANK_POINTS),
                values=self._values(),
                private=rng.random() < 0.05,
                at=at,
                request=planned,
            )
        )

    def random_requests(self, count: int) -> None:
        departments = sorted(self.offerings)
        weights = [LOAD.get(slug, DEFAULT_LOAD) for slug in departments]
        for _ in range(count):
            department = self.rng.choices(departments, weights=weights)[0]
            self.request(self.rng.choice(self.offerings[department]))

    # --- kudos and add-ons ----------------------------------------------------------------------------------

    def give(self, giver: Person | None = None, recipient: Person | None = None, at: datetime | None = None) -> None:
        rng = self.rng
        giver = giver or self._pick([p for p in self.people if p != recipient], self.gives)
        if recipient is None:
            cross = rng.random() < CROSS_DEPARTMENT_SHARE
            candidates = [
                p for p in self.people if p.id != giver.id and (p.department != giver.department) == cross
            ] or [p for p in self.people if p.id != giver.id]
            recipient = self._pick(candidates, self.liked)
        recipients = [recipient]
        if rng.random() < 0.15:  # thanking a few people of one team at once
            team = [p for p in self.members.get(recipient.department, []) if p.id not in {giver.id, recipient.id}]
            recipients += rng.sample(team, min(len(team), rng.choice((1, 1, 2))))
        self.kudos.append(
            PlannedKudos(
                key=len(self.kudos),
                giver=giver,
                recipients=recipients,
                message=self._message("kudos", recipient.department),
                points=rng.choice(KUDOS_POINTS),
                values=self._values(),
                private=rng.random() < PRIVATE_SHARE,
                at=at or self.working_moment(),
            )
        )

    def add_ons(self, count: int) -> None:
        rng = self.rng
        public = [k for k in self.kudos if not k.private]
        weights = [max(self.liked[p.id] for p in k.recipients) for k in public]
        for _ in range(count * 5):
            if len(self.addons) >= count or not public:
                break
            kudos = rng.choices(public, weights=weights)[0]
            at = self.next_working(kudos.at + timedelta(minutes=rng.uniform(10, 3 * 24 * 60)), within=8)
            if at > self.end:
                continue
            taken = {kudos.giver.id, *(p.id for p in kudos.recipients), *kudos.addon_givers}
            teammates = [p for p in self.members.get(kudos.recipients[0].department, []) if p.id not in taken]
            others = [p for p in self.people if p.id not in taken]
            pool = teammates if teammates and rng.random() < 0.5 else others
            if not pool:
                continue
            giver = self._pick(pool, self.gives)
            kudos.addon_givers.add(giver.id)
            points = rng.choice(ADDON_POINTS) if rng.random() < 0.4 else 0
            self.addons.append(PlannedAddOn(kudos, giver, self.addon_comments.draw(), points, at))

    # --- the whole story ------------------------------------------------------------------------------------

    def _offering(self, department: str, index: int = 0) -> Offering | None:
        offerings = self.offerings.get(department)
        return offerings[index % len(offerings)] if offerings else None

    def scripted(self) -> None:
        """What the demo logins see on first sign-in: the employee has completed requests to thank for and
        recognition given and received; the manager's department queue has open and in-progress requests."""
        elena, end = self.employee, self.end
        if elena:
            asked = [d for d in ("facilities", "hr", "finance", "payroll", "it-security") if d in self.offerings]
            for i, days_ago in enumerate((70, 41, 17)):
                offering = self._offering(asked[i % len(asked)], i) if asked else None
                if offering:
                    self.request(
                        offering,
                        requester=elena,
                        created=self.working_moment(end - timedelta(days=days_ago + 4), end - timedelta(days=days_ago)),
                        thank=True,
                    )
            for i, hours_ago in enumerate((20, 52)):  # completed recently, not thanked yet
                offering = self._offering(asked[(i + 3) % len(asked)], i + 1) if asked else None
                if offering:
                    completed = self.working_before(end - timedelta(hours=hours_ago))
                    created = self.working_before(completed - timedelta(hours=offering.target_hours * 0.6))
                    self.request(
                        offering, requester=elena, created=created, completed=completed, thank=False, rate=False
                    )
            for days_ago in (60, 33, 9):
                window = (end - timedelta(days=days_ago + 4), end - timedelta(days=days_ago))
                self.give(giver=elena, at=self.working_moment(*window))
            self.give(recipient=elena, at=self.working_before(end - timedelta(hours=3)))
        queue = self.manager.department if self.manager else ""
        if queue in self.offerings:
            for i, hours_ago in enumerate((1, 18)):  # new and nobody has picked them up yet
                self.request(
                    self._offering(queue, i) or self.offerings[queue][0],
                    created=self.working_before(end - timedelta(hours=hours_ago)),
                    claim=False,
                )
            workers = [elena] if elena and elena.department == queue else []
            for i, hours_ago in enumerate((26, 7)):  # picked up, being worked on
                created = self.working_before(end - timedelta(hours=hours_ago))
                self.request(
                    self._offering(queue, i + 2) or self.offerings[queue][0],
                    created=created,
                    claimer=workers[i] if i < len(workers) else None,
                    claimed=created + timedelta(minutes=self.rng.uniform(15, 60)),
                    completed=end + timedelta(days=1),
                )

    def plan(self) -> None:
        self.scripted()
        self.random_requests(REQUESTS)
        planted = self.collusion()
        for _ in range(SPONTANEOUS_KUDOS - planted):
            self.give()
        self.add_ons(ADDONS)

    def collusion(self) -> int:
        """Plant one ring of three (each thanks the other two every month, RING_POINTS each) and one month-end
        dumper (DUMP_POINTS to the same two people in the last days of every month), so the collusion signals of
        app/insights show something. Drawn with their own random generator; returns the kudos planted."""
        rng = random.Random(self.rng.random())
        logins = {p.id for p in (self.employee, self.manager) if p} | {
            p.id for p in self.people if p.email in DEMO_LOGINS.values()
        }
        quiet = [p for p in self.people if p.role == Role.EMPLOYEE and p.id not in logins and self.gives[p.id] <= 1]
        if len(quiet) < 6:
            return 0
        ring = rng.sample(quiet, 3)
        dumper = rng.choice([p for p in quiet if p not in ring])
        targets = rng.sample([p for p in self.people if p not in ring and p != dumper], 2)
        for person in (*ring, dumper):
            self.gives[person.id] = 0.1  # they give little otherwise, so the pattern is most of what they give
        before = len(self.kudos)
        month = self.start.astimezone(self.tz).date().replace(day=1)
        while (start := self._local(month, 0)) < self.end:
            following = (month + timedelta(days=32)).replace(day=1)
            end = self._local(following, 0)
            days_left = self._local(following - timedelta(days=DUMP_DAYS), 0)
            for giver in ring:
                for recipient in ring:
                    if giver != recipient and max(start, self.start) < min(days_left, self.end):
                        at = self.working_moment(max(start, self.start), min(days_left, self.end))
                        self._planted(giver, [recipient], RING_POINTS, at)
            if self.start <= days_left and end <= self.end:
                for recipient in targets:
                    for _ in range(2):
                        self._planted(dumper, [recipient], DUMP_POINTS // 2, self.working_moment(days_left, end))
            month = following
        return len(self.kudos) - before

    def _planted(self, giver: Person, recipients: list[Person], points: int, at: datetime) -> None:
        self.kudos.append(
            PlannedKudos(
                key=len(self.kudos),
                giver=giver,
                recipients=recipients,
                message=self._message("kudos", recipients[0].department),
                points=points,
                values=self._values(),
                private=False,
                at=at,
            )
        )


# --- the replay through the services ------------------------------------------------------------------------


class Replay:
    """Carries out a plan in time order through the services, remembering the ids they hand back."""

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self.request_ids: dict[int, int] = {}
        self.kudos_ids: dict[int, int] = {}
        self.users: dict[int, CurrentUser] = {}

    async def run(self, planner: Planner) -> None:
        """Carry out every step one after the other in time order, so each service sees the database exactly as
        it was at that moment (allowances, badges and rollups that depend on what came before included), and the
        same plan gives the same rows with the same ids every time."""
        steps: list[tuple[datetime, int, Callable[[Any], Awaitable[None]], Any]] = []
        for r in planner.requests:
            for at, action in (
                (r.created, self.file),
                (r.claimed, self.claim),
                (r.helped, self.add_helper),
                (r.completed, self.complete),
                (r.cancelled, self.cancel),
                (r.rated, self.rate),
            ):
                if at is not None:
                    steps.append((at, len(steps), action, r))
        steps += [(k.at, len(steps) + i, self.give, k) for i, k in enumerate(planner.kudos)]
        steps += [(a.at, len(steps) + i, self.add_on, a) for i, a in enumerate(planner.addons)]
        tz = org_tz()
        ordered = sorted(steps, key=lambda step: step[:2])
        for _, day in itertools.groupby(ordered, key=lambda step: step[0].astimezone(tz).date()):
            # One transaction per day (each service's own transaction joins it): a few dozen commits instead of
            # thousands. Nothing here expects a refusal, so nothing rolls back half-way.
            async with db.transaction():
                for _, _, carry_out, subject in day:
                    await carry_out(subject)
                # what the worker does, a day's actions at a time (no action reads what it makes): notifications,
                # badges (dated by the day's last gift that reached them), webhooks
                await run_recorded()

    async def _user(self, person: Person) -> CurrentUser:
        if person.id not in self.users:
            user = await load_current_user(person.id)
            assert user is not None, f"{person.email} is not active"
            self.users[person.id] = user
        return self.users[person.id]

    async def _affordable(self, giver: Person, at: datetime, wished: int, recipients: int) -> int:
        """The wished points per recipient, cut (to a multiple of 5) to what the giver has left that month."""
        left, _ = await allowance.remaining(giver.id, month_of(at))
        points = min(wished, self.max_points, left // recipients)
        return points - points % 5

    async def file(self, r: PlannedRequest) -> None:
        self.request_ids[r.key] = await workflow.file_request(
            r.requester.id, r.offering.department_id, r.offering.id, r.title, r.description, at=r.created
        )

    async def claim(self, r: PlannedRequest) -> None:
        assert r.claimer is not None
        await workflow.claim(r.claimer.id, self.request_ids[r.key], at=r.claimed)

    async def add_helper(self, r: PlannedRequest) -> None:
        assert r.claimer is not None and r.helper is not None
        await workflow.add_resolver(r.claimer.id, self.request_ids[r.key], r.helper.id, at=r.helped)

    async def complete(self, r: PlannedRequest) -> None:
        assert r.completer is not None
        await workflow.complete(r.completer.id, self.request_ids[r.key], at=r.completed)

    async def cancel(self, r: PlannedRequest) -> None:
        assert r.canceller is not None
        await workflow.cancel(r.canceller.id, self.request_ids[r.key], r.cancel_reason, at=r.cancelled)

    async def rate(self, r: PlannedRequest) -> None:
        assert r.rating is not None
        await workflow.rate(r.requester.id, self.request_ids[r.key], *r.rating, at=r.rated)

    async def give(self, k: PlannedKudos) -> None:
        points = await self._affordable(k.giver, k.at, k.points, len(k.recipients))
        form = GiveForm(
            recipient_ids=[p.id for p in k.recipients],
            message=k.message,
            value_ids=k.values,
            points=str(points),
            visibility=Visibility.PRIVATE if k.private else Visibility.PUBLIC,
            request_id=self.request_ids[k.request.key] if k.request else None,
            idempotency_key=f"demo-{k.key}",
        )
        given = await give_kudos(await self._user(k.giver), form, at=k.at)
        self.kudos_ids[k.key] = given.kudos_id

    async def add_on(self, a: PlannedAddOn) -> None:
        points = await self._affordable(a.giver, a.at, a.points, len(a.kudos.recipients))
        await add_on(await self._user(a.giver), self.kudos_ids[a.kudos.key], comment=a.comment, points=points, at=a.at)


# --- entry point ---------------------------------------------------------------------------------------------


async def _organisation(texts: dict[str, Any]) -> tuple[list[Person], list[Offering]]:
    rows = (
        await Employee.select(
            Employee.id, Employee.name, Employee.email, Employee.role, Employee.department.slug.as_alias("department")
        )
        .where(Employee.active.eq(True))
        .order_by(Employee.id)
    )
    people = [Person(r["id"], r["name"], r["email"], r["role"], r["department"] or "") for r in rows]
    services = (
        await Service.select(
            Service.id,
            Service.name,
            Service.target_hours,
            Service.department,
            Service.department.slug.as_alias("slug"),
        )
        .where(Service.active.eq(True) & Service.department.archived_at.is_null())
        .order_by(Service.id)
    )
    offerings = [
        Offering(
            id=s["id"],
            name=s["name"],
            department_id=s["department"],
            department=s["slug"],
            target_hours=s["target_hours"],
            texts=tuple(texts["requests"].get(s["slug"], {}).get(s["name"], [])),
        )
        for s in services
    ]
    return people, offerings


async def seed_activity(*, at: datetime | None = None, seed: int = SEED) -> dict[str, int]:
    """Replay three months of activity up to a few hours before `at` (default now) through the services;
    returns counts of what exists afterwards. Meant for a database holding only the demo organisation."""
    moment = at or now()
    texts = load_activity_fixture()
    people, offerings = await _organisation(texts)
    values = [value.id for value in await company_values()]
    planner = Planner(people, offerings, values, texts, end=moment - timedelta(hours=QUIET_HOURS), seed=seed)
    planner.plan()
    policy = await allowance.get_policy()
    await Replay(policy.max_points_per_kudos).run(planner)
    await Notification.raw(
        "UPDATE notification SET read_at = created_at + interval '2 hours' WHERE read_at IS NULL AND created_at < {}",
        moment - READ_AFTER,
    )
    return await activity_counts()


async def activity_counts() -> dict[str, int]:
    statuses = Counter(row["status"] for row in await Request.select(Request.status))
    return {
        "requests": sum(statuses.values()),
        "requests_completed": statuses[Status.COMPLETED],
        "requests_active": statuses[Status.OPEN] + statuses[Status.IN_PROGRESS],
        "requests_cancelled": statuses[Status.CANCELLED],
        "ratings": await RequestRating.count(),
        "kudos": await Kudos.count(),
        "addons": await AddOn.count(),
        "notifications": await Notification.count(),
    }
