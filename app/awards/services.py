"""Monthly awards (SPEC F9): categories, cycles run by the calendar, nominations, review, announcement, reading.

A cycle is the awards for one month. `open_due_cycle`, `send_due_reminders` and `close_due_cycles` move cycles
along the calendar; the worker calls them every few minutes and at start-up, so each is idempotent and safe to run
late or twice: state lives in PostgreSQL (a cycle per month, unique; one reminder row per cycle and manager; status
changes by conditional UPDATE). Every service takes `at=` (default now) so tests drive the clock.

Rules: managers (role manager) nominate while a cycle is open; not themselves, not a department they lead (that is
self-nomination too), not an inactive person or archived department, once per (cycle, category, nominee); evidence
is public, standing kudos received by the nominee (a member of the nominated department). Admins pick winners from
the nominees once nominations have closed, at most the category's number, and announce once (`announce`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from app import db
from app.api.webhooks import absolute, emit, slack_escape
from app.audit.services import record as audit
from app.awards.calendar import REMIND_BEFORE, Calendar, get_calendar
from app.awards.tables import (
    AwardCategory,
    AwardCycle,
    AwardReminder,
    AwardWinner,
    CycleStatus,
    Nomination,
    NomineeKind,
)
from app.boards import badges
from app.likeness import like_literal
from app.mail.backends import get_backend
from app.mail.message import build_message
from app.mail.render import mail_environment, render_mail
from app.notifications.services import mark_done, notify, subject_of
from app.notifications.tables import Kind
from app.paging import Cursor, parse_id, valid_id
from app.people.services import CurrentUser
from app.people.tables import Department, DepartmentLead, Employee, Role
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import localtime, month_bounds, month_of, next_month, now, previous_month
from app.words import excerpt, plural

REASON_MAX = 1000
CITATION_MAX = 500
EVIDENCE_MAX = 5
CATEGORY_NAME_MAX = 80
DESCRIPTION_MAX = 500
LEAD_RULE = "You can't nominate a department you lead: that would be nominating yourself."


def month_label(month: date) -> str:
    return f"{month:%B %Y}"


# ------------------------------------------------------------------------------------------------ categories


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str
    description: str
    nominee_kind: str
    winners: int
    shortlist: str
    position: int
    active: bool

    @property
    def for_people(self) -> bool:
        return self.nominee_kind == NomineeKind.PERSON


async def categories(*, active_only: bool = True) -> list[Category]:
    query = AwardCategory.select()
    if active_only:
        query = query.where(AwardCategory.active.eq(True))
    rows = await query.order_by(AwardCategory.position).order_by(AwardCategory.name)
    return [Category(**row) for row in rows]


async def get_category(category_id: int | None) -> Category | None:
    if not valid_id(category_id):
        return None
    row = await AwardCategory.select().where(AwardCategory.id == category_id).first()
    return Category(**row) if row else None


def _category_values(data: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    from app.awards.shortlist import FIGURES

    errors: dict[str, str] = {}
    name = " ".join(str(data.get("name") or "").split())
    if not name:
        errors["name"] = "Give the category a name."
    elif len(name) > CATEGORY_NAME_MAX:
        errors["name"] = f"Keep the name to {CATEGORY_NAME_MAX} characters."
    description = str(data.get("description") or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters (it has {len(description)})."
    kind = str(data.get("nominee_kind") or "")
    if kind not in {k.value for k in NomineeKind}:
        errors["nominee_kind"] = "Choose whether a person or a department is nominated."
    winners_text = str(data.get("winners") or "").strip()
    winners = int(winners_text) if winners_text.isascii() and winners_text.isdigit() else 0
    if not 1 <= winners <= 10:
        errors["winners"] = "Allow from 1 to 10 winners."
    shortlist = str(data.get("shortlist") or "")
    if kind in FIGURES and shortlist not in FIGURES[kind]:
        errors["shortlist"] = f"Choose what the shortlist ranks {'people' if kind == 'person' else 'departments'} by."
    values = {
        "name": name,
        "description": description,
        "nominee_kind": kind,
        "winners": winners,
        "shortlist": shortlist,
        "active": str(data.get("active") or "") in {"1", "on", "true"},
    }
    return values, errors


async def save_category(admin: CurrentUser, data: dict[str, str], category_id: int | None = None) -> int:
    """Create a category, or update `category_id` (admins only). Its kind is fixed once it has nominations."""
    if not admin.is_admin:
        raise RuleViolation("Only admins manage award categories.", status_code=403)
    before = await get_category(category_id) if category_id is not None else None
    if category_id is not None and before is None:
        raise RuleViolation("There is no such award category.", status_code=404)
    values, errors = _category_values(data)
    if not errors and await AwardCategory.exists().where(
        (AwardCategory.name.ilike(like_literal(str(values["name"])))) & (AwardCategory.id != (category_id or 0))
    ):
        errors["name"] = "Another category already has this name."
    if (
        not errors
        and before is not None
        and before.nominee_kind != values["nominee_kind"]
        and await Nomination.exists().where(Nomination.category == before.id)
    ):
        errors["nominee_kind"] = "This category has nominations: who can be nominated can no longer change."
    if errors:
        raise RuleViolation(errors)
    columns = {getattr(AwardCategory, name): value for name, value in values.items()}
    async with db.transaction():
        if before is None:
            position = (await AwardCategory.count()) + 1
            rows = await AwardCategory.insert(AwardCategory(**values, position=position)).returning(AwardCategory.id)
            category_id = rows[0]["id"]
        else:
            await AwardCategory.update(columns).where(AwardCategory.id == before.id)
        await audit(
            actor_id=admin.id,
            action="awards.category",
            target_type="award_category",
            target_id=category_id,
            summary=f"{'Updated' if before else 'Created'} award category “{values['name']}”.",
            before={k: getattr(before, k) for k in values} if before else None,
            after=values,
        )
    assert category_id is not None
    return category_id


# ---------------------------------------------------------------------------------------------------- cycles


@dataclass(frozen=True, slots=True)
class Cycle:
    id: int
    month: date
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime
    status: str
    opened_at: datetime
    closed_at: datetime | None
    announced_at: datetime | None
    announced_by: int | None

    @property
    def label(self) -> str:
        return month_label(self.month)

    def phase(self, at: datetime | None = None) -> str:
        """ "open" (nominations accepted), "review" (closed, winners not announced) or "announced"."""
        if self.status == CycleStatus.ANNOUNCED:
            return "announced"
        if self.status == CycleStatus.OPEN and (at or now()) < self.closes_at:
            return "open"
        return "review"


async def _cycles(where: str = "", *args: object, limit: int | None = None) -> list[Cycle]:
    sql = f"SELECT * FROM award_cycle {where} ORDER BY month DESC" + (" LIMIT {}" if limit else "")  # noqa: S608
    rows = await AwardCycle.raw(sql, *args, *([limit] if limit else []))
    return [Cycle(**row) for row in rows]


async def get_cycle(cycle_id: int) -> Cycle | None:
    if not valid_id(cycle_id):
        return None
    found = await _cycles("WHERE id = {}", cycle_id)
    return found[0] if found else None


async def list_cycles() -> list[Cycle]:
    return await _cycles()


async def latest_cycle() -> Cycle | None:
    found = await _cycles(limit=1)
    return found[0] if found else None


async def open_cycle(at: datetime | None = None) -> Cycle | None:
    """The cycle taking nominations at `at`, if any."""
    found = await _cycles(
        "WHERE status = 'open' AND opens_at <= {} AND closes_at > {}", at or now(), at or now(), limit=1
    )
    return found[0] if found else None


async def create_cycle(month: date, opens_at: datetime, closes_at: datetime, *, at: datetime) -> int | None:
    """Open the cycle for `month` with these times; None when it exists already (nothing changes)."""
    rows = await AwardCycle.raw(
        "INSERT INTO award_cycle (month, opens_at, closes_at, remind_at, status, opened_at) "
        "VALUES ({}, {}, {}, {}, 'open', {}) ON CONFLICT (month) DO NOTHING RETURNING id",
        month,
        opens_at,
        closes_at,
        closes_at - REMIND_BEFORE,
        at,
    )
    return rows[0]["id"] if rows else None


async def open_due_cycle(*, at: datetime | None = None) -> int | None:
    """Open the cycle for the month that just ended once its window has begun (job `open_award_cycle`). Late is
    fine: the deadline stays the calendar's. Returns the new cycle's id, or None when nothing was due or it exists."""
    moment = at or now()
    calendar = await get_calendar()
    month = previous_month(month_of(moment))
    opens_at, closes_at = calendar.window(month)
    if moment < opens_at:
        return None
    return await create_cycle(month, opens_at, closes_at, at=moment)


async def close_due_cycles(*, at: datetime | None = None) -> list[int]:
    """Close nominations of open cycles whose deadline has passed (job `close_award_cycles`), and tell the admins
    there is something to review. Returns the ids closed by this call (none when run again)."""
    moment = at or now()
    async with db.transaction():
        rows = await AwardCycle.raw(
            "UPDATE award_cycle SET status = 'closed', closed_at = {} WHERE status = 'open' AND closes_at <= {} "
            "RETURNING id, month",
            moment,
            moment,
        )
        admins = await Employee.select(Employee.id).where(Employee.active.eq(True) & (Employee.role == Role.ADMIN))
        for row in rows:
            count = await Nomination.count().where(Nomination.cycle == row["id"])
            await notify(
                [a["id"] for a in admins],
                Kind.AWARD_REVIEW,
                text=f"Nominations for {month_label(row['month'])} have closed: {count} to review. Pick the winners.",
                url=f"/awards/{row['id']}",
                subject=subject_of("award_cycle", row["id"]),
                at=moment,
            )
            # the reminders to nominate are moot now
            await mark_done(Kind.NOMINATION_REMINDER, subject_of("award_cycle", row["id"]), at=moment)
    return [row["id"] for row in rows]


async def managers_to_remind(cycle_id: int) -> list[dict]:
    """Active managers with no nomination in the cycle and no reminder sent for it yet."""
    return await Employee.raw(
        "SELECT e.id, e.name, e.email FROM employee e WHERE e.active AND e.role = 'manager' "
        "AND NOT EXISTS (SELECT 1 FROM nomination n WHERE n.cycle = {} AND n.nominator = e.id) "
        "AND NOT EXISTS (SELECT 1 FROM award_reminder r WHERE r.cycle = {} AND r.manager = e.id) ORDER BY e.id",
        cycle_id,
        cycle_id,
    )


async def send_due_reminders(*, at: datetime | None = None) -> int:
    """One reminder (email and notification) to each manager who has not nominated, from a day before the deadline
    until it (job `send_nomination_reminders`). Each reminder is recorded in the transaction that sends it: a
    manager already recorded is skipped, a concurrent run waits on the row and skips it, and a failed send rolls the
    record back so the next run tries again. Returns how many were sent."""
    moment = at or now()
    settings = get_settings()
    due = await _cycles("WHERE status = 'open' AND remind_at <= {} AND closes_at > {}", moment, moment)
    sent = 0
    if not due:
        return sent
    env = mail_environment()
    async with get_backend(settings) as backend:
        for cycle in due:
            for manager in await managers_to_remind(cycle.id):
                async with db.transaction():
                    claimed = await AwardReminder.raw(
                        "INSERT INTO award_reminder (cycle, manager, sent_at) VALUES ({}, {}, {}) "
                        "ON CONFLICT (cycle, manager) DO NOTHING RETURNING id",
                        cycle.id,
                        manager["id"],
                        moment,
                    )
                    if not claimed:
                        continue
                    deadline = cycle.closes_at
                    text = f"Nominations for the {cycle.label} awards close {_when(deadline)}. Nominate now."
                    await notify(
                        [manager["id"]],
                        Kind.NOMINATION_REMINDER,
                        text=text,
                        url="/awards",
                        subject=subject_of("award_cycle", cycle.id),
                        at=moment,
                    )
                    mail = render_mail(
                        env,
                        "nomination_reminder",
                        to=manager["email"],
                        subject=f"Nominations for the {cycle.label} awards close tomorrow",
                        context={
                            "org_name": settings.org_name,
                            "base_url": settings.base_url,
                            "name": manager["name"],
                            "cycle": cycle,
                            "deadline": _when(deadline),
                            "categories": await categories(),
                        },
                    )
                    await backend.send(build_message(mail, sender=settings.mail_from))
                    sent += 1
    return sent


def _when(moment: datetime) -> str:
    return f"on {localtime(moment, '%A %-d %B at %H:%M')} ({get_settings().timezone})"


# ------------------------------------------------------------------------------------------------ nominations


@dataclass(slots=True)
class NominationForm:
    category_id: int | None = None
    nominee: str = ""  # "p<id>" for a person, "d<id>" for a department
    reason: str = ""
    evidence_ids: list[int] = field(default_factory=list)


def parse_nominee(token: str) -> tuple[str | None, int | None]:
    """("person" | "department", id) from "p12" / "d3"; (None, None) for anything else."""
    token = (token or "").strip()
    kind = {"p": NomineeKind.PERSON.value, "d": NomineeKind.DEPARTMENT.value}.get(token[:1])
    ident = parse_id(token[1:])
    return (kind, ident) if kind and ident else (None, None)


async def nominee_info(token: str) -> dict | None:
    """Who a nominee token names: {token, kind, id, name, detail, url, active}, or None."""
    kind, ident = parse_nominee(token)
    if kind == NomineeKind.PERSON:
        row = (
            await Employee.select(
                Employee.id, Employee.name, Employee.active, Employee.department.name.as_alias("detail")
            )
            .where(Employee.id == ident)
            .first()
        )
        if row:
            return {**row, "token": token, "kind": kind, "url": f"/people/{row['id']}", "detail": row["detail"] or ""}
    elif kind == NomineeKind.DEPARTMENT:
        row = (
            await Department.select(Department.id, Department.name, Department.slug, Department.archived_at)
            .where(Department.id == ident)
            .first()
        )
        if row:
            return {
                "id": row["id"],
                "name": row["name"],
                "token": token,
                "kind": kind,
                "url": f"/departments/{row['slug']}",
                "detail": "Department",
                "active": row["archived_at"] is None,
            }
    return None


async def leads(employee_id: int) -> set[int]:
    rows = await DepartmentLead.select(DepartmentLead.department).where(DepartmentLead.employee == employee_id)
    return {row["department"] for row in rows}


async def evidence_options(nominee: dict | None, cycle: Cycle | None, limit: int = 10) -> list[dict]:
    """Public, standing kudos about the nominee in the cycle's month, newest first, to attach as evidence."""
    if nominee is None or cycle is None:
        return []
    start, end = month_bounds(cycle.month)
    return await Employee.raw(
        f"SELECT k.id, k.message, k.points, k.created_at, g.name AS giver_name FROM kudos k "  # noqa: S608 — constants
        f"JOIN employee g ON g.id = k.giver WHERE k.visibility = 'public' AND k.revoked_at IS NULL "
        f"AND k.created_at >= {{}} AND k.created_at < {{}} AND EXISTS ({_ABOUT}) "
        "ORDER BY k.created_at DESC, k.id DESC LIMIT {}",
        start,
        end,
        nominee["id"] if nominee["kind"] == NomineeKind.PERSON else None,
        nominee["id"] if nominee["kind"] == NomineeKind.DEPARTMENT else None,
        limit,
    )


