"""Peer feedback (SPEC F14): ask colleagues for feedback, answer or decline, give it unprompted, read it.

Privacy is the feature. Feedback text is read only by the person it is about (the subject) and its author, and by
the subject's manager when the author chose to share it (off by default; both see the choice). Admins never read
it: they get counts (`organisation_counts`). Every query that returns text is scoped to one of those readers, so
anyone else's feedback is simply not found (404, never 403: its existence is not revealed either).

Rules (RuleViolation, nothing changed): answers 1-2,000 characters; at most 10 people per ask, never yourself,
only active people; at most 5 questions; a due date from tomorrow to 90 days ahead; at most 5 open asks created in
any 7 days per person (a rate limit, stated in the message); only the people asked may answer or decline, and only
while the ask is open (not closed by its asker, due date not passed).

Side effects in other domains (notifications, badges) happen through the events published here (app/events.py).
Giving feedback never earns points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app import db
from app.events import FeedbackDeclined, FeedbackGiven, FeedbackRequested, publish
from app.feedback.tables import AskStatus, Feedback, FeedbackAsk, FeedbackAskee, SubjectKind
from app.paging import valid_id
from app.people.tables import Department, Employee
from app.rules import Actor, RuleViolation
from app.timeutil import local_date, now

MAX_PEOPLE = 10
MAX_QUESTIONS = 5
MAX_QUESTION_LENGTH = 300
MAX_TEXT = 2000
MAX_PROJECT = 200
OPEN_ASKS_PER_WEEK = 5
DEFAULT_DUE_DAYS = 14
MAX_DUE_DAYS = 90
TEAM_DAYS = 90  # managers see their reports' counts over this many days
LIST_LIMIT = 50

TEMPLATES: dict[str, tuple[str, ...]] = {
    "start-stop-continue": (
        "What should I start doing?",
        "What should I stop doing?",
        "What should I continue doing?",
    ),
    "went-well": ("What went well?", "What could be better?"),
}
TEMPLATE_LABELS = {
    "start-stop-continue": "Start / Stop / Continue",
    "went-well": "What went well / what could be better",
}
UNPROMPTED = ""  # the question of unprompted feedback

TEXT_RULE = f"Write between 1 and {MAX_TEXT:,} characters."
RATE_RULE = f"You can have at most {OPEN_ASKS_PER_WEEK} open asks for feedback started in any 7 days."


# ------------------------------------------------------------------------------------------------ typed input


@dataclass(frozen=True, slots=True)
class AskInput:
    """An ask as parsed from the form: ids are None when empty, 0 when not a valid id."""

    people: tuple[int, ...]
    subject_kind: str = SubjectKind.NONE
    subject_request: int | None = None
    subject_department: int | None = None
    subject_text: str = ""
    template: str = ""
    questions: tuple[str, ...] = ()  # free questions, in addition to the template's
    due_on: date | None = None  # None when missing or not a date


@dataclass(frozen=True, slots=True)
class GiveInput:
    subject: int | None
    text: str
    share_with_manager: bool = False


# ------------------------------------------------------------------------------------------------ typed output


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    id: int
    author: Person
    subject: Person
    answers: tuple[tuple[str, str], ...]  # (question, answer); question "" for unprompted feedback
    shared_with_manager: bool
    created_at: datetime
    ask_id: int | None
    about: str  # what the ask was about ("" when unprompted or no subject)


@dataclass(frozen=True, slots=True)
class Askee:
    person: Person
    status: AskStatus
    responded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ask:
    id: int
    asker: Person
    about: str
    questions: tuple[str, ...]
    due_on: date
    created_at: datetime
    closed: bool
    askees: tuple[Askee, ...]

    @property
    def answered(self) -> int:
        return sum(1 for a in self.askees if a.status == AskStatus.ANSWERED)


@dataclass(frozen=True, slots=True)
class TeamCount:
    person: Person
    received: int
    given: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything /feedback shows one person."""

    received: tuple[FeedbackItem, ...]
    given: tuple[FeedbackItem, ...]
    waiting: tuple[Ask, ...]  # asks addressed to me, open, not answered or declined yet
    my_asks: tuple[Ask, ...]  # my asks (open first), with who answered
    shared_with_me: tuple[FeedbackItem, ...]  # about my reports, shared with me by their authors
    team: tuple[TeamCount, ...]  # my direct reports' counts over TEAM_DAYS


