"""Nominations (SPEC F9): managers nominate people and departments while a cycle is open, with kudos as evidence.

Rules: managers (role manager) nominate while a cycle is open; not themselves, not a department they lead (that is
self-nomination too), not an inactive person or archived department, once per (cycle, category, nominee); evidence
is public, standing kudos received by the nominee (a member of the nominated department). A nomination publishes
NominationMade (the manager's reminder is then done).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import msgspec

import app.db as db
from app.awards.categories import Category, get_category
from app.awards.cycles import Cycle, open_cycle
from app.awards.tables import Nomination, NominationEvidence, NomineeKind
from app.events import NominationMade, publish
from app.paging import parse_id, valid_id
from app.people.services import CurrentUser, led_departments
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from app.timeutil import month_bounds, now
from app.words import excerpt

REASON_MAX = 1000
EVIDENCE_MAX = 5
EVIDENCE_CHOICES = 10
TOKEN_MAX = 12
LEAD_RULE = "You can't nominate a department you lead: that would be nominating yourself."


class NominationForm(msgspec.Struct, frozen=True):
    """The nomination form (and the nominee picker's query string), as sent."""

    category: str = ""
    nominee: str = ""  # a nominee token: "p<id>" for a person, "d<id>" for a department
    reason: str = ""
    evidence: list[str] = []  # kudos ids

    @property
    def category_id(self) -> int | None:
        return parse_id(self.category)

    @property
    def nominee_token(self) -> str:
        return self.nominee.strip()[:TOKEN_MAX]

    @property
    def evidence_ids(self) -> list[int]:
        return [i for i in map(parse_id, self.evidence) if i is not None]


@dataclass(frozen=True, slots=True)
class Nominee:
    """Who a nominee token names: a person, or a department (with its `slug`)."""

    token: str
    kind: str
    id: int
    name: str
    detail: str  # a person's department; "Department"
    active: bool  # a person who still works here, a department not archived
    slug: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """A kudos attached to a nomination (or that could be)."""

    id: int
    message: str
    points: int
    created_at: datetime
    giver_name: str

    @property
    def excerpt(self) -> str:
        return excerpt(self.message, 160)


@dataclass(frozen=True, slots=True)
class NominationEntry:
    """A nomination as the review, the manager's list and digests show it."""

    id: int
    cycle: int
    category: int
    nominator: int
    person: int | None
    department: int | None
    reason: str
    created_at: datetime
    category_name: str
    position: int
    nominator_name: str
    nominee_name: str
    token: str
    department_slug: str | None
    evidence: tuple[Evidence, ...] = ()


def parse_nominee(token: str) -> tuple[str | None, int | None]:
    """("person" | "department", id) from "p12" / "d3"; (None, None) for anything else."""
    token = (token or "").strip()
    kind = {"p": NomineeKind.PERSON.value, "d": NomineeKind.DEPARTMENT.value}.get(token[:1])
    ident = parse_id(token[1:])
    return (kind, ident) if kind and ident else (None, None)


async def nominee_info(token: str) -> Nominee | None:
    """Who a nominee token names, or None."""
    kind, ident = parse_nominee(token)
    if kind == NomineeKind.PERSON:
        person = (
            await Employee.select(
                Employee.id, Employee.name, Employee.active, Employee.department.name.as_alias("detail")
            )
            .where(Employee.id == ident)
            .first()
        )
        if person:
            return Nominee(
                token=token,
                kind=kind,
                id=person["id"],
                name=person["name"],
                detail=person["detail"] or "",
                active=person["active"],
            )
    elif kind == NomineeKind.DEPARTMENT:
        department = (
            await Department.select(Department.id, Department.name, Department.slug, Department.archived_at)
            .where(Department.id == ident)
            .first()
        )
        if department:
            return Nominee(
                token=token,
                kind=kind,
                id=department["id"],
                name=department["name"],
                detail="Department",
                active=department["archived_at"] is None,
                slug=department["slug"],
            )
    return None


# Public, standing kudos about a nominee in a period, newest first: one of its recipients is the person (3rd value)
# or a member of the department (4th).
_EVIDENCE_OPTIONS_SQL = """
    SELECT k.id, k.message, k.points, k.created_at, g.name AS giver_name
    FROM kudos k JOIN employee g ON g.id = k.giver
    WHERE k.visibility = 'public' AND k.revoked_at IS NULL AND k.created_at >= {} AND k.created_at < {}
      AND EXISTS (
        SELECT 1 FROM kudos_recipient kr JOIN employee r ON r.id = kr.employee
        WHERE kr.kudos = k.id AND (kr.employee = {} OR r.department = {})
      )
    ORDER BY k.created_at DESC, k.id DESC LIMIT {}
"""

# Which of these kudos (1st value) are public, standing and about the person (2nd) or the department (3rd).
_EVIDENCE_ABOUT_SQL = """
    SELECT k.id FROM kudos k
    WHERE k.id = ANY({}) AND k.visibility = 'public' AND k.revoked_at IS NULL
      AND EXISTS (
        SELECT 1 FROM kudos_recipient kr JOIN employee r ON r.id = kr.employee
        WHERE kr.kudos = k.id AND (kr.employee = {} OR r.department = {})
      )
"""


def _about(nominee: Nominee) -> tuple[int | None, int | None]:
    """(person, department) for the evidence statements."""
    return (nominee.id, None) if nominee.kind == NomineeKind.PERSON else (None, nominee.id)


async def evidence_options(nominee: Nominee | None, cycle: Cycle | None) -> list[Evidence]:
    """Public, standing kudos about the nominee in the cycle's month, newest first, to attach as evidence."""
    if nominee is None or cycle is None:
        return []
    start, end = month_bounds(cycle.month)
    rows = await Employee.raw(_EVIDENCE_OPTIONS_SQL, start, end, *_about(nominee), EVIDENCE_CHOICES)
    return [Evidence(**row) for row in rows]


@dataclass(frozen=True, slots=True)
class _Checked:
    category: Category
    nominee: Nominee
    reason: str
    evidence: list[int]


async def _check_nomination(user: CurrentUser, form: NominationForm) -> _Checked:
    errors: dict[str, str] = {}
    category = await get_category(form.category_id)
    if category is None or not category.active:
        raise RuleViolation({"category": "Choose an award category."})
    token = form.nominee_token
    kind, _ = parse_nominee(token)
    nominee = await nominee_info(token) if kind == category.nominee_kind else None
    if nominee is None:
        errors["nominee"] = f"Choose {'a person' if category.for_people else 'a department'} to nominate."
    elif not nominee.active:
        errors["nominee"] = f"{nominee.name} {'no longer works here' if category.for_people else 'is archived'}."
    elif category.for_people and nominee.id == user.id:
        errors["nominee"] = "You can't nominate yourself."
    elif not category.for_people and nominee.id in await led_departments(user.id):
        errors["nominee"] = LEAD_RULE
    reason = form.reason.strip()
    if not reason:
        errors["reason"] = "Say why they deserve it."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason to {REASON_MAX} characters (it has {len(reason)})."
    evidence = list(dict.fromkeys(form.evidence_ids))
    if len(evidence) > EVIDENCE_MAX:
        errors["evidence"] = f"Attach at most {EVIDENCE_MAX} kudos."
    elif evidence and nominee is not None and "nominee" not in errors:
        about = await Employee.raw(_EVIDENCE_ABOUT_SQL, evidence, *_about(nominee))
        if len(about) != len(evidence):
            errors["evidence"] = f"Evidence must be public kudos received by {nominee.name}."
    if errors:
        raise RuleViolation(errors)
    assert nominee is not None
    return _Checked(category=category, nominee=nominee, reason=reason, evidence=evidence)


# The nomination, unless the cycle closed meanwhile (or it exists already).
_NOMINATE_SQL = """
    INSERT INTO nomination (cycle, category, nominator, person, department, reason, created_at)
    SELECT c.id, {}, {}, {}, {}, {}, {} FROM award_cycle c
    WHERE c.id = {} AND c.status = 'open' AND c.closes_at > {}
    ON CONFLICT DO NOTHING RETURNING id
"""


async def nominate(user: CurrentUser, form: NominationForm, *, at: datetime | None = None) -> int:
    """A manager's nomination in the open cycle, with its evidence, in one transaction; returns its id."""
    moment = at or now()
    if user.role != Role.MANAGER:
        raise RuleViolation("Only managers nominate award winners.", status_code=403)
    cycle = await open_cycle(moment)
    if cycle is None:
        raise RuleViolation("Nominations are not open right now.", status_code=409)
    checked = await _check_nomination(user, form)
    category, nominee = checked.category, checked.nominee
    person, department = _about(nominee)
    async with db.transaction():
        rows = await Nomination.raw(
            _NOMINATE_SQL, category.id, user.id, person, department, checked.reason, moment, cycle.id, moment
        )
        if not rows:
            if await Nomination.exists().where(
                (Nomination.cycle == cycle.id)
                & (Nomination.category == category.id)
                & (Nomination.nominator == user.id)
                & (Nomination.person == person if person else Nomination.department == department)
            ):
                raise RuleViolation(
                    {"nominee": f"You have already nominated {nominee.name} for {category.name}."}, status_code=409
                )
            raise RuleViolation("Nominations have just closed.", status_code=409)
        nomination_id: int = rows[0]["id"]
        if checked.evidence:
            await NominationEvidence.insert(
                *(NominationEvidence(nomination=nomination_id, kudos=kudos) for kudos in checked.evidence)
            )
        await publish(NominationMade(nomination_id=nomination_id, cycle_id=cycle.id, nominator_id=user.id, at=moment))
    return nomination_id


# One of the nominator's own nominations (2nd value), while its cycle takes nominations (3rd).
_WITHDRAW_SQL = """
    DELETE FROM nomination n USING award_cycle c
    WHERE n.id = {} AND n.nominator = {} AND c.id = n.cycle AND c.status = 'open' AND c.closes_at > {}
    RETURNING n.id
"""


async def withdraw(user: CurrentUser, nomination_id: int, *, at: datetime | None = None) -> None:
    """Withdraw one of your own nominations while its cycle is open."""
    moment = at or now()
    if not valid_id(nomination_id):
        raise RuleViolation("There is no such nomination of yours.", status_code=404)
    async with db.transaction():
        if await Nomination.raw(_WITHDRAW_SQL, nomination_id, user.id, moment):
            return
        if await Nomination.exists().where((Nomination.id == nomination_id) & (Nomination.nominator == user.id)):
            raise RuleViolation("Nominations have closed: this one can no longer be withdrawn.", status_code=409)
        raise RuleViolation("There is no such nomination of yours.", status_code=404)


# Nominations with their category, nominator and nominee: of a cycle (1st value), by some nominators (2nd, or all
# when NULL), by category order then time.
_NOMINATIONS_SQL = """
    SELECT n.id, n.cycle, n.category, n.nominator, n.person, n.department, n.reason, n.created_at,
           c.name AS category_name, c.position, m.name AS nominator_name,
           COALESCE(p.name, d.name) AS nominee_name,
           CASE WHEN n.person IS NOT NULL THEN 'p' || n.person ELSE 'd' || n.department END AS token,
           d.slug AS department_slug
    FROM nomination n JOIN award_category c ON c.id = n.category JOIN employee m ON m.id = n.nominator
    LEFT JOIN employee p ON p.id = n.person LEFT JOIN department d ON d.id = n.department
    WHERE n.cycle = {} AND ({}::int[] IS NULL OR n.nominator = ANY({}))
    ORDER BY c.position, n.created_at, n.id
"""

# The standing public kudos attached to these nominations.
_EVIDENCE_SQL = """
    SELECT ne.nomination, k.id, k.message, k.points, k.created_at, g.name AS giver_name
    FROM nomination_evidence ne JOIN kudos k ON k.id = ne.kudos JOIN employee g ON g.id = k.giver
    WHERE ne.nomination = ANY({}) AND k.revoked_at IS NULL AND k.visibility = 'public'
    ORDER BY k.created_at
"""


async def nominations_in(cycle_id: int, nominator_ids: list[int] | None = None) -> list[NominationEntry]:
    """The nominations of a cycle (only those of `nominator_ids` when given), with their evidence."""
    rows = await Nomination.raw(_NOMINATIONS_SQL, cycle_id, nominator_ids, nominator_ids)
    evidence: dict[int, list[Evidence]] = defaultdict(list)
    if rows:
        for item in await Nomination.raw(_EVIDENCE_SQL, [row["id"] for row in rows]):
            evidence[item.pop("nomination")].append(Evidence(**item))
    return [NominationEntry(**row, evidence=tuple(evidence[row["id"]])) for row in rows]


async def my_nominations(user_id: int, cycle_id: int) -> list[NominationEntry]:
    return await nominations_in(cycle_id, [user_id])