# A kudos `k` is about the nominee: one of its recipients is the person ({} 1st) or a member of the department (2nd).
_ABOUT = (
    "SELECT 1 FROM kudos_recipient kr JOIN employee r ON r.id = kr.employee WHERE kr.kudos = k.id "
    "AND (kr.employee = {} OR r.department = {})"
)


async def _check_nomination(user: CurrentUser, form: NominationForm) -> tuple[Category, dict, str, list[int]]:
    errors: dict[str, str] = {}
    category = await get_category(form.category_id)
    if category is None or not category.active:
        raise RuleViolation({"category": "Choose an award category."})
    kind, _ = parse_nominee(form.nominee)
    nominee = await nominee_info(form.nominee) if kind == category.nominee_kind else None
    if nominee is None:
        errors["nominee"] = f"Choose {'a person' if category.for_people else 'a department'} to nominate."
    elif not nominee["active"]:
        errors["nominee"] = f"{nominee['name']} {'no longer works here' if category.for_people else 'is archived'}."
    elif category.for_people and nominee["id"] == user.id:
        errors["nominee"] = "You can't nominate yourself."
    elif not category.for_people and nominee["id"] in await leads(user.id):
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
        about = await Employee.raw(
            f"SELECT k.id FROM kudos k WHERE k.id = ANY({{}}) AND k.visibility = 'public' AND k.revoked_at IS NULL "  # noqa: S608
            f"AND EXISTS ({_ABOUT})",
            evidence,
            nominee["id"] if category.for_people else None,
            None if category.for_people else nominee["id"],
        )
        if len(about) != len(evidence):
            errors["evidence"] = f"Evidence must be public kudos received by {nominee['name']}."
    if errors:
        raise RuleViolation(errors)
    assert nominee is not None
    return category, nominee, reason, evidence