@dataclass(frozen=True, slots=True)
class OrganisationCounts:
    """What admins see of feedback: counts only."""

    days: int
    items: int
    unprompted: int
    asks: int
    asked: int
    answered: int
    declined: int


@dataclass(frozen=True, slots=True)
class SubjectChoices:
    requests: tuple[tuple[int, str], ...]  # completed requests the person worked on
    departments: tuple[tuple[int, str], ...]


# ----------------------------------------------------------------------------------------------------- helpers


def today(at: datetime | None = None) -> date:
    return local_date(at or now())


def _clean(text: str) -> str:
    return text.strip()


def _text_ok(text: str) -> bool:
    return 1 <= len(text) <= MAX_TEXT and "\x00" not in text


async def _people(ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = await Employee.select(Employee.id, Employee.name, Employee.active).where(Employee.id.is_in(ids))
    return {row["id"]: row for row in rows}


def _about(row: dict) -> str:
    kind = row.get("subject_kind") or SubjectKind.NONE
    if kind == SubjectKind.REQUEST and row.get("request_title"):
        return f"Request #{row['subject_request']}: {row['request_title']}"
    if kind == SubjectKind.DEPARTMENT and row.get("department_name"):
        return f"How I work with {row['department_name']}"
    if kind == SubjectKind.PROJECT:
        return f"Project: {row['subject_text']}"
    return ""


def _is_closed(closed_at: datetime | None, due_on: date, at: datetime | None = None) -> bool:
    return closed_at is not None or due_on < today(at)


# ----------------------------------------------------------------------------------------------------- asking


def questions_of(data: AskInput) -> tuple[str, ...]:
    """The template's questions, then the free ones (blank ones dropped)."""
    free = tuple(q for q in (_clean(q) for q in data.questions) if q)
    return TEMPLATES.get(data.template, ()) + free


async def subject_choices(actor: Actor) -> SubjectChoices:
    """What an ask may be about: completed requests `actor` resolved (newest 20) and the active departments."""
    requests = await FeedbackAsk.raw(
        "SELECT r.id, r.title FROM request r JOIN request_resolver rr ON rr.request = r.id "
        "WHERE rr.employee = {} AND r.status = 'completed' ORDER BY r.completed_at DESC, r.id DESC LIMIT 20",
        actor.id,
    )
    departments = (
        await Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )
    return SubjectChoices(
        requests=tuple((r["id"], f"#{r['id']}: {r['title']}") for r in requests),
        departments=tuple((d["id"], d["name"]) for d in departments),
    )


async def _check_subject(actor: Actor, data: AskInput, errors: dict[str, str]) -> None:
    if data.subject_kind == SubjectKind.REQUEST:
        rows = (
            await FeedbackAsk.raw(
                "SELECT 1 FROM request r JOIN request_resolver rr ON rr.request = r.id "
                "WHERE r.id = {} AND rr.employee = {} AND r.status = 'completed'",
                data.subject_request,
                actor.id,
            )
            if valid_id(data.subject_request)
            else []
        )
        if not rows:
            errors["subject"] = "Choose a completed request you worked on."
    elif data.subject_kind == SubjectKind.DEPARTMENT:
        found = valid_id(data.subject_department) and await Department.exists().where(
            (Department.id == data.subject_department) & Department.archived_at.is_null()
        )
        if not found:
            errors["subject"] = "Choose a department."
    elif data.subject_kind == SubjectKind.PROJECT:
        if not 1 <= len(_clean(data.subject_text)) <= MAX_PROJECT or "\x00" in data.subject_text:
            errors["subject"] = f"Name the project (1-{MAX_PROJECT} characters)."
    elif data.subject_kind != SubjectKind.NONE:
        errors["subject"] = "Choose what the feedback is about."


async def _check_people(actor: Actor, ids: tuple[int, ...], errors: dict[str, str]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        errors["people"] = "Choose at least one colleague to ask."
        return []
    if len(wanted) > MAX_PEOPLE:
        errors["people"] = f"You can ask at most {MAX_PEOPLE} people at once; you chose {len(wanted)}."
        return []
    if actor.id in wanted:
        errors["people"] = "You cannot ask yourself for feedback."
        return []
    known = await _people([i for i in wanted if valid_id(i)])
    if len(known) < len(wanted):
        errors["people"] = "One of the people you chose is not in the directory."
        return []
    inactive = [row["name"] for row in known.values() if not row["active"]]
    if inactive:
        errors["people"] = f"{', '.join(sorted(inactive))} no longer works here: choose someone else."
        return []
    return wanted


async def ask_for_feedback(actor: Actor, data: AskInput, *, at: datetime | None = None) -> int:
    """Ask up to 10 colleagues for feedback; returns the ask's id. Publishes FeedbackRequested."""
    moment = at or now()
    errors: dict[str, str] = {}
    people = await _check_people(actor, data.people, errors)
    await _check_subject(actor, data, errors)
    questions = questions_of(data)
    if data.template and data.template not in TEMPLATES:
        errors["questions"] = "Choose one of the question templates."
    elif not questions:
        errors["questions"] = "Ask at least one question: pick a template or write your own."
    elif len(questions) > MAX_QUESTIONS:
        errors["questions"] = f"Ask at most {MAX_QUESTIONS} questions; you have {len(questions)}."
    elif any(len(q) > MAX_QUESTION_LENGTH or "\x00" in q for q in questions):
        errors["questions"] = f"Keep each question under {MAX_QUESTION_LENGTH} characters."
    first, last = today(moment) + timedelta(days=1), today(moment) + timedelta(days=MAX_DUE_DAYS)
    if data.due_on is None or not first <= data.due_on <= last:
        errors["due_on"] = f"Pick a due date from tomorrow to {MAX_DUE_DAYS} days ahead."
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        # One ask at a time per person, so the weekly limit holds under concurrent submissions.
        await Employee.raw("SELECT id FROM employee WHERE id = {} FOR UPDATE", actor.id)
        recent = await FeedbackAsk.count().where(
            (FeedbackAsk.asker == actor.id)
            & (FeedbackAsk.created_at > moment - timedelta(days=7))
            & FeedbackAsk.closed_at.is_null()
            & (FeedbackAsk.due_on >= today(moment))
        )
        if recent >= OPEN_ASKS_PER_WEEK:
            raise RuleViolation({"form": f"{RATE_RULE} Close one of yours or wait a few days."}, status_code=429)
        kind = SubjectKind(data.subject_kind)
        rows = await FeedbackAsk.insert(
            FeedbackAsk(
                asker=actor.id,
                subject_kind=kind,
                subject_request=data.subject_request if kind == SubjectKind.REQUEST else None,
                subject_department=data.subject_department if kind == SubjectKind.DEPARTMENT else None,
                subject_text=_clean(data.subject_text) if kind == SubjectKind.PROJECT else "",
                questions=list(questions),
                due_on=data.due_on,
                created_at=moment,
            )
        ).returning(FeedbackAsk.id)
        ask_id = rows[0]["id"]
        await FeedbackAskee.insert(*[FeedbackAskee(ask=ask_id, recipient=person) for person in people])
        await publish(FeedbackRequested(ask_id=ask_id, asker_id=actor.id, recipient_ids=tuple(people), at=moment))
    return ask_id


async def close_ask(actor: Actor, ask_id: int, *, at: datetime | None = None) -> None:
    """The asker closes their ask: no more answers are taken."""
    row = (
        await FeedbackAsk.select(FeedbackAsk.asker).where(FeedbackAsk.id == ask_id).first()
        if valid_id(ask_id)
        else None
    )
    if row is None or row["asker"] != actor.id:
        raise RuleViolation("There is no ask of yours with that number.", status_code=404)
    await FeedbackAsk.update({FeedbackAsk.closed_at: at or now()}).where(
        (FeedbackAsk.id == ask_id) & FeedbackAsk.closed_at.is_null()
    )


# -------------------------------------------------------------------------------------------------- answering

_ASK_SQL = """
SELECT a.id, a.asker, p.name AS asker_name, a.subject_kind, a.subject_request, a.subject_text, a.questions,
       a.due_on, a.created_at, a.closed_at, r.title AS request_title, d.name AS department_name
FROM feedback_ask a
JOIN employee p ON p.id = a.asker
LEFT JOIN request r ON r.id = a.subject_request
LEFT JOIN department d ON d.id = a.subject_department
WHERE a.id = ANY({})
"""

_ASKEES_SQL = """
SELECT k.ask, k.recipient, e.name, k.status, k.responded_at
FROM feedback_askee k JOIN employee e ON e.id = k.recipient
WHERE k.ask = ANY({}) ORDER BY e.name, e.id
"""


def _json_list(value: object) -> list:
    """A JSONB list column's value (asyncpg hands raw queries' JSONB over as text)."""
    return json.loads(value) if isinstance(value, str) else list(value or [])


async def _asks(ids: list[int], at: datetime | None = None) -> list[Ask]:
    if not ids:
        return []
    rows = {row["id"]: row for row in await FeedbackAsk.raw(_ASK_SQL, ids)}
    askees: dict[int, list[Askee]] = {}
    for row in await FeedbackAsk.raw(_ASKEES_SQL, ids):
        askees.setdefault(row["ask"], []).append(
            Askee(Person(row["recipient"], row["name"]), AskStatus(row["status"]), row["responded_at"])
        )
    return [
        Ask(
            id=row["id"],
            asker=Person(row["asker"], row["asker_name"]),
            about=_about(row),
            questions=tuple(str(q) for q in _json_list(row["questions"])),
            due_on=row["due_on"],
            created_at=row["created_at"],
            closed=_is_closed(row["closed_at"], row["due_on"], at),
            askees=tuple(askees.get(row["id"], [])),
        )
        for ask_id in ids
        if (row := rows.get(ask_id))
    ]


async def ask_for_answer(actor: Actor, ask_id: int, *, at: datetime | None = None) -> tuple[Ask, AskStatus]:
    """An ask as one of the people asked sees it, with their own status. 404 when there is no such ask, 403 when
    it was not addressed to `actor` (the asker may see it too, as its owner)."""
    asks = await _asks([ask_id], at) if valid_id(ask_id) else []
    if not asks:
        raise RuleViolation("There is no request for feedback with that number.", status_code=404)
    ask = asks[0]
    mine = next((a for a in ask.askees if a.person.id == actor.id), None)
    if mine is None:
        raise RuleViolation("This request for feedback was not addressed to you.", status_code=403)
    return ask, mine.status


def _check_open(ask: Ask, status: AskStatus) -> None:
    if status != AskStatus.WAITING:
        raise RuleViolation(f"You have already {status.value} this request for feedback.", status_code=409)
    if ask.closed:
        raise RuleViolation("This request for feedback is closed: answers are no longer taken.", status_code=409)


async def _respond(ask_id: int, actor_id: int, status: AskStatus, moment: datetime) -> None:
    """Move the askee row from waiting to `status`, or refuse (a concurrent answer or decline won)."""
    changed = (
        await FeedbackAskee.update({FeedbackAskee.status: status, FeedbackAskee.responded_at: moment})
        .where(
            (FeedbackAskee.ask == ask_id)
            & (FeedbackAskee.recipient == actor_id)
            & (FeedbackAskee.status == AskStatus.WAITING)
        )
        .returning(FeedbackAskee.id)
    )
    if not changed:
        raise RuleViolation("You have already answered this request for feedback.", status_code=409)


async def answer(
    actor: Actor, ask_id: int, answers: tuple[str, ...], *, share_with_manager: bool = False, at: datetime | None = None
) -> int:
    """Answer an ask addressed to `actor` (one answer per question, each 1-2,000 characters); returns the feedback
    item's id. Publishes FeedbackGiven."""
    moment = at or now()
    ask, status = await ask_for_answer(actor, ask_id, at=moment)
    _check_open(ask, status)
    texts = [_clean(a) for a in answers] + [""] * max(0, len(ask.questions) - len(answers))
    errors = {f"answer-{n}": TEXT_RULE for n, text in enumerate(texts[: len(ask.questions)]) if not _text_ok(text)}
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        await _respond(ask.id, actor.id, AskStatus.ANSWERED, moment)
        rows = await Feedback.insert(
            Feedback(
                author=actor.id,
                subject=ask.asker.id,
                ask=ask.id,
                answers=[[q, t] for q, t in zip(ask.questions, texts, strict=False)],
                shared_with_manager=share_with_manager,
                created_at=moment,
            )
        ).returning(Feedback.id)
        feedback_id = rows[0]["id"]
        await publish(
            FeedbackGiven(
                feedback_id=feedback_id, author_id=actor.id, subject_id=ask.asker.id, ask_id=ask.id, at=moment
            )
        )
    return feedback_id


async def decline(actor: Actor, ask_id: int, *, at: datetime | None = None) -> None:
    """Decline an ask addressed to `actor`; the asker is told. Publishes FeedbackDeclined."""
    moment = at or now()
    ask, status = await ask_for_answer(actor, ask_id, at=moment)
    _check_open(ask, status)
    async with db.transaction():
        await _respond(ask.id, actor.id, AskStatus.DECLINED, moment)
        await publish(FeedbackDeclined(ask_id=ask.id, asker_id=ask.asker.id, recipient_id=actor.id, at=moment))


async def give(actor: Actor, data: GiveInput, *, at: datetime | None = None) -> int:
    """Unprompted feedback to a colleague; returns its id. Publishes FeedbackGiven."""
    moment = at or now()
    errors: dict[str, str] = {}
    found = await _people([data.subject]) if valid_id(data.subject) else {}
    subject = found.get(data.subject or 0)
    if data.subject is None:
        errors["subject"] = "Choose the colleague the feedback is for."
    elif subject is None:
        errors["subject"] = "That person is not in the directory."
    elif subject["id"] == actor.id:
        errors["subject"] = "Feedback is for a colleague, not yourself."
    elif not subject["active"]:
        errors["subject"] = f"{subject['name']} no longer works here."
    text = _clean(data.text)
    if not _text_ok(text):
        errors["text"] = TEXT_RULE
    if errors or subject is None:
        raise RuleViolation(errors)
    async with db.transaction():
        rows = await Feedback.insert(
            Feedback(
                author=actor.id,
                subject=subject["id"],
                answers=[[UNPROMPTED, text]],
                shared_with_manager=data.share_with_manager,
                created_at=moment,
            )
        ).returning(Feedback.id)
        feedback_id = rows[0]["id"]
        await publish(FeedbackGiven(feedback_id=feedback_id, author_id=actor.id, subject_id=subject["id"], at=moment))
    return feedback_id


# ----------------------------------------------------------------------------------------------------- reading

# Feedback rows with names and the ask's subject; {where} is one of the constant conditions below.
_ITEMS_SQL = """
SELECT f.id, f.author, au.name AS author_name, f.subject, su.name AS subject_name, f.answers,
       f.shared_with_manager, f.created_at, f.ask, a.subject_kind, a.subject_request, a.subject_text,
       r.title AS request_title, d.name AS department_name
FROM feedback f
JOIN employee au ON au.id = f.author
JOIN employee su ON su.id = f.subject
LEFT JOIN feedback_ask a ON a.id = f.ask
LEFT JOIN request r ON r.id = a.subject_request
LEFT JOIN department d ON d.id = a.subject_department
WHERE {where}
ORDER BY f.created_at DESC, f.id DESC
LIMIT {limit}
"""
_RECEIVED_SQL = _ITEMS_SQL.format(where="f.subject = {}", limit=LIST_LIMIT)
_GIVEN_SQL = _ITEMS_SQL.format(where="f.author = {}", limit=LIST_LIMIT)
_SHARED_SQL = _ITEMS_SQL.format(where="f.shared_with_manager AND su.manager = {}", limit=LIST_LIMIT)
# One item for one reader: the subject, the author, or the subject's manager when shared.
_ONE_SQL = _ITEMS_SQL.format(
    where="f.id = {} AND (f.subject = {} OR f.author = {} OR (f.shared_with_manager AND su.manager = {}))", limit=1
)


def _item(row: dict) -> FeedbackItem:
    return FeedbackItem(
        id=row["id"],
        author=Person(row["author"], row["author_name"]),
        subject=Person(row["subject"], row["subject_name"]),
        answers=tuple((str(q), str(t)) for q, t in _json_list(row["answers"])),
        shared_with_manager=row["shared_with_manager"],
        created_at=row["created_at"],
        ask_id=row["ask"],
        about=_about(row),
    )


async def get_feedback(actor: Actor, feedback_id: int) -> FeedbackItem | None:
    """One feedback item, when `actor` may read it (subject, author, or the subject's manager if shared)."""
    if not valid_id(feedback_id):
        return None
    rows = await Feedback.raw(_ONE_SQL, feedback_id, actor.id, actor.id, actor.id)
    return _item(rows[0]) if rows else None


async def overview(actor: Actor, *, at: datetime | None = None) -> Overview:
    moment = at or now()
    received = [_item(r) for r in await Feedback.raw(_RECEIVED_SQL, actor.id)]
    given = [_item(r) for r in await Feedback.raw(_GIVEN_SQL, actor.id)]
    shared = [_item(r) for r in await Feedback.raw(_SHARED_SQL, actor.id)]
    waiting_ids = await FeedbackAsk.raw(
        "SELECT a.id FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask "
        "WHERE k.recipient = {} AND k.status = 'waiting' AND a.closed_at IS NULL AND a.due_on >= {} "
        "ORDER BY a.due_on, a.id LIMIT {}",
        actor.id,
        today(moment),
        LIST_LIMIT,
    )
    mine_ids = await FeedbackAsk.raw(
        "SELECT id FROM feedback_ask WHERE asker = {} "
        "ORDER BY (closed_at IS NULL AND due_on >= {}) DESC, created_at DESC, id DESC LIMIT {}",
        actor.id,
        today(moment),
        LIST_LIMIT,
    )
    team_rows = await Feedback.raw(
        "SELECT e.id, e.name, "
        "(SELECT count(*) FROM feedback f WHERE f.subject = e.id AND f.created_at >= {}) AS received, "
        "(SELECT count(*) FROM feedback f WHERE f.author = e.id AND f.created_at >= {}) AS given "
        "FROM employee e WHERE e.manager = {} AND e.active ORDER BY e.name, e.id",
        moment - timedelta(days=TEAM_DAYS),
        moment - timedelta(days=TEAM_DAYS),
        actor.id,
    )
    return Overview(
        received=tuple(received),
        given=tuple(given),
        waiting=tuple(await _asks([r["id"] for r in waiting_ids], moment)),
        my_asks=tuple(await _asks([r["id"] for r in mine_ids], moment)),
        shared_with_me=tuple(shared),
        team=tuple(TeamCount(Person(r["id"], r["name"]), r["received"], r["given"]) for r in team_rows),
    )


async def organisation_counts(actor: Actor, *, at: datetime | None = None) -> OrganisationCounts:
    """Admins' view of feedback: counts over TEAM_DAYS, never text."""
    if not actor.is_admin:
        raise RuleViolation("Only admins see the organisation's feedback counts.", status_code=403)
    since = (at or now()) - timedelta(days=TEAM_DAYS)
    rows = await Feedback.raw(
        "SELECT (SELECT count(*) FROM feedback WHERE created_at >= {}) AS items, "
        "(SELECT count(*) FROM feedback WHERE created_at >= {} AND ask IS NULL) AS unprompted, "
        "(SELECT count(*) FROM feedback_ask WHERE created_at >= {}) AS asks, "
        "(SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask "
        " WHERE a.created_at >= {}) AS asked, "
        "(SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask "
        " WHERE a.created_at >= {} AND k.status = 'answered') AS answered, "
        "(SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask "
        " WHERE a.created_at >= {} AND k.status = 'declined') AS declined",
        *([since] * 6),
    )
    return OrganisationCounts(days=TEAM_DAYS, **rows[0])


async def people_named(ids: list[int]) -> list[Person]:
    """Active people by id, in the order given (to keep a form's choices when it is shown again)."""
    rows = await _people([i for i in ids if valid_id(i)])
    return [Person(i, rows[i]["name"]) for i in ids if i in rows and rows[i]["active"]]