async def nominate(user: CurrentUser, form: NominationForm, *, at: datetime | None = None) -> int:
    """A manager's nomination in the open cycle, with its evidence, in one transaction; returns its id."""
    moment = at or now()
    if user.role != Role.MANAGER:
        raise RuleViolation("Only managers nominate award winners.", status_code=403)
    cycle = await open_cycle(moment)
    if cycle is None:
        raise RuleViolation("Nominations are not open right now.", status_code=409)
    category, nominee, reason, evidence = await _check_nomination(user, form)
    person = nominee["id"] if category.for_people else None
    department = None if category.for_people else nominee["id"]
    async with db.transaction():
        rows = await Nomination.raw(
            "INSERT INTO nomination (cycle, category, nominator, person, department, reason, created_at) "
            "SELECT {}, {}, {}, {}, {}, {}, {} FROM award_cycle c WHERE c.id = {} AND c.status = 'open' "
            "AND c.closes_at > {} ON CONFLICT DO NOTHING RETURNING id",
            cycle.id,
            category.id,
            user.id,
            person,
            department,
            reason,
            moment,
            cycle.id,
            moment,
        )
        if not rows:
            if await Nomination.exists().where(
                (Nomination.cycle == cycle.id)
                & (Nomination.category == category.id)
                & (Nomination.nominator == user.id)
                & (Nomination.person == person if person else Nomination.department == department)
            ):
                raise RuleViolation(
                    {"nominee": f"You have already nominated {nominee['name']} for {category.name}."}, status_code=409
                )
            raise RuleViolation("Nominations have just closed.", status_code=409)
        nomination_id = rows[0]["id"]
        await mark_done(Kind.NOMINATION_REMINDER, subject_of("award_cycle", cycle.id), recipient_id=user.id, at=moment)
        if evidence:
            await Nomination.raw(
                "INSERT INTO nomination_evidence (nomination, kudos) SELECT {}, unnest({}::int[])",
                nomination_id,
                evidence,
            )
    return nomination_id


async def withdraw(user: CurrentUser, nomination_id: int, *, at: datetime | None = None) -> None:
    """Withdraw one of your own nominations while its cycle is open."""
    moment = at or now()
    if not valid_id(nomination_id):
        raise RuleViolation("There is no such nomination of yours.", status_code=404)
    async with db.transaction():
        rows = await Nomination.raw(
            "DELETE FROM nomination n USING award_cycle c WHERE n.id = {} AND n.nominator = {} AND c.id = n.cycle "
            "AND c.status = 'open' AND c.closes_at > {} RETURNING n.id",
            nomination_id,
            user.id,
            moment,
        )
        if rows:
            return
        if await Nomination.exists().where((Nomination.id == nomination_id) & (Nomination.nominator == user.id)):
            raise RuleViolation("Nominations have closed: this one can no longer be withdrawn.", status_code=409)
        raise RuleViolation("There is no such nomination of yours.", status_code=404)


_NOMINATION_SQL = """
    SELECT n.id, n.cycle, n.category, n.nominator, n.person, n.department, n.reason, n.created_at,
           c.name AS category_name, c.position, m.name AS nominator_name,
           COALESCE(p.name, d.name) AS nominee_name,
           CASE WHEN n.person IS NOT NULL THEN 'p' || n.person ELSE 'd' || n.department END AS token,
           CASE WHEN n.person IS NOT NULL THEN '/people/' || n.person ELSE '/departments/' || d.slug END AS nominee_url
    FROM nomination n JOIN award_category c ON c.id = n.category JOIN employee m ON m.id = n.nominator
    LEFT JOIN employee p ON p.id = n.person LEFT JOIN department d ON d.id = n.department
"""


async def _with_evidence(rows: list[dict]) -> list[dict]:
    ids = [row["id"] for row in rows]
    evidence: dict[int, list[dict]] = defaultdict(list)
    if ids:
        for item in await Nomination.raw(
            "SELECT ne.nomination, k.id, k.message, k.points, k.created_at, g.name AS giver_name "
            "FROM nomination_evidence ne JOIN kudos k ON k.id = ne.kudos JOIN employee g ON g.id = k.giver "
            "WHERE ne.nomination = ANY({}) AND k.revoked_at IS NULL AND k.visibility = 'public' "
            "ORDER BY k.created_at",
            ids,
        ):
            evidence[item["nomination"]].append({**item, "excerpt": excerpt(item["message"], 160)})
    for row in rows:
        row["evidence"] = evidence[row["id"]]
    return rows


async def my_nominations(user_id: int, cycle_id: int) -> list[dict]:
    rows = await Nomination.raw(
        f"{_NOMINATION_SQL} WHERE n.cycle = {{}} AND n.nominator = {{}} ORDER BY c.position, n.created_at",
        cycle_id,
        user_id,
    )
    return await _with_evidence(rows)


# --------------------------------------------------------------------------------------------- review, winners


@dataclass(slots=True)
class Nominee:
    token: str
    name: str
    url: str
    nominations: list[dict] = field(default_factory=list)
    winner: bool = False
    citation: str = ""


@dataclass(slots=True)
class CategoryReview:
    category: Category
    nominees: list[Nominee]

    @property
    def winners(self) -> list[Nominee]:
        return [n for n in self.nominees if n.winner]


async def review(cycle: Cycle) -> list[CategoryReview]:
    """Every category (active, or with nominations in the cycle) with its nominees, most nominated first, each
    with all their nominations (reasons, evidence) and whether they are picked as a winner."""
    rows = await _with_evidence(
        await Nomination.raw(f"{_NOMINATION_SQL} WHERE n.cycle = {{}} ORDER BY n.created_at, n.id", cycle.id)
    )
    winners = {
        (w["category"], w["token"]): w["citation"]
        for w in await AwardWinner.raw(
            "SELECT category, citation, CASE WHEN person IS NOT NULL THEN 'p' || person ELSE 'd' || department END "
            "AS token FROM award_winner WHERE cycle = {}",
            cycle.id,
        )
    }
    by_category: dict[int, dict[str, Nominee]] = defaultdict(dict)
    for row in rows:
        nominee = by_category[row["category"]].setdefault(
            row["token"], Nominee(token=row["token"], name=row["nominee_name"], url=row["nominee_url"])
        )
        nominee.nominations.append(row)
    result = []
    for category in await categories(active_only=False):
        nominees = list(by_category.get(category.id, {}).values())
        if not category.active and not nominees:
            continue
        for nominee in nominees:
            key = (category.id, nominee.token)
            nominee.winner = key in winners
            nominee.citation = winners.get(key, "")
        nominees.sort(key=lambda n: (-len(n.nominations), n.name))
        result.append(CategoryReview(category=category, nominees=nominees))
    return result


async def _locked_cycle(cycle_id: int) -> Cycle:
    rows = await AwardCycle.raw("SELECT * FROM award_cycle WHERE id = {} FOR UPDATE", cycle_id)
    if not rows:
        raise RuleViolation("There is no such award cycle.", status_code=404)
    return Cycle(**rows[0])


def _require_review(cycle: Cycle, at: datetime) -> None:
    phase = cycle.phase(at)
    if phase == "open":
        raise RuleViolation(f"Winners can be picked once nominations close {_when(cycle.closes_at)}.", status_code=409)
    if phase == "announced":
        raise RuleViolation(f"The {cycle.label} awards have already been announced.", status_code=409)


async def pick_winners(
    admin: CurrentUser,
    cycle_id: int,
    category_id: int | None,
    picks: list[tuple[str, str]],
    *,
    at: datetime | None = None,
) -> None:
    """Set the winners of one category of a cycle (admins only): `picks` are (nominee token, citation). Replaces
    earlier picks for that category; allowed between the close of nominations and the announcement."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins pick award winners.", status_code=403)
    if not valid_id(cycle_id):
        raise RuleViolation("There is no such award cycle.", status_code=404)
    category = await get_category(category_id)
    if category is None:
        raise RuleViolation("There is no such award category.", status_code=404)
    tokens = list(dict.fromkeys(token for token, _ in picks))
    citations = {token: citation.strip() for token, citation in picks}
    async with db.transaction():
        cycle = await _locked_cycle(cycle_id)
        _require_review(cycle, moment)
        errors: dict[str, str] = {}
        if len(tokens) > category.winners:
            errors["winners"] = (
                f"{category.name} has at most {plural(category.winners, 'winner')}; you picked {len(tokens)}."
            )
        nominated = {
            row["token"]
            for row in await Nomination.raw(
                "SELECT DISTINCT CASE WHEN person IS NOT NULL THEN 'p' || person ELSE 'd' || department END AS token "
                "FROM nomination WHERE cycle = {} AND category = {}",
                cycle.id,
                category.id,
            )
        }
        if any(token not in nominated for token in tokens):
            errors["winners"] = f"A winner must be one of the nominees for {category.name}."
        if too_long := [t for t in tokens if len(citations[t]) > CITATION_MAX]:
            errors["citation"] = f"Keep each citation to {CITATION_MAX} characters ({len(too_long)} too long)."
        if errors:
            raise RuleViolation(errors)
        await AwardWinner.delete().where((AwardWinner.cycle == cycle.id) & (AwardWinner.category == category.id))
        rows = []
        for token in tokens:
            kind, ident = parse_nominee(token)
            rows.append(
                AwardWinner(
                    cycle=cycle.id,
                    category=category.id,
                    person=ident if kind == NomineeKind.PERSON else None,
                    department=ident if kind == NomineeKind.DEPARTMENT else None,
                    citation=citations[token],
                    picked_by=admin.id,
                    picked_at=moment,
                )
            )
        if rows:
            await AwardWinner.insert(*rows)
        await audit(
            actor_id=admin.id,
            action="awards.pick",
            target_type="award_cycle",
            target_id=cycle.id,
            summary=f"Picked {plural(len(tokens), 'winner')} of {category.name} for {cycle.label}.",
            after={"category": category.id, "winners": tokens},
            at=moment,
        )


@dataclass(frozen=True, slots=True)
class Announcement:
    cycle: Cycle
    winners: list[dict]  # rows of `winners_of` for the cycle


async def announce(admin: CurrentUser, cycle_id: int, *, at: datetime | None = None) -> Announcement:
    """Announce a cycle's winners, once (admins only), in one transaction: the cycle is marked announced (it then
    shows in the feed and the hall of fame), winners are notified — and every active member of a winning
    department — and winning people get the award-winner badge. Everything an announcement does is here."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins announce award winners.", status_code=403)
    if not valid_id(cycle_id):
        raise RuleViolation("There is no such award cycle.", status_code=404)
    async with db.transaction():
        cycle = await _locked_cycle(cycle_id)
        _require_review(cycle, moment)
        winners = await winners_of([cycle.id])
        if not winners:
            raise RuleViolation("Pick at least one winner before announcing.", status_code=422)
        await AwardCycle.update(
            {
                AwardCycle.status: CycleStatus.ANNOUNCED,
                AwardCycle.announced_at: moment,
                AwardCycle.announced_by: admin.id,
                AwardCycle.closed_at: cycle.closed_at or moment,
            }
        ).where(AwardCycle.id == cycle.id)
        # "N to review" is done for every admin, whoever announced
        await mark_done(Kind.AWARD_REVIEW, subject_of("award_cycle", cycle.id), at=moment)
        for winner in winners:
            text = f"{winner['category_name']} for {cycle.label}: "
            if winner["person"]:
                await notify(
                    [winner["person"]],
                    Kind.AWARD_WON,
                    text=text + "you won! Congratulations.",
                    url=f"/awards/{cycle.id}",
                    actor_id=admin.id,
                    at=moment,
                )
            else:
                members = await Employee.select(Employee.id).where(
                    (Employee.department == winner["department"]) & Employee.active.eq(True)
                )
                await notify(
                    [m["id"] for m in members],
                    Kind.AWARD_WON,
                    text=text + f"your department {winner['name']} won! Congratulations.",
                    url=f"/awards/{cycle.id}",
                    actor_id=admin.id,
                    at=moment,
                )
        await badges.award_after_win([w["person"] for w in winners if w["person"]], at=moment)
        await _announce_webhook(cycle, winners, at=moment)
        await audit(
            actor_id=admin.id,
            action="awards.announce",
            target_type="award_cycle",
            target_id=cycle.id,
            summary=f"Announced the {cycle.label} awards: "
            + "; ".join(f"{w['category_name']} — {w['name']}" for w in winners),
            after={"winners": [w["token"] for w in winners]},
            at=moment,
        )
    announced = await get_cycle(cycle.id)
    assert announced is not None
    return Announcement(cycle=announced, winners=winners)


async def _announce_webhook(cycle: Cycle, winners: list[dict], *, at: datetime) -> None:
    """The `award.announced` webhook event, inside the announcement's transaction."""
    url = absolute(f"/awards/{cycle.id}")
    lines = "; ".join(
        f"{slack_escape(w['category_name'])}: <{absolute(w['url'])}|{slack_escape(w['name'])}>" for w in winners
    )
    await emit(
        "award.announced",
        {
            "text": f"The {cycle.label} awards are announced. {lines}. <{url}|See the awards>",
            "cycle": {"id": cycle.id, "month": cycle.month.strftime("%Y-%m"), "label": cycle.label, "url": url},
            "winners": [
                {
                    "category": w["category_name"],
                    "kind": "person" if w["person"] else "department",
                    "id": w["person"] or w["department"],
                    "name": w["name"],
                    "url": absolute(w["url"]),
                    "citation": w["citation"],
                }
                for w in winners
            ],
        },
        at=at,
    )


# ----------------------------------------------------------------------------------------------------- reading

_WINNER_SQL = """
    SELECT w.id, w.cycle, w.category, w.person, w.department, w.citation, y.month, y.announced_at,
           c.name AS category_name, c.position, COALESCE(p.name, d.name) AS name,
           CASE WHEN w.person IS NOT NULL THEN 'p' || w.person ELSE 'd' || w.department END AS token,
           CASE WHEN w.person IS NOT NULL THEN '/people/' || w.person ELSE '/departments/' || d.slug END AS url
    FROM award_winner w JOIN award_cycle y ON y.id = w.cycle JOIN award_category c ON c.id = w.category
    LEFT JOIN employee p ON p.id = w.person LEFT JOIN department d ON d.id = w.department
"""


def _labelled(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["month_label"] = month_label(row["month"])
    return rows


async def winners_of(cycle_ids: list[int]) -> list[dict]:
    """The winners picked in these cycles (announced or not), by cycle and category order."""
    if not cycle_ids:
        return []
    rows = await AwardWinner.raw(
        f"{_WINNER_SQL} WHERE w.cycle = ANY({{}}) ORDER BY y.month DESC, c.position, name", cycle_ids
    )
    return _labelled(rows)


async def hall_of_fame(*, category_id: int | None = None, year: int | None = None) -> list[dict]:
    """Winners of announced cycles, newest month first, optionally of one category and one year (of the month)."""
    conditions = ["y.status = 'announced'"]
    args: list[object] = []
    if category_id:
        conditions.append("w.category = {}")
        args.append(category_id)
    if year:
        conditions.append("y.month >= {} AND y.month < {}")
        args += [date(year, 1, 1), date(year + 1, 1, 1)]
    rows = await AwardWinner.raw(
        f"{_WINNER_SQL} WHERE {' AND '.join(conditions)} ORDER BY y.month DESC, c.position, name", *args
    )
    return _labelled(rows)


async def hall_of_fame_years() -> list[int]:
    rows = await AwardCycle.raw(
        "SELECT DISTINCT extract(year FROM month)::int AS year FROM award_cycle WHERE status = 'announced' "
        "ORDER BY year DESC"
    )
    return [row["year"] for row in rows]


async def awards_for_person(person_id: int) -> list[dict]:
    """Announced awards a person won, and those their current department won (flagged `via_department`)."""
    if not valid_id(person_id):
        return []
    rows = await AwardWinner.raw(
        f"{_WINNER_SQL} WHERE y.status = 'announced' AND (w.person = {{}} OR w.department = "  # noqa: S608
        "(SELECT department FROM employee WHERE id = {})) ORDER BY y.month DESC, c.position",
        person_id,
        person_id,
    )
    for row in rows:
        row["via_department"] = row["person"] is None
    return _labelled(rows)


async def awards_for_department(department_id: int) -> list[dict]:
    """Announced awards a department won, and those its members won."""
    rows = await AwardWinner.raw(
        f"{_WINNER_SQL} WHERE y.status = 'announced' AND (w.department = {{}} OR p.department = {{}}) "
        "ORDER BY y.month DESC, c.position, name",
        department_id,
        department_id,
    )
    return _labelled(rows)


async def awards_announced(
    people: Mapping[int, int | None], *, start: datetime, end: datetime
) -> dict[int, list[dict]]:
    """For digests: the awards announced between `start` and `end` that each person won, as a person or through
    their department (`people` maps a person's id to their department's; `via_department` flags the latter)."""
    departments: dict[int, list[int]] = defaultdict(list)
    for person_id, department_id in people.items():
        if department_id is not None:
            departments[department_id].append(person_id)
    if not people:
        return {}
    rows = await AwardWinner.raw(
        f"{_WINNER_SQL} WHERE y.status = 'announced' AND y.announced_at >= {{}} AND y.announced_at < {{}} "
        "AND (w.person = ANY({}) OR w.department = ANY({})) ORDER BY y.month DESC, c.position, name",
        start,
        end,
        list(people),
        list(departments),
    )
    won: dict[int, list[dict]] = defaultdict(list)
    for row in _labelled(rows):
        if row["person"] is not None:
            won[row["person"]].append({**row, "via_department": False})
        else:
            for person_id in departments[row["department"]]:
                won[person_id].append({**row, "via_department": True})
    return dict(won)


@dataclass(frozen=True, slots=True)
class NominationWindow:
    """For manager digests: when nominations for a month's awards are taken, and a manager's own so far."""

    label: str
    opens_at: datetime
    closes_at: datetime
    nominations: list[dict]


async def nomination_windows(
    manager_ids: list[int], month: date, *, at: datetime | None = None
) -> dict[int, NominationWindow]:
    """For manager digests: the nomination window of `month`'s awards (the cycle's, once opened; else the
    calendar's) for each of `manager_ids` who may nominate, with their nominations; nothing once it has closed."""
    cycle = (
        await AwardCycle.select(AwardCycle.id, AwardCycle.opens_at, AwardCycle.closes_at)
        .where(AwardCycle.month == month)
        .first()
    )
    opens_at, closes_at = (cycle["opens_at"], cycle["closes_at"]) if cycle else (await get_calendar()).window(month)
    if (at or now()) >= closes_at or not manager_ids:
        return {}
    managers = await Employee.select(Employee.id).where(
        Employee.id.is_in(manager_ids) & (Employee.role == Role.MANAGER) & Employee.active.eq(True)
    )
    mine: dict[int, list[dict]] = defaultdict(list)
    if cycle:
        rows = await Nomination.raw(
            f"{_NOMINATION_SQL} WHERE n.cycle = {{}} AND n.nominator = ANY({{}}) ORDER BY c.position, n.created_at",
            cycle["id"],
            [m["id"] for m in managers],
        )
        for row in rows:
            mine[row["nominator"]].append(row)
    return {m["id"]: NominationWindow(month_label(month), opens_at, closes_at, mine[m["id"]]) for m in managers}


async def recent_announcements(
    limit: int, before: Cursor | None = None, *, since: datetime | None = None
) -> list[dict]:
    """Announced cycles for the feed, newest first (keyset on announced_at, id), each with its winners; items have
    `type` "award" and `created_at` = announced_at so they sort among kudos cards."""
    conditions = ["status = 'announced'"]
    args: list[object] = []
    if before is not None:
        conditions.append("(announced_at, id) < ({}, {})")
        args += [before.created_at, before.id]
    if since is not None:
        conditions.append("announced_at >= {}")
        args.append(since)
    cycles = await AwardCycle.raw(
        f"SELECT id, month, announced_at FROM award_cycle WHERE {' AND '.join(conditions)} "  # noqa: S608
        "ORDER BY announced_at DESC, id DESC LIMIT {}",
        *args,
        limit,
    )
    winners: dict[int, list[dict]] = defaultdict(list)
    for winner in await winners_of([c["id"] for c in cycles]):
        winners[winner["cycle"]].append(winner)
    return [
        {
            "type": "award",
            "id": c["id"],
            "label": month_label(c["month"]),
            "url": f"/awards/{c['id']}",
            "winners": winners[c["id"]],
            "created_at": c["announced_at"],
        }
        for c in cycles
    ]


def next_window(calendar: Calendar, at: datetime | None = None) -> tuple[date, datetime, datetime]:
    """The next nomination window that has not closed: (month it is for, opens, closes)."""
    moment = at or now()
    month = previous_month(month_of(moment))
    opens_at, closes_at = calendar.window(month)
    if closes_at <= moment:
        month = next_month(month)
        opens_at, closes_at = calendar.window(month)
    return month, opens_at, closes_at
